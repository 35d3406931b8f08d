"""The state of an aggregation as a store: changelog, restore, snapshots, and pull-query reads.

Mixed into :class:`~headwater.engine.aggregate.AggregateOperator` (the seam: the operator
computes each batch's updates and changed state rows; this module keeps the state durable and
readable). The changelog topic is the truth and DuckDB its cache: ``restore`` rebuilds the
stores from the last snapshot and the changelog tail (``engine/changelog.py``), a snapshot is
taken once the changelog holds every computed batch, and a pull query reads the last committed
batch on a cursor, waiting while the state restores. A push query's state (``durable`` false)
is transient: empty at start, never logged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from headwater.engine.changelog import ReadGate, StoreChangelog, snapshot_directory
from headwater.engine.operator import Step
from headwater.engine.state import KeyedStore, StoreNotReadyError, run
from headwater.errors import UnknownTopicError
from headwater.log import Log, TopicPartition
from headwater.sql.aggregate_planner import AggregatePlan

logger = logging.getLogger(__name__)

#: A pull query waits this long for a restoring store before answering "not ready".
PULL_WAIT_S = 10.0


def changelog_topic(service_id: str, query_id: str) -> str:
    return f"_confluent-ksql-{service_id}query_{query_id}-Aggregate-Materialize-changelog"


class AggregateStore:
    """Restore, snapshot and read the aggregation's stores (see the module docstring)."""

    plan: AggregatePlan
    log: Log
    query_id: str
    statement: str
    #: Whether the state is changelogged (a persistent query) or transient (a push query).
    durable: bool
    changelog: str
    store: KeyedStore
    stores: list[KeyedStore]
    groups: list[str]
    stream_time: dict[int, int]
    _con: duckdb.DuckDBPyConnection | None
    _gate: ReadGate
    _changelog: StoreChangelog | None
    _commits: threading.Condition
    _computed: int
    _committed: int
    _earliest_end: dict[str, int | None]
    _last_changed: pa.Table | None
    #: ``WindowSteps._earliest`` and ``AggregateOperator.render`` (the operator has both).
    _earliest: Any
    render: Any

    # -- state ---------------------------------------------------------------------
    def _changelog_of(self) -> StoreChangelog:
        if self._changelog is None:
            fingerprint = hashlib.sha256(repr((self.statement, [(s.name, s.columns) for s in self.stores])).encode())
            self._changelog = StoreChangelog(self.log, self.changelog, self.stores,
                                             snapshot_directory(self.log, self.query_id), fingerprint.hexdigest())
        return self._changelog

    @property
    def restored_records(self) -> int:
        """Changelog records the last restore replayed (after its snapshot)."""
        return self._changelog_of().restored_records

    def begin(self) -> None:
        if self.durable:
            self._changelog_of().create_topic()

    def _prepare_transient(self, con: duckdb.DuckDBPyConnection) -> None:
        """An empty state for a push query: nothing to restore, nothing written back."""
        self._con = con
        self._create_state(con)
        self._earliest_end = {"open": None, "all": None}
        self._gate.open()

    def _create_state(self, con: duckdb.DuckDBPyConnection) -> None:
        for store in self.stores:
            store.create(con)
        self.stream_time = {}
        self._last_changed = None

    def restore(self, con: duckdb.DuckDBPyConnection, positions: dict[TopicPartition, int]) -> None:
        """(Re)build the stores from the snapshot and the changelog; pull queries wait meanwhile."""
        if not self.durable:
            self._prepare_transient(con)
            return
        self._gate.close()
        try:
            self._con = con
            self._changelog_of().settle()  # a snapshot being written still reads the tables
            self._create_state(con)
            started = time.perf_counter()
            self.stream_time = self._changelog_of().restore(con, self._apply_legacy)
            self._earliest_end = {"open": self._earliest(con, "open"), "all": self._earliest(con, "all")}
            with self._commits:
                self._computed = self._committed = 0
            logger.info("query %s restored its state from %d changelog record(s) in %.2f s", self.query_id,
                        self._changelog_of().restored_records, time.perf_counter() - started)
        except BaseException:
            self._gate.close()
            raise
        self._gate.open()

    def read_state(self, con: duckdb.DuckDBPyConnection) -> None:
        """Load into ``con`` the state as its owner last committed it, for a read-only session's pull queries.

        The query does not run here; nothing is written (an empty or missing
        changelog is an empty state). Called again before each pull query.
        """
        try:
            self._create_state(con)
            changelog = self._changelog_of()
            try:
                if self.log.end_offset(changelog.topic, 0) > self.log.beginning_offset(changelog.topic, 0):
                    self.stream_time = changelog.restore(con, self._apply_legacy, rewrite=False)
            except UnknownTopicError:
                pass  # the owner has not made the changelog yet: nothing is materialized
        except BaseException:
            con.close()
            raise
        old, self._con = self._con, con
        self._gate.open()
        if old is not None:
            old.close()

    def _apply_legacy(self, con: duckdb.DuckDBPyConnection, key: bytes, value: bytes | None,
                      headers: dict[str, bytes]) -> dict[int, int] | None:
        """One record of the changelog format before keyed stores (Arrow IPC chunks)."""
        if value:
            self.store.put(con, pa.ipc.open_stream(value).read_all())
        if headers.get("deleted"):
            self.store.delete(con, pa.ipc.open_stream(headers["deleted"]).read_all())
        if headers.get("stream_time"):
            return {int(k): v for k, v in orjson.loads(headers["stream_time"]).items()}
        return None

    @property
    def ready(self) -> bool:
        return self._gate.ready

    def committed(self, step: Step) -> None:
        with self._commits:
            self._committed += 1
            self._commits.notify_all()

    def _snapshot(self, con: duckdb.DuckDBPyConnection, background: bool = True) -> None:
        """Snapshot once the changelog holds every computed batch (at most one commit is in flight)."""
        with self._commits:
            if not self._commits.wait_for(lambda: self._committed >= self._computed, timeout=30.0):
                return
        self._changelog_of().snapshot(con, self.stream_time, background)

    def finish(self, con: duckdb.DuckDBPyConnection) -> None:
        """On stop: a last snapshot, so the next start replays (almost) nothing."""
        if not self.durable:
            return
        changelog = self._changelog_of()
        if self._gate.ready and changelog.pending_changes() and self._committed >= self._computed:
            changelog.snapshot(con, self.stream_time, background=False)

    # -- pull queries -------------------------------------------------------------------
    def state_rows(self) -> int | None:
        """Rows of the state table, read on a cursor (as pull queries do); None while restoring."""
        return self._read_state_figure(f"SELECT count(*) FROM {self.store.name}")

    def state_bytes(self) -> int | None:
        """Memory the query's DuckDB holds for its tables and intermediates (``duckdb_memory()``)."""
        return self._read_state_figure("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()")

    def _read_state_figure(self, sql: str) -> int | None:
        if self._con is None or not self._gate.enter(0):
            return None
        try:
            cursor = self._con.cursor()
            try:
                return int(run(cursor, sql)[0][0])
            finally:
                cursor.close()
        except duckdb.Error:  # the state is being rebuilt; the next scrape sees it
            return None
        finally:
            self._gate.leave()

    def snapshot(self, timeout_s: float = PULL_WAIT_S) -> pa.Table:
        """The materialized table: every current (group, window) row, through the projection.

        Reads the last committed batch (a cursor sees no uncommitted transaction); while the
        state restores, waits up to ``timeout_s``, then raises StoreNotReadyError.
        """
        if not self._gate.enter(timeout_s):
            raise StoreNotReadyError(
                f"Failed to scan materialized table: Cannot get state store {self.changelog.removesuffix('-changelog')}"
                f" because the stream thread is REBALANCING, not RUNNING (query {self.query_id} is restoring its state; "
                "retry shortly).")
        try:
            if self._con is None:  # entered only after a restore, which set it
                raise StoreNotReadyError(f"Query {self.query_id} has no state yet.")
            con = self._con.cursor()
            try:
                results = [f"{self.render(agg.result, j)} AS r{j}" for j, agg in enumerate(self.plan.aggregates)]
                run(con, f"CREATE OR REPLACE TEMP VIEW agg AS SELECT {', '.join(self.groups)}, ws, we, __ts, "
                         f"{', '.join(results)} FROM {self.store.name}")
                return con.sql(self.plan.post_sql).to_arrow_table()
            finally:
                con.close()
        finally:
            self._gate.leave()


__all__ = ["PULL_WAIT_S", "AggregateStore", "changelog_topic"]
