"""The write path of the Kafka log: records as producers take them, and transactions.

Appends go through one idempotent producer (acks=all) with an explicit
partition and return once the broker acknowledged every record.

Transactions go through one transactional producer per transactional id,
started once (``init_transactions``, which fences older producers with the same
id) and kept. A transaction sends every record, adds the group's offsets and
commits; ``commit_transaction`` itself waits for every delivery, so a record
the broker refuses fails the commit, and the transaction is aborted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import confluent_kafka as ck
import numpy as np
import pyarrow as pa

from headwater.errors import (
    InvalidRecordError,
    LogClosedError,
    LogError,
    ProducerFencedError,
    RecordTooLargeError,
)
from headwater.log.base import AppendResult, TopicPartition, record_sizes

logger = logging.getLogger(__name__)

E = ck.KafkaError
TIMEOUT_S = 30.0  # each step of a transaction
PRODUCER_CONF: dict[str, Any] = {"acks": "all", "enable.idempotence": True, "partitioner": "murmur2_random",
                                 "linger.ms": 5, "message.max.bytes": 100 * 1024 * 1024}
_FENCED = (E._FENCED, E.PRODUCER_FENCED, E.INVALID_PRODUCER_EPOCH)

#: A record as the producer takes it: key, value, timestamp (0: now), headers.
Row = tuple[bytes | None, bytes | None, int, list[tuple[str, bytes | None]] | None]


def encode(tp: TopicPartition, table: pa.Table, limit: int, compacted: bool) -> list[Row]:
    """The records of ``table`` as the producer takes them, checked first: a rejected batch writes nothing."""
    sizes = record_sizes(table.column("key"), table.column("value"), table.column("headers"))
    over = np.nonzero(sizes > limit)[0]
    if len(over):
        raise RecordTooLargeError(tp.topic, tp.partition, int(over[0]), int(sizes[over[0]]), limit)
    keys = table.column("key").to_pylist()
    if compacted and None in keys:
        raise InvalidRecordError(f"log: record {keys.index(None)} of the batch for {tp.topic}[{tp.partition}] "
                                 "has a null key; a compacted topic needs a key on every record")
    headers = [[(h["key"], h["value"]) for h in hs] if hs else None for hs in table.column("headers").to_pylist()]
    stamps = [stamp or 0 for stamp in table.column("timestamp").to_pylist()]  # 0: librdkafka stamps "now"
    return list(zip(keys, table.column("value").to_pylist(), stamps, headers, strict=True))


@dataclass
class Deliveries:
    """Delivery reports of the records of one send, as they come."""

    expected: int = 0
    offsets: dict[TopicPartition, list[int]] = field(default_factory=dict)
    errors: list[ck.KafkaError] = field(default_factory=list)

    def done(self) -> bool:
        return sum(map(len, self.offsets.values())) + len(self.errors) >= self.expected

    def report(self, error: ck.KafkaError | None, message: ck.Message) -> None:
        if error is None:
            tp = TopicPartition(message.topic() or "", message.partition() or 0)
            self.offsets.setdefault(tp, []).append(message.offset() or 0)
        else:
            self.errors.append(error)


def send(producer: ck.Producer, rows: Mapping[TopicPartition, list[Row]]) -> Deliveries:
    """Hand every record to the producer; the reports arrive as the producer is polled or flushed."""
    deliveries = Deliveries(sum(map(len, rows.values())), {tp: [] for tp in rows})
    for (topic, partition), records in rows.items():
        for key, value, stamp, headers in records:
            while True:
                try:
                    producer.produce(topic, value, key, partition=partition, timestamp=stamp,
                                     headers=cast(Any, headers), on_delivery=deliveries.report)
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0.1)
    return deliveries


def result(tp: TopicPartition, offsets: list[int]) -> AppendResult:
    offsets.sort()
    if offsets[-1] - offsets[0] + 1 != len(offsets):  # only another process's writes can interleave
        logger.warning("log: %s[%d]: append got non-contiguous offsets %d..%d for %d records",
                       tp.topic, tp.partition, offsets[0], offsets[-1], len(offsets))
    return AppendResult(tp.topic, tp.partition, offsets[0], len(offsets))


@dataclass
class _Transactor:
    """The producer of one transactional id; its lock keeps the id's transactions one at a time."""

    transactional_id: str
    producer: ck.Producer | None = None  # None: start one (fencing older ones) before the next transaction
    fenced: ProducerFencedError | None = None  # set: refuse transactions until init_transactions
    #: Why the last producer was dropped (a failure that was no fencing); the next transaction says so
    #: when it starts the replacement.
    lost: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Transactions:
    """The transactional producers of one Kafka log, one per transactional id."""

    def __init__(self, url: str, settings: Mapping[str, Any]) -> None:
        self._url = url
        self._settings = dict(settings)
        self._lock = threading.Lock()
        self._closed = False
        self._transactors: dict[str, _Transactor] = {}

    def run(self, transactional_id: str, rows: Mapping[TopicPartition, list[Row]], locks: Sequence[threading.Lock],
            offsets: list[ck.TopicPartition], group_metadata: Any) -> dict[TopicPartition, list[int]]:
        """One transaction: the records, then the offsets; the delivered offsets per partition.

        ``locks`` are taken, in order, once the id's previous transaction has
        ended. On failure the transaction is aborted and LogError says at which
        step it failed and what became of it.
        """
        transactor = self._transactor(transactional_id)
        with transactor.lock, ExitStack() as held:
            if transactor.fenced is not None:
                raise ProducerFencedError(transactional_id, "an earlier transaction found a newer writer; "
                                          "call init_transactions to take the id back")
            for lock in locks:
                held.enter_context(lock)
            with self._failing(transactor) as step:
                producer = transactor.producer or self._restart(transactor)
                step.append("begin")
                producer.begin_transaction()
                step.append("produce")
                deliveries = send(producer, rows)
                if offsets:
                    step.append("offset commit")
                    producer.send_offsets_to_transaction(offsets, group_metadata, TIMEOUT_S)
                step.append("commit")
                deadline = time.monotonic() + TIMEOUT_S
                while True:
                    try:  # waits for every delivery, and serves the delivery reports
                        producer.commit_transaction(max(0.0, deadline - time.monotonic()))
                        break
                    except ck.KafkaException as exc:  # a retriable error: commit again
                        if not exc.args[0].retriable() or time.monotonic() >= deadline:
                            raise
                while not deliveries.done() and time.monotonic() < deadline:
                    producer.poll(0.1)
        if deliveries.errors or not deliveries.done():
            logger.warning("log: transaction of %r committed, but %d delivery report(s) are missing or failed",
                           transactional_id, deliveries.expected - sum(map(len, deliveries.offsets.values())))
        return deliveries.offsets

    def init(self, transactional_id: str) -> None:
        """A new producer for the id: it fences every other one, in any process."""
        transactor = self._transactor(transactional_id)
        with transactor.lock:
            transactor.producer = None
            try:
                self._start(transactor)
            except ck.KafkaException as exc:
                raise LogError(f"log: {self._url}: init_transactions of {transactional_id!r} failed: "
                               f"{exc.args[0].str()}") from exc
            transactor.fenced = None

    def _transactor(self, transactional_id: str) -> _Transactor:
        with self._lock:
            if self._closed:
                raise LogClosedError(f"log: {self._url} is closed")
            return self._transactors.setdefault(transactional_id, _Transactor(transactional_id))

    def _restart(self, transactor: _Transactor) -> ck.Producer:
        """The producer that replaces a dropped one. Safe: ``init_transactions`` with the same id bumps the
        epoch, so the broker aborts whatever the dropped producer left open and refuses its late writes
        (Kafka's transactional/idempotent producer contract); the caller retries from committed offsets."""
        if transactor.lost is not None:
            logger.warning("log: %s: starting a new transactional producer for %r (the previous one was dropped: "
                           "%s); its open transaction, if any, is aborted by the broker", self._url,
                           transactor.transactional_id, transactor.lost)
        producer = self._start(transactor)
        transactor.lost = None
        return producer

    def _start(self, transactor: _Transactor) -> ck.Producer:
        conf = {**PRODUCER_CONF, **self._settings, "transactional.id": transactor.transactional_id}
        producer = ck.Producer(conf)
        producer.init_transactions(TIMEOUT_S)
        transactor.producer = producer
        return producer

    @contextmanager
    def _failing(self, transactor: _Transactor) -> Iterator[list[str]]:
        """Turn a failure of the block into an abort and a LogError naming the step it reached."""
        step = ["start"]
        try:
            yield step
        except ck.KafkaException as exc:
            error: ck.KafkaError = exc.args[0]
            outcome = self._end_failed(transactor, error, unknown=step[-1] == "commit" and error.retriable())
            if transactor.fenced is not None:
                raise transactor.fenced from exc
            raise LogError(f"log: {self._url}: transaction of {transactor.transactional_id!r} failed at "
                           f"{step[-1]}: {error.str()}; {outcome}") from exc
        except (SystemError, RuntimeError) as exc:  # confluent-kafka's delivery path after a fatal error
            self._drop(transactor, f"{type(exc).__name__}: {exc}")
            raise LogError(f"log: {self._url}: transaction of {transactor.transactional_id!r} failed at "
                           f"{step[-1]}: {exc}; the producer was dropped") from exc

    def _end_failed(self, transactor: _Transactor, error: ck.KafkaError, *, unknown: bool) -> str:
        """Abort a failed transaction; say what became of it."""
        if error.code() in _FENCED:
            transactor.producer = None
            transactor.fenced = ProducerFencedError(
                transactor.transactional_id, f"a newer writer with the same transactional id fenced this one "
                f"({error.str()}): nothing of the transaction was committed")
            return "fenced"
        if not error.fatal() and transactor.producer is not None:
            try:
                transactor.producer.abort_transaction(TIMEOUT_S)
                return "the transaction was aborted: nothing of it is visible"
            except ck.KafkaException as exc:
                logger.warning("log: aborting the transaction of %r failed: %s", transactor.transactional_id,
                               exc.args[0].str())
        self._drop(transactor, error.str())  # unusable: the next transaction starts a new producer
        if unknown:
            return "whether it committed is unknown"
        return "the producer failed: nothing of the transaction was committed"

    def drop(self, transactional_id: str, reason: str) -> None:
        """Forget the producer of ``transactional_id`` after a failure that is no fencing (ERROR, with the
        reason); the next transaction starts a new one, which fences and aborts the dropped one's."""
        transactor = self._transactor(transactional_id)
        with transactor.lock:
            self._drop(transactor, reason)

    def _drop(self, transactor: _Transactor, reason: str) -> None:
        """A producer failed for a reason that is no fencing: say so (ERROR, with the reason) and drop it."""
        if transactor.producer is not None:
            logger.error("log: %s: the transactional producer of %r failed and is dropped: %s; the next "
                         "transaction starts a new one", self._url, transactor.transactional_id, reason)
        transactor.producer = None
        transactor.lost = reason

    def close(self) -> None:
        """Drop every producer; a transaction in progress finishes first."""
        with self._lock:
            self._closed = True
            transactors = list(self._transactors.values())
            self._transactors.clear()
        for transactor in transactors:
            with transactor.lock:
                transactor.producer = None
