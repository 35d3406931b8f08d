"""JSON functions on JSON text: EXTRACTJSONFIELD, IS_JSON_STRING, JSON_* and TO_JSON_STRING.

Text that is not valid JSON gives NULL (false for the predicates), as ksqlDB's
do. TO_JSON_STRING writes what ksqlDB's JSON serializer writes: TIMESTAMP as
epoch milliseconds, DATE as epoch days, TIME as milliseconds of the day,
BYTES as base64, and a NULL as the text ``null``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from headwater.formats import duck
from headwater.sql import types as ty
from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant
from headwater.sql.types import SqlType
from headwater.sql.typing import quote_ident, quote_literal

JSON = "JSON"

_PATH_PART = re.compile(r"""\.([^.\[\]]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\[\s*(\d+)\s*\]""")


def json_path(path: str) -> str:
    """ksqlDB's JSON path (``$.a.b[0]``, ``$['a b']``) in DuckDB's syntax; unknown forms are kept."""
    if not path.startswith("$"):
        return path
    parts, pos = ["$"], 1
    while pos < len(path):
        match = _PATH_PART.match(path, pos)
        if match is None:
            return path
        name = next((g for g in match.groups()[:3] if g is not None), None)
        if name is not None:
            # Inside DuckDB's quoted key, a quote and a backslash are backslash-escaped.
            escaped = name.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'."{escaped}"')
        else:
            parts.append(f"[{match.group(4)}]")
        pos = match.end()
    return "".join(parts)


def _extract(call: Call) -> str:
    document, path = call.sql
    if call.is_literal(1) and call.literal(1) is not None:
        given = call.literal(1)
        # DuckDB refuses a malformed literal path for the whole batch, whatever the records: refuse it now.
        reason = duck.refusal("SELECT json_extract_string('{}', ?)", [json_path(given)])
        if reason is not None:
            raise call.error(f"Function '{call.name}': invalid JSON path {quote_literal(given)}: {reason}",
                             call.args[1].node)
        path = quote_literal(json_path(given))
    return f"TRY(json_extract_string({document}, {path}))"


def _is(kind: str, sql: str) -> str:
    # TRY: DuckDB evaluates both sides of AND, and json_type raises on text that is not JSON.
    return f"coalesce(TRY(json_type({sql})) = '{kind}', FALSE)"


def _concat(call: Call) -> str:
    # Every JSON read is inside TRY: DuckDB evaluates (and folds) CASE conditions and both sides
    # of AND whatever json_valid said.
    docs = call.sql
    valid = " AND ".join(f"json_valid({d})" for d in docs)
    all_objects = " AND ".join(f"TRY(json_type({d})) = 'OBJECT'" for d in docs)
    maps = ", ".join(f"TRY(json_transform({d}, '\"MAP(VARCHAR, JSON)\"'))" for d in docs)
    arrays = [
        f"CASE WHEN TRY(json_type({d})) = 'ARRAY' THEN TRY(json_extract({d}, '$[*]')) ELSE [TRY(CAST({d} AS JSON))] END"
        for d in docs
    ]
    joined = arrays[0]
    for item in arrays[1:]:
        joined = f"list_concat({joined}, {item})"
    return (
        f"CASE WHEN {valid} THEN CASE WHEN {all_objects} THEN CAST(to_json(map_concat({maps})) AS VARCHAR) "
        f"ELSE CAST(to_json({joined}) AS VARCHAR) END END"
    )


def json_ready(sql: str, t: SqlType | None, fresh: str) -> str:
    """``sql`` with every value ksqlDB writes differently from DuckDB's to_json converted first."""
    if t is None:
        return sql
    base = t.base
    if base is ty.BaseType.TIMESTAMP:
        return ty.epoch_millis_sql(sql)
    if base is ty.BaseType.DATE:
        return f"({sql} - DATE '1970-01-01')"
    if base is ty.BaseType.TIME:
        return f"epoch_ms(DATE '1970-01-01' + {sql})"
    if base is ty.BaseType.BYTES:
        return f"to_base64({sql})"
    if not _needs_conversion(t):
        return sql
    if isinstance(t, ty.ArrayType):
        return f"list_transform({sql}, lambda {fresh}: {json_ready(fresh, t.element, fresh + 'x')})"
    if isinstance(t, ty.MapType):
        value = json_ready(f"{fresh}.value", t.value, fresh + "x")
        return f"map_from_entries(list_transform(map_entries({sql}), lambda {fresh}: {{'key': {fresh}.key, 'value': {value}}}))"
    if isinstance(t, ty.StructType):
        fields = ", ".join(
            f"{quote_ident(f.name)} := {json_ready(f'struct_extract({sql}, {quote_literal(f.name)})', f.type, fresh + 'x')}"
            for f in t.fields
        )
        return f"CASE WHEN {sql} IS NOT NULL THEN struct_pack({fields}) END"
    return sql


def _needs_conversion(t: SqlType) -> bool:
    if t.base in (ty.BaseType.TIMESTAMP, ty.BaseType.DATE, ty.BaseType.TIME, ty.BaseType.BYTES):
        return True
    if isinstance(t, ty.ArrayType):
        return _needs_conversion(t.element)
    if isinstance(t, ty.MapType):
        return _needs_conversion(t.value)
    if isinstance(t, ty.StructType):
        return any(_needs_conversion(f.type) for f in t.fields)
    return False


def _to_json_string(call: Call) -> str:
    ready = json_ready(call.sql[0], call.args[0].type, call.fresh())
    return f"coalesce(CAST(to_json({ready}) AS VARCHAR), 'null')"


_ELEMENT_MATCH = {
    "STRING": ("'VARCHAR'", "json_extract_string({e}, '$')"),
    "BIGINT": ("'BIGINT', 'UBIGINT'", "TRY_CAST({e} AS BIGINT)"),
    "DOUBLE": ("'DOUBLE'", "TRY_CAST({e} AS DOUBLE)"),
    "BOOLEAN": ("'BOOLEAN'", "TRY_CAST({e} AS BOOLEAN)"),
}


def _array_contains(kind: str) -> Callable[[Call], str]:
    json_types, decode = _ELEMENT_MATCH[kind]

    def translate(call: Call) -> str:
        document, value = call.sql
        e = call.fresh()
        elements = f"json_extract({document}, '$[*]')"
        has_null = f"list_bool_or(list_transform({elements}, lambda {e}: json_type({e}) = 'NULL'))"
        decoded = decode.format(e=e)
        has_value = (
            f"list_bool_or(list_transform({elements}, lambda {e}: "
            f"json_type({e}) IN ({json_types}) AND {decoded} = {value}))"
        )
        found = f"CASE WHEN {value} IS NULL THEN {has_null} ELSE {has_value} END"
        return f"CASE WHEN {_is('ARRAY', document)} THEN coalesce({found}, FALSE) ELSE FALSE END"

    return translate


def register(registry: FunctionRegistry) -> None:
    registry.register(scalar(
        "EXTRACTJSONFIELD", JSON,
        "The value at a JSON path ('$.a.b[0]') of a JSON string, as a string; NULL when absent or not JSON.",
        variant("json STRING, path STRING", "STRING", _extract),
    ))
    registry.register(scalar(
        "IS_JSON_STRING", JSON, "Whether a string is valid JSON.",
        variant("json STRING", "BOOLEAN", "coalesce(json_valid({0}), FALSE)"),
    ))
    registry.register(scalar(
        "JSON_ARRAY_CONTAINS", JSON, "Whether a JSON array contains a value of the same type.",
        *(variant(f"json STRING, value {kind}", "BOOLEAN", _array_contains(kind)) for kind in _ELEMENT_MATCH),
    ))
    registry.register(scalar(
        "JSON_ARRAY_LENGTH", JSON, "The number of elements of a JSON array; NULL when it is not one.",
        variant("json STRING", "INT", "CASE WHEN " + _is("ARRAY", "{0}") + " THEN CAST(json_array_length({0}) AS INTEGER) END"),
    ))
    registry.register(scalar(
        "JSON_CONCAT", JSON,
        "Concatenates JSON strings as PostgreSQL's || does: objects merge (last value wins), "
        "anything else concatenates as arrays. NULL if any input is NULL or not JSON.",
        variant("jsonStrings STRING...", "STRING", _concat),
    ))
    registry.register(scalar(
        "JSON_KEYS", JSON, "The keys of a JSON object; NULL when it is not one.",
        variant("json STRING", "ARRAY<STRING>", "CASE WHEN " + _is("OBJECT", "{0}") + " THEN json_keys({0}) END"),
    ))
    registry.register(scalar(
        "JSON_RECORDS", JSON, "The entries of a JSON object as a map from key to value JSON text.",
        variant(
            "json STRING", "MAP<STRING, STRING>",
            "CASE WHEN " + _is("OBJECT", "{0}")
            + " THEN CAST(json_transform({0}, '\"MAP(VARCHAR, JSON)\"') AS MAP(VARCHAR, VARCHAR)) END",
        ),
    ))
    registry.register(scalar(
        "JSON_ITEMS", JSON, "The elements of a JSON array as an array of JSON texts.",
        variant(
            "json STRING", "ARRAY<STRING>",
            "CASE WHEN " + _is("ARRAY", "{0}") + " THEN CAST(json_extract({0}, '$[*]') AS VARCHAR[]) END",
        ),
    ))
    registry.register(scalar(
        "TO_JSON_STRING", JSON, "Any value as a JSON string.",
        variant("value ANY", "STRING", _to_json_string),
    ))
