"""COUNT, SUM, AVG, MIN, MAX."""

from __future__ import annotations

from collections.abc import Sequence

from headwater.errors import SqlSemanticError
from headwater.sql.aggregates.base import AggregateFunction, BoundAggregate, register_aggregate
from headwater.sql.types import BIGINT, DOUBLE, BaseType, SqlType

_NUMERIC = (BaseType.INTEGER, BaseType.BIGINT, BaseType.DOUBLE, BaseType.DECIMAL)
_ORDERED = (*_NUMERIC, BaseType.STRING, BaseType.DATE, BaseType.TIME, BaseType.TIMESTAMP, BaseType.BOOLEAN,
            BaseType.BYTES)

#: Combine two nullable states: either alone, or both with ``op``.
_COMBINE = "CASE WHEN {o0} IS NULL THEN {n0} WHEN {n0} IS NULL THEN {o0} ELSE {op} END"


def _one_arg(name: str, types: Sequence[SqlType | None], allowed: tuple[BaseType, ...]) -> SqlType:
    if len(types) != 1:
        raise SqlSemanticError(f"Function '{name}' takes 1 argument, got {len(types)}.")
    arg = types[0]
    if arg is None or arg.base not in allowed:
        shown = "NULL" if arg is None else arg.sql()
        raise SqlSemanticError(f"Function '{name}' does not accept parameters ({shown}).")
    return arg


def _count(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    if len(types) > 1:
        raise SqlSemanticError(f"Function 'COUNT' takes 1 argument, got {len(types)}.")
    counted = "*" if not types else "{0}"
    return BoundAggregate(
        name="COUNT",
        result_type=BIGINT,
        state_types=("BIGINT",),
        partial=(f"count({counted})",),
        running=(f"count({counted}) OVER {{w}}",),
        merge=("coalesce({o0}, 0) + coalesce({n0}, 0)",),
        result="coalesce({s0}, 0)",
        undo=("coalesce({o0}, 0) - coalesce({n0}, 0)",),
    )


def _sum(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    arg = _one_arg("SUM", types, _NUMERIC)
    t = arg.to_duckdb()
    return BoundAggregate(
        name="SUM",
        result_type=arg,
        state_types=(t,),
        partial=(f"CAST(sum({{0}}) AS {t})",),
        running=(f"CAST(sum({{0}}) OVER {{w}} AS {t})",),
        merge=(_COMBINE.replace("{op}", "{o0} + {n0}"),),
        # ksqlDB's SUM starts at 0: a group of nulls sums to 0.
        result=f"coalesce({{s0}}, CAST(0 AS {t}))",
        undo=("{o0} - coalesce({n0}, 0)",),
    )


def _avg(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    _one_arg("AVG", types, _NUMERIC)
    return BoundAggregate(
        name="AVG",
        result_type=DOUBLE,
        state_types=("DOUBLE", "BIGINT"),
        partial=("sum(CAST({0} AS DOUBLE))", "count({0})"),
        running=("sum(CAST({0} AS DOUBLE)) OVER {w}", "count({0}) OVER {w}"),
        merge=(_COMBINE.replace("{op}", "{o0} + {n0}"), "coalesce({o1}, 0) + coalesce({n1}, 0)"),
        result="CASE WHEN coalesce({s1}, 0) = 0 THEN 0.0 ELSE {s0} / {s1} END",
        undo=("{o0} - coalesce({n0}, 0)", "{o1} - coalesce({n1}, 0)"),
    )


def _extreme(name: str, fn: str, pick: str) -> AggregateFunction:
    def bind(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
        arg = _one_arg(name, types, _ORDERED)
        t = arg.to_duckdb()
        return BoundAggregate(
            name=name,
            result_type=arg,
            state_types=(t,),
            partial=(f"{fn}({{0}})",),
            running=(f"{fn}({{0}}) OVER {{w}}",),
            merge=(f"{pick}({{o0}}, {{n0}})",),
            result="{s0}",
        )

    return AggregateFunction(name, f"Computes the {fn}imum value for a key.", (f"{name}(col T) -> T",), bind)


register_aggregate(AggregateFunction("COUNT", "Counts records (COUNT(*)) or non-null values (COUNT(col)).",
                                     ("COUNT(*) -> BIGINT", "COUNT(col ANY) -> BIGINT"), _count))
register_aggregate(AggregateFunction("SUM", "Sums the values of a column; nulls are ignored.",
                                     ("SUM(col INT) -> INT", "SUM(col BIGINT) -> BIGINT", "SUM(col DOUBLE) -> DOUBLE",
                                      "SUM(col DECIMAL) -> DECIMAL"), _sum))
register_aggregate(AggregateFunction("AVG", "Returns the average value of a column; nulls are ignored.",
                                     ("AVG(col INT|BIGINT|DOUBLE|DECIMAL) -> DOUBLE",), _avg))
register_aggregate(_extreme("MIN", "min", "least"))
register_aggregate(_extreme("MAX", "max", "greatest"))
