"""Running queries: persistent ones (CSAS, INSERT INTO) and push queries.

A query is a thread that loops: poll the source's partitions, decode, run the
plan's SQL on DuckDB, encode, and — for a persistent query — append the output
and the processing-log entries and commit the input offsets in ONE log
transaction. So after a crash at any moment the query resumes from its
committed offsets with no lost and no doubled output.

A DuckDB error on a batch (a bad cast, say) is isolated by bisection: the
batch is split until the failing records are found; they go to the processing
log and the rest of the batch goes on.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine import processing_log
from headwater.engine.codec import SinkEncoder, SourceDecoder
from headwater.engine.processing_log import RECORD_PROCESSING_ERROR, ProcessingError
from headwater.errors import ProducerFencedError
from headwater.formats import duck
from headwater.log import Fetched, Log, TopicPartition
from headwater.log.partitioner import partition_for_keys
from headwater.sql.catalog import DataSource
from headwater.sql.functions import install_functions
from headwater.sql.planner import ROWOFFSET, SelectPlan

logger = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.2
MAX_POLL_RECORDS = 200_000
#: A stored batch at least this large is processed alone, zero-copy; smaller ones are merged up to it.
MAX_POLL_BYTES = 4 * 1024 * 1024


class QueryState(enum.Enum):
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    ERROR = "ERROR"
    TERMINATED = "TERMINATED"


@dataclass(frozen=True)
class _Work:
    """One input batch's output, ready to commit with its input offset."""

    appends: list[tuple[str, int, pa.Table]]
    partition: TopicPartition
    next_offset: int
    records_in: int
    records_out: int
    failed: int


@dataclass
class QueryStats:
    records_in: int = 0
    records_out: int = 0
    failed: int = 0
    last_error: str | None = None
    last_commit: float = field(default_factory=time.time)


def new_connection() -> duckdb.DuckDBPyConnection:
    return duck.connect(install_functions, threads=1)


def run_plan(
    con: duckdb.DuckDBPyConnection, sql: str, src: pa.Table, fetched: Fetched, lenient_sql: str | None = None
) -> tuple[pa.Table | None, list[ProcessingError]]:
    """Run ``sql`` over ``src``; isolate the records that make DuckDB fail, by bisection.

    A failing record goes to the processing log with DuckDB's message; with
    ``lenient_sql`` (the same query giving NULL where ``sql`` raises) it is
    still evaluated, as ksqlDB yields NULL for a failed expression.
    """
    try:
        return _query(con, sql, src), []
    except duckdb.Error as exc:
        if src.num_rows <= 1:
            offsets = src.column(ROWOFFSET).to_pylist()
            message = str(exc).split("\n")[0]
            errors = [
                ProcessingError(RECORD_PROCESSING_ERROR, message, fetched.topic, fetched.partition, o) for o in offsets
            ]
            if lenient_sql is not None:
                try:
                    return _query(con, lenient_sql, src), errors
                except duckdb.Error:
                    pass
            return None, errors
        half = src.num_rows // 2
        parts, errors = [], []
        for piece in (src.slice(0, half), src.slice(half)):
            table, errs = run_plan(con, sql, piece, fetched, lenient_sql)
            errors.extend(errs)
            if table is not None:
                parts.append(table)
        return (pa.concat_tables(parts) if parts else None), errors


def _query(con: duckdb.DuckDBPyConnection, sql: str, src: pa.Table) -> pa.Table:
    con.register("src", src)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.unregister("src")


def start_positions(log: Log, topic: str, group: str | None, reset: str) -> dict[TopicPartition, int]:
    partitions = [TopicPartition(topic, p) for p in range(log.describe_topic(topic).partitions)]
    committed = log.committed(group, partitions) if group else {}
    positions = {}
    for tp in partitions:
        offset = committed.get(tp)
        if offset is None:
            offset = log.beginning_offset(*tp) if reset == "earliest" else log.end_offset(*tp)
        positions[tp] = offset
    return positions


class PersistentQuery:
    """CSAS / INSERT INTO ... SELECT: source -> plan -> sink topic, exactly once."""

    #: Bytes read per batch: stateless work is linear, so batches stay small and zero-copy.
    poll_bytes = MAX_POLL_BYTES

    def __init__(
        self,
        query_id: str,
        statement: str,
        plan: Any,
        sink: DataSource | None,
        log: Log,
        *,
        group: str,
        service_id: str,
        offset_reset: str,
        include_rows: bool = False,
    ) -> None:
        self.id = query_id
        self.include_rows = include_rows
        self.statement = statement
        self.plan = plan
        self.sink = sink
        self.log = log
        self.group = group
        self.processing_log_topic = processing_log.topic_name(service_id)
        self.offset_reset = offset_reset
        self.state = QueryState.RUNNING
        self.stats = QueryStats()
        self._decoder = SourceDecoder(plan.source, plan.inputs)
        # No sink: the operator of a push query, whose rows go to a client, not to a topic.
        self._encoder = SinkEncoder(sink, plan.outputs, windowed=getattr(plan, "window", None) or sink.window
                                    ) if sink else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.positions: dict[TopicPartition, int] = {}
        self.committed_positions: dict[TopicPartition, int] = {}
        #: Called from the query's thread when it was fenced (see ``fenced``); set by the session.
        self.on_fenced: Callable[[PersistentQuery, ProducerFencedError], None] | None = None

    def start(self) -> None:
        self.positions = start_positions(self.log, self.plan.source.topic, self.group, self.offset_reset)
        self.committed_positions = dict(self.positions)
        if not any(self.log.committed(self.group, list(self.positions)).values()):
            # Make the starting point durable now, so a restart before the first
            # commit does not move it (auto.offset.reset=latest would).
            self.log.commit(self.group, self.positions)
        self._thread = threading.Thread(target=self._run, name=f"query-{self.id}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.state = QueryState.TERMINATED

    def caught_up(self) -> bool:
        """True when every input partition has been processed and committed up to its current end."""
        return all(self.log.end_offset(*tp) <= offset for tp, offset in self.committed_positions.items())

    def _run(self) -> None:
        """Three stages on two cores: poll and decode batch N+2, compute N+1, commit N.

        Decoding needs no state, so it runs ahead in its own thread. Only one
        commit is ever in flight and commits happen in input order, so the
        committed offsets always match the output that is in the log.
        """
        con = new_connection()
        self._prepare(con)
        backoff = 0.5
        committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"commit-{self.id}")
        pending: Future[None] | None = None
        prefetch = _Prefetcher(self, self.positions)
        while not self._stop.is_set():
            try:
                item = prefetch.get()
                if item is None:  # nothing new: let the last commit land
                    if pending is not None:
                        pending.result()
                        pending = None
                    continue
                fetched, (src, errors) = item
                work = self._compute(con, fetched, src, errors)
                self.positions[work.partition] = work.next_offset
                if pending is not None:
                    pending.result()
                pending = committer.submit(self._commit, work)
                if self.state is QueryState.ERROR:
                    self.state = QueryState.RUNNING
                backoff = 0.5
            except ProducerFencedError as exc:  # another process took this query over: never retry
                self.fenced(exc)
                break
            except Exception as exc:  # the query stays, in ERROR, and retries: ksqlDB does the same
                logger.exception("query %s failed; retrying in %.1f s", self.id, backoff, extra={"query_id": self.id})
                prefetch.close()
                if pending is not None:
                    pending.exception()  # let the in-flight commit finish (or fail) before rewinding
                    pending = None
                self.state = QueryState.ERROR
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                self.positions = start_positions(self.log, self.plan.source.topic, self.group, self.offset_reset)
                self.committed_positions = dict(self.positions)
                self._prepare(con)
                prefetch = _Prefetcher(self, self.positions)
        prefetch.close()
        if pending is not None:
            pending.exception()
        committer.shutdown()
        self._finish(con)
        con.close()

    def fenced(self, error: ProducerFencedError) -> None:
        """Stop for good: a newer writer (a process that took the service over) owns this query's output."""
        logger.error("query %s stopped: %s", self.id, error)
        self.state = QueryState.ERROR
        self.stats.last_error = f"fenced: {error}"
        if self.on_fenced is not None:
            self.on_fenced(self, error)

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """Bring operator state in line with the committed offsets (stateless: nothing to do)."""

    def _finish(self, con: duckdb.DuckDBPyConnection) -> None:
        """On stop, after the last commit landed and before ``con`` closes (stateless: nothing to do)."""

    def _compute(
        self, con: duckdb.DuckDBPyConnection, fetched: Fetched, src: pa.Table, errors: list[ProcessingError]
    ) -> _Work:
        appends: list[tuple[str, int, pa.Table]] = []
        produced = 0
        if src.num_rows:
            result, run_errors = run_plan(con, self.plan.strict_sql, src, fetched, lenient_sql=self.plan.sql)
            errors.extend(run_errors)
            if result is not None and result.num_rows:
                assert self._encoder is not None
                records, encode_errors = self._encoder.encode(result)
                errors.extend(encode_errors)
                appends.extend(self._partitioned(records, fetched.partition))
                produced = records.num_rows
        if errors:
            appends.append((self.processing_log_topic, 0, processing_log.entries_table(self.id, errors, self.include_rows)))
        tp = TopicPartition(fetched.topic, fetched.partition)
        return _Work(appends, tp, fetched.next_offset, len(fetched), produced, len(errors))

    def _commit(self, work: _Work) -> None:
        self.log.transact(work.appends, group=self.group, offsets={work.partition: work.next_offset},
                          transactional_id=self.group)
        self.committed_positions[work.partition] = work.next_offset
        self.stats.records_in += work.records_in
        self.stats.records_out += work.records_out
        self.stats.failed += work.failed
        self.stats.last_commit = time.time()

    def _partitioned(self, records: pa.Table, input_partition: int) -> list[tuple[str, int, pa.Table]]:
        partitions = self.sink.partitions
        if partitions == 1:
            return [(self.sink.topic, 0, records)]
        if self._encoder is None or self._encoder.key_format is None:
            return [(self.sink.topic, input_partition % partitions, records)]
        targets = partition_for_keys(records.column("key"), partitions, input_partition % partitions)
        return [
            (self.sink.topic, int(p), records.filter(pa.array(targets == p))) for p in np.unique(targets).tolist()
        ]


_Item = tuple[Fetched, tuple[pa.Table, list[ProcessingError]]]


class _Prefetcher:
    """Polls and decodes ahead of a query's thread; hands over (fetched, decoded) in order.

    An idle poll hands over None, so the query can finish its last commit.
    """

    def __init__(self, query: PersistentQuery, positions: dict[TopicPartition, int]) -> None:
        self._query = query
        self._positions = dict(positions)
        self._items: queue.Queue[_Item | BaseException | None] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"decode-{query.id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        query = self._query
        try:
            while not self._stop.is_set():
                batches = query.log.poll(self._positions, max_records=MAX_POLL_RECORDS, max_bytes=query.poll_bytes,
                                         timeout_s=POLL_TIMEOUT_S)
                if not batches:
                    self._put(None)
                for fetched in batches:
                    self._positions[TopicPartition(fetched.topic, fetched.partition)] = fetched.next_offset
                    self._put((fetched, query._decoder.decode(fetched)))
        except BaseException as exc:  # handed to the query thread, which retries
            self._put(exc)

    def _put(self, item: _Item | BaseException | None) -> None:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self) -> _Item | None:
        try:
            item = self._items.get(timeout=POLL_TIMEOUT_S)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


#: A push query's work on one decoded batch: the rows to show (``o0``... and, optionally, ``__having``).
PushStep = Callable[[duckdb.DuckDBPyConnection, Fetched, pa.Table], "pa.Table | None"]


def select_step(plan: SelectPlan) -> tuple[Callable[[duckdb.DuckDBPyConnection], None], PushStep]:
    """A stateless push query: the plan's SQL over each batch."""

    def step(con: duckdb.DuckDBPyConnection, fetched: Fetched, src: pa.Table) -> pa.Table | None:
        return run_plan(con, plan.sql, src, fetched)[0]

    return (lambda con: None), step


class RowStream:
    """The reading side of a push query: rows a worker thread puts on ``_rows``, None at the end."""

    _rows: queue.Queue[list[object] | BaseException | None]

    def rows(self, timeout_s: float | None = None) -> Iterator[list[object]]:
        """Rows as they arrive; ends at LIMIT, on close, or after ``timeout_s`` without a row."""
        while True:
            try:
                item = self._rows.get(timeout=timeout_s)
            except queue.Empty:
                return
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def __iter__(self) -> Iterator[list[object]]:
        return self.rows()


class PushQuery(RowStream):
    """A transient SELECT ... EMIT CHANGES: rows go to the caller until LIMIT or close.

    ``steps`` (prepare, step) is what runs per batch; by default the stateless
    plan's SQL (an aggregation brings its own state, see ``engine/aggregate.py``).
    Rows whose ``__having`` is false (a table's deleted row, a group failing
    HAVING) are not shown.
    """

    def __init__(self, query_id: str, plan: Any, log: Log, *, offset_reset: str,
                 on_close: Callable[[PushQuery], None] | None = None,
                 steps: tuple[Callable[[duckdb.DuckDBPyConnection], None], PushStep] | None = None) -> None:
        self._prepare, self._step = steps if steps is not None else select_step(plan)
        self.id = query_id
        self.plan = plan
        self.log = log
        self.columns = [o.name for o in plan.outputs]
        self.types = [o.type for o in plan.outputs]
        self.limit = plan.limit
        self._rows: queue.Queue[list[object] | BaseException | None] = queue.Queue(maxsize=100_000)
        self._stop = threading.Event()
        self._decoder = SourceDecoder(plan.source, plan.inputs)
        self._on_close = on_close
        self.positions = start_positions(log, plan.source.topic, None, offset_reset)
        self._thread = threading.Thread(target=self._run, name=f"push-{query_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        con = new_connection()
        sent = 0
        try:
            self._prepare(con)
            while not self._stop.is_set():
                for fetched in self.log.poll(self.positions, max_records=MAX_POLL_RECORDS, max_bytes=MAX_POLL_BYTES,
                                             timeout_s=POLL_TIMEOUT_S):
                    self.positions[TopicPartition(fetched.topic, fetched.partition)] = fetched.next_offset
                    src, _errors = self._decoder.decode(fetched)
                    if not src.num_rows:
                        continue
                    result = self._step(con, fetched, src)
                    if result is None:
                        continue
                    if "__having" in result.column_names:
                        result = result.filter(pc.fill_null(result.column("__having"), False))
                    names = [f"o{i}" for i in range(len(self.columns))]
                    for row in result.select(names).to_pylist():
                        self._put([row[name] for name in names])
                        sent += 1
                        if self.limit is not None and sent >= self.limit:
                            return
        except BaseException as exc:  # handed to the reader
            self._put(exc)
        finally:
            con.close()
            self._put(None)

    def _put(self, item: list[object] | BaseException | None) -> None:
        while not self._stop.is_set() or item is None:
            try:
                self._rows.put(item, timeout=0.1)
                return
            except queue.Full:
                if item is None and self._stop.is_set():
                    return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._on_close is not None:
            self._on_close(self)
