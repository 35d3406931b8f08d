"""The DuckDB SQL the JSON format runs: what ``json_transform`` extracts, and what ``to_json`` writes.

Decoding extracts *stand-ins* DuckDB converts like ksqlDB (TIMESTAMP as the
BIGINT epoch milliseconds, DATE and TIME as INTEGER, BYTES as the base64 text,
BOOLEAN as text since DuckDB reads ``"yes"`` and ``1`` as true), viewed or
converted to the final Arrow type afterwards. Encoding turns each value into
what ksqlDB writes (epoch numbers, base64) before ``to_json``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.formats import duck
from headwater.sql.types import (
    ArrayType,
    BaseType,
    DecimalType,
    MapType,
    SqlType,
    StructType,
    epoch_millis_sql,
)

STAND_INS = {
    BaseType.BOOLEAN: "VARCHAR",  # DuckDB reads "yes", "t" and 1 as true; ksqlDB only true/"true"
    BaseType.INTEGER: "INTEGER",
    BaseType.BIGINT: "BIGINT",
    BaseType.DOUBLE: "DOUBLE",
    BaseType.STRING: "VARCHAR",
    BaseType.BYTES: "VARCHAR",  # base64 text, decoded after the transform
    BaseType.DATE: "INTEGER",  # days; viewed as date32
    BaseType.TIME: "INTEGER",  # ms of the day; viewed as time32[ms]
    BaseType.TIMESTAMP: "BIGINT",  # epoch ms; viewed as timestamp[ms]
}


def walk(sql_type: SqlType) -> Iterable[SqlType]:
    yield sql_type
    if isinstance(sql_type, ArrayType):
        yield from walk(sql_type.element)
    elif isinstance(sql_type, MapType):
        yield from walk(sql_type.key)
        yield from walk(sql_type.value)
    elif isinstance(sql_type, StructType):
        for field in sql_type.fields:
            yield from walk(field.type)


def stand_in(sql_type: SqlType, path: tuple[str, ...], spelling: Callable[[tuple[str, ...]], str]) -> str:
    """The DuckDB type ``json_transform`` extracts for ``sql_type`` (struct fields by learned spelling)."""
    if isinstance(sql_type, DecimalType):
        return sql_type.to_duckdb() if sql_type.precision <= 38 else "DOUBLE"
    if isinstance(sql_type, ArrayType):
        return stand_in(sql_type.element, path, spelling) + "[]"
    if isinstance(sql_type, MapType):
        return f"MAP(VARCHAR, {stand_in(sql_type.value, path, spelling)})"
    if isinstance(sql_type, StructType):
        inner = ", ".join(
            f"{duck.identifier(spelling(path + (f.name,)))} {stand_in(f.type, path + (f.name,), spelling)}"
            for f in sql_type.fields
        )
        return f"STRUCT({inner})"
    return STAND_INS[sql_type.base]


def _needspost(sql_type: SqlType) -> bool:
    return any(t.base in (BaseType.BYTES, BaseType.BOOLEAN) for t in walk(sql_type))


def post(expr: str, sql_type: SqlType) -> str:
    """SQL turning the extracted stand-in into the final value (BYTES from base64, BOOLEAN from its text)."""
    if not _needspost(sql_type):
        return expr
    if sql_type.base is BaseType.BYTES:
        return f"try(from_base64({expr}))"
    if sql_type.base is BaseType.BOOLEAN:
        return f"CASE lower({expr}) WHEN 'true' THEN true WHEN 'false' THEN false END"
    if isinstance(sql_type, ArrayType):
        return f"list_transform({expr}, lambda x: {post('x', sql_type.element)})"
    if isinstance(sql_type, MapType):
        return f"map_from_entries(list_transform(map_entries({expr}), lambda e: {{'key': e.key, 'value': {post('e.value', sql_type.value)}}}))"
    if isinstance(sql_type, StructType):
        fields = ", ".join(f"{duck.identifier(f.name)} := {post(f'struct_extract_at({expr}, {i + 1})', f.type)}" for i, f in enumerate(sql_type.fields))
        return f"CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({fields}) END"
    return expr


def json_expr(expr: str, sql_type: SqlType, *, java_doubles: bool = False) -> str:
    """SQL turning a column value into what ksqlDB writes in JSON.

    With ``java_doubles``, every DOUBLE inside is written as Java's ``Double.toString`` (see
    :func:`java_double_json`); without it DuckDB's text, which is the same unless a batch holds a
    double outside [1e-3, 1e7) or a non-finite one (``nested_doubles_differ`` tells).
    """
    base = sql_type.base
    if base is BaseType.DOUBLE and java_doubles:
        return java_double_json(expr)
    if base is BaseType.TIMESTAMP:
        return epoch_millis_sql(expr)
    if base is BaseType.TIME:
        return f"epoch_ms({expr})"
    if base is BaseType.DATE:
        return f"CAST({expr} - DATE '1970-01-01' AS INTEGER)"
    if base is BaseType.BYTES:
        return f"to_base64({expr})"
    if base is BaseType.DECIMAL:
        # Written with its scale (12.30), as Jackson writes a BigDecimal: a marked string, unquoted by unmark().
        # DuckDB writes 0.10 as .10; BigDecimal.toString has the 0.
        return f"({MARK} || regexp_replace(CAST({expr} AS VARCHAR), '^(-?)[.]', '\\10.') || {END_MARK})"
    if isinstance(sql_type, ArrayType):
        inner = json_expr("x", sql_type.element, java_doubles=java_doubles)
        return expr if inner == "x" else f"list_transform({expr}, lambda x: {inner})"
    if isinstance(sql_type, MapType):
        inner = json_expr("e.value", sql_type.value, java_doubles=java_doubles)
        if inner == "e.value":
            return expr
        return f"map_from_entries(list_transform(map_entries({expr}), lambda e: {{'key': e.key, 'value': {inner}}}))"
    if isinstance(sql_type, StructType):
        fields = ", ".join(
            f"{duck.identifier(f.name)} := "
            f"{json_expr(f'struct_extract_at({expr}, {i + 1})', f.type, java_doubles=java_doubles)}"
            for i, f in enumerate(sql_type.fields)
        )
        return f"CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({fields}) END"
    return expr


#: Marked values (see :func:`marked_double`) are strings between these, whose nonce is new for each batch,
#: so that no string a user writes can pass for one; :func:`unmark` drops the marks and the quotes.
MARK = "chr(1) || 'hw{nonce}'"
END_MARK = "chr(1) || '{nonce}hw'"


def new_nonce() -> str:
    return secrets.token_hex(8)


def marked_double(expr: str, text: str, nonce: str) -> str:
    """A DOUBLE as ksqlDB writes it in JSON (Jackson: Java's ``Double.toString``), as a JSON value. ``text`` (a
    column) holds the Java text where DuckDB's differs (see ``java_double_exceptions``), else null; NaN and the
    infinities become strings (Jackson quotes non-numeric numbers)."""
    return (f"CASE WHEN {text} IS NULL THEN to_json({expr}) WHEN isfinite({expr}) THEN "
            f"to_json({MARK.format(nonce=nonce)} || {text} || {END_MARK.format(nonce=nonce)}) ELSE to_json({text}) END")


def nested_doubles_differ(array: pa.Array, sql_type: SqlType) -> bool:
    """Whether a DOUBLE inside ``array`` (arrays, maps, structs of ``sql_type``) is one DuckDB's ``to_json``
    writes otherwise than Java: non-finite, or non-zero outside [1e-3, 1e7). Vectorized; the usual batch
    has none, and keeps DuckDB's writer."""
    if sql_type.base is BaseType.DOUBLE:
        values = np.asarray(pc.fill_null(array, 1.0).to_numpy(zero_copy_only=False), dtype=np.float64)
        with np.errstate(invalid="ignore"):
            magnitude = np.abs(values)
            return bool(np.any(~((magnitude >= 1e-3) & (magnitude < 1e7)) & (values != 0)))
    if isinstance(sql_type, ArrayType):
        return nested_doubles_differ(pc.list_flatten(array), sql_type.element)
    if isinstance(sql_type, MapType):
        return nested_doubles_differ(array.items, sql_type.value)  # all the map values (unsliced: may say more)
    if isinstance(sql_type, StructType):
        return any(nested_doubles_differ(child, f.type)
                   for child, f in zip(array.flatten(), sql_type.fields, strict=True)
                   if any(t.base is BaseType.DOUBLE for t in walk(f.type)))
    return False


def java_double_json(x: str) -> str:
    """A DOUBLE ``x`` (a SQL expression) as Jackson writes it, as a JSON value: Java's ``Double.toString``
    (plain from 1e-3 to 1e7, else ``d.dddE±n`` with the shortest digits), NaN and the infinities as strings.

    The digits are DuckDB's shortest round-trip text, rearranged: ``2e+22`` is ``2.0E22``,
    ``922337203692.0`` is ``9.22337203692E11``, ``0.0001`` is ``1.0E-4``. The result is a marked string
    (:data:`MARK`, nonce left as ``{nonce}``) that :func:`unmark` puts in bare; doubles DuckDB writes
    as Java does are left to it.
    """
    s = f"CAST(abs({x}) AS VARCHAR)"
    mantissa, exponent = f"split_part({s}, 'e', 1)", f"split_part({s}, 'e', 2)"
    whole, fraction = f"split_part({s}, '.', 1)", f"split_part({s}, '.', 2)"
    big = f"rtrim({whole} || {fraction}, '0')"  # digits of a plain text >= 1e7, the point dropped
    small = f"rtrim(ltrim({fraction}, '0'), '0')"  # digits of a plain text < 1e-3
    zeros = f"(length({fraction}) - length(ltrim({fraction}, '0')))"
    text = (
        f"(CASE WHEN {x} < 0 THEN '-' ELSE '' END || CASE "
        f"WHEN contains({s}, 'e') THEN (CASE WHEN contains({mantissa}, '.') THEN {mantissa} ELSE {mantissa} || '.0' END)"
        f" || 'E' || CAST(CAST({exponent} AS INTEGER) AS VARCHAR) "
        f"WHEN abs({x}) >= 1 THEN left({big}, 1) || '.' || coalesce(nullif(substr({big}, 2), ''), '0')"
        f" || 'E' || CAST(length({whole}) - 1 AS VARCHAR) "
        f"ELSE left({small}, 1) || '.' || coalesce(nullif(substr({small}, 2), ''), '0')"
        f" || 'E-' || CAST({zeros} + 1 AS VARCHAR) END)"
    )
    return (f"CASE WHEN {x} IS NULL THEN NULL "
            f"WHEN {x} = 0 OR (abs({x}) >= 1e-3 AND abs({x}) < 1e7) THEN to_json({x}) "
            f"WHEN isfinite({x}) THEN to_json({MARK} || {text} || {END_MARK}) "
            f"WHEN isnan({x}) THEN to_json('NaN') WHEN {x} > 0 THEN to_json('Infinity') ELSE to_json('-Infinity') END")


def unmark(texts: Any, nonce: str) -> Any:
    """The JSON texts with every marked value put in as bare text (two plain replacements, no regex)."""
    opened = pc.replace_substring(texts, f'"\\u0001hw{nonce}', "")
    return pc.replace_substring(opened, f'\\u0001{nonce}hw"', "")
