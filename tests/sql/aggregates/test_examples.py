"""ksqlDB's documented results, limits, argument types and binding errors of the aggregates."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from headwater.errors import SqlSemanticError
from headwater.sql import types as ty
from headwater.sql.aggregates import aggregate, aggregate_names
from headwater.sql.aggregates.distinct import COUNT_DISTINCT_EXACT_LIMIT
from tests.sql.aggregates import reference as ref
from tests.sql.aggregates.harness import Harness, Record, same, split


def bind(function: str, types: Sequence[ty.SqlType], literals: list[object]) -> Harness:
    found = aggregate(function)
    assert found is not None
    return Harness(found.bind(list(types), literals), types)


def result(function: str, types: Sequence[ty.SqlType], literals: list[object], values: list[Any],
           cuts: list[int] | None = None) -> Any:
    """The result for one group over the values (one tuple of arguments, or one value, per record)."""
    h = bind(function, types, literals)
    records: list[Record] = [("k", i, *(v if isinstance(v, tuple) else (v,))) for i, v in enumerate(values)]
    return h.results(h.fold(split(records, cuts or [])))["k"]


# --- documented results ------------------------------------------------------

I: list[ty.SqlType] = [ty.INTEGER]
S: list[ty.SqlType] = [ty.STRING]
D: list[ty.SqlType] = [ty.DOUBLE]

EXAMPLES = [
    ("COUNT_DISTINCT", I, [], [1, 1, 2, None], 2),
    ("COUNT_DISTINCT", I, [], [None, None], 0),
    ("COLLECT_LIST", I, [], [1, None, 2, 1], [1, None, 2, 1]),
    ("COLLECT_LIST", I, [], [None, None], [None, None]),
    ("COLLECT_SET", I, [], [1, None, 2, 1, None], [1, None, 2]),
    ("HISTOGRAM", S, [], ["a", "b", "a", None], {"a": 2, "b": 1}),
    ("HISTOGRAM", S, [], [None], {}),
    ("ATTR", S, [], ["a", "a"], "a"),
    ("ATTR", S, [], ["a", "b", "a"], None),
    ("ATTR", S, [], ["a", None], None),
    ("ATTR", S, [], [None, None], None),
    ("TOPK", I, [2], [1, 5, 3, None, 5], [5, 5]),
    ("TOPK", I, [3], [None], []),
    ("TOPK", [ty.INTEGER, ty.STRING], [2], [(10, "a"), (20, "b"), (20, "c"), (5, "d")],
     [{"sort_col": 20, "col0": "b"}, {"sort_col": 20, "col0": "c"}]),
    ("TOPK", [ty.INTEGER, ty.STRING], [2], [(10, "a"), (20, "b"), (20, "c"), (30, "e"), (None, "f")],
     [{"sort_col": 30, "col0": "e"}, {"sort_col": 20, "col0": "b"}]),
    ("TOPKDISTINCT", I, [2], [1, 5, 3, None, 5], [5, 3]),
    ("LATEST_BY_OFFSET", I, [], [1, 2, None], 2),
    ("LATEST_BY_OFFSET", I, [False], [1, 2, None], None),
    ("LATEST_BY_OFFSET", I, [2], [1, 2, None], [1, 2]),
    ("LATEST_BY_OFFSET", I, [2, False], [1, 2, None], [2, None]),
    ("LATEST_BY_OFFSET", I, [], [None], None),
    ("LATEST_BY_OFFSET", I, [3], [None], []),
    ("EARLIEST_BY_OFFSET", I, [], [None, 1, 2], 1),
    ("EARLIEST_BY_OFFSET", I, [True], [None, 1, 2], 1),
    ("EARLIEST_BY_OFFSET", I, [False], [None, 1, 2], None),
    ("EARLIEST_BY_OFFSET", I, [2], [None, 1, 2, 3], [1, 2]),
    ("EARLIEST_BY_OFFSET", I, [2, False], [None, 1, 2], [None, 1]),
    ("STDDEV_SAMP", D, [], [1.0, 2.0, None, 3.0, 4.0], 1.2909944487358056),
    ("STDDEV_SAMPLE", I, [], [1, 2, 3, 4], 1.2909944487358056),
    ("STDDEV_SAMP", D, [], [5.0], 0.0),
    ("STDDEV_POP", D, [], [1.0, 2.0, 3.0, 4.0], 1.118033988749895),
    ("STDDEV_POP", D, [], [None], 0.0),
    ("CORRELATION", [ty.DOUBLE, ty.DOUBLE], [], [(1.0, 2.0), (2.0, 4.0), (None, 1.0), (3.0, 6.0)], 1.0),
    ("CORRELATION", [ty.DOUBLE, ty.DOUBLE], [], [(1.0, 2.0), (2.0, 1.0)], -1.0),
    ("CORRELATION", [ty.DOUBLE, ty.DOUBLE], [], [(1.0, 2.0), (2.0, None)], math.nan),
    ("CORRELATION", [ty.DOUBLE, ty.DOUBLE], [], [(1.0, 2.0), (1.0, 3.0)], math.nan),
    ("SUM_LIST", [ty.ArrayType(ty.INTEGER)], [], [[1, 2], [3, None], None], 6),
    ("SUM_LIST", [ty.ArrayType(ty.DOUBLE)], [], [None], 0.0),
]


@pytest.mark.parametrize(("function", "types", "literals", "values", "expected"), EXAMPLES,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(EXAMPLES)])
def test_documented_result(function: str, types: list[ty.SqlType], literals: list[object], values: list[Any],
                           expected: Any) -> None:
    assert same(result(function, types, literals, values), expected)
    assert same(result(function, types, literals, values, cuts=list(range(1, len(values)))), expected)


# --- limits ------------------------------------------------------------------

def test_collect_list_keeps_the_first_1000_values() -> None:
    values = list(range(1500))
    assert result("COLLECT_LIST", I, [], values) == values[:1000]
    assert result("COLLECT_LIST", I, [], values, cuts=[300, 999, 1000, 1200]) == values[:1000]


def test_collect_set_keeps_the_first_1000_distinct_values_whatever_the_batches() -> None:
    # The stored set holds 0..599; the next batch repeats them before bringing new values.
    values = list(range(600)) + list(range(600)) + list(range(600, 1600))
    for cuts in ([], [600], [600, 1300], [1, 700, 1900]):
        assert result("COLLECT_SET", I, [], values, cuts) == list(range(1000)), cuts


def test_histogram_counts_the_first_1000_distinct_values_and_only_them() -> None:
    rng = random.Random(7)
    keys = [f"k{i}" for i in range(1300)]
    values = keys[:500] + [rng.choice(keys[:500]) for _ in range(300)] + keys[500:] + [rng.choice(keys) for _ in
                                                                                         range(400)]
    model = ref.Histogram()
    agg = model.initialize()
    for v in values:
        agg = model.aggregate(v, agg)
    assert len(agg) == 1000 and set(agg) == set(keys[:1000])
    for cuts in ([], [500], [450, 900, 1600], [1, 2, 1000, 1999]):
        assert result("HISTOGRAM", S, [], values, cuts) == agg, cuts


def test_count_distinct_is_exact_up_to_its_limit_then_estimates() -> None:
    exact = list(range(COUNT_DISTINCT_EXACT_LIMIT - 1)) * 2
    assert result("COUNT_DISTINCT", I, [], exact, cuts=[1000, 5000]) == COUNT_DISTINCT_EXACT_LIMIT - 1
    many = [f"user-{i}" for i in range(30_000)]
    whole = result("COUNT_DISTINCT", S, [], many)
    assert abs(whole - 30_000) / 30_000 < 0.05
    assert result("COUNT_DISTINCT", S, [], many, cuts=[7000, 7001, 21000]) == whole


def test_latest_by_offset_n_keeps_the_n_latest_across_batches() -> None:
    values = list(range(50))
    assert result("LATEST_BY_OFFSET", I, [5], values, cuts=[3, 20, 47]) == values[-5:]
    assert result("EARLIEST_BY_OFFSET", I, [5], values, cuts=[3, 20, 47]) == values[:5]


def test_merge_of_by_offset_states_follows_offsets_not_arrival() -> None:
    """Merging two session states: the state with the later offset is the latest whichever is 'new'."""
    h = bind("LATEST_BY_OFFSET", I, [])
    late = h.partial(h.table([("k", 10, 1)]))
    early = h.partial(h.table([("k", 5, 2)]))
    assert h.results(h.merge(late, early)) == {"k": 1}
    h = bind("EARLIEST_BY_OFFSET", I, [2])
    late = h.partial(h.table([("k", 10, 1), ("k", 11, 3)]))
    early = h.partial(h.table([("k", 5, 2)]))
    assert h.results(h.merge(late, early)) == {"k": [2, 1]}


# --- argument types ------------------------------------------------------------

STRUCT = ty.StructType((ty.StructField("A", ty.INTEGER), ty.StructField("B", ty.STRING)))
SAMPLES: list[tuple[ty.SqlType, list[Any]]] = [
    (ty.INTEGER, [3, 1, 3]),
    (ty.BIGINT, [2**40, 1, 2**40]),
    (ty.DOUBLE, [1.5, -2.0, 1.5]),
    (ty.DecimalType(4, 2), [Decimal("12.34"), Decimal("1.00"), Decimal("12.34")]),
    (ty.STRING, ["b", "a", "b"]),
    (ty.BOOLEAN, [True, False, True]),
    (ty.DATE, [date(2021, 1, 2), date(2020, 1, 1), date(2021, 1, 2)]),
    (ty.TIME, [time(3, 4, 5), time(1, 0), time(3, 4, 5)]),
    (ty.TIMESTAMP, [datetime(2021, 1, 2, 3, 4, 5), datetime(2020, 1, 1), datetime(2021, 1, 2, 3, 4, 5)]),
    (ty.BYTES, [b"\x01", b"\x00", b"\x01"]),
    (ty.ArrayType(ty.INTEGER), [[1, 2], [], [1, 2]]),
    (ty.MapType(ty.STRING, ty.INTEGER), [[("a", 1)], [], [("a", 1)]]),
    (STRUCT, [{"A": 1, "B": "x"}, {"A": 2, "B": None}, {"A": 1, "B": "x"}]),
]
ANY_TYPE = ["COUNT_DISTINCT", "COLLECT_LIST", "COLLECT_SET", "ATTR", "EARLIEST_BY_OFFSET", "LATEST_BY_OFFSET"]
PRIMITIVE = ["HISTOGRAM", "TOPK", "TOPKDISTINCT"]


@pytest.mark.parametrize(("arg", "values"), SAMPLES, ids=[t.sql() for t, _ in SAMPLES])
@pytest.mark.parametrize("function", ANY_TYPE + PRIMITIVE)
def test_result_has_the_declared_type(function: str, arg: ty.SqlType, values: list[Any]) -> None:
    literals: list[object] = [2] if function.startswith("TOPK") else []
    if function in PRIMITIVE and not arg.is_primitive and not isinstance(arg, ty.DecimalType):
        with pytest.raises(SqlSemanticError, match="does not accept parameters"):
            bind(function, [arg], literals)
        return
    h = bind(function, [arg], literals)
    records: list[Record] = [("k", i, v) for i, v in enumerate(values)]
    h.results(h.fold(split(records, [1])))  # asserts the Arrow type of the result is the declared one
    if function in ("EARLIEST_BY_OFFSET", "LATEST_BY_OFFSET"):
        h = bind(function, [arg], [2, False])
        h.results(h.fold([records]))


def test_topk_struct_form_types_its_fields() -> None:
    found = aggregate("TOPK")
    assert found is not None
    bound = found.bind([ty.BIGINT, ty.STRING, ty.DOUBLE], [3])
    assert bound.result_type == ty.ArrayType(ty.StructType((
        ty.StructField("sort_col", ty.BIGINT), ty.StructField("col0", ty.STRING), ty.StructField("col1", ty.DOUBLE))))
    assert bound.uses_offset and bound.undo is None


# --- binding errors and registration ------------------------------------------

ERRORS = [
    ("TOPK", I, [], "does not accept parameters"),
    ("TOPK", I, [0], "k must be 1 or greater"),
    ("TOPK", I, ["3"], "expects k to be an INTEGER literal"),
    ("TOPK", [ty.ArrayType(ty.INTEGER)], [2], "does not accept parameters"),
    ("TOPKDISTINCT", [ty.INTEGER, ty.INTEGER], [2], "does not accept parameters"),
    ("LATEST_BY_OFFSET", I, [0], "latestN must be 1 or greater"),
    ("EARLIEST_BY_OFFSET", I, [-1, True], "earliestN must be 1 or greater"),
    ("LATEST_BY_OFFSET", I, [2, "yes"], "expects ignoreNulls to be a BOOLEAN literal"),
    ("LATEST_BY_OFFSET", I, [True, 2], "does not accept parameters"),
    ("LATEST_BY_OFFSET", [ty.INTEGER, ty.INTEGER], [], "does not accept parameters"),
    ("HISTOGRAM", [ty.ArrayType(ty.STRING)], [], "does not accept parameters"),
    ("COLLECT_LIST", [None], [], r"does not accept parameters \(NULL\)"),
    ("COUNT_DISTINCT", [ty.INTEGER, ty.INTEGER], [], "does not accept parameters"),
    ("SUM_LIST", I, [], r"does not accept parameters \(INTEGER\)"),
    ("SUM_LIST", [ty.ArrayType(ty.STRING)], [], "does not accept parameters"),
    ("CORRELATION", [ty.STRING, ty.INTEGER], [], "does not accept parameters"),
    ("STDDEV_SAMP", S, [], "does not accept parameters"),
    ("ATTR", I, [1], "does not accept parameters"),
]


@pytest.mark.parametrize(("function", "types", "literals", "message"), ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_binding_error(function: str, types: list[ty.SqlType | None], literals: list[object], message: str) -> None:
    found = aggregate(function)
    assert found is not None
    with pytest.raises(SqlSemanticError, match=message):
        found.bind(types, literals)


def test_every_ksqldb_aggregate_is_registered() -> None:
    assert {"COUNT_DISTINCT", "COLLECT_LIST", "COLLECT_SET", "TOPK", "TOPKDISTINCT", "HISTOGRAM",
            "EARLIEST_BY_OFFSET", "LATEST_BY_OFFSET", "STDDEV_SAMP", "STDDEV_SAMPLE", "STDDEV_POP", "CORRELATION",
            "ATTR", "SUM_LIST"} <= set(aggregate_names())


@pytest.mark.parametrize(("function", "positions"), [
    ("TOPK", (-1,)), ("TOPKDISTINCT", (-1,)), ("EARLIEST_BY_OFFSET", (1, 2)), ("LATEST_BY_OFFSET", (1, 2)),
    ("COLLECT_LIST", ()), ("HISTOGRAM", ()), ("CORRELATION", ()),
])
def test_literal_arguments_are_declared_by_position(function: str, positions: tuple[int, ...]) -> None:
    found = aggregate(function)
    assert found is not None and found.literal_args == positions


def test_table_aggregates_are_those_ksqldb_can_undo() -> None:
    undoable = {name for name in aggregate_names() if _bound(name).undo is not None}
    assert undoable >= {"COLLECT_LIST", "COLLECT_SET", "HISTOGRAM", "ATTR", "STDDEV_SAMP", "STDDEV_POP",
                        "CORRELATION", "SUM_LIST"}
    assert not undoable & {"COUNT_DISTINCT", "TOPK", "TOPKDISTINCT", "EARLIEST_BY_OFFSET", "LATEST_BY_OFFSET"}


def _bound(name: str) -> Any:
    found = aggregate(name)
    assert found is not None
    if name == "SUM_LIST":
        return found.bind([ty.ArrayType(ty.INTEGER)], [])
    if name == "CORRELATION":
        return found.bind([ty.DOUBLE, ty.DOUBLE], [])
    if name == "COUNT":
        return found.bind([], [])
    return found.bind([ty.INTEGER], [1] if name.startswith("TOPK") else [])
