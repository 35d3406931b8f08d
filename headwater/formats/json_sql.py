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

import pyarrow as pa
import pyarrow.compute as pc

from headwater.formats import duck
from headwater.formats.delimited_types import java_double_exceptions
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

    With ``java_doubles``, the value is the one :func:`java_double_leaves` made, and every DOUBLE inside
    is written as Java's ``Double.toString`` (:func:`java_double_json`); without it DuckDB's text, which
    is the same unless a double is non-finite or outside [1e-3, 1e7).
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


def java_double_leaves(array: pa.Array, sql_type: SqlType, *, force: bool = False) -> pa.Array | None:
    """``array`` (a nested ``sql_type``) with each DOUBLE inside it paired with Java's text of it:
    ``STRUCT<d DOUBLE, t VARCHAR>``, ``t`` null where DuckDB's ``to_json`` writes what Java writes (see
    ``java_double_exceptions``: null, zero, and finite values from 1e-3 to 1e7). None when no double inside needs
    its Java text (unless ``force``), the usual batch, which keeps DuckDB's writer. What :func:`json_expr`
    reads with ``java_doubles``."""
    if sql_type.base is BaseType.DOUBLE:
        texts = java_double_exceptions(array)
        if texts is None and not force:
            return None
        return pa.StructArray.from_arrays([array, texts if texts is not None else pa.nulls(len(array), pa.string())],
                                          names=["d", "t"])
    if isinstance(sql_type, (ArrayType, MapType)) and array.offset and array.null_count:
        array = pa.concat_arrays([array])  # a slice with nulls cannot be rebuilt from its offsets: unsliced
    mask = array.is_null() if array.null_count else None
    if isinstance(sql_type, MapType):
        items = java_double_leaves(array.items, sql_type.value, force=force)
        return None if items is None else pa.MapArray.from_arrays(array.offsets, array.keys, items, mask=mask)
    if isinstance(sql_type, ArrayType):
        values = java_double_leaves(array.values, sql_type.element, force=force)
        return None if values is None else pa.ListArray.from_arrays(array.offsets, values, mask=mask)
    if isinstance(sql_type, StructType):
        children = array.flatten()
        doubles = [any(t.base is BaseType.DOUBLE for t in walk(f.type)) for f in sql_type.fields]
        paired = [java_double_leaves(c, f.type, force=force) if d else None
                  for c, f, d in zip(children, sql_type.fields, doubles, strict=True)]
        if all(p is None for p in paired):
            return None
        # Every field holding a double is paired (the SQL reads them all so), the others kept.
        paired = [java_double_leaves(c, f.type, force=True) if d and p is None else p
                  for c, f, d, p in zip(children, sql_type.fields, doubles, paired, strict=True)]
        return pa.StructArray.from_arrays([c if p is None else p for c, p in zip(children, paired, strict=True)],
                                          names=[f.name for f in sql_type.fields], mask=mask)
    return None


def java_double_json(x: str) -> str:
    """A DOUBLE paired with its Java text (``x`` a ``STRUCT<d, t>`` of :func:`java_double_leaves`) as Jackson
    writes it, as a JSON value: DuckDB's text where ``t`` is null, else ``t`` put in bare (a marked string,
    nonce left as ``{nonce}``, see :func:`unmark`), NaN and the infinities as strings."""
    d, t = f"struct_extract({x}, 'd')", f"struct_extract({x}, 't')"
    return f"CASE WHEN {t} IS NULL THEN to_json({d}) WHEN isfinite({d}) THEN to_json({MARK} || {t} || {END_MARK}) " \
           f"ELSE to_json({t}) END"


def unmark(texts: Any, nonce: str) -> Any:
    """The JSON texts with every marked value put in as bare text (two plain replacements, no regex)."""
    opened = pc.replace_substring(texts, f'"\\u0001hw{nonce}', "")
    return pc.replace_substring(opened, f'\\u0001{nonce}hw"', "")
