"""The run loop every query runs in, and persistent queries (CSAS, CTAS, INSERT INTO).

A query is a thread that loops: poll the inputs' partitions, decode, run the
operator (``engine/operator.py``) on DuckDB, encode, and -- for a persistent
query -- append the output, the changelog and the processing-log entries and
commit the input offsets in ONE log transaction. So after a crash at any
moment the query resumes from its committed offsets with no lost and no
doubled output. Push queries (``engine/push.py``) run the same loop.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from headwater.engine import processing_log
from headwater.engine.codec import SinkEncoder
from headwater.engine.isolation import reason
from headwater.engine.operator import Operator, Plan, Step
from headwater.engine.prefetch import Prefetcher
from headwater.engine.processing_log import ProcessingError
from headwater.errors import HeadwaterError, LogError, ProducerFencedError
from headwater.formats import duck
from headwater.log import Fetched, Log, Record, TopicPartition
from headwater.log.partitioner import partition_for_keys
from headwater.sql.catalog import DataSource
from headwater.sql.functions import install_functions

logger = logging.getLogger(__name__)

#: How long an idle poll waits (tests shorten it).
POLL_TIMEOUT_S = 0.2
#: Seconds between two renewals of a persistent query's DuckDB (RunLoop._renew): the height of the
#: sawtooth its native memory draws (~30 KB per step that wrote state; at one step a second, 3.6 MB).
RENEW_STATE_S = 120.0
#: Steps that wrote state (changelog records) after which a query renews sooner, but not before
#: RENEW_STATE_MIN_S: DuckDB's native growth is per statement that builds a hash table (a join keeps
#: ~2.5 KB, a window ~1.3 KB, an aggregation's step ~30 KB, measured with DuckDB 2.0; see
#: docs/ARCHITECTURE.md section 2), so a query that commits many small batches renews more often
#: than RENEW_STATE_S.
RENEW_STATE_STEPS = 500
RENEW_STATE_MIN_S = 60.0


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
    #: The operator's step it commits (told to the operator once the commit landed).
    step: Step


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


class RunLoop:
    """THE run loop of every query, persistent or push: poll -> decode -> operator -> emit -> one commit.

    The operator (``engine/operator.py``) says what a step computes and how its state restores; the
    loop owns the rest. What differs between a persistent query and a push query is only where output
    goes and what a commit and a failure do (``_emit``, ``_commit``, ``_retry``).
    """

    def __init__(self, query_id: str, operator: Operator[Plan], log: Log, *, group: str,
                 processing_log_topic: str | None, include_rows: bool = False) -> None:
        self.id = query_id
        self.operator = operator
        self.plan = operator.plan
        self.log = log
        self.group = group
        #: Where records this query could not process are logged (ksqlDB logs transient queries' too).
        self.processing_log_topic = processing_log_topic
        self.include_rows = include_rows
        self.state = QueryState.RUNNING
        self.stats = QueryStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.positions: dict[TopicPartition, int] = {}
        self.committed_positions: dict[TopicPartition, int] = {}
        #: Seconds between two renewals of the query's DuckDB (``_renew``); None: never (push queries).
        self.renew_state_s: float | None = None

    @property
    def late_records(self) -> int:
        """Records dropped because their window had closed."""
        return self.operator.late_records

    def _begin(self) -> None:
        """The input positions, read now (so ``latest`` means the ends at the time of the statement)."""
        self.operator.begin()
        self.positions = self.operator.positions()
        self.committed_positions = dict(self.positions)

    def _run(self) -> None:
        """poll -> decode -> operator -> encode -> one commit, on two cores: poll and decode batch N+2
        (``Prefetcher``), compute N+1, commit N.

        Decoding needs no state, so it runs ahead in its own thread. Only one commit is ever in flight and
        commits happen in input order, so the committed offsets always match the output in the log. A
        failure here is never one record's (those are isolated on the way): ``_retry`` decides (a
        persistent query goes to ERROR, says why, and retries from its committed offsets with its state
        restored, until the cause goes away; a push query ends with the error).
        """
        con = new_connection()
        backoff = 0.5
        committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"commit-{self.id}")
        pending: Future[None] | None = None
        prefetch: Prefetcher | None = None
        renewed, written = time.monotonic(), 0  # since the last renewal: when, steps that wrote state
        retired: duckdb.DuckDBPyConnection | None = None  # the DuckDB before a renewal, closed once restored
        try:
            while not self._stop.is_set():
                try:
                    if prefetch is None:
                        if not self.positions:
                            self._begin()
                        self.operator.restore(con, dict(self.positions))
                        if retired is not None:
                            retired.close()
                            retired = None
                        prefetch = Prefetcher(self.id, self.operator.fetcher(self.positions, POLL_TIMEOUT_S),
                                              POLL_TIMEOUT_S)
                    item = prefetch.get()
                    if item is None:  # nothing new: let the last commit land
                        if pending is not None:
                            pending.result()
                            pending = None
                        self._idle()
                        continue
                    checkpoint = self._checkpoint(self.operator.process(con, item))
                    self.positions.update(checkpoint.offsets)
                    if pending is not None:
                        pending.result()
                    pending = committer.submit(self._commit, checkpoint)
                    backoff = 0.5
                    written += any(table.num_rows for _, _, table in checkpoint.step.changelog)
                    if self._renew_due(time.monotonic() - renewed, written):
                        pending.result()
                        pending = None
                        prefetch.close()
                        prefetch = None
                        retired, con = con, new_connection()
                        self._renew()
                        renewed, written = time.monotonic(), 0
                except ProducerFencedError as exc:  # another process took this query over: never retry
                    self.fenced(exc)
                    break
                except Exception as exc:  # noqa: BLE001 - the policy decides: ERROR and retry, or end
                    if prefetch is not None:
                        prefetch.close()
                        prefetch = None
                    if pending is not None:
                        pending.exception()  # let the in-flight commit finish (or fail) before rewinding
                        pending = None
                    if not self._retry(exc, backoff):
                        break
                    backoff = min(backoff * 2, 30.0)
            if prefetch is not None:
                prefetch.close()
            if pending is not None:
                pending.exception()
            committer.shutdown()
            self.operator.finish(con)
        finally:
            if retired is not None:
                retired.close()
            con.close()
            self._ended()

    def _renew_due(self, elapsed_s: float, written: int) -> bool:
        """Whether to renew the DuckDB now, ``elapsed_s`` and ``written`` state-writing steps after the last one."""
        if self.renew_state_s is None:
            return False
        return elapsed_s >= self.renew_state_s or (
            elapsed_s >= min(RENEW_STATE_MIN_S, self.renew_state_s) and written >= RENEW_STATE_STEPS)

    def _renew(self) -> None:
        """Go on in a fresh DuckDB, the state restored into it as after a restart (all commits landed).

        Called every ``renew_state_s``, or sooner after ``RENEW_STATE_STEPS`` steps that wrote state
        (``_renew_due``). A DuckDB database keeps native memory for each statement
        that builds a hash table (joins, windows), which its own accounting
        (``duckdb_memory()``) does not show and which only closing it gives back,
        even when the tables stay small: the soak's clickstream queries grew the
        server's RSS by ~3-5 KB per click, all of it freed when the queries stopped
        (not the Python heap, Arrow's pool or glibc's arenas). The loop restores the
        operator's state into the new database (snapshot and changelog, or the
        join's inputs), then closes the old one.
        """
        self.positions = self.operator.positions()
        self.committed_positions = dict(self.positions)
        logger.debug("query %s renews its DuckDB", self.id, extra={"query_id": self.id})

    def _checkpoint(self, step: Step) -> Checkpoint:
        """A step's output encoded (``_emit``), with its changelog and processing-log entries: one checkpoint."""
        appends: list[tuple[str, int, pa.Table]] = []
        errors = step.errors
        produced = 0
        for rows, fetched in step.outputs:
            if rows.num_rows:
                produced += self._emit(rows, fetched, appends, errors)
        appends.extend(step.changelog)
        if errors and self.processing_log_topic is not None:
            appends.append((self.processing_log_topic, 0,
                            processing_log.entries_table(self.id, errors, self.include_rows)))
        return Checkpoint(appends, step.offsets, step.records_in, produced, len(errors), step)

    # -- the policies of a kind of query ---------------------------------------------------
    def _emit(self, projected: pa.Table, fetched: Fetched, appends: list[tuple[str, int, pa.Table]],
              errors: list[ProcessingError]) -> int:
        raise NotImplementedError

    def _commit(self, checkpoint: Checkpoint) -> None:
        raise NotImplementedError

    def _retry(self, exc: Exception, backoff: float) -> bool:
        """A failure that is no record's: whether to go on (after ``backoff`` seconds)."""
        raise NotImplementedError

    def _idle(self) -> None:
        """Nothing new was polled and the last commit landed."""

    def _ended(self) -> None:
        """The loop's thread ends."""

    def fenced(self, error: ProducerFencedError) -> None:
        """A newer writer owns this query's output: stop for good."""
        raise NotImplementedError


class PersistentQuery(RunLoop):
    """CSAS / CTAS / INSERT INTO ... SELECT: source -> operator -> sink topic, exactly once."""

    def __init__(
        self,
        query_id: str,
        statement: str,
        operator: Operator[Plan],
        sink: DataSource,
        log: Log,
        *,
        group: str,
        service_id: str,
        include_rows: bool = False,
    ) -> None:
        super().__init__(query_id, operator, log, group=group,
                         processing_log_topic=processing_log.topic_name(service_id), include_rows=include_rows)
        self.statement = statement
        self.sink = sink
        self._encoder = SinkEncoder(sink, self.plan.outputs, windowed=getattr(self.plan, "window", None) or sink.window)
        #: Called from the query's thread when it was fenced (see ``fenced``); set by the session.
        self.on_fenced: Callable[[PersistentQuery, ProducerFencedError], None] | None = None
        self._unlogged_error: bytes | None = None
        self.renew_state_s = RENEW_STATE_S

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._begin()
        except Exception as exc:  # noqa: BLE001 - e.g. its source topic is gone: ERROR, and the loop retries
            self._failed(exc, 0.5)
        self._thread = threading.Thread(target=self._run, name=f"query-{self.id}", daemon=True)
        self._thread.start()

    def _begin(self) -> None:
        super()._begin()
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
        """Restored, and every input partition processed and committed up to its current end."""
        return self.operator.ready and all(
            self.log.end_offset(*tp) <= offset for tp, offset in self.committed_positions.items())

    def error(self) -> QueryError | None:
        """Why the query is in ERROR (None when it is not)."""
        if self.state is not QueryState.ERROR or not self.stats.errors:
            return None
        return self.stats.errors[-1]

    # -- policies ----------------------------------------------------------------------
    def _retry(self, exc: Exception, backoff: float) -> bool:
        """The query stays, in ERROR, and retries from its committed offsets: ksqlDB does the same."""
        self._failed(exc, backoff)
        self._stop.wait(backoff)
        try:
            self.positions = self.operator.positions()
            self.committed_positions = dict(self.positions)
        except Exception as again:  # noqa: BLE001 - still unavailable: the next turn says so
            self._failed(again, backoff)
        return True

    def _idle(self) -> None:
        if self.state is QueryState.ERROR:
            self._recovered()  # the log answers again and nothing was left to redo

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
        if self._unlogged_error is None or self.processing_log_topic is None:
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

    def _emit(self, projected: pa.Table, fetched: Fetched, appends: list[tuple[str, int, pa.Table]],
              errors: list[ProcessingError]) -> int:
        """Encode result rows into the sink's records (added to ``appends``); the number of records.

        A row the sink's formats cannot hold goes to the processing log, not to the sink.
        """
        records, encode_errors = self._encoder.encode(projected, fetched)
        errors.extend(encode_errors)
        if records.num_rows:
            appends.extend(self._partitioned(records, fetched.partition))
        return int(records.num_rows)

    def _commit(self, checkpoint: Checkpoint) -> None:
        """THE commit: output + changelog + processing log + input offsets, in one log transaction."""
        self.log.transact(checkpoint.appends, group=self.group, offsets=checkpoint.offsets,
                          transactional_id=self.group)
        self.operator.committed(checkpoint.step)
        self.committed_positions.update(checkpoint.offsets)
        self.stats.records_in += checkpoint.records_in
        self.stats.records_out += checkpoint.records_out
        self.stats.failed += checkpoint.failed
        self.stats.last_commit = time.time()
        if self.state is QueryState.ERROR or self.stats.failures:
            self._recovered()

    def _partitioned(self, records: pa.Table, input_partition: int) -> list[tuple[str, int, pa.Table]]:
        partitions = self.sink.partitions
        if partitions == 1:
            return [(self.sink.topic, 0, records)]
        if self._encoder.key_format is None:
            return [(self.sink.topic, input_partition % partitions, records)]
        targets = partition_for_keys(records.column("key"), partitions, input_partition % partitions)
        return [
            (self.sink.topic, int(p), records.filter(pa.array(targets == p))) for p in np.unique(targets).tolist()
        ]
