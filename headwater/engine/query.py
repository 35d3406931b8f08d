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
from collections import deque
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
from headwater.engine.isolation import isolate, reason
from headwater.engine.processing_log import RECORD_PROCESSING_ERROR, ProcessingError
from headwater.errors import HeadwaterError, LogError, ProducerFencedError
from headwater.formats import duck
from headwater.log import Fetched, Log, Record, TopicPartition
from headwater.log.partitioner import partition_for_keys
from headwater.sql.catalog import DataSource
from headwater.sql.functions import install_functions
from headwater.sql.planner import ROWOFFSET

logger = logging.getLogger(__name__)

#: Seconds between two renewals of a persistent query's DuckDB (PersistentQuery._renew).
RENEW_STATE_S = 300.0


POLL_TIMEOUT_S = 0.2
MAX_POLL_RECORDS = 200_000
#: A stored batch at least this large is processed alone, zero-copy; smaller ones are merged up to it.
MAX_POLL_BYTES = 4 * 1024 * 1024


class QueryState(enum.Enum):
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    ERROR = "ERROR"
    TERMINATED = "TERMINATED"


class QueryFailedError(HeadwaterError, TimeoutError):
    """A persistent query is in ERROR (its input cannot be processed now); the message says which and why.

    A TimeoutError too, so code that waited with a timeout keeps working.
    """


@dataclass(frozen=True)
class QueryError:
    """Why a query is (or was) in ERROR, as ksqlDB's ``queryErrors`` show it.

    ``type`` is ``SYSTEM`` when the log (a topic, the disk, the broker) failed, ``UNKNOWN`` otherwise.
    Per-record failures never make one: they go to the processing log and the query goes on.
    """

    timestamp_ms: int
    message: str
    type: str

    def entity(self) -> dict[str, object]:
        return {"timestamp": self.timestamp_ms, "errorMessage": self.message, "type": self.type}


@dataclass(frozen=True)
class Checkpoint:
    """One step of the loop, ready to commit: output, changelog and processing-log records, and the input
    offsets they cover. The loop commits all of it in ONE log transaction."""

    appends: list[tuple[str, int, pa.Table]]
    offsets: dict[TopicPartition, int]
    records_in: int
    records_out: int
    failed: int


def batch_checkpoint(appends: list[tuple[str, int, pa.Table]], partition: TopicPartition, next_offset: int,
                     records_in: int, records_out: int, failed: int) -> Checkpoint:
    """The checkpoint of one input batch of one partition."""
    return Checkpoint(appends, {partition: next_offset}, records_in, records_out, failed)


@dataclass
class QueryStats:
    records_in: int = 0
    records_out: int = 0
    failed: int = 0
    last_error: str | None = None
    last_commit: float = field(default_factory=time.time)
    #: The latest errors that put the query in ERROR, oldest first (ksqlDB keeps a queue of them too).
    errors: deque[QueryError] = field(default_factory=lambda: deque(maxlen=10))
    #: Failures in a row since the query last made progress (0 when it runs).
    failures: int = 0


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
    """CSAS / INSERT INTO ... SELECT: source -> plan -> sink topic, exactly once.

    This class is also THE run loop every persistent query uses (see ``_run``); an operator (a subclass:
    aggregate, table aggregate, join) changes what a step computes and how its state restores, through
    the hooks of ``engine/operator.py``, never the loop or the commit.
    """

    #: Bytes read per batch: stateless work is linear, so batches stay small and zero-copy.
    poll_bytes = MAX_POLL_BYTES
    #: Seconds between two renewals of the query's DuckDB (:meth:`_renew`); None: never.
    renew_state_s: float | None = RENEW_STATE_S

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
        self._unlogged_error: bytes | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._begin()
        except Exception as exc:  # noqa: BLE001 - e.g. its source topic is gone: ERROR, and the loop retries
            self._failed(exc, 0.5)
        self._thread = threading.Thread(target=self._run, name=f"query-{self.id}", daemon=True)
        self._thread.start()

    def _begin(self) -> None:
        """The input positions, read now (so ``latest`` means the ends at the time of the statement)."""
        self.positions = self._restart_positions()
        self.committed_positions = dict(self.positions)
        if self.group and not any(self.log.committed(self.group, list(self.positions)).values()):
            # Make the starting point durable now, so a restart before the first
            # commit does not move it (auto.offset.reset=latest would).
            self.log.commit(self.group, self.positions)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.state = QueryState.TERMINATED

    def caught_up(self) -> bool:
        """True when every input partition has been processed and committed up to its current end."""
        return all(self.log.end_offset(*tp) <= offset for tp, offset in self.committed_positions.items())

    def error(self) -> QueryError | None:
        """Why the query is in ERROR (None when it is not)."""
        if self.state is not QueryState.ERROR or not self.stats.errors:
            return None
        return self.stats.errors[-1]

    # -- the loop ----------------------------------------------------------------------
    def _run(self) -> None:
        """poll -> decode -> operators -> encode -> one commit, on two cores: poll and decode batch N+2
        (``Prefetcher``), compute N+1, commit N.

        Decoding needs no state, so it runs ahead in its own thread. Only one commit is ever in flight and
        commits happen in input order, so the committed offsets always match the output in the log. A
        failure here is never one record's (those are isolated on the way): the query goes to ERROR, says
        why, and retries from its committed offsets with its state restored, until the cause goes away.
        """
        con = new_connection()
        backoff = 0.5
        committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"commit-{self.id}")
        pending: Future[None] | None = None
        prefetch: Prefetcher | None = None
        renewed = time.monotonic()
        while not self._stop.is_set():
            try:
                if prefetch is None:
                    if not self.positions:
                        self._begin()
                    self._prepare(con)
                    prefetch = self._prefetcher(self.positions)
                item = prefetch.get()
                if item is None:  # nothing new: let the last commit land
                    if pending is not None:
                        pending.result()
                        pending = None
                    if self.state is QueryState.ERROR:
                        self._recovered()  # the log answers again and nothing was left to redo
                    continue
                checkpoint = self._compute_item(con, item)
                self.positions.update(checkpoint.offsets)
                if pending is not None:
                    pending.result()
                pending = committer.submit(self._commit, checkpoint)
                backoff = 0.5
                if self.renew_state_s is not None and time.monotonic() - renewed >= self.renew_state_s:
                    pending.result()
                    pending = None
                    prefetch.close()
                    prefetch = None
                    old, con = con, new_connection()  # the loop's con is the new one even if the renewal fails
                    self._renew(old, con)
                    renewed = time.monotonic()
            except ProducerFencedError as exc:  # another process took this query over: never retry
                self.fenced(exc)
                break
            except Exception as exc:  # the query stays, in ERROR, and retries: ksqlDB does the same
                if prefetch is not None:
                    prefetch.close()
                    prefetch = None
                if pending is not None:
                    pending.exception()  # let the in-flight commit finish (or fail) before rewinding
                    pending = None
                self._failed(exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                try:
                    self.positions = self._restart_positions()
                    self.committed_positions = dict(self.positions)
                except Exception as again:  # noqa: BLE001 - still unavailable: the next turn says so
                    self._failed(again, backoff)
        if prefetch is not None:
            prefetch.close()
        if pending is not None:
            pending.exception()
        committer.shutdown()
        self._finish(con)
        con.close()

    def fenced(self, error: ProducerFencedError) -> None:
        """Stop for good: a newer writer (a process that took the service over) owns this query's output."""
        logger.error("query %s stopped: %s", self.id, error, extra={"query_id": self.id})
        self.state = QueryState.ERROR
        self.stats.last_error = f"fenced: {error}"
        self.stats.failures += 1
        self.stats.errors.append(QueryError(time.time_ns() // 1_000_000, self.stats.last_error, "SYSTEM"))
        if self.on_fenced is not None:
            self.on_fenced(self, error)

    def _failed(self, exc: Exception, retry_in_s: float) -> None:
        """ERROR, with the reason where users look: SHOW QUERIES / EXPLAIN, /metrics, the processing log."""
        message = f"{type(exc).__name__}: {reason(exc)}"
        kind = "SYSTEM" if isinstance(exc, (LogError, OSError)) else "UNKNOWN"
        first = self.state is not QueryState.ERROR
        self.state = QueryState.ERROR
        self.stats.failures += 1
        self.stats.last_error = message
        if first or self.stats.errors[-1].message != message:
            self.stats.errors.append(QueryError(time.time_ns() // 1_000_000, message, kind))
            self._unlogged_error = processing_log.query_error_entry(self.id, message, f"query-{self.id}")
            logger.error("query %s is in ERROR (retrying in %.1f s): %s", self.id, retry_in_s, message,
                         exc_info=exc if kind == "UNKNOWN" else None, extra={"query_id": self.id})
        else:
            logger.warning("query %s still in ERROR (retrying in %.1f s): %s", self.id, retry_in_s, message)
        self._log_error_entry()

    def _log_error_entry(self) -> None:
        """The processing-log entry of the current ERROR, written once; while the log is down, on a later try."""
        if self._unlogged_error is None:
            return
        try:
            self.log.append(self.processing_log_topic, 0, [Record(self._unlogged_error)])
            self._unlogged_error = None
        except Exception:  # noqa: BLE001 - the log itself may be what failed; the next retry writes it
            logger.debug("query %s: processing log not writable yet", self.id)

    def _recovered(self) -> None:
        self._log_error_entry()
        if self.state is QueryState.ERROR:
            logger.info("query %s resumed after %d failed attempt(s)", self.id, self.stats.failures)
            self.state = QueryState.RUNNING
        self.stats.failures = 0

    # -- hooks of the loop (engine/operator.py says what each one owes) ---------------------
    def _restart_positions(self) -> dict[TopicPartition, int]:
        """Where each input partition resumes: the committed offsets (or ``auto.offset.reset``)."""
        return start_positions(self.log, self.plan.source.topic, self.group, self.offset_reset)

    def _prefetcher(self, positions: dict[TopicPartition, int]) -> Prefetcher:
        return Prefetcher(self.id, batch_fetcher(self.log, positions, self._decoder.decode, self.poll_bytes))

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """Bring operator state in line with the committed offsets (stateless: nothing to do)."""

    def _renew(self, old: duckdb.DuckDBPyConnection, con: duckdb.DuckDBPyConnection) -> None:
        """Move the state into a fresh DuckDB (every ``renew_state_s``), all commits landed, no batch in flight.

        An in-memory DuckDB whose tables are updated batch after batch keeps
        native memory its own accounting (``duckdb_memory()``) does not show
        and never gives back, even when the tables stay small: the soak's
        clickstream queries grew the server's RSS by ~3-5 KB per click, all of
        it freed when the queries stopped (not the Python heap, Arrow's pool
        or glibc's arenas). A fresh database, its state restored as after a
        restart (snapshot and changelog, or the join's inputs), starts from
        nothing.
        """
        self.positions = self._restart_positions()
        self.committed_positions = dict(self.positions)
        try:
            self._prepare(con)
        finally:
            old.close()
        logger.debug("query %s renewed its DuckDB state", self.id, extra={"query_id": self.id})

    def _finish(self, con: duckdb.DuckDBPyConnection) -> None:
        """On stop, after the last commit landed and before ``con`` closes (stateless: nothing to do)."""

    def _compute_item(self, con: duckdb.DuckDBPyConnection, item: Any) -> Checkpoint:
        fetched, (src, errors) = item
        return self._compute(con, fetched, src, errors)

    def _compute(
        self, con: duckdb.DuckDBPyConnection, fetched: Fetched, src: pa.Table, errors: list[ProcessingError]
    ) -> Checkpoint:
        result = None
        if src.num_rows:
            result, run_errors = run_plan(con, self.plan.strict_sql, src, fetched, lenient_sql=self.plan.sql)
            errors.extend(run_errors)
        appends: list[tuple[str, int, pa.Table]] = []
        produced = self._emit(result, fetched, appends, errors) if result is not None and result.num_rows else 0
        self._log_errors(appends, errors)
        tp = TopicPartition(fetched.topic, fetched.partition)
        return Checkpoint(appends, {tp: fetched.next_offset}, len(fetched), produced, len(errors))

    def _emit(self, projected: pa.Table, fetched: Fetched, appends: list[tuple[str, int, pa.Table]],
              errors: list[ProcessingError]) -> int:
        """Encode result rows into the sink's records (added to ``appends``); the number of records.

        A row the sink's formats cannot hold goes to the processing log, not to the sink.
        """
        assert self._encoder is not None  # a query that emits to a topic has an encoder
        records, encode_errors = self._encoder.encode(projected, fetched)
        errors.extend(encode_errors)
        if records.num_rows:
            appends.extend(self._partitioned(records, fetched.partition))
        return int(records.num_rows)

    def _log_errors(self, appends: list[tuple[str, int, pa.Table]], errors: list[ProcessingError]) -> None:
        if errors:
            appends.append((self.processing_log_topic, 0,
                            processing_log.entries_table(self.id, errors, self.include_rows)))

    def _commit(self, checkpoint: Checkpoint) -> None:
        """THE commit: output + changelog + processing log + input offsets, in one log transaction."""
        self.log.transact(checkpoint.appends, group=self.group, offsets=checkpoint.offsets,
                          transactional_id=self.group)
        self.committed_positions.update(checkpoint.offsets)
        self.stats.records_in += checkpoint.records_in
        self.stats.records_out += checkpoint.records_out
        self.stats.failed += checkpoint.failed
        self.stats.last_commit = time.time()
        if self.state is QueryState.ERROR or self.stats.failures:
            self._recovered()

    def _partitioned(self, records: pa.Table, input_partition: int) -> list[tuple[str, int, pa.Table]]:
        assert self.sink is not None
        partitions = self.sink.partitions
        if partitions == 1:
            return [(self.sink.topic, 0, records)]
        if self._encoder is None or self._encoder.key_format is None:
            return [(self.sink.topic, input_partition % partitions, records)]
        targets = partition_for_keys(records.column("key"), partitions, input_partition % partitions)
        return [
            (self.sink.topic, int(p), records.filter(pa.array(targets == p))) for p in np.unique(targets).tolist()
        ]


class Prefetcher:
    """Polls and decodes ahead of a query's thread (``fetch`` returns the next decoded items, in order);
    hands them over one by one. An idle fetch (no items) hands over None, so the query can finish its
    last commit. An exception is handed over too: the query thread raises it and retries."""

    def __init__(self, name: str, fetch: Callable[[], list[Any]]) -> None:
        self._fetch = fetch
        self._items: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"decode-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                items = self._fetch()
                if not items:
                    self._put(None)
                for item in items:
                    self._put(item)
        except BaseException as exc:  # handed to the query thread, which retries
            self._put(_Raised(exc))

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self) -> Any:
        try:
            item = self._items.get(timeout=POLL_TIMEOUT_S)
        except queue.Empty:
            return None
        if isinstance(item, _Raised):
            raise item.exc
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@dataclass(frozen=True)
class _Raised:
    exc: BaseException


def batch_fetcher(log: Log, positions: dict[TopicPartition, int], decode: Callable[[Fetched], Any],
                  max_bytes: int) -> Callable[[], list[Any]]:
    """One poll of ``positions`` (moved on as batches come), each batch decoded: ``(fetched, decode(fetched))``."""
    positions = dict(positions)

    def fetch() -> list[Any]:
        items = []
        for fetched in log.poll(positions, max_records=MAX_POLL_RECORDS, max_bytes=max_bytes,
                                timeout_s=POLL_TIMEOUT_S):
            positions[TopicPartition(fetched.topic, fetched.partition)] = fetched.next_offset
            items.append((fetched, decode(fetched)))
        return items

    return fetch


#: A push query's work on one decoded batch: the rows to show (``o0``... and, optionally, ``__having``).
PushStep = Callable[[duckdb.DuckDBPyConnection, Fetched, pa.Table], "pa.Table | None"]


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
                 steps: tuple[Callable[[duckdb.DuckDBPyConnection], None], PushStep] | None = None,
                 processing_log_topic: str | None = None) -> None:
        self._prepare, self._step = steps if steps is not None else ((lambda con: None), self._select)
        #: Where records this query could not process are logged (ksqlDB logs transient queries' too).
        self.processing_log_topic = processing_log_topic
        self._errors: list[ProcessingError] = []
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
                    src, errors = self._decoder.decode(fetched)
                    self._errors.extend(errors)
                    result = self._step(con, fetched, src) if src.num_rows else None
                    self._log_errors()
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

    def _select(self, con: duckdb.DuckDBPyConnection, fetched: Fetched, src: pa.Table) -> pa.Table | None:
        """A stateless push query's step: the plan's SQL over the batch (failing records are logged)."""
        result, errors = run_plan(con, self.plan.sql, src, fetched)
        self._errors.extend(errors)
        return result

    def _log_errors(self) -> None:
        """The records this push query could not process, to the processing log (best effort: no transaction
        holds a push query's output)."""
        errors, self._errors = self._errors, []
        if not errors or self.processing_log_topic is None:
            return
        try:
            self.log.append(self.processing_log_topic, 0, processing_log.entries_table(self.id, errors))
        except Exception:  # noqa: BLE001 - a push query shows rows even when the log cannot take entries
            logger.warning("push query %s: %d processing-log entries not written", self.id, len(errors),
                           exc_info=True)

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
