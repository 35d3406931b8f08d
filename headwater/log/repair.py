"""Repairing an embedded log by hand (``headwater log repair``): find the damage, delete it, rebuild the index.

Opening a log already notes what it can see cheaply (a missing or truncated
segment, a last frame that fails its checksums: recovery.py) and rebuilds a
missing or unreadable ``meta.db``. :func:`find_damage` goes further: it reads
every partition from its start to its end, so every batch's checksums are
checked and flipped bytes anywhere are found too. :meth:`EmbeddedLog.delete_damaged`
then accepts the loss of what was found: readers see a gap there, as after
Kafka's delete-records, and the partition is clean again.

:func:`rebuild_index` derives ``meta.db`` again from the segment files
(rebuild.py) while the log is closed, keeping the committed group offsets of
the old one. It is for an index that disagrees with the files; frames after a
damaged one in the same segment are left out of a rebuilt index, so delete the
damage first.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from headwater.errors import CorruptLogError, UnknownTopicError
from headwater.log.base import TopicPartition
from headwater.log.embedded import EmbeddedLog
from headwater.log.metadb import now_ms
from headwater.log.rebuild import salvage_group_offsets

logger = logging.getLogger(__name__)

#: Records per read while scanning a partition (the batch index bounds a read anyway).
_SCAN_RECORDS = 50_000


@dataclass(frozen=True)
class DamagedRange:
    """Offsets ``first..last`` of a partition that cannot be read, and why."""

    topic: str
    partition: int
    first: int
    last: int
    reason: str


@dataclass(frozen=True)
class Rebuilt:
    """What :func:`rebuild_index` did: where the old index went and how many group offsets it kept."""

    moved_to: str
    group_offsets: int


def find_damage(log: EmbeddedLog) -> list[DamagedRange]:
    """Every damaged range of every partition, found by reading each partition through."""
    found: list[DamagedRange] = []
    for topic in log.list_topics():
        for partition in range(log.describe_topic(topic).partitions):
            found += _scan_partition(log, topic, partition)
    return found


def _scan_partition(log: EmbeddedLog, topic: str, partition: int) -> list[DamagedRange]:
    found: list[DamagedRange] = []
    offset, end = log.beginning_offset(topic, partition), log.end_offset(topic, partition)
    while offset < end:
        try:
            fetched = log.read(topic, partition, offset, max_records=_SCAN_RECORDS)
        except CorruptLogError as exc:
            first = offset if exc.first_offset is None else exc.first_offset
            last = first if exc.last_offset is None else exc.last_offset
            found.append(DamagedRange(topic, partition, first, last, str(exc)))
            offset = last + 1
            continue
        if fetched.next_offset <= offset:
            break
        offset = fetched.next_offset
    return found


def delete_damage(log: EmbeddedLog, damage: list[DamagedRange]) -> list[DamagedRange]:
    """Delete the damaged ranges from the index; the ranges deleted."""
    deleted: list[DamagedRange] = []
    for topic, partition in dict.fromkeys((d.topic, d.partition) for d in damage):
        for first, last in log.delete_damaged(topic, partition):
            deleted.append(DamagedRange(topic, partition, first, last, "deleted"))
    return deleted


def rebuild_index(root: str) -> Rebuilt:
    """Move ``meta.db`` aside and derive it again from the segment files, keeping committed group offsets.

    The log must not be open in any process (stop ``headwater up`` first).
    """
    path = os.path.join(root, "meta.db")
    if not os.path.exists(path):
        raise FileNotFoundError(f"log: {root} has no meta.db: it is not an embedded log directory")
    offsets = salvage_group_offsets(path)
    aside = f"{path}.replaced-{now_ms()}"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, aside + suffix)
    kept = 0
    with EmbeddedLog(root) as log:  # meta.db is missing: opening rebuilds it from the segment files
        groups: dict[str, dict[TopicPartition, int]] = {}
        for group, topic, partition, next_offset, _ in offsets:
            groups.setdefault(group, {})[TopicPartition(topic, partition)] = next_offset
        for group, positions in groups.items():
            known = {tp: o for tp, o in positions.items() if _exists(log, tp)}
            if known:
                log.commit(group, known)
                kept += len(known)
    logger.warning("log: rebuilt %s from the segment files (the old index is %s); %d group offset(s) kept",
                   path, aside, kept)
    return Rebuilt(aside, kept)


def _exists(log: EmbeddedLog, tp: TopicPartition) -> bool:
    try:
        return tp.partition < log.describe_topic(tp.topic).partitions
    except UnknownTopicError:
        return False
