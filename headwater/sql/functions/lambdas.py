"""TRANSFORM, FILTER and REDUCE over arrays and maps, as DuckDB list lambdas.

ksqlDB's ``x => ...`` becomes DuckDB's ``lambda x: ...``. Map forms go
through ``map_entries``; a TRANSFORM whose new keys collide keeps the last
(ksqlDB collects into a Java map). REDUCE of a NULL collection is the initial
state; with a NULL initial state it is NULL.
"""

from __future__ import annotations

from headwater.sql import types as ty
from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant

LAMBDA = "LAMBDA"


def _transform_array(call: Call) -> str:
    x = call.fresh()
    return f"list_transform({call.sql[0]}, lambda {x}: {call.body(1, x)})"


def _transform_map(call: Call) -> str:
    m, e = call.sql[0], call.fresh()
    entries = f"map_entries({m})"
    keys = f"list_transform({entries}, lambda {e}: {call.body(1, f'{e}.key', f'{e}.value')})"
    values = f"list_transform({entries}, lambda {e}: {call.body(2, f'{e}.key', f'{e}.value')})"
    return f"hw_map({keys}, {values})"


def _filter_array(call: Call) -> str:
    x = call.fresh()
    return f"list_filter({call.sql[0]}, lambda {x}: {call.body(1, x)})"


def _filter_map(call: Call) -> str:
    m, e = call.sql[0], call.fresh()
    return f"map_from_entries(list_filter(map_entries({m}), lambda {e}: {call.body(1, f'{e}.key', f'{e}.value')}))"


def _reduce(call: Call) -> str:
    collection, init = call.sql[:2]
    s, x = call.fresh(), call.fresh()
    if isinstance(call.args[0].type, ty.MapType):
        body = call.body(2, s, f"{x}.key", f"{x}.value")
        items = f"map_entries({collection})"
    else:
        body = call.body(2, s, x)
        items = collection
    return (
        f"CASE WHEN {init} IS NULL THEN NULL WHEN {collection} IS NULL THEN {init} "
        f"ELSE list_reduce({items}, lambda {s}, {x}: {body}, {init}) END"
    )


def register(registry: FunctionRegistry) -> None:
    registry.register(scalar(
        "TRANSFORM", LAMBDA,
        "Applies a lambda to each element of an array, or to each key and value of a map.",
        variant("array ARRAY<T>, function LAMBDA(T) => O", "ARRAY<O>", _transform_array),
        variant(
            "map MAP<K, V>, keyFunction LAMBDA(K, V) => K1, valueFunction LAMBDA(K, V) => V1",
            "MAP<K1, V1>", _transform_map,
        ),
    ))
    registry.register(scalar(
        "FILTER", LAMBDA, "Keeps the elements of an array, or the entries of a map, for which a lambda is true.",
        variant("array ARRAY<T>, function LAMBDA(T) => BOOLEAN", "ARRAY<T>", _filter_array),
        variant("map MAP<K, V>, function LAMBDA(K, V) => BOOLEAN", "MAP<K, V>", _filter_map),
    ))
    registry.register(scalar(
        "REDUCE", LAMBDA, "Folds an array or a map into a single value, starting from an initial state.",
        variant("array ARRAY<T>, initialState S, function LAMBDA(S, T) => S", "S", _reduce),
        variant("map MAP<K, V>, initialState S, function LAMBDA(S, K, V) => S", "S", _reduce),
    ))
