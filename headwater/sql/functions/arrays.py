"""Array functions: ARRAY_CONCAT ... SLICE.

Set-like functions (DISTINCT, EXCEPT, INTERSECT, UNION) keep the first
occurrence of each element in input order and treat NULL as a value, as
ksqlDB's Java collections do. Positions are 1-based.
"""

from __future__ import annotations

from headwater.sql import types as ty
from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant
from headwater.sql.typing import quote_literal, to_string_sql

ARRAY = "ARRAY"


def _distinct_in(call: Call, items: str, other: str | None = None, present: bool = False) -> str:
    """First occurrences in ``items``; with ``other``, only those (not) ``present`` in it."""
    x, i = call.fresh(), call.fresh()
    extra = f" AND list_position({other}, {x}) IS {'NOT ' if present else ''}NULL" if other else ""
    return f"list_filter({items}, lambda {x}, {i}: list_position({items}, {x}) = {i}{extra})"


def _distinct(call: Call) -> str:
    return _distinct_in(call, call.sql[0])


def _except(call: Call) -> str:
    a, b = call.sql
    return f"CASE WHEN {b} IS NOT NULL THEN {_distinct_in(call, a, b)} END"


def _intersect(call: Call) -> str:
    a, b = call.sql
    return f"CASE WHEN {b} IS NOT NULL THEN {_distinct_in(call, a, b, present=True)} END"


def _union(call: Call) -> str:
    a, b = call.sql
    return f"CASE WHEN {a} IS NOT NULL AND {b} IS NOT NULL THEN {_distinct_in(call, f'list_concat({a}, {b})')} END"


def _join(call: Call) -> str:
    array = call.args[0].type
    element = array.element if isinstance(array, ty.ArrayType) else ty.STRING
    x = call.fresh()
    texts = f"list_transform({call.sql[0]}, lambda {x}: coalesce({to_string_sql(x, element)}, 'null'))"
    if len(call.args) == 1:
        return f"array_to_string({texts}, ',')"
    if call.is_literal(1):
        delimiter = call.literal(1)
        return f"array_to_string({texts}, {quote_literal(delimiter or '')})"
    # array_to_string needs a constant delimiter; fold instead and drop the leading one.
    d, a, b = f"coalesce({call.sql[1]}, '')", call.fresh(), call.fresh()
    return f"substr(list_reduce({texts}, lambda {a}, {b}: {a} || {d} || {b}, ''), length({d}) + 1)"


def _sort(call: Call) -> str:
    array = call.sql[0]
    if len(call.args) == 1:
        return f"list_sort({array}, 'ASC', 'NULLS LAST')"
    if call.is_literal(1):
        direction = call.literal(1)
        if direction is None or direction.upper() not in ("ASC", "DESC"):
            return f"CAST(NULL AS {call.result.to_duckdb() if call.result else 'VARCHAR[]'})"
        return f"list_sort({array}, '{direction.upper()}', 'NULLS LAST')"
    d = f"upper({call.sql[1]})"
    return (
        f"CASE WHEN {d} = 'ASC' THEN list_sort({array}, 'ASC', 'NULLS LAST') "
        f"WHEN {d} = 'DESC' THEN list_sort({array}, 'DESC', 'NULLS LAST') END"
    )


def _slice(call: Call) -> str:
    # ksqlDB: List.subList(from - 1, to); NULL bounds mean the ends; out of range is NULL.
    array, start, end = call.sql
    first = f"coalesce({start} - 1, 0)"
    last = f"coalesce({end}, len({array}))"
    return (
        f"CASE WHEN {first} >= 0 AND {last} <= len({array}) AND {first} <= {last} "
        f"THEN list_slice({array}, {first} + 1, {last}) END"
    )


def register(registry: FunctionRegistry) -> None:
    registry.register(scalar(
        "ARRAY_CONCAT", ARRAY, "Concatenates two arrays; a NULL array counts as empty unless both are NULL.",
        variant("left ARRAY<T>, right ARRAY<T>", "ARRAY<T>",
                "CASE WHEN {0} IS NULL AND {1} IS NULL THEN NULL ELSE list_concat({0}, {1}) END"),
    ))
    registry.register(scalar(
        "ARRAY_CONTAINS", ARRAY, "Whether an array contains a value (NULL included); false for a NULL array.",
        variant("array ARRAY<T>, value T", "BOOLEAN", "coalesce(list_position({0}, {1}) IS NOT NULL, FALSE)"),
    ))
    registry.register(scalar(
        "ARRAY_DISTINCT", ARRAY, "The distinct elements of an array, in order of first occurrence.",
        variant("array ARRAY<T>", "ARRAY<T>", _distinct),
    ))
    registry.register(scalar(
        "ARRAY_EXCEPT", ARRAY, "The distinct elements of the first array that are not in the second.",
        variant("left ARRAY<T>, right ARRAY<T>", "ARRAY<T>", _except),
    ))
    registry.register(scalar(
        "ARRAY_INTERSECT", ARRAY, "The distinct elements of the first array that are also in the second.",
        variant("left ARRAY<T>, right ARRAY<T>", "ARRAY<T>", _intersect),
    ))
    registry.register(scalar(
        "ARRAY_UNION", ARRAY, "The distinct elements of both arrays, first array first.",
        variant("left ARRAY<T>, right ARRAY<T>", "ARRAY<T>", _union),
    ))
    registry.register(scalar(
        "ARRAY_JOIN", ARRAY,
        "The elements of an array as a string, separated by a delimiter (default ','); NULL elements read 'null'.",
        variant("array ARRAY<T>", "STRING", _join),
        variant("array ARRAY<T>, delimiter STRING", "STRING", _join),
    ))
    registry.register(scalar(
        "ARRAY_LENGTH", ARRAY, "The number of elements of an array.",
        variant("array ARRAY<T>", "INT", "CAST(len({0}) AS INTEGER)"),
    ))
    registry.register(scalar(
        "ARRAY_MAX", ARRAY, "The largest non-NULL element of an array.",
        variant("array ARRAY<T>", "T", "list_max({0})"),
    ))
    registry.register(scalar(
        "ARRAY_MIN", ARRAY, "The smallest non-NULL element of an array.",
        variant("array ARRAY<T>", "T", "list_min({0})"),
    ))
    registry.register(scalar(
        "ARRAY_REMOVE", ARRAY, "The array without every element equal to a value (NULL removes NULLs).",
        variant("array ARRAY<T>, value T", "ARRAY<T>", lambda c: (
            f"list_filter({c.sql[0]}, lambda {(x := c.fresh())}: {x} IS DISTINCT FROM {c.sql[1]})"
        )),
    ))
    registry.register(scalar(
        "ARRAY_SORT", ARRAY, "Sorts an array 'ASC' (default) or 'DESC', NULLs last.",
        variant("array ARRAY<T>", "ARRAY<T>", _sort),
        variant("array ARRAY<T>, direction STRING", "ARRAY<T>", _sort),
    ))
    registry.register(scalar(
        "SLICE", ARRAY, "The elements from one 1-based position to another, inclusive; NULL when out of range.",
        variant("array ARRAY<T>, start INT, end INT", "ARRAY<T>", _slice),
    ))
