"""The embedded log: one data directory, shared safely by several processes.

Layout::

    <root>/meta.db                          SQLite (WAL): topics, partitions, batch index, group offsets
    <root>/meta.lock                        flock held while opening (and, if need be, rebuilding) meta.db
    <root>/topics/<name>-<id>/topic.json    the topic's partitions and config (to rebuild meta.db)
    <root>/topics/<name>-<id>/<p>/*.log     segment files of framed Arrow batches (see segment.py)
    <root>/topics/<name>-<id>/<p>/append.lock   flock held by the one appender of the partition
    <root>/topics/<name>-<id>/<p>/notify        touched after each append; readers wait on it
    <root>/services/<hash>.lock             flock of the process running a service's queries (ownership.py)

An append, holding the partition's flock: writes the frame at the committed
end of the active segment, fdatasyncs it, then commits the index row and the
partition's next offset in one SQLite transaction. Only then does it return,
so an acknowledged append survives ``kill -9`` and a power cut (metadb.py
says which commits are fsynced and why the others need not be). A writer
killed between its fsync and its commit leaves an unindexed tail: the next
appender (or the next open) recovers the complete frames and truncates a torn
one (recovery.py). A write that fails (disk full, I/O error) is cut back off
before the error is raised (LogFullError, LogUnavailableError: diskio.py), so
nothing unacknowledged is ever indexed.

Damage stays local (damage.py); a missing or damaged meta.db is rebuilt from
the segment files on open (rebuild.py). Partitions not being written hold no
file descriptor (an LRU of appenders), and a topic has at most
``max_partitions`` partitions.

Readers never lock: they look up the index and read frames through memory maps,
checking both CRCs of every frame. Retention deletes and compaction rewrites
whole closed segments (new files, then an index swap in one transaction), so
they never stop readers or writers.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import (
    CorruptLogError,
    InvalidRecordError,
    InvalidTopicConfigError,
    LogClosedError,
    OffsetOutOfRangeError,
    ProducerFencedError,
    RecordTooLargeError,
    TopicExistsError,
    UnknownTopicError,
)
from headwater.log import epochs, notify
from headwater.log.cleaner import LogAccess, clean_partition
from headwater.log.ownership import ServiceLock
from headwater.log.base import (
    RECORD_SCHEMA,
    AppendResult,
    Fetched,
    Log,
    Record,
    ServiceClaim,
    TopicInfo,
    TopicPartition,
    check_partition,
    record_sizes,
    to_append_table,
    validate_topic_config,
    validate_topic_name,
)
from headwater.log.damage import DamageRegistry
from headwater.log.diskio import Appender, OpenFiles, disk_error, fsync_path, write_all
from headwater.log.metadb import BatchRow, MetaDb, TopicRow, now_ms
from headwater.log.rebuild import write_topic_file
from headwater.log.recovery import Recovery
from headwater.log.segment import TRANSACTIONAL, SegmentReader, encode_frame, segment_name

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL,
    config TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    log_start INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    base_offset INTEGER NOT NULL,
    last_offset INTEGER NOT NULL,
    count INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    segment TEXT NOT NULL,
    position INTEGER NOT NULL,
    size INTEGER NOT NULL,
    appended_ms INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition, base_offset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batches_by_segment ON batches (topic_id, partition, segment);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    committed_ms INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition)
) WITHOUT ROWID;
"""

_MAX_OPEN_SEGMENTS = 256
#: Partitions whose append lock and segment stay open; past it the least recently written are closed.
_MAX_OPEN_APPENDERS = 128
#: Default bound on a topic's partition count (``max_partitions``, HEADWATER_LOG_MAX_PARTITIONS).
DEFAULT_MAX_PARTITIONS = 1024


# The index's row types, under the names this module has always used.
_Topic = TopicRow
_BatchRow = BatchRow
_now_ms = now_ms


class EmbeddedLog(Log):
    """The log in one directory on local disk. See the module docstring for the layout."""

    def __init__(
        self, path: str, *, cleaner_interval_s: float | None = None, max_partitions: int | None = None
    ) -> None:
        super().__init__()
        self.url = path
        self.root = os.path.abspath(path)
        #: The most partitions a topic may have (fds are bounded by an LRU, but each partition costs work).
        self.max_partitions = max_partitions or int(
            os.environ.get("HEADWATER_LOG_MAX_PARTITIONS", DEFAULT_MAX_PARTITIONS)
        )
        os.makedirs(os.path.join(self.root, "topics"), exist_ok=True)
        self._appenders: OpenFiles[tuple[int, int], Appender] = OpenFiles(_MAX_OPEN_APPENDERS, Appender.close)
        self._segments: OrderedDict[str, SegmentReader] = OrderedDict()
        self._segments_lock = threading.Lock()
        self._damage = DamageRegistry()
        #: Damage found in stored data: (topic, partition) -> what is wrong. Only the damaged offsets
        #: refuse reads (CorruptLogError with the range); the rest of the partition stays usable.
        self.problems: dict[tuple[str, int], str] = self._damage.problems
        self._meta = MetaDb(self.root, _SCHEMA + ";" + epochs.SCHEMA)
        self._recovery = Recovery(self._meta, self._damage, self._partition_dir)
        self._cleaner_access = LogAccess(self._partition_dir, self._query, self._write_tx, self._load)
        self._writers = epochs.Writers(self.init_transactions)
        self._open_check()
        self._cleaner_stop = threading.Event()
        self._cleaner: threading.Thread | None = None
        if cleaner_interval_s:
            self._cleaner = threading.Thread(
                target=self._clean_loop, args=(cleaner_interval_s,), name="headwater-log-cleaner", daemon=True
            )
            self._cleaner.start()

    # -- SQLite helpers ------------------------------------------------------
    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._meta.query(sql, args)

    def _write_tx(
        self, what: str = "updating the index", *, from_frames: bool = False
    ) -> AbstractContextManager[sqlite3.Connection]:
        return self._meta.write_tx(what, from_frames=from_frames)

    def _topic(self, name: str) -> _Topic:
        rows = self._query("SELECT id, partitions, config FROM topics WHERE name = ?", (name,))
        if not rows:
            raise UnknownTopicError(name)
        topic_id, partitions, config = rows[0]
        return _Topic(topic_id, name, partitions, orjson.loads(config))

    def _partition_dir(self, topic: _Topic, partition: int) -> str:
        return os.path.join(self.root, "topics", f"{topic.name}-{topic.id}", str(partition))

    def _bounds(self, topic: _Topic, partition: int) -> tuple[int, int]:
        rows = self._query(
            "SELECT log_start, next_offset FROM partitions WHERE topic_id = ? AND partition = ?",
            (topic.id, partition),
        )
        if not rows:
            raise UnknownTopicError(topic.name)
        return rows[0][0], rows[0][1]

    def _check_usable(self, topic: _Topic, partition: int) -> None:
        check_partition(topic.name, partition, topic.partitions)

    # -- topics ---------------------------------------------------------------
    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        config: Mapping[str, str] | None = None,
        *,
        exist_ok: bool = False,
    ) -> TopicInfo:
        validate_topic_name(name)
        clean = validate_topic_config(name, partitions, config)
        if partitions > self.max_partitions:
            raise InvalidTopicConfigError(
                f"log: topic {name!r}: {partitions} partitions is more than this log allows per topic "
                f"({self.max_partitions}; set HEADWATER_LOG_MAX_PARTITIONS to change it)"
            )
        created_ms = _now_ms()
        with self._write_tx(f"creating topic {name!r}") as db:
            if db.execute("SELECT 1 FROM topics WHERE name = ?", (name,)).fetchone():
                if exist_ok:
                    return self.describe_topic(name)
                raise TopicExistsError(name)
            cursor = db.execute(
                "INSERT INTO topics (name, partitions, config, created_ms) VALUES (?, ?, ?, ?)",
                (name, partitions, orjson.dumps(clean).decode(), created_ms),
            )
            topic_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO partitions (topic_id, partition, log_start, next_offset) VALUES (?, ?, 0, 0)",
                [(topic_id, p) for p in range(partitions)],
            )
            topic = _Topic(topic_id, name, partitions, clean)
            try:
                # Inside the transaction: a topic whose definition file cannot be written is not created.
                write_topic_file(os.path.dirname(self._partition_dir(topic, 0)), name, partitions, clean, created_ms)
                for p in range(partitions):
                    os.makedirs(self._partition_dir(topic, p), exist_ok=True)
            except OSError as exc:
                raise disk_error(exc, f"creating topic {name!r}") from exc
        return topic.info()

    def delete_topic(self, name: str) -> None:
        topic = self._topic(name)
        with self._write_tx() as db:
            db.execute("DELETE FROM topics WHERE id = ?", (topic.id,))
            db.execute("DELETE FROM partitions WHERE topic_id = ?", (topic.id,))
            db.execute("DELETE FROM batches WHERE topic_id = ?", (topic.id,))
            db.execute("DELETE FROM group_offsets WHERE topic = ?", (name,))
        for p in range(topic.partitions):
            self._appenders.discard((topic.id, p))
        self._damage.forget_topic(topic.id, name)
        directory = os.path.join(self.root, "topics", f"{topic.name}-{topic.id}")
        # Wake waiting readers (their notify file goes away) so they see the topic is gone.
        shutil.rmtree(directory, ignore_errors=True)

    def list_topics(self) -> list[str]:
        return [row[0] for row in self._query("SELECT name FROM topics ORDER BY name")]

    def describe_topic(self, name: str) -> TopicInfo:
        return self._topic(name).info()

    # -- appending --------------------------------------------------------------
    def _acquire_appender(self, topic: _Topic, partition: int) -> Appender:
        """The partition's appender, pinned open until :meth:`_release_appender`."""
        directory = self._partition_dir(topic, partition)
        try:
            return self._appenders.acquire((topic.id, partition), lambda: Appender(directory))
        except OSError as exc:
            raise disk_error(exc, f"opening {topic.name}[{partition}] for appending") from exc

    def _release_appender(self, topic: _Topic, partition: int) -> None:
        self._appenders.release((topic.id, partition))

    def append(
        self,
        topic: str,
        partition: int,
        records: pa.RecordBatch | pa.Table | Sequence[Record],
    ) -> AppendResult:
        return self._append_many([(topic, partition, records)], None, flags=0)[0]

    def transact(
        self,
        appends: Sequence[tuple[str, int, pa.RecordBatch | pa.Table | Sequence[Record]]],
        *,
        group: str | None = None,
        offsets: Mapping[TopicPartition, int] | None = None,
        transactional_id: str = "",
    ) -> list[AppendResult]:
        commit = (group, offsets) if group is not None and offsets else None
        # An anonymous transaction (no id) is atomic but fences nothing; see epochs.py for the others.
        writer = (transactional_id, self._writers.epoch(transactional_id)) if transactional_id else None
        try:
            if writer is not None:  # a known zombie writes no frame; the check that counts is in the commit
                epochs.check(self._query, *writer)
            return self._append_many(appends, commit, flags=TRANSACTIONAL, writer=writer)
        except ProducerFencedError as exc:
            self._writers.fence(exc)
            raise

    def init_transactions(self, transactional_id: str) -> None:
        with self._write_tx() as db:
            self._writers.started(transactional_id, epochs.bump(db, transactional_id))

    def claim_service(self, service_id: str, *, take_over: bool = False) -> ServiceClaim | None:
        return ServiceLock(self.root, service_id, take_over=take_over)

    def _append_many(
        self,
        appends: Sequence[tuple[str, int, pa.RecordBatch | pa.Table | Sequence[Record]]],
        commit: tuple[str, Mapping[TopicPartition, int]] | None,
        *,
        flags: int,
        writer: tuple[str, int] | None = None,
    ) -> list[AppendResult]:
        """Write every part's frame (fsynced), then index them and the offsets in one commit (checking ``writer``)."""
        now = _now_ms()
        parts: dict[tuple[str, int], tuple[_Topic, list[pa.Table]]] = {}
        for topic, partition, records in appends:
            info = self._topic(topic)
            self._check_usable(info, partition)
            parts.setdefault((topic, partition), (info, []))[1].append(to_append_table(records))
        prepared = []
        for (topic, partition), (info, tables) in parts.items():
            table = pa.concat_tables(tables).combine_chunks() if len(tables) > 1 else tables[0].combine_chunks()
            self._validate_records(info, partition, table)
            prepared.append((info, partition, table))
        if commit is not None:
            for tp in commit[1]:
                check_partition(tp.topic, tp.partition, self._topic(tp.topic).partitions)
        # Lock in one global order so concurrent transactions cannot deadlock.
        prepared.sort(key=lambda item: (item[0].id, item[1]))
        names = ", ".join(f"{info.name}[{partition}]" for info, partition, _ in prepared)
        appenders: list[Appender] = []
        results: list[AppendResult] = []
        rows: list[tuple[Any, ...]] = []
        locked: list[Appender] = []
        #: (appender, position) of every frame being written: cut back off unless the commit lands.
        written: list[tuple[Appender, int]] = []
        committed = False
        try:
            for info, partition, _ in prepared:
                appenders.append(self._acquire_appender(info, partition))
            for appender in appenders:
                appender.lock.acquire()
                locked.append(appender)
                fcntl.flock(appender.lock_fd, fcntl.LOCK_EX)
            for (info, partition, table), appender in zip(prepared, appenders, strict=True):
                result, row = self._write_frame(info, partition, table, appender, now, flags, written)
                results.append(result)
                if row is not None:
                    rows.append(row)
            # A plain append's index rows are re-derivable from its frames (recovery);
            # a transaction's and an offset commit's are not.
            with self._write_tx(f"appending to {names}", from_frames=commit is None and not flags) as db:
                if writer is not None:
                    epochs.check(lambda sql, args: db.execute(sql, args).fetchall(), *writer)
                for row in rows:
                    moved = db.execute(
                        "UPDATE partitions SET next_offset = ? WHERE topic_id = ? AND partition = ? AND next_offset = ?",
                        (row[3] + 1, row[0], row[1], row[2]),
                    ).rowcount
                    if moved != 1:
                        raise UnknownTopicError(next(i.name for i, _, _ in prepared if i.id == row[0]))
                    db.execute("INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                if commit is not None:
                    self._commit_offsets(db, commit[0], commit[1], now)
            committed = True
        except OSError as exc:
            raise disk_error(exc, f"appending to {names}") from exc
        finally:
            if not committed:
                for appender, position in written:
                    appender.cut_back(position)
            for appender in reversed(locked):
                fcntl.flock(appender.lock_fd, fcntl.LOCK_UN)
                appender.lock.release()
            for info, partition, _ in prepared[: len(appenders)]:
                self._release_appender(info, partition)
        for appender, result in zip(appenders, results, strict=True):
            if result.count:
                notify.touch(os.path.join(appender.directory, "notify"))
        order = {(r.topic, r.partition): r for r in results}
        return [order[key] for key in parts]

    def _write_frame(
        self,
        info: _Topic,
        partition: int,
        table: pa.Table,
        appender: Appender,
        now: int,
        flags: int,
        written: list[tuple[Appender, int]],
    ) -> tuple[AppendResult, tuple[Any, ...] | None]:
        """Write one frame at the end of the partition (flock held) and fsync it; return its index row.

        Notes the frame's position in ``written`` before writing, so a failure
        at any byte lets the caller cut the frame back off.
        """
        self._recovery.recover_tail(info, partition, appender)
        base = self._bounds(info, partition)[1]
        n = table.num_rows
        if n == 0:
            return AppendResult(info.name, partition, base, 0), None
        if info.setting("message.timestamp.type") == "LogAppendTime":
            timestamps = pa.array(np.full(n, now, dtype=np.int64))
        else:
            timestamps = pc.fill_null(table.column("timestamp"), now).combine_chunks()
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array(np.arange(base, base + n, dtype=np.int64)),
                timestamps,
                table.column("key").combine_chunks(),
                table.column("value").combine_chunks(),
                table.column("headers").combine_chunks(),
            ],
            schema=RECORD_SCHEMA,
        )
        header, chunks = encode_frame(batch, flags)
        segment, position = self._segment_for_append(info, partition, header.size, now)
        fd, created = appender.open_segment(segment)
        written.append((appender, position))
        write_all(fd, chunks, position)
        os.fdatasync(fd)
        if created:
            fsync_path(appender.directory)
        row = (info.id, partition, base, header.last_offset, n, header.max_timestamp, segment, position, header.size, now)
        return AppendResult(info.name, partition, base, n), row

    def _validate_records(self, topic: _Topic, partition: int, table: pa.Table) -> None:
        keys = table.column("key")
        sizes = record_sizes(keys, table.column("value"), table.column("headers"))
        limit = int(topic.setting("max.message.bytes"))
        over = np.nonzero(sizes > limit)[0]
        if len(over):
            raise RecordTooLargeError(topic.name, partition, int(over[0]), int(sizes[over[0]]), limit)
        if "compact" in topic.setting("cleanup.policy") and keys.null_count:
            index = int(np.nonzero(np.asarray(keys.is_null().combine_chunks(), dtype=bool))[0][0])
            raise InvalidRecordError(
                f"log: record {index} of the batch for {topic.name}[{partition}] has a null key; "
                "a compacted topic needs a key on every record"
            )

    def _segment_for_append(self, topic: _Topic, partition: int, frame_size: int, now: int) -> tuple[str, int]:
        """The segment to write to and the position there: the active one, or a new one (roll)."""
        rows = self._query(
            "SELECT segment, position + size, base_offset FROM batches WHERE topic_id = ? AND partition = ? "
            "ORDER BY base_offset DESC LIMIT 1",
            (topic.id, partition),
        )
        next_offset = self._bounds(topic, partition)[1]
        if not rows:
            return segment_name(next_offset), 0
        segment, end, _ = rows[0]
        if self._damage.segment_damaged(topic.id, partition, segment):
            return segment_name(next_offset), 0  # never write after damaged bytes: start afresh
        first = self._query(
            "SELECT MIN(appended_ms) FROM batches WHERE topic_id = ? AND partition = ? AND segment = ?",
            (topic.id, partition, segment),
        )[0][0]
        if end + frame_size > int(topic.setting("segment.bytes")) or now - first >= int(topic.setting("segment.ms")):
            return segment_name(next_offset), 0
        return segment, end

    # -- reading ----------------------------------------------------------------
    def _segment_reader(self, directory: str, segment: str) -> SegmentReader:
        path = os.path.join(directory, segment)
        with self._segments_lock:
            reader = self._segments.get(path)
            if reader is None:
                reader = self._segments[path] = SegmentReader(path)
                if len(self._segments) > _MAX_OPEN_SEGMENTS:
                    self._segments.popitem(last=False)
            else:
                self._segments.move_to_end(path)
            return reader

    def _batch_rows(self, topic: _Topic, partition: int, offset: int, limit: int) -> list[_BatchRow]:
        """Index rows of the batches holding offsets >= ``offset``, in order."""
        first = self._query(
            "SELECT base_offset, last_offset FROM batches WHERE topic_id = ? AND partition = ? "
            "AND base_offset <= ? ORDER BY base_offset DESC LIMIT 1",
            (topic.id, partition, offset),
        )
        from_base = first[0][0] if first and first[0][1] >= offset else offset
        rows = self._query(
            "SELECT base_offset, last_offset, count, max_ts, segment, position, size FROM batches "
            "WHERE topic_id = ? AND partition = ? AND base_offset >= ? ORDER BY base_offset LIMIT ?",
            (topic.id, partition, from_base, limit),
        )
        return [_BatchRow(*row) for row in rows]

    def _load(self, topic: _Topic, partition: int, row: _BatchRow) -> pa.RecordBatch:
        """The stored batch of ``row``; CorruptLogError naming the damaged offsets if it cannot be read.

        FileNotFoundError means the segment was replaced (compaction, retention)
        after the index lookup: the caller looks again.
        """
        damage = self._damage.find(topic.id, partition, row.base_offset)
        if damage is not None:
            raise damage.error()
        where = f"{topic.name}[{partition}] batch at offset {row.base_offset}"
        directory = self._partition_dir(topic, partition)
        try:
            return self._segment_reader(directory, row.segment).frame(row.position, row.size, where)
        except CorruptLogError as exc:
            try:
                size: int | None = os.path.getsize(os.path.join(directory, row.segment))
            except FileNotFoundError:
                size = None
            if size is not None and size >= row.position + row.size:
                damage = self._recovery.mark_batch(topic, partition, row, "its stored bytes fail their checksum")
                raise damage.error() from exc
            self._recovery.mark_damaged(topic, partition, row.segment, size)
        except FileNotFoundError:
            still = self._query(
                "SELECT 1 FROM batches WHERE topic_id = ? AND partition = ? AND base_offset = ? AND segment = ?",
                (topic.id, partition, row.base_offset, row.segment),
            )
            if not still:
                raise
            self._recovery.mark_damaged(topic, partition, row.segment, None)
        damage = self._damage.find(topic.id, partition, row.base_offset)
        if damage is None:  # the index changed under us: the caller looks again
            raise FileNotFoundError(row.segment)
        raise damage.error()

    def read(
        self,
        topic: str,
        partition: int,
        offset: int,
        *,
        max_records: int = 10_000,
        max_bytes: int = 8 * 1024 * 1024,
        timeout_s: float = 0.0,
    ) -> Fetched:
        info = self._topic(topic)
        self._check_usable(info, partition)
        start, end = self._bounds(info, partition)
        if offset < start or offset > end:
            raise OffsetOutOfRangeError(topic, partition, offset, start, end)
        if offset == end and timeout_s > 0:
            notify_path = os.path.join(self._partition_dir(info, partition), "notify")
            notify.wait_for_change([notify_path], lambda: self._bounds(info, partition)[1] > offset, timeout_s)
            start, end = self._bounds(info, partition)
        if offset >= end:
            return Fetched(topic, partition, _empty_batch(), offset, end)
        for attempt in range(3):
            try:
                return self._read_available(info, partition, offset, end, max_records, max_bytes)
            except FileNotFoundError:
                # Compaction or retention replaced the segment between lookup and open: look again.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _batches_from(self, topic: _Topic, partition: int, offset: int) -> Iterator[tuple[_BatchRow, pa.RecordBatch]]:
        """Stored batches from ``offset`` on, the first one sliced to start there."""
        while True:
            rows = self._batch_rows(topic, partition, offset, 16)
            if not rows:
                return
            for row in rows:
                batch = self._load(topic, partition, row)
                if row.base_offset < offset:
                    batch = batch.slice(int(np.searchsorted(batch.column(0).to_numpy(), offset)))
                yield row, batch
                offset = row.last_offset + 1

    def _read_available(
        self, topic: _Topic, partition: int, offset: int, end: int, max_records: int, max_bytes: int
    ) -> Fetched:
        parts: list[pa.RecordBatch] = []
        records = size = 0
        next_offset = offset
        try:
            for row, batch in self._batches_from(topic, partition, offset):
                take = min(batch.num_rows, max_records - records)
                cost = row.size * take // row.count
                if parts and size + cost > max_bytes:
                    break  # the first batch is returned whole even past max_bytes, as Kafka does
                batch = batch.slice(0, take)
                parts.append(batch)
                records += take
                size += cost
                next_offset = batch.column(0)[-1].as_py() + 1
                if records >= max_records or size >= max_bytes:
                    break
        except CorruptLogError:
            if not parts:
                raise
            # Hand out the intact records before the damage; the next read reports it.
        if not parts:
            # No batch holds an offset in [offset, end): deleted (damage accepted) offsets; step over them.
            combined, next_offset = _empty_batch(), end
        else:
            combined = parts[0] if len(parts) == 1 else pa.concat_batches(parts)
        return Fetched(topic.name, partition, combined, next_offset, end)

    def _wait_any(self, positions: Mapping[TopicPartition, int], timeout_s: float) -> bool:
        topics = {tp.topic: self._topic(tp.topic) for tp in positions}
        paths = [os.path.join(self._partition_dir(topics[tp.topic], tp.partition), "notify") for tp in positions]

        def ready() -> bool:
            return any(self._bounds(topics[tp.topic], tp.partition)[1] > offset for tp, offset in positions.items())

        return notify.wait_for_change(paths, ready, timeout_s)

    def beginning_offset(self, topic: str, partition: int) -> int:
        info = self._topic(topic)
        check_partition(topic, partition, info.partitions)
        return self._bounds(info, partition)[0]

    def end_offset(self, topic: str, partition: int) -> int:
        info = self._topic(topic)
        check_partition(topic, partition, info.partitions)
        return self._bounds(info, partition)[1]

    def delete_damaged(self, topic: str, partition: int) -> list[tuple[int, int]]:
        """Accept the loss of a partition's damaged offsets: drop them from the index; returns the ranges.

        Readers then see a gap there (as after Kafka's delete-records), the
        partition leaves ``problems`` and the cleaner works on it again.
        """
        info = self._topic(topic)
        check_partition(topic, partition, info.partitions)
        damaged = self._damage.take(info.id, topic, partition)
        with self._write_tx(f"deleting damaged offsets of {topic}[{partition}]") as db:
            for damage in damaged:
                db.execute(
                    "DELETE FROM batches WHERE topic_id = ? AND partition = ? AND base_offset BETWEEN ? AND ?",
                    (info.id, partition, damage.first, damage.last),
                )
        for damage in damaged:
            logger.warning("log: deleted the damaged offsets %d..%d of %s[%d] (%s)",
                           damage.first, damage.last, topic, partition, damage.reason)
        return [(damage.first, damage.last) for damage in damaged]

    def offset_for_time(self, topic: str, partition: int, timestamp_ms: int) -> int | None:
        info = self._topic(topic)
        self._check_usable(info, partition)
        rows = self._query(
            "SELECT base_offset, last_offset, count, max_ts, segment, position, size FROM batches "
            "WHERE topic_id = ? AND partition = ? AND max_ts >= ? ORDER BY base_offset LIMIT 1",
            (info.id, partition, timestamp_ms),
        )
        if not rows:
            return None
        batch = self._load(info, partition, _BatchRow(*rows[0]))
        hits = np.nonzero(batch.column(1).to_numpy() >= timestamp_ms)[0]
        return int(batch.column(0)[int(hits[0])].as_py())

    # -- consumer groups ------------------------------------------------------------
    def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        for tp in offsets:
            check_partition(tp.topic, tp.partition, self._topic(tp.topic).partitions)
        with self._write_tx() as db:
            self._commit_offsets(db, group, offsets, _now_ms())

    @staticmethod
    def _commit_offsets(db: sqlite3.Connection, group: str, offsets: Mapping[TopicPartition, int], now: int) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO group_offsets VALUES (?, ?, ?, ?, ?)",
            [(group, tp.topic, tp.partition, int(offset), now) for tp, offset in offsets.items()],
        )

    def committed(self, group: str, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        out: dict[TopicPartition, int | None] = {}
        for tp in partitions:
            rows = self._query(
                "SELECT next_offset FROM group_offsets WHERE grp = ? AND topic = ? AND partition = ?",
                (group, tp.topic, tp.partition),
            )
            out[TopicPartition(tp.topic, tp.partition)] = rows[0][0] if rows else None
        return out

    def list_groups(self) -> list[str]:
        return [row[0] for row in self._query("SELECT DISTINCT grp FROM group_offsets ORDER BY grp")]

    def delete_group(self, group: str) -> None:
        with self._write_tx() as db:
            db.execute("DELETE FROM group_offsets WHERE grp = ?", (group,))

    # -- maintenance -----------------------------------------------------------------
    def _open_check(self) -> None:
        """Check every partition's files against the index; recover unindexed tails.

        A missing segment, one shorter than the index says, or one whose last
        indexed frame fails its checksums is noted in ``problems``, with the
        offsets it makes unreadable; the rest of the partition stays usable.
        """
        for topic_id, name, partitions, config in self._query("SELECT id, name, partitions, config FROM topics"):
            topic = _Topic(topic_id, name, partitions, orjson.loads(config))
            for p in range(partitions):
                self._recovery.verify_partition(topic, p)
                appender = self._acquire_appender(topic, p)
                try:
                    with appender.lock:
                        try:
                            fcntl.flock(appender.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        except BlockingIOError:
                            continue  # a live writer holds it and recovers the tail itself
                        try:
                            self._recovery.recover_tail(topic, p, appender)
                        finally:
                            fcntl.flock(appender.lock_fd, fcntl.LOCK_UN)
                finally:
                    self._release_appender(topic, p)

    def run_cleaner(self) -> None:
        for topic_id, name, partitions, config in self._query("SELECT id, name, partitions, config FROM topics"):
            topic = _Topic(topic_id, name, partitions, orjson.loads(config))
            for p in range(partitions):
                damaged = self._damage.partition_damaged(topic_id, p)
                clean_partition(self._cleaner_access, topic, p, compact=not damaged)  # never rewrite damaged files
                if damaged:
                    self._damage.trim(topic_id, name, p, self._bounds(topic, p)[0])

    def _clean_loop(self, interval_s: float) -> None:
        while not self._cleaner_stop.wait(interval_s):
            try:
                self.run_cleaner()
            except LogClosedError:
                return
            except Exception:  # keep cleaning later; never kill the process for it
                logger.exception("log: cleaner pass failed")

    def close(self) -> None:
        if self._meta.closed:
            return
        self._cleaner_stop.set()
        if self._cleaner is not None:
            self._cleaner.join(timeout=5)
        self._appenders.clear()
        self._meta.close()


def _empty_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=RECORD_SCHEMA)

