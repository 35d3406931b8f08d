"""Map functions: AS_MAP, MAP_KEYS, MAP_VALUES, MAP_UNION, ENTRIES.

Maps keep insertion order in DuckDB; ksqlDB's Java maps have no defined
order, so only ENTRIES(map, true) promises one (sorted by key).
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.sql import types as ty
from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant
from headwater.sql.types import SqlType

MAP = "MAP"


def _entries_type(types: Sequence[SqlType | None]) -> SqlType | None:
    map_type = types[0]
    if not isinstance(map_type, ty.MapType):
        return None
    entry = ty.StructType((ty.StructField("K", map_type.key), ty.StructField("V", map_type.value)))
    return ty.ArrayType(entry)


def _entries(call: Call) -> str:
    m, sort = call.sql
    e = call.fresh()
    entries = f"list_transform(map_entries({m}), lambda {e}: struct_pack(\"K\" := {e}.key, \"V\" := {e}.value))"
    if call.is_literal(1):
        return f"list_sort({entries})" if call.literal(1) else entries
    return f"CASE WHEN {sort} THEN list_sort({entries}) ELSE {entries} END"


def register(registry: FunctionRegistry) -> None:
    registry.register(scalar(
        "AS_MAP", MAP, "A map from an array of keys and an array of values (missing values are NULL).",
        variant("keys ARRAY<STRING>, values ARRAY<T>", "MAP<STRING, T>", "hw_map({0}, {1})"),
    ))
    registry.register(scalar(
        "MAP_KEYS", MAP, "The keys of a map, as an array.",
        variant("map MAP<K, V>", "ARRAY<K>", "map_keys({0})"),
    ))
    registry.register(scalar(
        "MAP_VALUES", MAP, "The values of a map, as an array.",
        variant("map MAP<K, V>", "ARRAY<V>", "map_values({0})"),
    ))
    registry.register(scalar(
        "MAP_UNION", MAP,
        "The union of two maps; on a shared key the second map's value wins. A NULL map counts as empty "
        "unless both are NULL.",
        variant(
            "map1 MAP<K, V>, map2 MAP<K, V>", "MAP<K, V>",
            "CASE WHEN {0} IS NULL THEN {1} WHEN {1} IS NULL THEN {0} ELSE map_concat({0}, {1}) END",
        ),
    ))
    registry.register(scalar(
        "ENTRIES", MAP,
        "The entries of a map as an array of structs with fields K and V, sorted by key when asked.",
        variant("map MAP<STRING, V>, sorted BOOLEAN", _entries_type, _entries,
                returns_text="ARRAY<STRUCT<K VARCHAR, V V>>"),
    ))
