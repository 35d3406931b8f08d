"""EARLIEST_BY_OFFSET and LATEST_BY_OFFSET: the first or last value of a column by record offset.

ksqlDB (``EarliestByOffset``, ``LatestByOffset``), stream aggregates only (no ``undo``):

- ``(col)`` / ``(col, ignoreNulls)``: the value of the earliest (latest) row;
  NULL values are skipped unless ``ignoreNulls`` is false, in which case a
  NULL can be the earliest (latest) value. No value yet: NULL.
- ``(col, n)`` / ``(col, n, ignoreNulls)``: ``ARRAY<T>`` of the n earliest
  (latest) values, oldest first in both; n is at least 1 ("earliestN must be
  1 or greater"). No value yet: an empty array.

``literal_args = (1, 2)``: arguments 2 and 3, when present, are literals; an
INTEGER is n, a BOOLEAN ignoreNulls.

State: the offset with the value, so that merging two states (across batches,
or two sessions) keeps the right one: ``(offset, value)``, or for the n forms
``[struct_pack(o := offset, v := value)]`` sorted by offset.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.errors import SqlSemanticError
from headwater.sql.aggregates.arguments import ANY, positive_int, reject, typed
from headwater.sql.aggregates.base import AggregateFunction, BoundAggregate, register_aggregate
from headwater.sql.aggregates.lists import empty
from headwater.sql.types import ArrayType, SqlType


def _forms(name: str, types: Sequence[SqlType | None], literals: Sequence[object], n_name: str
           ) -> tuple[SqlType, int | None, bool]:
    """The argument type, n (None for the single-value forms) and ignoreNulls of a call."""
    arg = typed(name, types, literals, 1, (ANY,))[0]
    if len(literals) > 2:
        reject(name, types, literals)
    n: int | None = None
    ignore_nulls = True
    rest = list(literals)
    if rest and not isinstance(rest[0], bool):
        n = positive_int(name, rest.pop(0), n_name)
    if rest:
        flag = rest.pop(0)
        if not isinstance(flag, bool):
            raise SqlSemanticError(f"Function '{name}' expects ignoreNulls to be a BOOLEAN literal, got {flag!r}.")
        ignore_nulls = flag
    if rest:
        reject(name, types, literals)
    return arg, n, ignore_nulls


def _bind(name: str, latest: bool, types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    arg, n, ignore_nulls = _forms(name, types, literals, "latestN" if latest else "earliestN")
    where = " FILTER (WHERE {0} IS NOT NULL)" if ignore_nulls else ""
    t = arg.to_duckdb()
    if n is None:
        pick = ("arg_max" if latest else "arg_min") + ("" if ignore_nulls else "_null")
        offset = ("max" if latest else "min") + "({offset})" + where
        value = f"{pick}({{0}}, {{offset}}){where}"
        # The new state wins if it is later (earlier), or on a tie for LATEST: a batch comes after the stored state.
        wins = "{n0} IS NOT NULL AND ({o0} IS NULL OR " + ("{n0} >= {o0})" if latest else "{n0} < {o0})")
        return BoundAggregate(
            name=name,
            result_type=arg,
            state_types=("BIGINT", t),
            partial=(offset, value),
            running=(f"{offset} OVER {{w}}", f"{value} OVER {{w}}"),
            merge=(f"CASE WHEN {wins} THEN {{n0}} ELSE {{o0}} END", f"CASE WHEN {wins} THEN {{n1}} ELSE {{o1}} END"),
            result="{s1}",
            uses_offset=True,
        )
    state = f"STRUCT(o BIGINT, v {t})[]"
    # min_by/max_by return the n rows with the smallest/greatest offsets; the struct keeps NULL values.
    row = "struct_pack(o := {offset}, v := {0})"
    chosen = f"{'max_by' if latest else 'min_by'}({row}, {{offset}}, {n}){where}"
    keep = f"-{n}, -1" if latest else f"1, {n}"
    return BoundAggregate(
        name=name,
        result_type=ArrayType(arg),
        state_types=(state,),
        partial=(f"list_sort({chosen})",),
        running=(f"list_sort({chosen} OVER {{w}})",),
        merge=(f"list_slice(list_sort(list_concat({{o0}}, {{n0}})), {keep})",),
        result=f"list_transform(coalesce({{s0}}, {empty(state)}), lambda _hw_e: _hw_e.v)",
        uses_offset=True,
    )


def _function(name: str, latest: bool) -> AggregateFunction:
    which = "latest" if latest else "earliest"

    def bind(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
        return _bind(name, latest, types, literals)

    return AggregateFunction(
        name,
        f"Returns the {which} value of a column by offset (nulls ignored unless ignoreNulls is false); "
        f"with n, an array of the n {which} values, oldest first.",
        (f"{name}(col T) -> T", f"{name}(col T, ignoreNulls BOOLEAN) -> T",
         f"{name}(col T, n INT) -> ARRAY<T>", f"{name}(col T, n INT, ignoreNulls BOOLEAN) -> ARRAY<T>"),
        bind,
        literal_args=(1, 2),
    )


register_aggregate(_function("EARLIEST_BY_OFFSET", latest=False))
register_aggregate(_function("LATEST_BY_OFFSET", latest=True))
