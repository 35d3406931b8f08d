"""Run a bound aggregate's templates in DuckDB the way the aggregation operator does.

Records are Arrow tables with a group column ``g`` (VARCHAR), an offset column
``off`` (BIGINT) and the argument columns ``a0``, ``a1``... The templates are
rendered with ``{0}`` -> ``a0``, ``{s0}`` -> ``s0``, ``{o0}``/``{n0}`` -> the
old and new state columns, ``{w}`` -> the per-group running window and
``{offset}`` -> ``off``. States live in DuckDB tables whose columns have the
declared ``state_types``, so a template producing another type fails here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from headwater.sql.aggregates import BoundAggregate
from headwater.sql.types import SqlType, from_arrow

WINDOW = "(PARTITION BY g ORDER BY off ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"

Record = tuple[Any, ...]  # (group, offset, arg0, arg1, ...)


class Harness:
    def __init__(self, bound: BoundAggregate, arg_types: Sequence[SqlType]) -> None:
        self.bound = bound
        self.arg_types = list(arg_types)
        self.con = duckdb.connect()
        self._names = itertools.count()
        self.schema = pa.schema([("g", pa.string()), ("off", pa.int64())]
                                + [(f"a{i}", t.to_arrow()) for i, t in enumerate(arg_types)])
        states = ", ".join(f"s{i} {t}" for i, t in enumerate(bound.state_types))
        self._state_columns = f"g VARCHAR, {states}"

    # --- rendering ---------------------------------------------------------

    def render(self, template: str, **names: str) -> str:
        args = [f"a{i}" for i in range(len(self.arg_types))]
        return template.format(*args, w=WINDOW, offset="off", **names)

    def _states(self, prefix: str) -> dict[str, str]:
        return {f"s{i}": f"{prefix}s{i}" for i in range(len(self.bound.state_types))}

    def _old_new(self) -> dict[str, str]:
        k = len(self.bound.state_types)
        return {**{f"o{i}": f"o.s{i}" for i in range(k)}, **{f"n{i}": f"n.s{i}" for i in range(k)}}

    # --- relations -----------------------------------------------------------

    def table(self, records: Sequence[Record]) -> str:
        """Register records as a relation; returns its name. The rows are stored last first: a template may
        rely on ``{offset}`` and ``{w}`` for order, not on the order of the rows."""
        name = f"r{next(self._names)}"
        records = list(reversed(records))
        columns: list[Sequence[Any]] = list(zip(*records, strict=True)) if records else [[] for _ in self.schema]
        self.con.register(name, pa.table([pa.array(c, f.type) for c, f in zip(columns, self.schema, strict=True)],
                                         schema=self.schema))
        return name

    def _store(self, select: str) -> str:
        """Materialize ``select`` (columns g, s0...) with the columns cast to the state types, as an insert
        into the operator's state table would."""
        name = f"st{next(self._names)}"
        casts = ", ".join(f"CAST(s{i} AS {t}) AS s{i}" for i, t in enumerate(self.bound.state_types))
        self.con.execute(f"CREATE TEMP TABLE {name} AS SELECT g, {casts} FROM ({select})")
        return name

    def empty_state(self) -> str:
        name = f"st{next(self._names)}"
        self.con.execute(f"CREATE TABLE {name} ({self._state_columns})")
        return name

    def partial(self, rel: str) -> str:
        cols = ", ".join(f"{self.render(t)} AS s{i}" for i, t in enumerate(self.bound.partial))
        return self._store(f"SELECT g, {cols} FROM {rel} GROUP BY g")

    def merge(self, old: str, new: str) -> str:
        cols = ", ".join(f"{self.render(t, **self._old_new())} AS s{i}" for i, t in enumerate(self.bound.merge))
        return self._store(f"SELECT n.g, {cols} FROM {new} n LEFT JOIN {old} o ON o.g = n.g "
                           f"UNION ALL SELECT * FROM {old} WHERE g NOT IN (SELECT g FROM {new})")

    def undo(self, state: str, retracted: Sequence[Record]) -> str:
        """The state with the retracted records' contributions removed (``undo`` with the retracted partial)."""
        assert self.bound.undo is not None
        gone = self.partial(self.table(retracted))
        cols = ", ".join(f"{self.render(t, **self._old_new())} AS s{i}" for i, t in enumerate(self.bound.undo))
        return self._store(f"SELECT o.g, {cols} FROM {state} o JOIN {gone} n ON o.g = n.g "
                           f"UNION ALL SELECT * FROM {state} WHERE g NOT IN (SELECT g FROM {gone})")

    # --- what the operator does ----------------------------------------------

    def fold(self, batches: Sequence[Sequence[Record]]) -> str:
        """The state table after the batches, each aggregated with ``partial`` and merged."""
        state = self.empty_state()
        for batch in batches:
            state = self.merge(state, self.partial(self.table(batch)))
        return state

    def changes(self, batches: Sequence[Sequence[Record]], state: str | None = None) -> list[tuple[str, int, Any]]:
        """(group, offset, result) per record, as EMIT CHANGES with caching off: ``running`` merged with the
        state before the batch."""
        state = state or self.empty_state()
        out: list[tuple[str, int, Any]] = []
        result = self.render(self.bound.result, **self._states(""))
        for batch in batches:
            rel = self.table(batch)
            running = ", ".join(f"{self.render(t)} AS s{i}" for i, t in enumerate(self.bound.running))
            run = f"r{next(self._names)}"
            self.con.execute(f"CREATE TABLE {run} AS SELECT g, off, {running} FROM {rel}")
            merged = ", ".join(f"{self.render(t, **self._old_new())} AS s{i}" for i, t in enumerate(self.bound.merge))
            rows = self.con.sql(
                f"SELECT g, off, {result} FROM (SELECT n.g, n.off, {merged} FROM {run} n LEFT JOIN {state} o "
                f"ON o.g = n.g) ORDER BY off").fetchall()
            out += [(g, off, value) for g, off, value in rows]
            state = self.merge(state, self.partial(rel))
        return out

    def results(self, state: str) -> dict[str, Any]:
        """group -> result; checks that the result column has the declared type."""
        result = self.render(self.bound.result, **self._states(""))
        relation = self.con.sql(f"SELECT g, {result} AS r FROM {state} ORDER BY g")
        actual = from_arrow(relation.to_arrow_table().schema.field("r").type)
        assert actual == self.bound.result_type, f"result is {actual}, declared {self.bound.result_type}"
        return dict(relation.fetchall())

    def states(self, state: str) -> dict[str, tuple[Any, ...]]:
        return {row[0]: tuple(row[1:]) for row in self.con.sql(f"SELECT * FROM {state}").fetchall()}


def split(records: Sequence[Record], cuts: Sequence[int]) -> list[list[Record]]:
    """The records cut into batches at the given positions."""
    bounds = [0, *sorted(set(cuts)), len(records)]
    return [list(records[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


def same(a: Any, b: Any, rel: float = 1e-9) -> bool:
    """Equality with floats compared to a relative tolerance and NaN equal to NaN."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], rel) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y, rel) for x, y in zip(a, b, strict=True))
    return bool(a == b)
