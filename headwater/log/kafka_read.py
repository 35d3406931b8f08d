"""The read path of the Kafka log: assigned consumers that never join a group.

A *reader* is one consumer assigned to a fixed set of partitions: one for
``read``, all of them for ``poll``. Readers are kept between calls, so a call
that continues where the previous one stopped uses the consumer's prefetch;
a call anywhere else starts a new consumer there.

Readers are read_committed: records of open or aborted transactions are never
returned. Transaction markers take offsets without being records, so a
partition's position can move past offsets that return nothing. librdkafka
reports the position it reached at the end of a partition (a partition-EOF
event); that position becomes ``Fetched.next_offset``, so a reader never stays
behind a marker (nor behind the end offset, which counts the markers).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import confluent_kafka as ck
import numpy as np
import pyarrow as pa

from headwater.errors import LogClosedError, LogError, OffsetOutOfRangeError, UnknownTopicError
from headwater.log.base import RECORD_SCHEMA, Fetched, TopicPartition, record_sizes

logger = logging.getLogger(__name__)

E = ck.KafkaError
READER_GROUP = "headwater-reader"  # confluent-kafka insists on a group.id; readers never commit
_DATA_DUE_S = 30.0  # how long a read waits for records the broker reported as written
_MAX_READERS = 256  # cached readers; each holds librdkafka threads and sockets
_UNSET = -1001  # librdkafka's "no offset known"
UNKNOWN_TOPIC = (E.UNKNOWN_TOPIC_OR_PART, E._UNKNOWN_TOPIC, E._UNKNOWN_PARTITION)


@dataclass
class _Reader:
    """A consumer assigned to ``partitions`` and the events it fetched beyond the last call.

    Invariant: the events pending for a partition are the consumer's next ones
    for it after ``positions``, in order: records and partition-EOF events.
    """

    partitions: tuple[TopicPartition, ...]
    consumer: ck.Consumer | None = None
    positions: dict[TopicPartition, int] = field(default_factory=dict)  # empty: assign before use
    pending: dict[TopicPartition, deque[ck.Message]] = field(default_factory=dict)
    eof: dict[TopicPartition, int] = field(default_factory=dict)  # last end the consumer reported
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False  # evicted, its topic deleted or the log closed: take a new reader

    def settled(self, tp: TopicPartition) -> bool:
        """Whether the consumer reported the end of ``tp`` at its position, with nothing fetched since."""
        return not self.pending[tp] and self.eof.get(tp) == self.positions[tp]

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self.consumer is not None:
                self.consumer.close()


class Readers:
    """The readers of one Kafka log, least recently used first.

    ``stable_ends`` answers the last stable offset of partitions (ListOffsets,
    read_committed); ``bounds`` the (log start, end) of one, for errors.
    """

    def __init__(
        self,
        make_consumer: Callable[[], ck.Consumer],
        stable_ends: Callable[[Sequence[TopicPartition]], dict[TopicPartition, int]],
        bounds: Callable[[TopicPartition], tuple[int, int]],
        verify_s: float,
    ) -> None:
        self._make_consumer = make_consumer
        self._stable_ends = stable_ends
        self._bounds = bounds
        self._verify_s = verify_s  # how long the broker may take to answer a fetch past the end
        self._lock = threading.Lock()
        self._closed = False
        self._readers: OrderedDict[tuple[TopicPartition, ...], _Reader] = OrderedDict()

    # -- the calls of the log ------------------------------------------------------
    def fetch(self, positions: Mapping[TopicPartition, int], max_records: int, max_bytes: int,
              timeout_s: float) -> list[Fetched]:
        """Batches of the partitions with records (or a new position), waiting up to ``timeout_s`` for one.

        Records known to exist are waited for however small ``timeout_s`` is,
        and a position past a partition's end raises OffsetOutOfRangeError, as
        the log contract's ``read`` says.
        """
        return self._with_reader(positions, lambda r: self._fetch(r, max(1, max_records), max_bytes, timeout_s))

    def wait(self, positions: Mapping[TopicPartition, int], timeout_s: float) -> bool:
        """Block until the reader of ``positions`` has an event (records, an end, an error), or the timeout."""
        return self._with_reader(positions, lambda r: bool(self._pending(r)) or self._drain(r, timeout_s))

    def high_watermark(self, tp: TopicPartition) -> int:
        """The high watermark of ``tp`` as its reader last heard it; -1 when unknown."""
        with self._lock:
            reader = self._readers.get((tp,))
        if reader is None:
            return -1
        with reader.lock:
            if reader.closed or reader.consumer is None:
                return -1
            high = reader.consumer.get_watermark_offsets(ck.TopicPartition(*tp), cached=True)[1]
        return -1 if high == _UNSET else int(high)

    def drop(self, topic: str) -> None:
        """Close the readers of a deleted topic."""
        with self._lock:
            readers = [self._readers.pop(key) for key in list(self._readers) if any(tp.topic == topic for tp in key)]
        for reader in readers:
            reader.close()

    def close(self) -> None:
        """Close every reader; a call in progress finishes first."""
        with self._lock:
            self._closed = True
            readers = list(self._readers.values())
            self._readers.clear()
        for reader in readers:
            reader.close()

    # -- the reader cache ------------------------------------------------------------
    def _with_reader(self, positions: Mapping[TopicPartition, int], call: Callable[[_Reader], Any]) -> Any:
        while True:
            reader = self._reader(tuple(sorted(positions)))
            with reader.lock:
                if reader.closed:  # evicted meanwhile: take a new one
                    continue
                if any(reader.positions.get(tp) != offset for tp, offset in positions.items()):
                    self._assign(reader, positions)
                try:
                    return call(reader)
                except BaseException:
                    reader.positions.clear()  # its state is unknown: the next call starts afresh
                    raise

    def _reader(self, key: tuple[TopicPartition, ...]) -> _Reader:
        with self._lock:
            if self._closed:
                raise LogClosedError("log: reading from a closed log")
            reader = self._readers.get(key)
            if reader is None:
                reader = self._readers[key] = _Reader(key)
            self._readers.move_to_end(key)
            evicted = self._readers.popitem(last=False)[1] if len(self._readers) > _MAX_READERS else None
        if evicted is not None:
            evicted.close()
        return reader

    def _assign(self, reader: _Reader, positions: Mapping[TopicPartition, int]) -> None:
        if reader.consumer is not None:
            # A new consumer, not a reassigned one: once the old one has
            # prefetched to the end, its fetch is parked at the broker for
            # fetch.wait.max.ms, and a reassigned consumer would wait for it.
            reader.consumer.close()
        reader.consumer = self._make_consumer()
        reader.consumer.assign([ck.TopicPartition(tp.topic, tp.partition, offset) for tp, offset in positions.items()])
        reader.positions = dict(positions)
        reader.pending = {tp: deque() for tp in reader.partitions}
        reader.eof.clear()

    # -- fetching --------------------------------------------------------------------
    def _fetch(self, reader: _Reader, limit: int, max_bytes: int, timeout_s: float) -> list[Fetched]:
        started = time.monotonic()
        self._drain(reader, 0.0)
        out = self._take(reader, limit, max_bytes)
        if out:
            return out
        # Nothing fetched yet: how long to wait depends on where each position lies.
        ends, reported = self._ends(reader), dict(reader.eof)
        due = {tp for tp, end in ends.items() if reader.positions[tp] < end}  # records exist: they will come
        beyond = {tp for tp, end in ends.items() if reader.positions[tp] > end}  # the broker will settle it
        while True:
            # A partition whose consumer reported an end since (at its position) is waited for no more.
            answered = {tp for tp in reader.partitions if reader.eof.get(tp) != reported.get(tp) and reader.settled(tp)}
            due, beyond = due - answered, beyond - answered
            wait = max(timeout_s, _DATA_DUE_S if due else self._verify_s if beyond else 0.0)
            left = started + wait - time.monotonic()
            if left <= 0 or not self._drain(reader, left):
                break
            out = self._take(reader, limit, max_bytes)
            if out:
                return out
        for tp in beyond:  # no records, no end, no error from the broker: judge by what we know now
            end = self._ends(reader, [tp])[tp]
            if reader.positions[tp] > end:
                raise self._out_of_range(tp, reader.positions[tp], end)
        for tp in due:
            logger.warning("log: %s[%d]: records from offset %d on were written but not fetched within %.0fs",
                           tp.topic, tp.partition, reader.positions[tp], wait)
        return []

    def _ends(self, reader: _Reader, partitions: Sequence[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        """Lower bounds of each partition's end: the last stable offset, and what the consumer saw.

        A settled partition's end is at least its position. Otherwise the
        high watermark of the last fetch counts too: it may exceed the last
        stable offset (an open transaction), but then the consumer reports the
        end soon, which ends the wait.
        """
        partitions = reader.partitions if partitions is None else partitions
        ends = self._stable_ends(partitions)
        assert reader.consumer is not None
        for tp in partitions:
            if reader.settled(tp):
                ends[tp] = max(ends[tp], reader.positions[tp])
            else:
                high = reader.consumer.get_watermark_offsets(ck.TopicPartition(*tp), cached=True)[1]
                ends[tp] = max(ends[tp], high)
        return ends

    def _pending(self, reader: _Reader) -> int:
        return sum(map(len, reader.pending.values()))

    def _drain(self, reader: _Reader, wait_s: float) -> bool:
        """Move the consumer's events into ``pending``, waiting up to ``wait_s`` for the first one."""
        assert reader.consumer is not None
        events = []
        if wait_s > 0:  # poll returns at the first event: waiting never spins
            event = reader.consumer.poll(wait_s)
            if event is None:
                return False
            events.append(event)
        events += reader.consumer.consume(10_000, 0)
        for event in events:
            tp = TopicPartition(event.topic() or "", event.partition() or 0)
            error = event.error()
            if error is not None and error.code() != E._PARTITION_EOF:
                self._raise_or_log(reader, tp, error)
            elif tp in reader.pending:
                reader.pending[tp].append(event)
        return bool(events)

    def _raise_or_log(self, reader: _Reader, tp: TopicPartition, error: ck.KafkaError) -> None:
        """Raise the consumer errors that are answers; log those librdkafka retries itself."""
        if error.code() in (E.OFFSET_OUT_OF_RANGE, E._AUTO_OFFSET_RESET) and tp in reader.positions:
            raise self._out_of_range(tp, reader.positions[tp])
        if error.code() in UNKNOWN_TOPIC and tp in reader.positions:
            raise UnknownTopicError(tp.topic)
        if error.fatal():
            raise LogError(f"log: reading {', '.join(f'{t}[{p}]' for t, p in reader.partitions)} failed: "
                           f"{error.str()}")
        logger.warning("log: consumer of %s: %s (retrying)", ", ".join(f"{t}[{p}]" for t, p in reader.partitions),
                       error.str())

    def _take(self, reader: _Reader, limit: int, max_bytes: int) -> list[Fetched]:
        """Up to ``limit`` records and ``max_bytes`` (at least one record) per partition from ``pending``."""
        out = []
        for tp in reader.partitions:
            queue, start = reader.pending[tp], reader.positions[tp]
            events: list[ck.Message] = []
            records = 0
            while queue and (records < limit or queue[0].error() is not None):
                event = queue.popleft()
                events.append(event)
                records += event.error() is None
            messages = [e for e in events if e.error() is None]
            batch = _to_batch(messages)
            if records > 1:
                sizes = np.cumsum(record_sizes(batch.column("key"), batch.column("value"), batch.column("headers")))
                kept = max(1, int(np.searchsorted(sizes, max_bytes, side="right")))
                if kept < records:  # give back what is over max_bytes, with the events after it
                    cut = events.index(messages[kept])
                    queue.extendleft(reversed(events[cut:]))
                    events, batch = events[:cut], batch.slice(0, kept)
            next_offset = start
            for event in events:
                offset = event.offset() or 0
                if event.error() is None:
                    next_offset = max(next_offset, offset + 1)
                else:  # the end the consumer reached: past markers and aborted records too
                    reader.eof[tp] = offset
                    next_offset = max(next_offset, offset)
            reader.positions[tp] = next_offset
            if batch.num_rows or next_offset != start:
                assert reader.consumer is not None
                high = reader.consumer.get_watermark_offsets(ck.TopicPartition(*tp), cached=True)[1]
                out.append(Fetched(tp.topic, tp.partition, batch, next_offset, max(high, next_offset)))
        return out

    def _out_of_range(self, tp: TopicPartition, offset: int, end: int | None = None) -> OffsetOutOfRangeError:
        start, known_end = self._bounds(tp)
        return OffsetOutOfRangeError(tp.topic, tp.partition, offset, start, known_end if end is None else end)


def _headers(message: ck.Message) -> list[tuple[str, bytes | None]] | None:
    return cast("list[tuple[str, bytes | None]] | None", message.headers())  # consumed headers are a list


def _to_batch(messages: Sequence[ck.Message]) -> pa.RecordBatch:
    headers = [[{"key": k, "value": v} for k, v in hs] if hs else None for hs in map(_headers, messages)]
    return pa.RecordBatch.from_arrays(
        [
            pa.array([m.offset() for m in messages], pa.int64()),
            pa.array([m.timestamp()[1] for m in messages], pa.int64()),
            pa.array([m.key() for m in messages], pa.binary()),
            pa.array([m.value() for m in messages], pa.binary()),
            pa.array(headers, RECORD_SCHEMA.field("headers").type),
        ],
        schema=RECORD_SCHEMA,
    )
