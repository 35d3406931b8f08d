"""Group commit: one writer thread appends the events of every waiting request at once.

A durable append costs one fsync whatever its size, so the collector does
not append per request. Requests hand their prepared events to the writer
(:meth:`EventWriter.submit`) and wait; the writer takes everything queued,
drops messageIds seen within the de-duplication window, appends the rest
(events topic) and the rejected events (dead-letter topic) and only then
resolves every waiting request, in one callback on the event loop. While it
fsyncs, the next requests queue up: the busier the collector, the larger each
append.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from headwater.log import Log
from headwater.log.base import HEADER_TYPE
from headwater.log.partitioner import partition_for_keys
from headwater.server.dedupe import MESSAGE_ID_HEADER, MessageIdIndex
from headwater.server.tracking import PreparedEvent

logger = logging.getLogger(__name__)

_HEADER_FIELDS = [pa.field("key", pa.string()), pa.field("value", pa.binary())]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Something the collector could not store as an event, kept with the reason."""

    reason: str
    value: bytes
    key: bytes | None = None


@dataclass
class Submission:
    """One request's work for the writer and, once done, its outcome.

    Events come as parallel lists (messageId, key, value): the writer moves
    them with list and set operations, not a Python step per event. Raw bodies
    (``raw=True``) have no messageId and are never de-duplicated.
    """

    ids: list[str] = field(default_factory=list)
    keys: list[bytes | None] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)
    raw: bool = False
    dead_letters: Sequence[DeadLetter] = ()
    received_ms: int = 0
    future: asyncio.Future[Submission] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    accepted: int = 0
    duplicates: int = 0
    error: BaseException | None = None
    size: int = 0

    def add(self, event: PreparedEvent) -> None:
        message_id, key, value = event
        self.ids.append(message_id)
        self.keys.append(key)
        self.values.append(value)


class EventWriter:
    """The one appender of the collector in this process."""

    def __init__(
        self,
        log: Log,
        topic: str,
        dead_letter_topic: str,
        dedupe: MessageIdIndex,
        *,
        max_group_events: int = 50_000,
        on_append: Callable[[int], None] | None = None,
    ) -> None:
        self.log = log
        self.topic = topic
        self.dead_letter_topic = dead_letter_topic
        self.dedupe = dedupe
        self.max_group_events = max_group_events
        self._queue: queue.SimpleQueue[Submission | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="collector-writer", daemon=True)
        self._started = False
        self._lock = threading.Lock()
        #: Told the number of events of each append (the group commit's size, for /metrics).
        self.on_append = on_append
        self.partitions = log.describe_topic(topic).partitions

    async def submit(self, submission: Submission) -> Submission:
        """Queue the request's events and wait until they are durable (or failed)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if not self._started:
                self._thread.start()
                self._started = True
        submission.loop = loop
        submission.future = loop.create_future()
        submission.size = len(submission.values) + len(submission.dead_letters)
        self._queue.put(submission)
        try:
            return await submission.future
        finally:
            # The future's result is the submission itself: a reference cycle that would keep every
            # event of the request alive until a full GC pass, which `headwater up` makes rare.
            submission.future = None
            submission.loop = None

    def close(self) -> None:
        with self._lock:
            if self._started:
                self._queue.put(None)
                self._thread.join(10.0)
                self._started = False

    # -- the writer thread -----------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            stop = self._serve(first)
            # Wait for the next request holding nothing of this one (a batch can be hundreds of MB).
            del first

    def _serve(self, first: Submission) -> bool:
        """Append ``first`` and what queued behind it; True when the writer was told to stop."""
        stop = False
        group = [first]
        size = first.size
        while size < self.max_group_events:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                stop = True
                break
            group.append(nxt)
            size += nxt.size
        try:
            self._write(group)
        except BaseException as exc:  # every waiting request learns why
            logger.exception("collector: append to %s failed", self.topic)
            for sub in group:
                sub.error = exc
        by_loop: dict[int, list[Submission]] = {}
        for sub in group:
            by_loop.setdefault(id(sub.loop), []).append(sub)
        for subs in by_loop.values():
            loop = subs[0].loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, subs)
        return stop

    def _write(self, group: list[Submission]) -> None:
        self.dedupe.catch_up()
        keys: list[bytes | None] = []
        values: list[bytes] = []
        ids: list[str] = []  # of the de-duplicated events, in append order
        stamps: list[int] = []
        raw_from = -1  # raw bodies go last, after every event (they carry no messageId header)
        in_group: set[str] = set()
        dead: list[tuple[int, DeadLetter]] = []
        for sub in (s for s in group if not s.raw):
            unique = set(sub.ids)
            if len(unique) == len(sub.ids) and unique.isdisjoint(in_group) and self.dedupe.isdisjoint(unique):
                # The usual case: nothing seen before, so no step per event.
                in_group |= unique
                ids += sub.ids
                keys += sub.keys
                values += sub.values
                stamps += [sub.received_ms] * len(sub.values)
                sub.accepted += len(sub.values)
            else:
                for mid, key, value in zip(sub.ids, sub.keys, sub.values, strict=True):
                    if mid in self.dedupe or mid in in_group:
                        sub.duplicates += 1
                        continue
                    in_group.add(mid)
                    ids.append(mid)
                    keys.append(key)
                    values.append(value)
                    stamps.append(sub.received_ms)
                    sub.accepted += 1
        for sub in group:
            if sub.raw:
                if raw_from < 0:
                    raw_from = len(values)
                keys += sub.keys
                values += sub.values
                stamps += [sub.received_ms] * len(sub.values)
                sub.accepted += len(sub.values)
            dead.extend((sub.received_ms, d) for d in sub.dead_letters)
        if dead:
            self._append_dead_letters(dead)
        if not values:
            return
        results = self.log.produce(self.topic, _table(keys, values, ids, stamps))
        by_partition: dict[int, list[str]] = {}
        if self.partitions == 1:
            by_partition[0] = ids
        else:
            targets = partition_for_keys(pa.array(keys[: len(ids)], pa.binary()), self.partitions, 0)
            for mid, p in zip(ids, targets.tolist(), strict=True):
                by_partition.setdefault(int(p), []).append(mid)
        self.dedupe.appended(results, by_partition, int(time.time() * 1000))
        if self.on_append is not None:
            self.on_append(len(values))

    def _append_dead_letters(self, dead: list[tuple[int, DeadLetter]]) -> None:
        headers = pa.array([[{"key": "reason", "value": d.reason.encode()}] for _, d in dead], HEADER_TYPE)
        table = pa.table({
            "timestamp": pa.array([at for at, _ in dead], pa.int64()),
            "key": pa.array([d.key for _, d in dead], pa.binary()),
            "value": pa.array([d.value for _, d in dead], pa.binary()),
            "headers": headers,
        })
        self.log.produce(self.dead_letter_topic, table)


def _table(keys: list[bytes | None], values: list[bytes], ids: list[str], stamps: list[int]) -> pa.Table:
    """The append table: the first ``len(ids)`` records carry a messageId header, the rest (raw bodies) none.

    Headers are built column-wise: a list of dicts per record is slow.
    """
    n, with_id = len(values), len(ids)
    names = pa.array([MESSAGE_ID_HEADER] * with_id, pa.string())
    structs = pa.StructArray.from_arrays([names, pa.array(ids, pa.string()).cast(pa.binary())], fields=_HEADER_FIELDS)
    offsets = np.arange(n + 1, dtype=np.int32)
    offsets[with_id + 1:] = with_id
    headers = pa.ListArray.from_arrays(pa.array(offsets), structs)
    return pa.table({
        "timestamp": pa.array(stamps, pa.int64()),
        "key": pa.array(keys, pa.binary()),
        "value": pa.array(values, pa.binary()),
        "headers": headers.cast(HEADER_TYPE),
    })


def _resolve(group: list[Submission]) -> None:
    for sub in group:
        if sub.future is not None and not sub.future.done():
            sub.future.set_result(sub)
