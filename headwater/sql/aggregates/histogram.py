"""HISTOGRAM and ATTR: aggregates over the count of each distinct value.

HISTOGRAM (ksqlDB ``HistogramUdaf``): a map value -> number of occurrences.
NULL values are skipped (a map key cannot be NULL here). At most 1000
distinct values are counted: the first 1000 to arrive; a value that arrives
once the map is full is ignored, while the values already in it keep
counting. A table aggregate: ``undo`` lowers the count and removes the value
at 0, which frees room for a new one. No value yet: an empty map.

ATTR (ksqlDB ``Attr``): the value if every row of the group holds the same
one, else NULL. NULL counts as a value (ATTR of 1 and NULL is NULL); a group
of NULLs gives NULL. A table aggregate. The state has one entry per distinct
value, as ksqlDB's has: it is not bounded; it is kept sorted by value, so that
any batching gives the same state.

State: ``[struct_pack(k := value, c := count)]``. HISTOGRAM keeps it in order
of first arrival, so that a batch state says which new values come first
when the stored map is nearly full; the batch state is not capped, ``merge``
applies the limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.sql.aggregates.arguments import ANY, reject, typed
from headwater.sql.aggregates.base import AggregateFunction, BoundAggregate, register_aggregate
from headwater.sql.aggregates.lists import add_counts, counts_first_seen, empty, ordered_counts, subtract_counts
from headwater.sql.types import BIGINT, BaseType, MapType, SqlType

#: Distinct values HISTOGRAM counts (a constant in ksqlDB, not a setting).
HISTOGRAM_LIMIT = 1000

_KEYS = (BaseType.STRING, BaseType.BOOLEAN, BaseType.INTEGER, BaseType.BIGINT, BaseType.DOUBLE, BaseType.DECIMAL,
         BaseType.DATE, BaseType.TIME, BaseType.TIMESTAMP, BaseType.BYTES)


def _state_type(arg: SqlType) -> str:
    return f"STRUCT(k {arg.to_duckdb()}, c BIGINT)[]"


def _histogram(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    if literals:
        reject("HISTOGRAM", types, literals)
    arg = typed("HISTOGRAM", types, literals, 1, (_KEYS,))[0]
    state = _state_type(arg)
    entries = "list(struct_pack(v := {0}, o := {offset})) FILTER (WHERE {0} IS NOT NULL)"
    result_type = MapType(arg, BIGINT)
    as_map = f"map_from_entries(list_transform(coalesce({{s0}}, {empty(state)}), " \
             f"lambda _hw_e: struct_pack(key := _hw_e.k, value := _hw_e.c)))"
    return BoundAggregate(
        name="HISTOGRAM",
        result_type=result_type,
        state_types=(state,),
        partial=(counts_first_seen(entries),),
        running=(ordered_counts("histogram({0}) OVER {w}",
                                "list({0} ORDER BY {offset}) FILTER (WHERE {0} IS NOT NULL) OVER {w}"),),
        merge=(add_counts("{o0}", "{n0}", HISTOGRAM_LIMIT, state),),
        result=f"CAST({as_map} AS {result_type.to_duckdb()})",
        undo=(subtract_counts("{o0}", "{n0}", state),),
        uses_offset=True,
    )


def _attr(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    if literals:
        reject("ATTR", types, literals)
    arg = typed("ATTR", types, literals, 1, (ANY,))[0]
    state = _state_type(arg)
    t = arg.to_duckdb()

    def counts(over: str) -> str:
        # DuckDB's histogram skips NULLs: their count is added as an entry of its own.
        values = (f"coalesce(list_transform(map_entries(histogram({{0}}){over}), "
                  f"lambda _hw_e: struct_pack(k := _hw_e.key, c := CAST(_hw_e.value AS BIGINT))), {empty(state)})")
        nulls = f"count(*){over} - count({{0}}){over}"
        null_entry = f"CASE WHEN {nulls} > 0 THEN [struct_pack(k := CAST(NULL AS {t}), c := {nulls})] " \
                     f"ELSE {empty(state)} END"
        return f"CAST(list_sort(list_concat({values}, {null_entry})) AS {state})"

    return BoundAggregate(
        name="ATTR",
        result_type=arg,
        state_types=(state,),
        partial=(counts(""),),
        running=(counts(" OVER {w}"),),
        merge=(f"list_sort({add_counts('{o0}', '{n0}', None, state)})",),
        result="CASE WHEN len({s0}) = 1 THEN {s0}[1].k END",
        undo=(subtract_counts("{o0}", "{n0}", state),),
    )


register_aggregate(AggregateFunction(
    "HISTOGRAM",
    f"Returns a map of each distinct value of a column to the number of times it occurs; nulls are ignored; "
    f"at most {HISTOGRAM_LIMIT} distinct values are counted.",
    ("HISTOGRAM(col T) -> MAP<T, BIGINT>",),
    _histogram,
))
register_aggregate(AggregateFunction(
    "ATTR",
    "Returns the value of a column if every row of the group holds the same value, else NULL.",
    ("ATTR(col T) -> T",),
    _attr,
))
