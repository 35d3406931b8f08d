"""A push query's GROUP BY over a join: ``SELECT ... FROM a JOIN b ON ... GROUP BY ... EMIT CHANGES``.

The persistent statement runs as two queries with an internal topic between
them (``sql/join_aggregate.py``). A push query keeps nothing, so its two parts
run in one operator, in memory: the join's rows of each step go straight into
the aggregation as the rows of the joined stream or table (the columns the
internal topic would carry, its timestamp, and for a table result whether the
row was deleted), in the order the join emits them. Both parts' state is
transient, as any push query's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.aggregate import AggregateOperator
from headwater.engine.join_push import JoinPushOperator
from headwater.engine.operator import Operator, Step
from headwater.engine.table_aggregate import TableAggregateOperator
from headwater.log import Fetched, Log, TopicPartition
from headwater.log.base import RECORD_SCHEMA
from headwater.sql.aggregate_planner import AggregatePlan
from headwater.sql.catalog import DataSource
from headwater.sql.join_planner import JoinPlan
from headwater.sql.planner import DELETED, ROWOFFSET, ROWPARTITION, ROWTIME


class JoinAggregatePushOperator(Operator[AggregatePlan]):
    """The join (a :class:`JoinPushOperator`) feeding the aggregation of its rows; see the module docstring.

    reads: the join's inputs. owns: both parts' state, in memory. emits: the aggregation's rows.
    changelogs, restores: nothing (a push query starts empty).
    """

    def __init__(self, join_plan: JoinPlan, joined: DataSource, plan: AggregatePlan, log: Log, *,
                 offset_reset: str, query_id: str, service_id: str) -> None:
        super().__init__(plan, log, group=None, offset_reset=offset_reset)
        self.joined = joined
        self.join = JoinPushOperator(join_plan, log, offset_reset=offset_reset, query_id=query_id,
                                     service_id=service_id)
        kind = TableAggregateOperator if joined.is_table else AggregateOperator
        self.aggregation = kind(plan, log, group=None, offset_reset=offset_reset, query_id=query_id)
        by_name = {o.name: f"o{i}" for i, o in enumerate(join_plan.outputs)}
        #: (decoded column of the joined source, projected join column) for each column the aggregation reads.
        self._columns = [(i.alias, by_name[i.column.name], i.column.type.to_arrow()) for i in plan.inputs]
        self._offset = 0  # the joined rows' offsets, as the internal topic would number them

    @property
    def late_records(self) -> int:  # type: ignore[override]
        return self.aggregation.late_records

    def positions(self) -> dict[TopicPartition, int]:
        return self.join.positions()

    def fetcher(self, positions: dict[TopicPartition, int], timeout_s: float) -> Callable[[], list[Any]]:
        return self.join.fetcher(positions, timeout_s)

    def restore(self, con: duckdb.DuckDBPyConnection, positions: dict[TopicPartition, int]) -> None:
        self.join.restore(con, positions)
        self.aggregation.restore(con, {})
        self._offset = 0

    def process(self, con: duckdb.DuckDBPyConnection, item: Any) -> Step:
        joined = self.join.process(con, item)
        step = Step(errors=joined.errors, offsets=joined.offsets, records_in=joined.records_in)
        for rows, _ in joined.outputs:
            src = self._as_joined_source(rows)
            fetched = Fetched(self.joined.topic, 0, pa.RecordBatch.from_pylist([], RECORD_SCHEMA), self._offset,
                              self._offset)
            self.aggregation.compute(con, fetched, src, step)
        return step

    def _as_joined_source(self, rows: pa.Table) -> pa.Table:
        """The join's projected rows as the aggregation decodes the joined stream or table's records."""
        n = rows.num_rows
        columns = {alias: rows.column(o).cast(arrow) for alias, o, arrow in self._columns}
        columns[ROWTIME] = rows.column("__ts").cast(pa.int64())
        columns[ROWPARTITION] = pa.array(np.zeros(n, dtype=np.int32))
        columns[ROWOFFSET] = pa.array(np.arange(self._offset, self._offset + n, dtype=np.int64))
        self._offset += n
        if self.joined.is_table:
            having = rows.column("__having") if "__having" in rows.column_names else pa.array([True] * n)
            columns[DELETED] = pc.invert(pc.fill_null(having, False))
        return pa.table(columns)


__all__ = ["JoinAggregatePushOperator"]
