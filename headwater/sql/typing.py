"""ksqlDB's type rules: arithmetic result types, comparability and CAST, as DuckDB SQL.

Runtime failures follow ksqlDB, where an expression that throws is logged to
the processing log and yields NULL; here each becomes NULL in SQL instead of a
DuckDB error that would fail the whole batch:

- integer ``/`` and ``%`` by zero: NULL (Java throws ArithmeticException);
- DOUBLE by zero: Infinity / NaN, exactly as Java;
- INT and BIGINT ``+ - *`` wrap around on overflow as Java's int and long do
  (computed in BIGINT / HUGEINT and folded back);
- a DECIMAL result that does not fit its precision: NULL (ksqlDB throws);
- CAST of a string that is not a number, boolean or date/time: NULL (ksqlDB
  logs the NumberFormatException / DateTimeParseException and yields NULL);
- CAST of a DOUBLE or DECIMAL outside INT / BIGINT range: NULL (Java would
  saturate a double and wrap a decimal).

DECIMAL division is computed in DOUBLE and rounded to the result scale, so it
is exact only to about 15 significant digits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from decimal import Decimal

from headwater.errors import SqlError, SqlSemanticError
from headwater.formats.duck import identifier, literal
from headwater.sql import types as ty
from headwater.sql.expressions import Position
from headwater.sql.types import BaseType, SqlType

MAX_PRECISION = 38
_INTEGRAL = (BaseType.INTEGER, BaseType.BIGINT)
_TIME_TYPES = (BaseType.TIMESTAMP, BaseType.DATE, BaseType.TIME)
_COMPLEX = (BaseType.ARRAY, BaseType.MAP, BaseType.STRUCT)
_EQUALITY = ("=", "<>")

NUMERIC_RANK = {ty.BaseType.INTEGER: 0, ty.BaseType.BIGINT: 1, ty.BaseType.DECIMAL: 2, ty.BaseType.DOUBLE: 3}


def to_decimal(t: SqlType) -> ty.DecimalType:
    """The decimal an integer widens to (INT: DECIMAL(10, 0), BIGINT: DECIMAL(19, 0))."""
    if isinstance(t, ty.DecimalType):
        return t
    if t.base is ty.BaseType.INTEGER:
        return ty.DecimalType(10, 0)
    if t.base is ty.BaseType.BIGINT:
        return ty.DecimalType(19, 0)
    raise SqlError(f"sql: {t} has no decimal form")


def widen(a: SqlType, b: SqlType) -> SqlType | None:
    """The narrowest type both ``a`` and ``b`` convert to implicitly, or None.

    Numbers widen INT -> BIGINT -> DECIMAL -> DOUBLE (ksqlDB's implicit casts);
    two decimals widen to one holding both integer digits and scales.
    Arrays and maps widen element-wise; anything else must be equal.
    """
    if a == b:
        return a
    if a.base in NUMERIC_RANK and b.base in NUMERIC_RANK:
        if ty.BaseType.DOUBLE in (a.base, b.base):
            return ty.DOUBLE
        if ty.BaseType.DECIMAL in (a.base, b.base):
            da, db = to_decimal(a), to_decimal(b)
            scale = max(da.scale, db.scale)
            digits = max(da.precision - da.scale, db.precision - db.scale)
            return bounded_decimal(digits + scale, scale)
        return ty.BIGINT
    if isinstance(a, ty.ArrayType) and isinstance(b, ty.ArrayType):
        element = widen(a.element, b.element)
        return None if element is None else ty.ArrayType(element)
    if isinstance(a, ty.MapType) and isinstance(b, ty.MapType):
        key, value = widen(a.key, b.key), widen(a.value, b.value)
        return None if key is None or value is None else ty.MapType(key, value)
    return None


def implicitly_converts(source: SqlType, target: SqlType) -> bool:
    return widen(source, target) == target


#: ksqlDB's names of the comparison operators, as its error messages show them.
COMPARISON_NAMES = {
    "=": "EQUAL",
    "<>": "NOT_EQUAL",
    "<": "LESS_THAN",
    "<=": "LESS_THAN_OR_EQUAL",
    ">": "GREATER_THAN",
    ">=": "GREATER_THAN_OR_EQUAL",
    "IS DISTINCT FROM": "IS_DISTINCT_FROM",
    "IS NOT DISTINCT FROM": "IS_NOT_DISTINCT_FROM",
}


def bounded_decimal(precision: int, scale: int) -> ty.DecimalType:
    """DECIMAL(precision, scale) brought within DuckDB's 38 digits by giving up scale (down to 6)."""
    if precision > MAX_PRECISION:
        scale = max(scale - (precision - MAX_PRECISION), min(scale, 6))
        precision = MAX_PRECISION
    return ty.DecimalType(max(precision, 1), min(scale, precision))


def literal_decimal_type(value: Decimal) -> ty.DecimalType:
    """ksqlDB's type of a decimal literal: precision of its digits, scale of its fraction."""
    digits = value.as_tuple()
    exponent = digits.exponent if isinstance(digits.exponent, int) else 0
    scale = max(-exponent, 0)
    precision = max(len(digits.digits) + max(exponent, 0), scale, 1)
    return bounded_decimal(precision, scale)


def decimal_result(op: str, left: ty.DecimalType, right: ty.DecimalType) -> ty.DecimalType:
    """ksqlDB's decimal arithmetic types (its ``Operator``/``SqlDecimal`` rules)."""
    p1, s1, p2, s2 = left.precision, left.scale, right.precision, right.scale
    if op in ("+", "-"):
        scale = max(s1, s2)
        return bounded_decimal(scale + max(p1 - s1, p2 - s2) + 1, scale)
    if op == "*":
        return bounded_decimal(p1 + p2 + 1, s1 + s2)
    if op == "/":
        scale = max(6, s1 + p2 + 1)
        return bounded_decimal(p1 - s1 + s2 + scale, scale)
    scale = max(s1, s2)
    return bounded_decimal(min(p1 - s1, p2 - s2) + scale, scale)


def arithmetic_type(op: str, left: SqlType | None, right: SqlType | None, pos: Position) -> SqlType | None:
    """The type of ``left op right``; STRING + STRING concatenates as in ksqlDB."""
    if left is None or right is None:
        other = right if left is None else left
        if other is None or other.is_numeric or (op == "+" and other == ty.STRING):
            return other
    elif op == "+" and left == ty.STRING and right == ty.STRING:
        return ty.STRING
    elif left.is_numeric and right.is_numeric:
        if BaseType.DOUBLE in (left.base, right.base):
            return ty.DOUBLE
        if BaseType.DECIMAL in (left.base, right.base):
            return decimal_result(op, to_decimal(left), to_decimal(right))
        return ty.BIGINT if BaseType.BIGINT in (left.base, right.base) else ty.INTEGER
    names = " ".join("NULL" if t is None else t.base.value for t in (left, right))
    raise SqlSemanticError(f"Error processing expression: Unsupported arithmetic types. {names}", pos)


def wrap_int(sql: str) -> str:
    """A BIGINT expression folded into INTEGER range as Java's int overflow does."""
    return f"CAST(((({sql}) + 2147483648) & 4294967295) - 2147483648 AS INTEGER)"


def wrap_bigint(sql: str) -> str:
    """A HUGEINT expression folded into BIGINT range as Java's long overflow does."""
    return (
        f"CAST(((({sql}) + 9223372036854775808::HUGEINT) & 18446744073709551615::HUGEINT)"
        " - 9223372036854775808::HUGEINT AS BIGINT)"
    )


#: Strict evaluation: failures raise instead of giving NULL. The engine runs a query's strict
#: SQL, and only for the records that fail falls back to the NULL-giving SQL while writing the
#: failure to the processing log, which is what ksqlDB does for a failed CAST or a division by zero.
_STRICT: ContextVar[bool] = ContextVar("headwater_strict_evaluation", default=False)


@contextmanager
def strict_evaluation() -> Iterator[None]:
    """Compile with runtime failures raising (see :data:`_STRICT`)."""
    token = _STRICT.set(True)
    try:
        yield
    finally:
        _STRICT.reset(token)


def lenient(sql: str) -> str:
    """``sql`` giving NULL where it fails, except under strict evaluation (where the failure is logged)."""
    return sql if _STRICT.get() else f"TRY({sql})"


def _nonzero(sql: str) -> str:
    if _STRICT.get():
        return f"CASE WHEN ({sql}) = 0 THEN error('Division by zero') ELSE {sql} END"
    return f"NULLIF({sql}, 0)"


def _try_cast(sql: str, duck: str) -> str:
    return f"CAST({sql} AS {duck})" if _STRICT.get() else f"TRY_CAST({sql} AS {duck})"


def arithmetic_sql(op: str, left: str, right: str, result: SqlType) -> str:
    """``left op right`` in DuckDB with ksqlDB's (Java's) semantics; operands are already of ``result``'s family."""
    if result == ty.STRING:
        return f"({left} || {right})"
    if result.base in _INTEGRAL:
        wide, wrap = ("BIGINT", wrap_int) if result.base is BaseType.INTEGER else ("HUGEINT", wrap_bigint)
        if op == "%":
            return f"CAST(CAST({left} AS {wide}) % {_nonzero(right)} AS {result.to_duckdb()})"
        duck_op = "//" if op == "/" else op
        divisor = f"{_nonzero(right)}" if op == "/" else right
        return wrap(f"CAST({left} AS {wide}) {duck_op} {divisor}")
    if result == ty.DOUBLE:
        return f"(CAST({left} AS DOUBLE) {op} CAST({right} AS DOUBLE))"
    if op == "/":
        divisor = _nonzero(f"CAST({right} AS DOUBLE)")
        return f"TRY_CAST(CAST({left} AS DOUBLE) / {divisor} AS {result.to_duckdb()})"
    if op == "%":
        return f"TRY_CAST({left} % {_nonzero(right)} AS {result.to_duckdb()})"
    return f"TRY_CAST({left} {op} {right} AS {result.to_duckdb()})"


def comparable(left: SqlType | None, right: SqlType | None, op: str) -> bool:
    """Whether ksqlDB allows ``left op right`` (its ``ComparisonUtil`` rules)."""
    if left is None or right is None:
        return True
    a, b = left.base, right.base
    if left.is_numeric and right.is_numeric:
        return True
    if a in _TIME_TYPES or b in _TIME_TYPES:
        kinds = {a, b}
        if BaseType.STRING in kinds:
            return True
        return kinds <= {BaseType.TIMESTAMP, BaseType.DATE} or kinds == {BaseType.TIME}
    if a is BaseType.BOOLEAN or a in _COMPLEX:
        return widen(left, right) is not None and (op in _EQUALITY or "DISTINCT" in op)
    return a == b and a in (BaseType.STRING, BaseType.BYTES)


def comparison_operand_type(left: SqlType | None, right: SqlType | None) -> SqlType | None:
    """The type both sides of a comparison are converted to (None: compare as they are)."""
    if left is None or right is None or left == right:
        return None
    kinds = {left.base, right.base}
    if BaseType.STRING in kinds and kinds & set(_TIME_TYPES):
        return right if left == ty.STRING else left
    if kinds == {BaseType.TIMESTAMP, BaseType.DATE}:
        return ty.TIMESTAMP
    return widen(left, right)


# --- CAST ------------------------------------------------------------------------

_INT_TEXT = r"'^\s*[+-]?[0-9]+\s*$'"


def castable(source: SqlType | None, target: SqlType) -> bool:
    """ksqlDB's supported CAST conversions."""
    if source is None or source == target:
        return True
    a, b = source.base, target.base
    if source.is_numeric and target.is_numeric:
        return True
    if b is BaseType.STRING:
        return a is not BaseType.BYTES
    if a is BaseType.STRING:
        return b in (BaseType.BOOLEAN, *_TIME_TYPES) or target.is_numeric
    if a is BaseType.TIMESTAMP:
        return b in (BaseType.DATE, BaseType.TIME)
    if a is BaseType.DATE:
        return b is BaseType.TIMESTAMP
    if isinstance(source, ty.ArrayType) and isinstance(target, ty.ArrayType):
        return castable(source.element, target.element)
    if isinstance(source, ty.MapType) and isinstance(target, ty.MapType):
        return castable(source.key, target.key) and castable(source.value, target.value)
    if isinstance(source, ty.StructType) and isinstance(target, ty.StructType):
        return all(
            castable(f.type, t.type)
            for t in target.fields
            if (f := source.field(t.name)) is not None
        )
    return False


def cast_sql(sql: str, source: SqlType | None, target: SqlType, fresh: str = "__c") -> str:
    """``sql`` (of type ``source``) converted to ``target`` with ksqlDB's CAST semantics.

    ``fresh`` names lambda parameters for element-wise casts of arrays and maps;
    callers nesting casts pass distinct names. Call :func:`castable` first.
    """
    duck = target.to_duckdb()
    if source is None:
        return f"CAST(NULL AS {duck})"
    if source == target:
        return sql
    a, b = source.base, target.base
    if source.is_numeric and target.is_numeric:
        if b in _INTEGRAL and a in (BaseType.DOUBLE, BaseType.DECIMAL):
            return _try_cast(f"trunc({sql})", duck)
        if a is BaseType.BIGINT and b is BaseType.INTEGER:
            return wrap_int(sql)
        if b is BaseType.DECIMAL:
            return _try_cast(sql, duck)
        return f"CAST({sql} AS {duck})"
    if b is BaseType.STRING:
        return to_string_sql(sql, source)
    if a is BaseType.STRING:
        if b in _INTEGRAL:
            fallback = f" WHEN {sql} IS NOT NULL THEN error('Cannot cast ' || {sql} || ' to {b.value}')" \
                if _STRICT.get() else ""
            return (f"CASE WHEN regexp_matches({sql}, {_INT_TEXT}) THEN {_try_cast(f'trim({sql})', duck)}{fallback} "
                    "END")
        if b is BaseType.BOOLEAN:
            return (
                f"CASE WHEN lower(trim({sql})) IN ('true', 't', 'yes', 'y') THEN TRUE "
                f"WHEN lower(trim({sql})) IN ('false', 'f', 'no', 'n') THEN FALSE END"
            )
        if b is BaseType.TIMESTAMP:
            # Through TIMESTAMPTZ so an offset ('...+01:00', 'Z') is honoured; install_functions sets UTC.
            return f"CAST({_try_cast(sql, 'TIMESTAMPTZ')} AS TIMESTAMP_MS)"
        return _try_cast(sql, duck)
    if isinstance(source, ty.ArrayType) and isinstance(target, ty.ArrayType):
        inner = cast_sql(fresh, source.element, target.element, fresh + "c")
        return f"list_transform({sql}, lambda {fresh}: {inner})"
    if isinstance(source, ty.MapType) and isinstance(target, ty.MapType):
        key = cast_sql(f"{fresh}.key", source.key, target.key, fresh + "c")
        value = cast_sql(f"{fresh}.value", source.value, target.value, fresh + "c")
        return (
            f"CAST(map_from_entries(list_transform(map_entries({sql}), lambda {fresh}: "
            f"{{'key': {key}, 'value': {value}}})) AS {duck})"
        )
    if isinstance(source, ty.StructType) and isinstance(target, ty.StructType):
        parts = []
        for t in target.fields:
            f = source.field(t.name)
            value = (
                cast_sql(f"struct_extract({sql}, {quote_literal(f.name)})", f.type, t.type, fresh + "c")
                if f is not None
                else f"CAST(NULL AS {t.type.to_duckdb()})"
            )
            parts.append(f"{quote_ident(t.name)} := {value}")
        return f"CASE WHEN {sql} IS NOT NULL THEN struct_pack({', '.join(parts)}) END"
    return f"CAST({sql} AS {duck})"


def to_string_sql(sql: str, source: SqlType) -> str:
    """A value as ksqlDB's CAST(... AS STRING) writes it (Java's toString forms)."""
    base = source.base
    if base is BaseType.DOUBLE:
        return f"hw_double_to_string({sql})"
    if base is BaseType.TIMESTAMP:
        return f"strftime({sql}, '%Y-%m-%dT%H:%M:%S.%g')"
    if base is BaseType.TIME:
        return f"strftime(DATE '1970-01-01' + {sql}, '%H:%M:%S')"
    return f"CAST({sql} AS VARCHAR)"


#: The one spelling of a DuckDB string literal and identifier (shared with the formats).
quote_literal = literal
quote_ident = identifier
