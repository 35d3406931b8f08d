"""messageId de-duplication of the collector, rebuilt from the events topic itself.

Every event record carries its ``messageId`` as a record header. The index
holds the ids seen within the window (insertion order = arrival order, so
expiry pops from the front). It is not a separate store that could disagree
with the log: on start it reads the tail of the events topic back (records
appended within the window), and before each append it reads whatever other
processes appended since (``headwater up --workers N``), so a retry that lands
on another worker, or after a restart, is still recognised. That read first
has the log recover what a killed writer wrote but did not index
(:meth:`Log.recover_writes`): the killed request's client is the one retrying.
"""

from __future__ import annotations

import collections
import itertools
import logging
import time
from collections import OrderedDict

import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import OffsetOutOfRangeError
from headwater.log import AppendResult, Log

logger = logging.getLogger(__name__)

MESSAGE_ID_HEADER = "messageId"


class MessageIdIndex:
    """The messageIds appended to ``topic`` in the last ``window_s`` seconds (at most ``max_ids``)."""

    def __init__(self, log: Log, topic: str, *, window_s: float, max_ids: int) -> None:
        self.log = log
        self.topic = topic
        self.window_ms = int(window_s * 1000)
        self.max_ids = max_ids
        self._seen: OrderedDict[str, int] = OrderedDict()
        #: Next offset to read per partition: everything before it is in ``_seen``.
        self._positions: dict[int, int] = {}
        #: Offset ranges (first, last) of our own appends past the position, per partition, in order.
        self._own: dict[int, collections.deque[tuple[int, int]]] = {}

    def __contains__(self, message_id: str) -> bool:
        return message_id in self._seen

    def isdisjoint(self, message_ids: set[str]) -> bool:
        """True when none of the ids was seen (one C-level set operation)."""
        return self._seen.keys().isdisjoint(message_ids)

    def __len__(self) -> int:
        return len(self._seen)

    def rebuild(self) -> None:
        """Read back the ids of the records appended within the window (called once, on start)."""
        now = int(time.time() * 1000)
        partitions = self.log.describe_topic(self.topic).partitions
        for p in range(partitions):
            end = self.log.end_offset(self.topic, p)
            start = self.log.offset_for_time(self.topic, p, now - self.window_ms)
            # One id per record: never read back more records than ids are kept.
            floor = max(self.log.beginning_offset(self.topic, p), end - self.max_ids)
            self._positions[p] = end if start is None else max(start, floor)
        self.catch_up()
        logger.info("collector: %d recent messageIds read back from %s", len(self._seen), self.topic)

    def catch_up(self) -> None:
        """Add the ids of records appended by other processes since the last look.

        Our own appends are in the index already: their offset ranges are
        skipped, so a busy worker does not read back everything it wrote.
        """
        for p, position in self._positions.items():
            # A process killed after writing a batch but before indexing it left the batch invisible; its client
            # got no answer and may be retrying right now: see the batch before judging the retry new.
            self.log.recover_writes(self.topic, p)
            end = self.log.end_offset(self.topic, p)
            own = self._own.setdefault(p, collections.deque())
            while position < end:
                while own and own[0][1] < position:
                    own.popleft()
                if own and own[0][0] <= position:
                    position = own.popleft()[1] + 1
                    continue
                # Up to our next own append; not capped by ``end``, which may lag behind on Kafka.
                stop = own[0][0] if own else None
                limit = 100_000 if stop is None else min(stop - position, 100_000)
                try:
                    fetched = self.log.read(self.topic, p, position, max_records=limit)
                except OffsetOutOfRangeError:
                    # Retention removed records we had not read yet: go on from what is left.
                    position = max(position + 1, self.log.beginning_offset(self.topic, p))
                    continue
                if not len(fetched):
                    break
                records = fetched.records
                position = fetched.next_offset
                if stop is not None and position > stop:  # the read went into one of our own appends
                    records = records.filter(pc.less(records.column("offset"), stop))
                    position = stop
                self._add_batch(records)
            self._positions[p] = position
        self.expire()

    def appended(self, results: list[AppendResult], ids_by_partition: dict[int, list[str]], now_ms: int) -> None:
        """Record our own append; remember its offsets so that catch_up skips them."""
        for result in results:
            # The ids are new (the writer checked), so update() appends them in order.
            self._seen.update(zip(ids_by_partition.get(result.partition, ()), itertools.repeat(now_ms)))
            if self._positions.get(result.partition) == result.base_offset:
                self._positions[result.partition] = result.last_offset + 1
            elif result.count:
                self._own.setdefault(result.partition, collections.deque()).append(
                    (result.base_offset, result.last_offset))
        self.expire()

    def expire(self) -> None:
        horizon = int(time.time() * 1000) - self.window_ms
        seen = self._seen
        while seen:
            oldest, at = next(iter(seen.items()))
            if at >= horizon and len(seen) <= self.max_ids:
                break
            del seen[oldest]

    def _add_batch(self, records: pa.RecordBatch) -> None:
        headers = records.column("headers")
        if headers.null_count == len(headers):
            return
        parents = pc.list_parent_indices(headers)
        flat = pc.list_flatten(headers)
        mask = pc.equal(flat.field("key"), MESSAGE_ID_HEADER)
        raw = pc.filter(flat.field("value"), mask)
        try:
            ids = raw.cast(pa.string()).to_pylist()
        except pa.ArrowInvalid:  # a header written by someone else, not UTF-8: keep it comparable anyway
            ids = [None if b is None else b.decode("utf-8", "replace") for b in raw.to_pylist()]
        stamps = pc.take(records.column("timestamp"), pc.filter(parents, mask)).to_pylist()
        # One C-level update; an id read again keeps its first place (good enough for expiry).
        self._seen.update(zip(ids, stamps))
