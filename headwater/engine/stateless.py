"""The stateless operator (a SELECT without GROUP BY or JOIN), and the batch helpers every operator uses.

A DuckDB error on a batch (a bad cast, say) is isolated by bisection: the batch is split until the
failing records are found; they go to the processing log and the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.codec import SourceDecoder
from headwater.engine.isolation import isolate
from headwater.engine.operator import MAX_POLL_RECORDS, Operator, Step
from headwater.engine.processing_log import RECORD_PROCESSING_ERROR, SERIALIZATION_ERROR, ProcessingError
from headwater.log import Fetched, Log, TopicPartition
from headwater.sql.aggregate_planner import AggregatePlan
from headwater.sql.planner import ROWOFFSET, SelectPlan

#: The plan of an operator over one source: a stateless SELECT or an aggregation.
SourcePlanT = TypeVar("SourcePlanT", bound=SelectPlan | AggregatePlan, covariant=True)


def run_plan(
    con: duckdb.DuckDBPyConnection, sql: str, src: pa.Table, fetched: Fetched, lenient_sql: str | None = None
) -> tuple[pa.Table | None, list[ProcessingError]]:
    """Run ``sql`` over ``src``; isolate the records that make DuckDB fail, by bisection.

    A failing record goes to the processing log with DuckDB's message; with
    ``lenient_sql`` (the same query giving NULL where ``sql`` raises) it is
    still evaluated, as ksqlDB yields NULL for a failed expression.
    """
    done = isolate(lambda start, stop: _query(con, sql, src.slice(start, stop - start)), src.num_rows,
                   (duckdb.Error,))
    if not done.failed:
        return done.pieces[0][2], []
    parts = [(start, table) for start, _, table in done.pieces]
    errors = []
    offsets = src.column(ROWOFFSET)
    for row, message in done.failed:
        errors.append(ProcessingError(RECORD_PROCESSING_ERROR, message, fetched.topic, fetched.partition,
                                      offsets[row].as_py()))
        if lenient_sql is not None:
            try:
                parts.append((row, _query(con, lenient_sql, src.slice(row, 1))))
            except duckdb.Error:
                pass
    parts.sort(key=lambda part: part[0])  # lenient rows back in input order
    return (pa.concat_tables([t for _, t in parts]) if parts else None), errors


def _query(con: duckdb.DuckDBPyConnection, sql: str, src: pa.Table) -> pa.Table:
    con.register("src", src)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.unregister("src")


#: DuckDB holds a TIMESTAMP in microseconds: a value in s or ms past this many units of it cannot be held.
_TIMESTAMP_LIMITS = {"s": np.iinfo(np.int64).max // 1_000_000, "ms": np.iinfo(np.int64).max // 1_000}


def outside_duckdb_range(pre: pa.Table, fetched: Fetched, errors: list[ProcessingError]) -> pa.Table:
    """``pre`` without the records holding a TIMESTAMP DuckDB cannot hold (past year 294247): state,
    changelog and sink could not encode them. Each goes to the processing log (a serialization error,
    as a row the sink cannot hold) and the query goes on."""
    bad = np.zeros(pre.num_rows, dtype=bool)
    for column, field in zip(pre.columns, pre.schema, strict=True):
        if pa.types.is_timestamp(field.type) and field.type.unit in _TIMESTAMP_LIMITS:
            limit = _TIMESTAMP_LIMITS[field.type.unit]
            values = pc.fill_null(column.cast(pa.int64()), 0).to_numpy()
            bad |= (values > limit) | (values < -limit)
    if not bad.any():
        return pre
    for offset in pre.column("__offset").to_numpy()[bad].tolist():
        errors.append(ProcessingError(
            SERIALIZATION_ERROR, "Error serializing message: a TIMESTAMP value is out of range (after year 294247 "
            "or before year -290308): record dropped.", fetched.topic, fetched.partition, offset))
    return pre.filter(pa.array(~bad))


def start_positions(log: Log, topic: str, group: str | None, reset: str) -> dict[TopicPartition, int]:
    """Each partition of ``topic`` and where it resumes: ``group``'s committed offset, or ``reset``."""
    partitions = [TopicPartition(topic, p) for p in range(log.describe_topic(topic).partitions)]
    committed = log.committed(group, partitions) if group else {}
    positions = {}
    for tp in partitions:
        offset = committed.get(tp)
        if offset is None:
            offset = log.beginning_offset(*tp) if reset == "earliest" else log.end_offset(*tp)
        positions[tp] = offset
    return positions


def batch_fetcher(log: Log, positions: dict[TopicPartition, int], decode: Callable[[Fetched], Any],
                  max_bytes: int, timeout_s: float) -> Callable[[], list[Any]]:
    """One poll of ``positions`` (moved on as batches come), each batch decoded: ``(fetched, decode(fetched))``."""
    positions = dict(positions)

    def fetch() -> list[Any]:
        items = []
        for fetched in log.poll(positions, max_records=MAX_POLL_RECORDS, max_bytes=max_bytes, timeout_s=timeout_s):
            positions[TopicPartition(fetched.topic, fetched.partition)] = fetched.next_offset
            items.append((fetched, decode(fetched)))
        return items

    return fetch


class SourceOperator(Operator[SourcePlanT]):
    """An operator over ONE source topic, polled batch by batch (stateless and aggregate operators).

    reads: the source's partitions from the committed offsets; an item is ``(fetched, (rows, errors))``.
    """

    def __init__(self, plan: SourcePlanT, log: Log, *, group: str | None, offset_reset: str) -> None:
        super().__init__(plan, log, group=group, offset_reset=offset_reset)
        self.decoder = SourceDecoder(plan.source, plan.inputs)

    def positions(self) -> dict[TopicPartition, int]:
        return start_positions(self.log, self.plan.source.topic, self.group, self.offset_reset)

    def fetcher(self, positions: dict[TopicPartition, int], timeout_s: float) -> Callable[[], list[Any]]:
        return batch_fetcher(self.log, positions, self.decoder.decode, self.poll_bytes, timeout_s)

    def process(self, con: duckdb.DuckDBPyConnection, item: Any) -> Step:
        fetched, (src, errors) = item
        step = Step(errors=list(errors), offsets={TopicPartition(fetched.topic, fetched.partition):
                                                  fetched.next_offset}, records_in=len(fetched))
        self.compute(con, fetched, src, step)
        return step

    def compute(self, con: duckdb.DuckDBPyConnection, fetched: Fetched, src: pa.Table, step: Step) -> None:
        """One decoded batch into ``step`` (its outputs, changelog and errors)."""
        raise NotImplementedError


class StatelessOperator(SourceOperator[SelectPlan]):
    """SELECT ... FROM one source, no GROUP BY: the plan's SQL over each batch, no state.

    emits: the projected rows of each batch; with ``strict`` (a persistent query) a record whose
    expression fails is logged and still emitted with NULL there, as ksqlDB does.
    """

    def __init__(self, plan: SelectPlan, log: Log, *, group: str | None, offset_reset: str, strict: bool) -> None:
        super().__init__(plan, log, group=group, offset_reset=offset_reset)
        self.strict = strict

    def compute(self, con: duckdb.DuckDBPyConnection, fetched: Fetched, src: pa.Table, step: Step) -> None:
        if not src.num_rows:
            return
        if self.strict:
            result, errors = run_plan(con, self.plan.strict_sql or self.plan.sql, src, fetched,
                                      lenient_sql=self.plan.sql)
        else:
            result, errors = run_plan(con, self.plan.sql, src, fetched)
        step.errors.extend(errors)
        if result is not None and result.num_rows:
            step.outputs.append((result, fetched))
