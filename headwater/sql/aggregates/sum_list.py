"""SUM_LIST: the sum of the elements of an array column over a group.

ksqlDB (``ListSumUdaf``), a table aggregate: a NULL array and NULL elements
add nothing, the sum starts at 0 and has the element type (INT, BIGINT or
DOUBLE).
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.sql.aggregates.arguments import reject
from headwater.sql.aggregates.base import AggregateFunction, BoundAggregate, register_aggregate
from headwater.sql.types import ArrayType, BaseType, SqlType

_ELEMENTS = (BaseType.INTEGER, BaseType.BIGINT, BaseType.DOUBLE)


def _sum_list(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    arg = types[0] if len(types) == 1 else None
    if literals or not isinstance(arg, ArrayType) or arg.element.base not in _ELEMENTS:
        reject("SUM_LIST", types, literals)
    element = arg.element
    t = element.to_duckdb()

    def total(over: str) -> str:
        return f"CAST(sum(list_sum({{0}})){over} AS {t})"

    return BoundAggregate(
        name="SUM_LIST",
        result_type=element,
        state_types=(t,),
        partial=(total(""),),
        running=(total(" OVER {w}"),),
        merge=(f"coalesce({{o0}}, CAST(0 AS {t})) + coalesce({{n0}}, CAST(0 AS {t}))",),
        result=f"coalesce({{s0}}, CAST(0 AS {t}))",
        undo=(f"coalesce({{o0}}, CAST(0 AS {t})) - coalesce({{n0}}, CAST(0 AS {t}))",),
    )


register_aggregate(AggregateFunction(
    "SUM_LIST",
    "Sums the elements of an array column over a group; null arrays and elements are ignored.",
    ("SUM_LIST(col ARRAY<INT>) -> INT", "SUM_LIST(col ARRAY<BIGINT>) -> BIGINT",
     "SUM_LIST(col ARRAY<DOUBLE>) -> DOUBLE"),
    _sum_list,
))
