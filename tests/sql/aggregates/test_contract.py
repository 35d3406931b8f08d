"""Every aggregate against the contract of ``base.py`` and ksqlDB's record-by-record semantics.

For each case, random records (three groups, nulls, repeated values) go
through the templates as the operator runs them, and must agree with the
transcription of ksqlDB's UDAF in ``reference.py``:

- any batching gives the same state (``partial`` + ``merge``);
- the final result per group is ksqlDB's;
- ``running`` merged with the prior state gives, per record, the value
  ksqlDB emits with caching off;
- ``undo`` of retracted records gives ksqlDB's result after its ``undo``, and
  undoing a batch just merged restores the earlier result.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from headwater.sql import types as ty
from headwater.sql.aggregates import aggregate
from tests.sql.aggregates import reference as ref
from tests.sql.aggregates.harness import Harness, Record, same, split

GROUPS = ("a", "b", "c")
Values = Callable[[random.Random, str], tuple[Any, ...]]


def maybe(rng: random.Random, value: Any, nulls: float = 0.2) -> Any:
    return None if rng.random() < nulls else value


def small_int(rng: random.Random, g: str) -> tuple[Any, ...]:
    return (maybe(rng, rng.randint(0, 6)),)


def word(rng: random.Random, g: str) -> tuple[Any, ...]:
    return (maybe(rng, rng.choice(["x", "y", "z", "w", "v"])),)


def mostly_same(rng: random.Random, g: str) -> tuple[Any, ...]:
    """ATTR: group a always 7, b 7 or NULL, c anything."""
    if g == "a":
        return (7,)
    if g == "b":
        return (maybe(rng, 7),)
    return small_int(rng, g)


def real(rng: random.Random, g: str) -> tuple[Any, ...]:
    return (maybe(rng, float(rng.randint(-20, 20))),)


def pair(rng: random.Random, g: str) -> tuple[Any, ...]:
    x = rng.randint(0, 9)
    return (maybe(rng, float(x), 0.1), maybe(rng, 2 * x + rng.randint(-3, 3), 0.1))


def ranked(rng: random.Random, g: str) -> tuple[Any, ...]:
    return (maybe(rng, float(rng.randint(0, 4))), rng.choice(["p", "q", None]), rng.randint(0, 1000))


def int_list(rng: random.Random, g: str) -> tuple[Any, ...]:
    return (maybe(rng, [maybe(rng, rng.randint(-5, 5), 0.1) for _ in range(rng.randint(0, 3))]),)


def real_list(rng: random.Random, g: str) -> tuple[Any, ...]:
    return (maybe(rng, [maybe(rng, rng.randint(-8, 8) / 4, 0.1) for _ in range(rng.randint(0, 3))]),)


@dataclass(frozen=True)
class Case:
    id: str
    function: str
    types: tuple[ty.SqlType, ...]
    literals: tuple[object, ...]
    values: Values
    model: Callable[[], ref.Udaf]
    #: undo of a batch just merged gives back the earlier result (not COLLECT_SET: a set has no counts).
    undo_restores: bool = True


CASES = [
    Case("count_distinct_int", "COUNT_DISTINCT", (ty.INTEGER,), (), small_int, ref.CountDistinct),
    Case("count_distinct_string", "COUNT_DISTINCT", (ty.STRING,), (), word, ref.CountDistinct),
    Case("collect_list_int", "COLLECT_LIST", (ty.INTEGER,), (), small_int, ref.CollectList),
    Case("collect_list_string", "COLLECT_LIST", (ty.STRING,), (), word, ref.CollectList),
    Case("collect_set_int", "COLLECT_SET", (ty.INTEGER,), (), small_int, ref.CollectSet, undo_restores=False),
    Case("collect_set_string", "COLLECT_SET", (ty.STRING,), (), word, ref.CollectSet, undo_restores=False),
    Case("histogram_string", "HISTOGRAM", (ty.STRING,), (), word, ref.Histogram),
    Case("histogram_int", "HISTOGRAM", (ty.INTEGER,), (), small_int, ref.Histogram),
    Case("attr", "ATTR", (ty.INTEGER,), (), mostly_same, ref.Attr),
    Case("topk", "TOPK", (ty.INTEGER,), (3,), small_int, lambda: ref.TopK(3)),
    Case("topk_struct", "TOPK", (ty.DOUBLE, ty.STRING, ty.BIGINT), (2,), ranked, lambda: ref.TopK(2, struct=True)),
    Case("topkdistinct", "TOPKDISTINCT", (ty.INTEGER,), (3,), small_int, lambda: ref.TopKDistinct(3)),
    Case("topkdistinct_string", "TOPKDISTINCT", (ty.STRING,), (2,), word, lambda: ref.TopKDistinct(2)),
    Case("earliest", "EARLIEST_BY_OFFSET", (ty.INTEGER,), (), small_int, lambda: ref.ByOffset(False)),
    Case("earliest_nulls", "EARLIEST_BY_OFFSET", (ty.INTEGER,), (False,), small_int,
         lambda: ref.ByOffset(False, ignore_nulls=False)),
    Case("earliest_n", "EARLIEST_BY_OFFSET", (ty.STRING,), (2,), word, lambda: ref.ByOffset(False, 2)),
    Case("earliest_n_nulls", "EARLIEST_BY_OFFSET", (ty.STRING,), (3, False), word,
         lambda: ref.ByOffset(False, 3, ignore_nulls=False)),
    Case("latest", "LATEST_BY_OFFSET", (ty.INTEGER,), (), small_int, lambda: ref.ByOffset(True)),
    Case("latest_ignore", "LATEST_BY_OFFSET", (ty.INTEGER,), (True,), small_int, lambda: ref.ByOffset(True)),
    Case("latest_nulls", "LATEST_BY_OFFSET", (ty.STRING,), (False,), word,
         lambda: ref.ByOffset(True, ignore_nulls=False)),
    Case("latest_n", "LATEST_BY_OFFSET", (ty.INTEGER,), (3,), small_int, lambda: ref.ByOffset(True, 3)),
    Case("latest_n_nulls", "LATEST_BY_OFFSET", (ty.INTEGER,), (2, False), small_int,
         lambda: ref.ByOffset(True, 2, ignore_nulls=False)),
    Case("stddev_samp", "STDDEV_SAMP", (ty.DOUBLE,), (), real, lambda: ref.StdDev(sample=True)),
    Case("stddev_sample", "STDDEV_SAMPLE", (ty.INTEGER,), (), small_int, lambda: ref.StdDev(sample=True)),
    Case("stddev_pop", "STDDEV_POP", (ty.BIGINT,), (), small_int, lambda: ref.StdDev(sample=False)),
    Case("correlation", "CORRELATION", (ty.DOUBLE, ty.INTEGER), (), pair, ref.Correlation),
    Case("sum_list_int", "SUM_LIST", (ty.ArrayType(ty.INTEGER),), (), int_list, ref.SumList),
    Case("sum_list_double", "SUM_LIST", (ty.ArrayType(ty.DOUBLE),), (), real_list, ref.SumList),
]


def harness(case: Case) -> Harness:
    function = aggregate(case.function)
    assert function is not None
    return Harness(function.bind(list(case.types), list(case.literals)), case.types)


def make_records(case: Case, rng: random.Random, count: int = 30, start: int = 0) -> list[Record]:
    records = []
    for i in range(count):
        g = rng.choice(GROUPS)
        records.append((g, start + 3 * i + rng.randint(0, 2), *case.values(rng, g)))
    return records


def _value(record: Record) -> Any:
    args = record[2:]
    return args[0] if len(args) == 1 else args


def emitted(case: Case, records: Sequence[Record]) -> list[tuple[str, int, Any]]:
    """What ksqlDB emits per record with caching off: the group's result after the record."""
    model = case.model()
    aggs: dict[str, Any] = {}
    out = []
    for record in records:
        g = record[0]
        aggs[g] = model.aggregate(_value(record), aggs.get(g, model.initialize()))
        out.append((g, record[1], model.map(aggs[g])))
    return out


def final(case: Case, records: Sequence[Record]) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for g, _, value in emitted(case, records):
        last[g] = value
    return last


def random_splits(rng: random.Random, records: Sequence[Record]) -> list[list[list[Record]]]:
    n = len(records)
    return [
        split(records, [i for i in range(1, n) if rng.random() < 0.6]),  # mostly one or two records per batch
        split(records, rng.sample(range(1, n), 2)),
        split(records, rng.sample(range(1, n), 6)),
    ]


@pytest.fixture(params=range(2), ids=lambda seed: f"seed{seed}")
def rng(request: pytest.FixtureRequest) -> random.Random:
    return random.Random(request.param)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_any_batching_gives_the_same_state(case: Case, rng: random.Random) -> None:
    h = harness(case)
    records = make_records(case, rng)
    whole = h.states(h.fold([records]))
    for batches in random_splits(rng, records):
        assert same(h.states(h.fold(batches)), whole), [len(b) for b in batches]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_result_is_ksqldb_result(case: Case, rng: random.Random) -> None:
    h = harness(case)
    records = make_records(case, rng)
    for batches in random_splits(rng, records)[1:]:
        assert same(h.results(h.fold(batches)), final(case, records))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_emit_changes_gives_each_records_update(case: Case, rng: random.Random) -> None:
    h = harness(case)
    records = make_records(case, rng)
    expected = emitted(case, records)
    for batches in random_splits(rng, records):
        assert same(h.changes(batches), expected), [len(b) for b in batches]


@pytest.mark.parametrize("case", [c for c in CASES if harness(c).bound.undo is not None], ids=lambda c: c.id)
def test_undo_is_ksqldb_undo(case: Case, rng: random.Random) -> None:
    h = harness(case)
    records = make_records(case, rng)
    state = h.fold(split(records, [len(records) // 3]))
    retracted = rng.sample(records, len(records) // 2)
    model = case.model()
    aggs: dict[str, Any] = {}
    for record in records:
        aggs[record[0]] = model.aggregate(_value(record), aggs.get(record[0], model.initialize()))
    for record in retracted:
        aggs[record[0]] = model.undo(_value(record), aggs[record[0]])
    assert same(h.results(h.undo(state, retracted)), {g: model.map(a) for g, a in aggs.items()}, rel=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if harness(c).bound.undo is not None], ids=lambda c: c.id)
def test_undo_of_a_merged_batch_restores_the_result(case: Case, rng: random.Random) -> None:
    h = harness(case)
    before = make_records(case, rng)
    batch = make_records(case, rng, count=12, start=1000)
    if not case.undo_restores:  # a set forgets a value retracted while other rows still hold it
        seen = {_value(r) for r in before}
        batch = [r for r in batch if _value(r) not in seen]
    state = h.fold([before])
    undone = h.undo(h.merge(state, h.partial(h.table(batch))), batch)
    model = case.model()
    empty = model.map(model.initialize())
    expected = {g: h.results(state).get(g, empty) for g in GROUPS if g in {r[0] for r in before + batch}}
    assert same(h.results(undone), expected, rel=1e-6)
