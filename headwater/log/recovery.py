"""Recovery of the embedded log's partitions: unindexed tails and damage found on the disk.

A writer killed between its frame's fsync and its index commit (or a power
cut that took that commit) leaves complete frames past the indexed end: they
are indexed again. A torn frame is cut off. A segment that is missing or
shorter than the index says, or a batch whose bytes fail their checksums, is
noted in the log's :class:`DamageRegistry` with the offsets it costs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from headwater.errors import CorruptLogError
from headwater.log.damage import Damage, DamageRegistry
from headwater.log.diskio import Appender
from headwater.log.metadb import BatchRow, MetaDb, TopicRow, now_ms
from headwater.log.segment import SegmentReader, scan_tail, segment_name

logger = logging.getLogger(__name__)


class Recovery:
    """Checks and repairs a partition's files against the index (the partition's flock held where noted)."""

    def __init__(self, meta: MetaDb, damage: DamageRegistry, partition_dir: Callable[[TopicRow, int], str]) -> None:
        self._meta = meta
        self._damage = damage
        self._partition_dir = partition_dir

    def _bounds(self, topic: TopicRow, partition: int) -> tuple[int, int]:
        rows = self._meta.query(
            "SELECT log_start, next_offset FROM partitions WHERE topic_id = ? AND partition = ?",
            (topic.id, partition),
        )
        return (rows[0][0], rows[0][1]) if rows else (0, 0)

    def recover_tail(self, topic: TopicRow, partition: int, appender: Appender) -> None:
        """Index complete frames a killed writer left unindexed; cut off a torn frame.

        Called with the partition's flock held. Looks at the active segment past
        its committed end, and at the segment a roll would create next.
        """
        while True:
            start, next_offset = self._bounds(topic, partition)
            rows = self._meta.query(
                "SELECT segment, position + size FROM batches WHERE topic_id = ? AND partition = ? "
                "ORDER BY base_offset DESC LIMIT 1",
                (topic.id, partition),
            )
            candidates = [(rows[0][0], rows[0][1], True)] if rows else []
            if rows and self._damage.segment_damaged(topic.id, partition, rows[0][0]):
                candidates = []
            candidates.append((segment_name(next_offset), 0, False))
            recovered = False
            for segment, end, indexed in candidates:
                path = os.path.join(appender.directory, segment)
                try:
                    size = os.path.getsize(path)
                except FileNotFoundError:
                    if indexed:
                        self.mark_damaged(topic, partition, segment, None)
                    continue
                if size < end and indexed:
                    self.mark_damaged(topic, partition, segment, size)
                if size <= end:
                    continue
                fd, _ = appender.open_segment(segment)
                frames = scan_tail(fd, end, next_offset)
                if frames:
                    os.fdatasync(fd)
                    with self._meta.write_tx("recovering a tail") as db:
                        for position, header in frames:
                            db.execute(
                                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (topic.id, partition, header.base_offset, header.last_offset, header.count,
                                 header.max_timestamp, segment, position, header.size, now_ms()),
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

    def verify_partition(self, topic: TopicRow, partition: int) -> None:
        """Check the partition's segments against the index; note what is damaged."""
        directory = self._partition_dir(topic, partition)
        rows = self._meta.query(
            "SELECT segment, MAX(base_offset), MAX(position + size) FROM batches "
            "WHERE topic_id = ? AND partition = ? GROUP BY segment",
            (topic.id, partition),
        )
        for segment, last_base, end in rows:
            path = os.path.join(directory, segment)
            try:
                size = os.path.getsize(path)
            except FileNotFoundError:
                self.mark_damaged(topic, partition, segment, None)
                continue
            if size < end:
                self.mark_damaged(topic, partition, segment, size)
                continue
            row = BatchRow(*self._meta.query(
                "SELECT base_offset, last_offset, count, max_ts, segment, position, size FROM batches "
                "WHERE topic_id = ? AND partition = ? AND base_offset = ?",
                (topic.id, partition, last_base),
            )[0])
            try:
                SegmentReader(path).frame(row.position, row.size, f"{topic.name}[{partition}] batch at {last_base}")
            except CorruptLogError:
                self.mark_batch(topic, partition, row, "its stored bytes fail their checksum")

    def mark_damaged(self, topic: TopicRow, partition: int, segment: str, size: int | None) -> None:
        """Note the batches of ``segment`` lost because the file is missing (``size`` None) or cut short."""
        first, last = self._meta.query(
            "SELECT MIN(base_offset), MAX(last_offset) FROM batches "
            "WHERE topic_id = ? AND partition = ? AND segment = ? AND position + size > ?",
            (topic.id, partition, segment, -1 if size is None else size),
        )[0]
        if first is None:
            return
        path = os.path.join(self._partition_dir(topic, partition), segment)
        reason = f"segment file {path} is missing" if size is None else (
            f"segment file {path} is truncated to {size} bytes")
        self._damage.add(topic.id, Damage(topic.name, partition, first, last, segment, reason))

    def mark_batch(self, topic: TopicRow, partition: int, row: BatchRow, reason: str) -> Damage:
        damage = Damage(topic.name, partition, row.base_offset, row.last_offset, row.segment,
                        f"{reason}: {os.path.join(self._partition_dir(topic, partition), row.segment)} "
                        f"bytes {row.position}..{row.position + row.size}")
        self._damage.add(topic.id, damage)
        return damage
