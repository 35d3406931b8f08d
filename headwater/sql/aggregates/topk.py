"""TOPK and TOPKDISTINCT: the k greatest values of a column, greatest first.

ksqlDB 0.29 (``TopkKudaf``, ``TopkDistinctKudaf``), stream aggregates only
(no ``undo``):

- ``TOPK(col, k)`` -> ``ARRAY<T>``: the k greatest values, duplicates kept.
- ``TOPK(col, other1, other2, ..., k)`` -> ``ARRAY<STRUCT<sort_col T,
  col0 T1, col1 T2, ...>>``: the rows with the k greatest ``col``, each with
  the other columns' values. Among equal ``col`` values the earlier row comes
  first, and a row equal to the last of a full list does not replace it (the
  Java code inserts, sorts stably and drops the tail): the order is (col
  descending, offset ascending), so this form keeps the offset in its state.
- ``TOPKDISTINCT(col, k)`` -> ``ARRAY<T>``: the k greatest distinct values.
- Rows whose ``col`` is NULL are ignored; no row yet: an empty array.
- k is an INTEGER literal of at least 1.

``literal_args = (-1,)``: the last argument, k, is a literal.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.sql.aggregates.arguments import ANY, ORDERED, positive_int, reject, typed
from headwater.sql.aggregates.base import AggregateFunction, BoundAggregate, register_aggregate
from headwater.sql.aggregates.lists import empty
from headwater.sql.types import ArrayType, SqlType, StructField, StructType

#: Field names of TOPK's struct elements, as ksqlDB's TopkKudaf names them.
SORT_FIELD = "sort_col"


def _k(name: str, types: Sequence[SqlType | None], literals: Sequence[object]) -> int:
    if len(literals) != 1:
        reject(name, types, literals)
    return positive_int(name, literals[0], "k")


def _topk(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    k = _k("TOPK", types, literals)
    args = typed("TOPK", types, literals, len(types), (ORDERED, ANY))
    if len(args) == 1:
        state = f"{args[0].to_duckdb()}[]"
        return BoundAggregate(
            name="TOPK",
            result_type=ArrayType(args[0]),
            state_types=(state,),
            partial=(f"max({{0}}, {k})",),
            running=(f"max({{0}}, {k}) OVER {{w}}",),
            merge=(f"list_slice(list_sort(list_concat({{o0}}, {{n0}}), 'DESC'), 1, {k})",),
            result=f"coalesce({{s0}}, {empty(state)})",
        )
    others = args[1:]
    element = StructType((StructField(SORT_FIELD, args[0]),
                          *(StructField(f"col{i}", t) for i, t in enumerate(others))))
    # State elements sort (descending, field by field) as ksqlDB orders rows: v descending, then offset
    # ascending (n = -offset descending).
    fields = ", ".join(f"c{i} {t.to_duckdb()}" for i, t in enumerate(others))
    state = f"STRUCT(v {args[0].to_duckdb()}, n BIGINT, {fields})[]"
    key = "struct_pack(v := {0}, n := -({offset}))"
    row = "struct_pack(v := {0}, n := -({offset}), " + ", ".join(
        f"c{i} := {{{i + 1}}}" for i in range(len(others))) + ")"
    best = f"max_by({row}, {key}, {k}) FILTER (WHERE {{0}} IS NOT NULL)"
    shown = ", ".join([f"{SORT_FIELD} := _hw_e.v", *(f"col{i} := _hw_e.c{i}" for i in range(len(others)))])
    result_type = ArrayType(element)
    return BoundAggregate(
        name="TOPK",
        result_type=result_type,
        state_types=(state,),
        partial=(best,),
        running=(f"{best} OVER {{w}}",),
        merge=(f"list_slice(list_sort(list_concat({{o0}}, {{n0}}), 'DESC'), 1, {k})",),
        result=f"CAST(list_transform(coalesce({{s0}}, {empty(state)}), lambda _hw_e: struct_pack({shown})) "
               f"AS {result_type.to_duckdb()})",
        uses_offset=True,
    )


def _topk_distinct(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    k = _k("TOPKDISTINCT", types, literals)
    arg = typed("TOPKDISTINCT", types, literals, 1, (ORDERED,))[0]
    state = f"{arg.to_duckdb()}[]"
    return BoundAggregate(
        name="TOPKDISTINCT",
        result_type=ArrayType(arg),
        state_types=(state,),
        partial=(f"max(DISTINCT {{0}}, {k})",),
        running=(f"max(DISTINCT {{0}}, {k}) OVER {{w}}",),
        merge=(f"list_slice(list_sort(list_distinct(list_concat({{o0}}, {{n0}})), 'DESC'), 1, {k})",),
        result=f"coalesce({{s0}}, {empty(state)})",
    )


register_aggregate(AggregateFunction(
    "TOPK",
    "Returns the k greatest values of a column, greatest first; with other columns, the rows holding them "
    "as structs (sort_col, col0, col1, ...). Nulls are ignored.",
    ("TOPK(col T, k INT) -> ARRAY<T>",
     "TOPK(col T, other1 T1, ..., k INT) -> ARRAY<STRUCT<sort_col T, col0 T1, ...>>"),
    _topk,
    literal_args=(-1,),
))
register_aggregate(AggregateFunction(
    "TOPKDISTINCT",
    "Returns the k greatest distinct values of a column, greatest first. Nulls are ignored.",
    ("TOPKDISTINCT(col T, k INT) -> ARRAY<T>",),
    _topk_distinct,
    literal_args=(-1,),
))
