"""DELIMITED field text to typed Arrow columns and back, with ksqlDB's (Java's) rules.

Each column converts with one vectorized cast; only a column whose cast fails
(some field does not parse, or needs a rule Arrow does not have, such as
Java's ``+5`` or ``1.5f``) is re-read field by field to find which records fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.formats import duck, java
from headwater.sql.types import BaseType, DecimalType, SqlType

_JAVA_NON_FINITE = re.compile(r"\s*[+-]?(NaN|Infinity)[fFdD]?\s*\Z")


def from_text(array: pa.StringArray, sql_type: SqlType) -> tuple[pa.Array, dict[int, str]]:
    """The typed column for the field texts (null = empty field) and ``{row: reason}`` for fields that fail."""
    base = sql_type.base
    target = sql_type.to_arrow()
    if base is BaseType.STRING:
        return array, {}
    if base is BaseType.BOOLEAN:
        # Java's Boolean.parseBoolean: "true" in any case; anything else is false, never an error.
        return pc.equal(pc.utf8_lower(array), "true"), {}
    if base is BaseType.INTEGER:
        return _cast(array, pa.int32(), java.parse_int)
    if base in (BaseType.BIGINT, BaseType.TIMESTAMP):
        values, failures = _cast(array, pa.int64(), java.parse_long)
        return values.view(target), failures
    if base in (BaseType.DATE, BaseType.TIME):
        values, failures = _cast(array, pa.int32(), _long_as_int)
        return values.view(target), failures
    if base is BaseType.DOUBLE:
        values, failures = _cast(array, pa.float64(), java.parse_double)
        if not failures:
            failures = _check_non_finite(array, values)
        return values, failures
    if isinstance(sql_type, DecimalType):
        return _cast(array, target, lambda text: java.fit_decimal(java.parse_decimal(text), sql_type.precision, sql_type.scale))
    if base is BaseType.BYTES:
        decoded = duck.single(duck.run("SELECT try(from_base64(v)) AS b FROM t", t=pa.table({"v": array})).column(0))
        failed = np.flatnonzero(decoded.is_null().to_numpy(zero_copy_only=False) & array.is_valid().to_numpy(zero_copy_only=False))
        return decoded.cast(pa.binary()), {int(r): "Illegal base64 character" for r in failed}
    raise ValueError(f"DELIMITED cannot carry {sql_type.sql()}")


def _long_as_int(text: str) -> int:
    value = java.parse_long(text)
    if not java.INT_MIN <= value <= java.INT_MAX:
        raise ValueError(f'For input string: "{text}"')
    return value


def _cast(array: pa.Array, arrow_type: pa.DataType, exact: Callable[[str], Any]) -> tuple[pa.Array, dict[int, str]]:
    try:
        return array.cast(arrow_type), {}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values: list[Any] = []
    failures: dict[int, str] = {}
    for row, text in enumerate(array.to_pylist()):
        if text is None:
            values.append(None)
            continue
        try:
            values.append(exact(text))
        except (ValueError, ArithmeticError) as exc:
            failures[row] = str(exc)
            values.append(None)
    return pa.array(values, arrow_type), failures


def _check_non_finite(texts: pa.Array, values: pa.Array) -> dict[int, str]:
    """Arrow reads ``inf`` and ``nan``; Java reads only ``Infinity`` and ``NaN``."""
    finite = pc.fill_null(pc.is_finite(values), True).to_numpy(zero_copy_only=False)
    failures = {}
    for row in np.flatnonzero(~finite).tolist():
        text = texts[row].as_py()
        if not _JAVA_NON_FINITE.match(text):
            failures[row] = f'For input string: "{text}"'
    return failures


def to_text(array: pa.Array, sql_type: SqlType, delimiter: str, *, first: bool) -> pa.Array:
    """Field texts as ksqlDB writes them; a null writes as an empty field."""
    base = sql_type.base
    if base is BaseType.STRING:
        text = _quote(array, delimiter, first=first)
    elif base is BaseType.DOUBLE:
        text = double_texts(array)
    elif base is BaseType.BYTES:
        text = duck.single(duck.run("SELECT to_base64(v) AS s FROM t", t=pa.table({"v": array})).column(0))
    elif base is BaseType.TIMESTAMP:
        text = array.view(pa.int64()).cast(pa.string())
    elif base in (BaseType.DATE, BaseType.TIME):
        text = array.view(pa.int32()).cast(pa.string())
    else:
        text = array.cast(pa.string())
    if base is not BaseType.STRING and (first or delimiter.isalnum() or delimiter in _IN_NON_STRINGS):
        text = _quote(text, delimiter, first=first)  # "-5" in the first field, as Commons CSV quotes it
    return pc.fill_null(text, "")


#: Characters other than letters and digits in the texts of numbers, booleans, times and BYTES (base64).
_IN_NON_STRINGS = ".-+/="


def _quote(array: pa.Array, delimiter: str, *, first: bool) -> pa.Array:
    """Commons CSV 1.4's minimal quoting (what ksqlDB's DELIMITED writer uses), for every type: a delimiter, quote
    or line break inside, a last character at or below space, a first character at or below ``#`` -- and, in the
    first field of a record, an empty text or a first character that is not an ASCII letter or digit."""
    start = "^[^0-9A-Za-z]|^$" if first else "^[\\x00-#]"
    pattern = f'[{re.escape(delimiter)}"\\r\\n]|{start}|[\\x00- ]$'
    needs = pc.fill_null(pc.match_substring_regex(array, pattern), False)
    if not pc.any(needs).as_py():
        return array
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(array, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, array)


def double_texts(array: pa.Array) -> pa.Array:
    """Java's ``Double.toString``: vectorized for 1e-3 <= |x| < 1e7, where it only adds a missing ``.0``."""
    text = array.cast(pa.string())
    magnitude = pc.abs(array)
    plain = pc.fill_null(pc.and_(pc.greater_equal(magnitude, 1e-3), pc.less(magnitude, 1e7)), True)
    needs_point = pc.and_(plain, pc.invert(pc.match_substring(text, ".")))
    text = pc.if_else(needs_point, pc.binary_join_element_wise(text, ".0", ""), text)
    others = np.flatnonzero(~plain.to_numpy(zero_copy_only=False))
    if len(others) == 0:
        return text
    values = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)[others]
    return _scatter(text, others, java_texts(values))


def java_double_exceptions(array: pa.Array) -> pa.Array | None:
    """Java's ``Double.toString`` of the values whose text differs from the shortest-digits form DuckDB
    writes (NaN, the infinities, and magnitudes below 1e-3 or from 1e7 on: E-notation); null elsewhere.
    None when no value of the batch needs it (the usual case)."""
    values = np.asarray((pc.fill_null(array, 1.0) if array.null_count else array).to_numpy(zero_copy_only=False),
                        dtype=np.float64)
    with np.errstate(invalid="ignore"):
        magnitude = np.abs(values)
        odd = (magnitude < 1e-3) & (values != 0)  # DuckDB writes 0.0 and -0.0 as Java does
        odd |= ~(magnitude < 1e7)  # NaN too
    rows = np.flatnonzero(odd)
    if len(rows) == 0:
        return None
    return _scatter(pa.nulls(len(values), pa.string()), rows, java_texts(values[rows]))


def _scatter(base: pa.Array, rows: np.ndarray, texts: pa.Array) -> pa.Array:
    """``base`` with ``texts`` at ``rows``."""
    positions = np.arange(len(base))
    positions[rows] = len(base) + np.arange(len(rows))
    return pa.concat_arrays([base, texts]).take(pa.array(positions))


_SHORTEST = r"^(?P<whole>\d+)(?:\.(?P<fraction>\d*))?(?:e(?P<exponent>[+-]\d+))?$"


def java_texts(values: np.ndarray) -> pa.Array:
    """``Double.toString`` of each value in E-notation (``9.22337203692E11``, ``1.0E-4``), vectorized; for
    values outside [1e-3, 1e7), where Java writes that form, and zero, NaN and the infinities (``0.0``, ``NaN``).

    The digits are Arrow's shortest round-trip text of ``|x|`` (``9.22337203692e+11``, ``0.000025``,
    ``10000000``), the exponent counted from where its point and its first non-zero digit stand.
    """
    finite = np.isfinite(values) & (values != 0)
    parts = pc.extract_regex(pa.array(np.abs(np.where(finite, values, 1.0))).cast(pa.string()), _SHORTEST)
    whole, fraction, exponent = (parts.field(k) for k in ("whole", "fraction", "exponent"))
    digits = pc.binary_join_element_wise(whole, fraction, "")
    significant = pc.utf8_rtrim(pc.utf8_ltrim(digits, characters="0"), characters="0")
    leading = pc.subtract(pc.utf8_length(digits), pc.utf8_length(pc.utf8_ltrim(digits, characters="0")))
    exponent = pc.utf8_ltrim(exponent, characters="+")
    power = pc.subtract(pc.add(pc.cast(pc.if_else(pc.equal(exponent, ""), "0", exponent), pa.int64()),
                               pc.subtract(pc.utf8_length(whole), 1)), leading)
    rest = pc.utf8_slice_codeunits(significant, 1)
    rest = pc.if_else(pc.equal(rest, ""), "0", rest)
    sign = pc.if_else(pa.array(values < 0), "-", "")
    text = pc.binary_join_element_wise(sign, pc.utf8_slice_codeunits(significant, 0, 1), ".", rest, "E",
                                       pc.cast(power, pa.string()), "")
    zeros = values == 0
    if zeros.any():
        text = pc.if_else(pa.array(zeros), pc.if_else(pa.array(np.signbit(values)), "-0.0", "0.0"), text)
    others = np.flatnonzero(~finite & ~zeros)  # NaN and the infinities
    if len(others) == 0:
        return text
    return _scatter(text, others, pa.array([java.double_to_string(float(v)) for v in values[others]], pa.string()))
