"""An operator's changelog topic and local snapshots: what a batch writes, and how a restart restores.

The changelog is compacted and keyed by state row (see ``engine/state.py``), plus a few
``meta|...`` records: ``meta|created`` (first record, a random id: the changelog's identity),
``meta|stream_time`` (the operator's stream time per input partition, once per batch) and
``meta|reset`` (clears every store; written before a full dump when an old-format changelog is
migrated). Records of a batch go in the same log transaction as its output and input offsets.

Restore = the latest local snapshot of the same changelog + the changelog records after the
offset it covers; without a snapshot, the whole (compacted) changelog. Either way the cost
follows the size of the state, not the length of the history.

Changelogs written before keyed stores (Arrow IPC chunks under the keys ``state`` and
``prior``) still restore, through the operator's ``legacy`` callback; the state is then
written again in the keyed format after a ``meta|reset`` and a snapshot is taken, so the
old records are never replayed again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.state import META_CREATED, META_RESET, META_STREAM_TIME, KeyedStore, Snapshots
from headwater.log import Log

logger = logging.getLogger(__name__)

#: Keys of the changelog records of the format before keyed stores: Arrow IPC chunks.
LEGACY_KEYS = (b"state", b"prior")
#: Changelog records read per step of a restore.
RESTORE_CHUNK = 200_000
#: A snapshot is written once this many changelog records were written since the last one and
#: SNAPSHOT_MIN_INTERVAL_S passed; or after SNAPSHOT_INTERVAL_S with any change.
SNAPSHOT_CHANGES = 250_000
SNAPSHOT_MIN_INTERVAL_S = 5.0
SNAPSHOT_INTERVAL_S = 30.0

#: Applies one old-format record (key, value, headers) to the stores; returns stream times it carried.
LegacyApply = Callable[[duckdb.DuckDBPyConnection, bytes, bytes | None, dict[str, bytes]], dict[int, int] | None]


class StoreChangelog:
    """The changelog topic of one operator's ``stores`` and their snapshots in ``directory``."""

    def __init__(self, log: Log, topic: str, stores: Sequence[KeyedStore], directory: str | None,
                 fingerprint: str) -> None:
        self.log = log
        self.topic = topic
        self.stores = list(stores)
        self.snapshots = Snapshots(directory, self.stores, fingerprint) if directory else None
        self.identity: str | None = None
        self.restored_records = 0
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()

    def create_topic(self) -> None:
        self.log.create_topic(self.topic, 1, {"cleanup.policy": "compact"}, exist_ok=True)

    def settle(self) -> None:
        """Wait for a snapshot being written (it reads the stores: they must not be dropped under it)."""
        if self.snapshots is not None:
            self.snapshots.wait()

    # -- restore --------------------------------------------------------------------------------
    def restore(self, con: duckdb.DuckDBPyConnection, legacy: LegacyApply, *, rewrite: bool = True) -> dict[int, int]:
        """Rebuild the (empty) stores; returns the stream times. Matches the committed input offsets.

        ``rewrite=False`` (a reader that does not own the query) never writes the changelog back.
        """
        self.settle()
        begin = self.log.beginning_offset(self.topic, 0)
        end = self.log.end_offset(self.topic, 0)
        self.identity = self._identity(begin, end)
        stream_time: dict[int, int] = {}
        offset = begin
        if self.snapshots is not None and self.identity is not None:
            max_age = int(self.log.describe_topic(self.topic).setting("delete.retention.ms")) / 1000
            snapshot = self.snapshots.load(con, self.identity, end, max_age)
            if snapshot is not None:
                offset, stream_time = max(snapshot.offset, begin), snapshot.stream_time
        migrated = False
        self.restored_records = 0
        while offset < end:
            fetched = self.log.read(self.topic, 0, offset, max_records=RESTORE_CHUNK, max_bytes=64 * 1024 * 1024)
            records = pa.Table.from_batches([fetched.records]).select(["key", "value", "headers", "offset"])
            self.restored_records += records.num_rows
            keys = records.column("key")
            old = pc.is_in(keys, pa.array(LEGACY_KEYS, pa.binary()))
            if pc.any(old).as_py():
                migrated = True
                found = self._replay_legacy(con, records, legacy)
            else:
                found = self._replay(con, records)
            if found is not None:
                stream_time = found
            offset = fetched.next_offset
        if rewrite and (self.identity is None or migrated):
            self._rewrite(con, stream_time, migrated)
        # A replayed tail is not in the snapshot yet: the next one (periodic or on stop) takes it.
        self._since_snapshot = self.restored_records
        self._last_snapshot = time.monotonic()
        return stream_time

    def _identity(self, begin: int, end: int) -> str | None:
        """The changelog's first record identifies it (``meta|created``; a hash for an old changelog)."""
        if begin >= end:
            return None
        first = self.log.read(self.topic, 0, begin, max_records=1).records.slice(0, 1).to_pylist()[0]
        if first["key"] == META_CREATED:
            return bytes(first["value"]).decode()
        digest = hashlib.sha256(first["key"] or b"")
        digest.update(first["value"] or b"")
        digest.update(str((first["offset"], first["timestamp"])).encode())
        return "legacy-" + digest.hexdigest()

    def _replay(self, con: duckdb.DuckDBPyConnection, records: pa.Table) -> dict[int, int] | None:
        keys = records.column("key")
        resets = pc.indices_nonzero(pc.equal(keys, pa.scalar(META_RESET, pa.binary()))).to_pylist()
        if resets:  # everything before the last reset is void
            for store in self.stores:
                store.create(con)
            records = records.slice(resets[-1] + 1)
        for store in self.stores:
            store.restore(con, records)
        times = records.filter(pc.equal(records.column("key"), pa.scalar(META_STREAM_TIME, pa.binary())))
        if not times.num_rows:
            return None
        return {int(k): int(v) for k, v in orjson.loads(times.column("value")[-1].as_py()).items()}

    def _replay_legacy(self, con: duckdb.DuckDBPyConnection, records: pa.Table,
                       legacy: LegacyApply) -> dict[int, int] | None:
        """A chunk with old-format records: applied one by one, in order (keyed ones in runs)."""
        stream_time = None
        run_start = 0
        rows = records.select(["key", "value", "headers"]).to_pylist()
        for i, row in enumerate(rows + [None]):
            if row is not None and row["key"] not in LEGACY_KEYS:
                continue
            if i > run_start:
                found = self._replay(con, records.slice(run_start, i - run_start))
                stream_time = found or stream_time
            run_start = i + 1
            if row is not None:
                headers = {h["key"]: h["value"] for h in row["headers"] or []}
                found = legacy(con, row["key"], row["value"], headers)
                stream_time = found or stream_time
        return stream_time

    def _rewrite(self, con: duckdb.DuckDBPyConnection, stream_time: dict[int, int], migrated: bool) -> None:
        """A new changelog gets its identity; an old-format one, the whole state in the keyed format."""
        if migrated:
            records = [self._meta(META_RESET, b"")]
            for store in self.stores:
                if store.defined(con):
                    every = con.sql(f"SELECT {', '.join(store.keys)} FROM {store.name}").to_arrow_table()
                    found = store.changes(con, every)
                    if found is not None:
                        records.append(found)
            records.append(self.stream_time_record(stream_time))
            self.log.transact([(self.topic, 0, pa.concat_tables(records))], transactional_id=f"{self.topic}-migrate")
            logger.warning("changelog %s was in the old format (Arrow IPC chunks): its state was rebuilt and "
                           "written again keyed by state row; it is not compacted (its topic was made before), "
                           "so restarts rely on the local snapshot", self.topic)
            self.snapshot(con, stream_time, background=False)
            return
        if self.log.end_offset(self.topic, 0) == self.log.beginning_offset(self.topic, 0):
            self.identity = uuid.uuid4().hex
            self.log.append(self.topic, 0, self._meta(META_CREATED, self.identity.encode()))

    # -- per batch ------------------------------------------------------------------------------
    def records(self, con: duckdb.DuckDBPyConnection, touched: Sequence[pa.Table | None],
                rows: Sequence[pa.Table | None], stream_time: dict[int, int]) -> pa.Table:
        """A batch's changelog records: one per touched key of each store, then the stream times.

        ``rows[i]``, when not None, are store i's rows of its touched keys (see ``KeyedStore.changes``).
        """
        parts = [found for store, keys, held in zip(self.stores, touched, rows, strict=True)
                 if (found := store.changes(con, keys, held)) is not None]
        parts.append(self.stream_time_record(stream_time))
        table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        self._since_snapshot += table.num_rows
        return table

    def stream_time_record(self, stream_time: dict[int, int]) -> pa.Table:
        return self._meta(META_STREAM_TIME, orjson.dumps({str(k): v for k, v in stream_time.items()}))

    @staticmethod
    def _meta(key: bytes, value: bytes) -> pa.Table:
        return pa.table({"key": pa.array([key], pa.binary()), "value": pa.array([value], pa.binary())})

    # -- snapshots ------------------------------------------------------------------------------
    def snapshot_due(self) -> bool:
        if self.snapshots is None or self.snapshots.busy() or not self._since_snapshot:
            return False
        elapsed = time.monotonic() - self._last_snapshot
        return elapsed >= SNAPSHOT_INTERVAL_S or (elapsed >= SNAPSHOT_MIN_INTERVAL_S
                                                  and self._since_snapshot >= SNAPSHOT_CHANGES)

    def snapshot(self, con: duckdb.DuckDBPyConnection, stream_time: dict[int, int], background: bool = True) -> None:
        """Snapshot the stores now; the caller guarantees every changelog record of their state is committed."""
        if self.snapshots is None or self.identity is None:
            return
        self.snapshots.wait()
        self.snapshots.write(con, self.log.end_offset(self.topic, 0), self.identity, dict(stream_time), background)
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()

    def pending_changes(self) -> int:
        return self._since_snapshot


def snapshot_directory(log: Log, query_id: str) -> str | None:
    """Where a query's snapshots live: ``state/<query id>`` in the embedded log's directory."""
    root = getattr(log, "root", None)
    if not isinstance(root, str):
        return None
    return os.path.join(root, "state", query_id)


class ReadGate:
    """Readers (pull queries) wait while the state restores; a restore waits for readers to leave."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ready = False
        self._readers = 0

    @property
    def ready(self) -> bool:
        return self._ready

    def close(self) -> None:
        """Start a restore: new readers wait; returns once the current ones are done."""
        with self._cond:
            self._ready = False
            while self._readers:
                self._cond.wait()

    def open(self) -> None:
        with self._cond:
            self._ready = True
            self._cond.notify_all()

    def enter(self, timeout_s: float) -> bool:
        with self._cond:
            if not self._cond.wait_for(lambda: self._ready, timeout_s):
                return False
            self._readers += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._readers -= 1
            self._cond.notify_all()
