"""COLLECT_LIST and COLLECT_SET: the values of a group as an array, in arrival order, capped.

ksqlDB (``CollectListUdaf``, ``CollectSetUdaf``):

- NULL values are collected like any other value (there is no null check);
- the array keeps arrival (offset) order; COLLECT_SET keeps the first
  occurrence of each value;
- once the array holds ``ksql.functions.collect_list.limit`` (or
  ``collect_set.limit``) values, 1000 by default, further values are ignored
  (a COLLECT_SET at its limit ignores new values, not repeated ones);
- both are table aggregates: ``undo`` of COLLECT_LIST removes the *last*
  occurrence of the retracted value, ``undo`` of COLLECT_SET removes the value
  (even if another row of the group still holds it: ksqlDB's set has no counts);
- no value yet: an empty array.

State: the array itself. The batch state of COLLECT_SET is not capped (which
of its values fit depends on the stored set), ``merge`` applies the limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.sql.aggregates.arguments import ANY, reject, typed
from headwater.sql.aggregates.base import AggregateFunction, BoundAggregate, register_aggregate
from headwater.sql.aggregates.lists import empty, first_seen, let, ordered_distinct
from headwater.sql.types import ArrayType, SqlType

#: ksql.functions.collect_list.limit and ksql.functions.collect_set.limit (defaults).
COLLECT_LIST_LIMIT = 1000
COLLECT_SET_LIMIT = 1000


def _collect_list(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    if literals:
        reject("COLLECT_LIST", types, literals)
    arg = typed("COLLECT_LIST", types, literals, 1, (ANY,))[0]
    state = f"{arg.to_duckdb()}[]"
    limit = COLLECT_LIST_LIMIT
    values = "list({0} ORDER BY {offset})"
    # An element of the old list stays unless it is among the last k occurrences of its value, k = its retractions.
    same = "lambda _hw_y: _hw_y IS NOT DISTINCT FROM _hw_x"
    undo = let(
        f"coalesce({{n0}}, {empty(state)})", "_hw_r",
        f"list_filter({{o0}}, lambda _hw_x, _hw_i: len(list_filter(_hw_r, {same})) "
        f"<= len(list_filter(list_slice({{o0}}, _hw_i + 1, len({{o0}})), {same})))",
    )
    return BoundAggregate(
        name="COLLECT_LIST",
        result_type=ArrayType(arg),
        state_types=(state,),
        partial=(f"list_slice({values}, 1, {limit})",),
        running=(f"list_slice({values} OVER {{w}}, 1, {limit})",),
        merge=(f"list_slice(list_concat({{o0}}, {{n0}}), 1, {limit})",),
        result=f"coalesce({{s0}}, {empty(state)})",
        undo=(undo,),
        uses_offset=True,
    )


def _collect_set(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    if literals:
        reject("COLLECT_SET", types, literals)
    arg = typed("COLLECT_SET", types, literals, 1, (ANY,))[0]
    state = f"{arg.to_duckdb()}[]"
    limit = COLLECT_SET_LIMIT
    entries = "list(struct_pack(v := {0}, o := {offset}))"
    fresh = f"list_filter(coalesce({{n0}}, {empty(state)}), lambda _hw_x: list_position(_hw_o, _hw_x) IS NULL)"
    merge = let(
        f"coalesce({{o0}}, {empty(state)})", "_hw_o",
        f"CASE WHEN len(_hw_o) >= {limit} THEN _hw_o "
        f"ELSE list_concat(_hw_o, list_slice({fresh}, 1, {limit} - len(_hw_o))) END",
    )
    return BoundAggregate(
        name="COLLECT_SET",
        result_type=ArrayType(arg),
        state_types=(state,),
        partial=(first_seen(entries),),
        running=(ordered_distinct("list({0} ORDER BY {offset}) OVER {w}"),),
        merge=(merge,),
        result=f"list_slice(coalesce({{s0}}, {empty(state)}), 1, {limit})",
        undo=(f"list_filter({{o0}}, lambda _hw_x: list_position(coalesce({{n0}}, {empty(state)}), _hw_x) IS NULL)",),
        uses_offset=True,
    )


register_aggregate(AggregateFunction(
    "COLLECT_LIST",
    f"Gathers the values of a column into an array, in arrival order, nulls included; at most "
    f"{COLLECT_LIST_LIMIT} values (ksql.functions.collect_list.limit).",
    ("COLLECT_LIST(col T) -> ARRAY<T>",),
    _collect_list,
))
register_aggregate(AggregateFunction(
    "COLLECT_SET",
    f"Gathers the distinct values of a column into an array, in order of first arrival, null included; at most "
    f"{COLLECT_SET_LIMIT} values (ksql.functions.collect_set.limit).",
    ("COLLECT_SET(col T) -> ARRAY<T>",),
    _collect_set,
))
