"""What is known to be damaged in an embedded log, so damage stays local.

A segment file that is missing or truncated, or a batch whose bytes fail their
checksums, makes only its own offsets unreadable: reads of other batches go on,
appends continue on a fresh segment, and a read that reaches the damaged range
raises :class:`CorruptLogError` naming the topic, the partition and the range,
from whose ``next_offset`` a reader that accepts the loss continues.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from headwater.errors import CorruptLogError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Damage:
    """Offsets ``first..last`` of a partition that cannot be read, and why."""

    topic: str
    partition: int
    first: int
    last: int
    segment: str
    reason: str

    def error(self) -> CorruptLogError:
        return CorruptLogError(
            f"log: {self.topic}[{self.partition}] offsets {self.first}..{self.last} are damaged and cannot be "
            f"read ({self.reason}); continue from offset {self.last + 1} to skip them",
            topic=self.topic, partition=self.partition, first_offset=self.first, last_offset=self.last,
        )


class DamageRegistry:
    """Damaged ranges per partition (keyed by topic id, so a re-created topic starts clean)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ranges: dict[tuple[int, int], list[Damage]] = {}
        #: (topic, partition) -> what is wrong there, for operators and health checks.
        self.problems: dict[tuple[str, int], str] = {}

    def add(self, topic_id: int, damage: Damage) -> None:
        with self._lock:
            ranges = self._ranges.setdefault((topic_id, damage.partition), [])
            if any(d.first <= damage.first and damage.last <= d.last for d in ranges):
                return
            ranges.append(damage)
            ranges.sort(key=lambda d: d.first)
            message = str(damage.error())
            key = (damage.topic, damage.partition)
            self.problems[key] = f"{self.problems[key]}; {message}" if key in self.problems else message
        logger.error("%s", message)

    def find(self, topic_id: int, partition: int, offset: int) -> Damage | None:
        """The known damage holding ``offset``, if any."""
        with self._lock:
            for damage in self._ranges.get((topic_id, partition), ()):
                if damage.first <= offset <= damage.last:
                    return damage
        return None

    def segment_damaged(self, topic_id: int, partition: int, segment: str) -> bool:
        with self._lock:
            return any(d.segment == segment for d in self._ranges.get((topic_id, partition), ()))

    def partition_damaged(self, topic_id: int, partition: int) -> bool:
        with self._lock:
            return bool(self._ranges.get((topic_id, partition)))

    def trim(self, topic_id: int, topic: str, partition: int, log_start: int) -> None:
        """Forget damage that retention removed (wholly below the log start offset)."""
        with self._lock:
            ranges = self._ranges.get((topic_id, partition), [])
            kept = [d for d in ranges if d.last >= log_start]
            if len(kept) == len(ranges):
                return
            self._ranges[(topic_id, partition)] = kept
            if kept:
                self.problems[(topic, partition)] = "; ".join(str(d.error()) for d in kept)
            else:
                self.problems.pop((topic, partition), None)
        logger.info("log: damaged offsets of %s[%d] below %d were removed by retention", topic, partition, log_start)

    def take(self, topic_id: int, topic: str, partition: int) -> list[Damage]:
        """Forget (and return) the damage of one partition."""
        with self._lock:
            self.problems.pop((topic, partition), None)
            return self._ranges.pop((topic_id, partition), [])

    def forget_topic(self, topic_id: int, name: str) -> None:
        with self._lock:
            for key in [k for k in self._ranges if k[0] == topic_id]:
                del self._ranges[key]
            for key in [k for k in self.problems if k[0] == name]:
                del self.problems[key]
