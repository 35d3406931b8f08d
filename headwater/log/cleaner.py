"""Retention and compaction of the embedded log, as Kafka's log cleaner does them.

Both work on *closed* segments only (every segment but the newest, which
appenders write to), and both change the log the same way: write any new
file first, then swap the index rows in one SQLite transaction, then unlink
the old file. Readers holding an index row of a replaced segment either still
have its memory map (unlinked files stay readable) or retry the lookup, so
neither readers nor writers ever stop.

- ``delete``: a closed segment goes when its newest record is older than
  retention.ms, or, oldest first, while the partition stays above
  retention.bytes without it. The log start offset moves past it.
- ``compact``: within the closed segments only the newest record of each key
  stays; tombstones stay until delete.retention.ms has passed since their
  timestamp. Offsets are kept, so compacted batches have gaps.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.log.diskio import disk_error, write_all
from headwater.log.metadb import BatchRow, TopicRow
from headwater.log.segment import encode_frame, segment_name

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogAccess:
    """What the cleaner needs of the embedded log (which hands it over): its partition directories,
    its index (read, and written in one transaction) and its stored batches."""

    partition_dir: Callable[[TopicRow, int], str]
    query: Callable[..., list[tuple[Any, ...]]]
    write_tx: Callable[[], AbstractContextManager[sqlite3.Connection]]
    load: Callable[[TopicRow, int, BatchRow], pa.RecordBatch]


class _Segment(NamedTuple):
    name: str
    base_offset: int
    last_offset: int
    max_ts: int
    size: int


def clean_partition(log: LogAccess, topic: TopicRow, partition: int, *, compact: bool = True) -> None:
    """One cleaner pass over one partition; skipped if another process is cleaning it.

    ``compact`` False: retention only (a damaged partition is not rewritten,
    but its old segments still go, damaged ones included, so it never fills the disk).
    """
    directory = log.partition_dir(topic, partition)
    if not os.path.isdir(directory):
        return
    fd = os.open(os.path.join(directory, "clean.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        policy = topic.setting("cleanup.policy")
        now = time.time_ns() // 1_000_000
        if "delete" in policy:
            _apply_retention(log, topic, partition, now)
        if "compact" in policy and compact:
            _compact(log, topic, partition, now)
    finally:
        os.close(fd)


def _segments(log: LogAccess, topic: TopicRow, partition: int) -> list[_Segment]:
    rows = log.query(
        "SELECT segment, MIN(base_offset), MAX(last_offset), MAX(max_ts), SUM(size) FROM batches "
        "WHERE topic_id = ? AND partition = ? GROUP BY segment ORDER BY MIN(base_offset)",
        (topic.id, partition),
    )
    return [_Segment(*row) for row in rows]


def _apply_retention(log: LogAccess, topic: TopicRow, partition: int, now: int) -> None:
    segments = _segments(log, topic, partition)
    closed = segments[:-1]
    retention_ms = int(topic.setting("retention.ms"))
    retention_bytes = int(topic.setting("retention.bytes"))
    excess = sum(s.size for s in segments) - retention_bytes if retention_bytes >= 0 else -1
    doomed: list[_Segment] = []
    for segment in closed:
        expired = retention_ms >= 0 and segment.max_ts < now - retention_ms
        oversize = retention_bytes >= 0 and excess - segment.size >= 0
        if not (expired or oversize):
            break
        doomed.append(segment)
        excess -= segment.size
    if not doomed:
        return
    new_start = segments[len(doomed)].base_offset
    with log.write_tx() as db:
        for segment in doomed:
            db.execute(
                "DELETE FROM batches WHERE topic_id = ? AND partition = ? AND segment = ?",
                (topic.id, partition, segment.name),
            )
        db.execute(
            "UPDATE partitions SET log_start = MAX(log_start, ?) WHERE topic_id = ? AND partition = ?",
            (new_start, topic.id, partition),
        )
    directory = log.partition_dir(topic, partition)
    for segment in doomed:
        _unlink(os.path.join(directory, segment.name))
    logger.info(
        "log: retention removed %d segment(s) of %s[%d]; log start offset is now %d",
        len(doomed), topic.name, partition, new_start,
    )


def _compact(log: LogAccess, topic: TopicRow, partition: int, now: int) -> None:

    closed = _segments(log, topic, partition)[:-1]
    if not closed:
        return
    names = [s.name for s in closed]
    rows = [
        BatchRow(*row)
        for row in log.query(
            "SELECT base_offset, last_offset, count, max_ts, segment, position, size FROM batches "
            f"WHERE topic_id = ? AND partition = ? AND segment IN ({','.join('?' * len(names))}) "
            "ORDER BY base_offset",
            (topic.id, partition, *names),
        )
    ]
    batches = [(row, log.load(topic, partition, row)) for row in rows]
    keys = pa.Table.from_batches([b.select(["offset", "key"]) for _, b in batches])
    latest = keys.group_by("key").aggregate([("offset", "max")]).column("offset_max")
    keep_offsets = np.sort(latest.to_numpy())
    tombstone_horizon = now - int(topic.setting("delete.retention.ms"))
    directory = log.partition_dir(topic, partition)
    for segment in closed:
        seg_batches = [(row, b) for row, b in batches if row.segment == segment.name]
        kept: list[pa.RecordBatch] = []
        removed = 0
        for _, batch in seg_batches:
            offsets = batch.column(0).to_numpy()
            positions = np.searchsorted(keep_offsets, offsets)
            positions[positions >= len(keep_offsets)] = 0
            mask = keep_offsets[positions] == offsets
            expired = np.asarray(
                pc.and_(batch.column(3).is_null(), pc.less(batch.column(1), tombstone_horizon)), dtype=bool
            )
            mask &= ~expired
            removed += int((~mask).sum())
            if mask.any():
                kept.append(batch.filter(pa.array(mask)))
        if removed == 0:
            continue
        generation = _generation(segment.name) + 1
        new_name = segment_name(segment.base_offset, generation)
        new_rows = _write_segment(os.path.join(directory, new_name), kept, new_name) if kept else []
        with log.write_tx() as db:
            db.execute(
                "DELETE FROM batches WHERE topic_id = ? AND partition = ? AND segment = ?",
                (topic.id, partition, segment.name),
            )
            db.executemany(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(topic.id, partition, *row, now) for row in new_rows],
            )
        _unlink(os.path.join(directory, segment.name))
        logger.info(
            "log: compaction removed %d record(s) from %s[%d] segment %s", removed, topic.name, partition, segment.name
        )


def _write_segment(path: str, batches: list[pa.RecordBatch], name: str) -> list[tuple[Any, ...]]:
    """Write frames to a new segment file (fsynced); return their index rows (without topic/partition/time)."""
    rows = []
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        position = 0
        for batch in batches:
            header, chunks = encode_frame(batch)
            write_all(fd, chunks, position)
            rows.append(
                (header.base_offset, header.last_offset, header.count, header.max_timestamp, name, position, header.size)
            )
            position += header.size
        os.fdatasync(fd)
    except OSError as exc:
        _unlink(path)  # give the space back; the old segment stays in use
        raise disk_error(exc, f"compacting into {path}") from exc
    finally:
        os.close(fd)
    return rows


def _generation(name: str) -> int:
    parts = name.split(".")
    return int(parts[1]) if len(parts) == 3 else 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
