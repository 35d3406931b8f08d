"""The embedded log: one data directory, shared safely by several processes.

Layout::

    <root>/meta.db                          SQLite (WAL): topics, partitions, batch index, group offsets
    <root>/topics/<name>-<id>/<p>/*.log     segment files of framed Arrow batches (see segment.py)
    <root>/topics/<name>-<id>/<p>/append.lock   flock held by the one appender of the partition
    <root>/topics/<name>-<id>/<p>/notify        touched after each append; readers wait on it
    <root>/services/<hash>.lock             flock of the process running a service's queries (ownership.py)

An append, holding the partition's flock: writes the frame at the committed
end of the active segment, fdatasyncs it, then commits the index row and the
partition's next offset in one SQLite transaction. Only then does it return,
so an acknowledged append survives ``kill -9``. A writer killed between its
fsync and its commit leaves an unindexed tail: the next appender (or the next
open) recovers the complete frames and truncates a torn one.

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
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import (
    CorruptLogError,
    InvalidRecordError,
    LogClosedError,
    OffsetOutOfRangeError,
    ProducerFencedError,
    RecordTooLargeError,
    TopicExistsError,
    UnknownTopicError,
)
from headwater.log import epochs, notify
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
from headwater.log.segment import TRANSACTIONAL, SegmentReader, encode_frame, scan_tail

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


@dataclass(frozen=True)
class _Topic:
    id: int
    name: str
    partitions: int
    config: dict[str, str]

    def info(self) -> TopicInfo:
        return TopicInfo(self.name, self.partitions, dict(self.config))

    def setting(self, key: str) -> str:
        return self.info().setting(key)


@dataclass(frozen=True)
class _BatchRow:
    base_offset: int
    last_offset: int
    count: int
    max_ts: int
    segment: str
    position: int
    size: int


class _Appender:
    """Per-partition writer state of this process: a thread lock, the flock fd, the open segment."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self.lock = threading.Lock()
        self.lock_fd = os.open(os.path.join(directory, "append.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        self.segment: str | None = None
        self.segment_fd = -1

    def open_segment(self, name: str) -> tuple[int, bool]:
        """The fd of segment ``name``, and whether the file was just created."""
        if self.segment != name:
            self.close_segment()
            path = os.path.join(self.directory, name)
            created = not os.path.exists(path)
            self.segment_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            self.segment = name
            return self.segment_fd, created
        return self.segment_fd, False

    def close_segment(self) -> None:
        if self.segment_fd >= 0:
            os.close(self.segment_fd)
        self.segment, self.segment_fd = None, -1

    def close(self) -> None:
        self.close_segment()
        os.close(self.lock_fd)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def segment_name(base_offset: int, generation: int = 0) -> str:
    return f"{base_offset:020d}.log" if generation == 0 else f"{base_offset:020d}.{generation}.log"


class EmbeddedLog(Log):
    """The log in one directory on local disk. See the module docstring for the layout."""

    def __init__(self, path: str, *, cleaner_interval_s: float | None = None) -> None:
        super().__init__()
        self.url = path
        self.root = os.path.abspath(path)
        os.makedirs(os.path.join(self.root, "topics"), exist_ok=True)
        self._db = sqlite3.connect(
            os.path.join(self.root, "meta.db"), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db_lock = threading.RLock()
        self._appenders: dict[tuple[int, int], _Appender] = {}
        self._appenders_lock = threading.Lock()
        self._segments: OrderedDict[str, SegmentReader] = OrderedDict()
        self._segments_lock = threading.Lock()
        self._closed = False
        self._writers = epochs.Writers(self.init_transactions)
        #: Partitions found damaged on open: (topic, partition) -> what is wrong. They refuse I/O.
        self.problems: dict[tuple[str, int], str] = {}
        with self._db_lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # Durability comes from the fdatasync of the segment plus tail recovery;
            # the index is re-derivable, so its commits need not be fsynced.
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._write_tx() as db:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(epochs.SCHEMA)
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
        if self._closed:
            raise LogClosedError(f"log: {self.root} is closed")
        with self._db_lock:
            return self._db.execute(sql, args).fetchall()

    @contextmanager
    def _write_tx(self) -> Iterator[sqlite3.Connection]:
        with self._db_lock:
            if self._closed:
                raise LogClosedError(f"log: {self.root} is closed")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

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
        problem = self.problems.get((topic.name, partition))
        if problem:
            raise CorruptLogError(problem)

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
        with self._write_tx() as db:
            if db.execute("SELECT 1 FROM topics WHERE name = ?", (name,)).fetchone():
                if exist_ok:
                    return self.describe_topic(name)
                raise TopicExistsError(name)
            cursor = db.execute(
                "INSERT INTO topics (name, partitions, config, created_ms) VALUES (?, ?, ?, ?)",
                (name, partitions, orjson.dumps(clean).decode(), _now_ms()),
            )
            topic_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO partitions (topic_id, partition, log_start, next_offset) VALUES (?, ?, 0, 0)",
                [(topic_id, p) for p in range(partitions)],
            )
        topic = _Topic(topic_id, name, partitions, clean)
        for p in range(partitions):
            os.makedirs(self._partition_dir(topic, p), exist_ok=True)
        return topic.info()

    def delete_topic(self, name: str) -> None:
        topic = self._topic(name)
        with self._write_tx() as db:
            db.execute("DELETE FROM topics WHERE id = ?", (topic.id,))
            db.execute("DELETE FROM partitions WHERE topic_id = ?", (topic.id,))
            db.execute("DELETE FROM batches WHERE topic_id = ?", (topic.id,))
            db.execute("DELETE FROM group_offsets WHERE topic = ?", (name,))
        with self._appenders_lock:
            for p in range(topic.partitions):
                appender = self._appenders.pop((topic.id, p), None)
                if appender:
                    appender.close()
        directory = os.path.join(self.root, "topics", f"{topic.name}-{topic.id}")
        # Wake waiting readers (their notify file goes away) so they see the topic is gone.
        shutil.rmtree(directory, ignore_errors=True)

    def list_topics(self) -> list[str]:
        return [row[0] for row in self._query("SELECT name FROM topics ORDER BY name")]

    def describe_topic(self, name: str) -> TopicInfo:
        return self._topic(name).info()

    # -- appending --------------------------------------------------------------
    def _appender(self, topic: _Topic, partition: int) -> _Appender:
        key = (topic.id, partition)
        with self._appenders_lock:
            appender = self._appenders.get(key)
            if appender is None:
                appender = self._appenders[key] = _Appender(self._partition_dir(topic, partition))
            return appender

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
        appenders = [self._appender(info, partition) for info, partition, _ in prepared]
        results: list[AppendResult] = []
        rows: list[tuple[Any, ...]] = []
        locked: list[_Appender] = []
        try:
            for appender in appenders:
                appender.lock.acquire()
                locked.append(appender)
                fcntl.flock(appender.lock_fd, fcntl.LOCK_EX)
            for (info, partition, table), appender in zip(prepared, appenders, strict=True):
                result, row = self._write_frame(info, partition, table, appender, now, flags)
                results.append(result)
                if row is not None:
                    rows.append(row)
            with self._write_tx() as db:
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
        finally:
            for appender in reversed(locked):
                fcntl.flock(appender.lock_fd, fcntl.LOCK_UN)
                appender.lock.release()
        for appender, result in zip(appenders, results, strict=True):
            if result.count:
                notify.touch(os.path.join(appender.directory, "notify"))
        order = {(r.topic, r.partition): r for r in results}
        return [order[key] for key in parts]

    def _write_frame(
        self, info: _Topic, partition: int, table: pa.Table, appender: _Appender, now: int, flags: int
    ) -> tuple[AppendResult, tuple[Any, ...] | None]:
        """Write one frame at the end of the partition (flock held) and fsync it; return its index row."""
        self._recover_tail(info, partition, appender)
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
        os.pwritev(fd, chunks, position)
        os.fdatasync(fd)
        if created:
            _fsync_dir(appender.directory)
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
        first = self._query(
            "SELECT MIN(appended_ms) FROM batches WHERE topic_id = ? AND partition = ? AND segment = ?",
            (topic.id, partition, segment),
        )[0][0]
        if end + frame_size > int(topic.setting("segment.bytes")) or now - first >= int(topic.setting("segment.ms")):
            return segment_name(next_offset), 0
        return segment, end

    def _recover_tail(self, topic: _Topic, partition: int, appender: _Appender) -> None:
        """Index complete frames a killed writer left unindexed; cut off a torn frame.

        Called with the partition's flock held. Looks at the active segment past
        its committed end, and at the segment a roll would create next.
        """
        while True:
            start, next_offset = self._bounds(topic, partition)
            rows = self._query(
                "SELECT segment, position + size FROM batches WHERE topic_id = ? AND partition = ? "
                "ORDER BY base_offset DESC LIMIT 1",
                (topic.id, partition),
            )
            candidates = [(rows[0][0], rows[0][1])] if rows else []
            candidates.append((segment_name(next_offset), 0))
            recovered = False
            for segment, end in candidates:
                path = os.path.join(appender.directory, segment)
                try:
                    size = os.path.getsize(path)
                except FileNotFoundError:
                    continue
                if size <= end:
                    continue
                fd, _ = appender.open_segment(segment)
                frames = scan_tail(fd, end, next_offset)
                if frames:
                    os.fdatasync(fd)
                    with self._write_tx() as db:
                        for position, header in frames:
                            db.execute(
                                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (topic.id, partition, header.base_offset, header.last_offset, header.count,
                                 header.max_timestamp, segment, position, header.size, _now_ms()),
                            )
                        db.execute(
                            "UPDATE partitions SET next_offset = ? WHERE topic_id = ? AND partition = ?",
                            (frames[-1][1].last_offset + 1, topic.id, partition),
                        )
                    logger.warning(
                        "log: recovered %d unindexed batch(es) of %s[%d] (offsets %d..%d) left by a killed writer",
                        len(frames), topic.name, partition, frames[0][1].base_offset, frames[-1][1].last_offset,
                    )
                    recovered = True
                    break
                logger.warning(
                    "log: cutting a torn write off %s[%d]: %s past byte %d (%d bytes)",
                    topic.name, partition, segment, end, size - end,
                )
                os.ftruncate(fd, end)
                os.fdatasync(fd)
            if not recovered:
                return

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
        where = f"{topic.name}[{partition}] batch at offset {row.base_offset}"
        directory = self._partition_dir(topic, partition)
        return self._segment_reader(directory, row.segment).frame(row.position, row.size, where)

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
        if not parts:
            combined = _empty_batch()
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

        A segment shorter than the index says, or whose last indexed frame fails
        its checksums, puts the partition in ``problems``: it then refuses reads
        and appends instead of serving damaged data.
        """
        for topic_id, name, partitions, config in self._query("SELECT id, name, partitions, config FROM topics"):
            topic = _Topic(topic_id, name, partitions, orjson.loads(config))
            for p in range(partitions):
                problem = self._verify_partition(topic, p)
                if problem:
                    self.problems[(name, p)] = problem
                    logger.error("%s", problem)
                    continue
                appender = self._appender(topic, p)
                with appender.lock:
                    try:
                        fcntl.flock(appender.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # a live writer holds it and recovers the tail itself
                    try:
                        self._recover_tail(topic, p, appender)
                    finally:
                        fcntl.flock(appender.lock_fd, fcntl.LOCK_UN)

    def _verify_partition(self, topic: _Topic, partition: int) -> str | None:
        directory = self._partition_dir(topic, partition)
        rows = self._query(
            "SELECT segment, MAX(base_offset), MAX(position + size) FROM batches "
            "WHERE topic_id = ? AND partition = ? GROUP BY segment",
            (topic.id, partition),
        )
        for segment, last_base, end in rows:
            path = os.path.join(directory, segment)
            where = f"{topic.name}[{partition}]"
            if not os.path.exists(path):
                return f"log: {where}: segment file {path} is missing (it holds offsets up to {last_base}+)"
            size = os.path.getsize(path)
            if size < end:
                return (
                    f"log: {where}: segment file {path} is truncated: {size} bytes, "
                    f"the index expects at least {end} (batches from offset {last_base} are lost)"
                )
            row = self._query(
                "SELECT base_offset, last_offset, count, max_ts, segment, position, size FROM batches "
                "WHERE topic_id = ? AND partition = ? AND base_offset = ?",
                (topic.id, partition, last_base),
            )[0]
            try:
                SegmentReader(path).frame(row[5], row[6], f"{where} batch at offset {last_base}")
            except CorruptLogError as exc:
                return str(exc)
        return None

    def run_cleaner(self) -> None:
        from headwater.log.cleaner import clean_partition

        for topic_id, name, partitions, config in self._query("SELECT id, name, partitions, config FROM topics"):
            topic = _Topic(topic_id, name, partitions, orjson.loads(config))
            for p in range(partitions):
                if (name, p) not in self.problems:
                    clean_partition(self, topic, p)

    def _clean_loop(self, interval_s: float) -> None:
        while not self._cleaner_stop.wait(interval_s):
            try:
                self.run_cleaner()
            except LogClosedError:
                return
            except Exception:  # keep cleaning later; never kill the process for it
                logger.exception("log: cleaner pass failed")

    def close(self) -> None:
        if self._closed:
            return
        self._cleaner_stop.set()
        if self._cleaner is not None:
            self._cleaner.join(timeout=5)
        with self._appenders_lock:
            for appender in self._appenders.values():
                appender.close()
            self._appenders.clear()
        with self._db_lock:
            self._closed = True
            self._db.close()


def _empty_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=RECORD_SCHEMA)


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
