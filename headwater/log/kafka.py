"""The log on Apache Kafka (or any Kafka-protocol cluster), through confluent-kafka.

``KafkaLog("kafka://host:port[,host:port][?librdkafka.setting=value&...]")``.
Query settings go to every client (admin, producer, consumers) and override
Headwater's; librdkafka logs a warning for a setting that does not apply to a
client.

Reads use one assigned consumer per partition, kept between calls, so a read
at the offset where the previous one stopped continues the consumer's prefetch
(a read anywhere else starts a new consumer there).
Appends go through one idempotent producer (acks=all) with an explicit
partition and return once the broker acknowledged every record. Committed
offsets use a consumer per group that never joins it: a standalone commit
needs no rebalance.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlsplit

import confluent_kafka as ck
import pyarrow as pa
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic, OffsetSpec

from headwater.errors import (InvalidRecordError, InvalidTopicConfigError, LogClosedError, LogError,
                              OffsetOutOfRangeError, RecordTooLargeError, TopicExistsError, UnknownTopicError)
from headwater.log.base import (RECORD_SCHEMA, TOPIC_CONFIG_DEFAULTS, AppendResult, Fetched, Log, Record, TopicInfo,
                                TopicPartition, check_partition, to_append_table, validate_topic_config,
                                validate_topic_name)

logger = logging.getLogger(__name__)
_rdkafka_logger = logging.getLogger(__name__ + ".librdkafka")

T = TypeVar("T")
E = ck.KafkaError
_TIMEOUT_S = 30.0  # admin requests, offset queries, metadata convergence
_DATA_DUE_S = 30.0  # how long a read waits for records the broker reported as written
_MAX_READERS = 256  # cached partition consumers; each holds librdkafka threads and sockets
_READER_GROUP = "headwater-reader"  # confluent-kafka insists on a group.id; readers never commit
_INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})
# Kafka checks max.message.bytes against the whole record batch: a one-record
# batch adds a 61-byte batch header and at most 21 bytes of record framing.
_BATCH_OVERHEAD = 61 + 21
_UNKNOWN_TOPIC = (E.UNKNOWN_TOPIC_OR_PART, E._UNKNOWN_TOPIC, E._UNKNOWN_PARTITION)
_BAD_TOPIC = (E.INVALID_CONFIG, E.INVALID_PARTITIONS, E.INVALID_REPLICATION_FACTOR, E.POLICY_VIOLATION,
              E.TOPIC_EXCEPTION)


def parse_kafka_url(url: str) -> tuple[str, dict[str, str]]:
    """``kafka://h:p,h:p?k=v`` -> (bootstrap servers, librdkafka settings)."""
    parts = urlsplit(url)
    if parts.scheme != "kafka" or not parts.netloc:
        raise LogError(f"log: expected kafka://host:port[,host:port], got {url!r}")
    return parts.netloc, dict(parse_qsl(parts.query, keep_blank_values=True))


@dataclass
class _Reader:
    """An assigned consumer and the messages it fetched beyond the last read."""

    consumer: ck.Consumer
    assigned: bool = False
    position: int = -1  # offset the next read continues from; -1: seek first
    pending: deque[ck.Message] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False  # evicted or its topic deleted: take a new reader


class KafkaLog(Log):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        bootstrap, settings = parse_kafka_url(url)
        self._settings: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": _rdkafka_logger, **settings}
        # The broker holds a fetch that finds nothing for fetch.wait.max.ms; a
        # read past every end we know of waits that long for the broker's verdict.
        self._verify_s = int(settings.get("fetch.wait.max.ms", 500)) / 1000 + 0.5
        self._admin = AdminClient(self._settings)
        self._lock = threading.Lock()  # guards the caches and the lazily made clients
        self._closed = False
        self._producer: ck.Producer | None = None
        self._partitions: dict[str, int] = {}
        self._limits: dict[str, tuple[int, bool]] = {}  # topic -> (max.message.bytes, compacted)
        self._readers: OrderedDict[TopicPartition, _Reader] = OrderedDict()
        self._groups: dict[str, ck.Consumer] = {}
        self._append_locks: dict[TopicPartition, threading.Lock] = {}

    # -- clients and metadata ----------------------------------------------------
    def _consumer(self, group: str, **extra: Any) -> ck.Consumer:
        conf = {"group.id": group, "enable.auto.commit": False, "enable.auto.offset.store": False, **extra}
        return ck.Consumer({**conf, **self._settings})

    def _reader_consumer(self) -> ck.Consumer:
        # "error": an offset the broker does not have is reported, never silently replaced.
        return self._consumer(_READER_GROUP, **{"auto.offset.reset": "error"})

    def _get_producer(self) -> ck.Producer:
        with self._lock:
            self._check_open()
            if self._producer is None:
                conf = {"acks": "all", "enable.idempotence": True, "partitioner": "murmur2_random",
                        "linger.ms": 5, "message.max.bytes": 100 * 1024 * 1024}
                self._producer = ck.Producer({**conf, **self._settings})
            return self._producer

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError(f"log: {self.url} is closed")

    def _call(self, what: str, call: Callable[[], T], topic: str = "") -> T:
        """Run a client call; raise Kafka's error as Headwater's."""
        try:
            return call()
        except ck.KafkaException as exc:
            raise _log_error(exc.args[0], f"{self.url}: {what}", topic) from exc

    def _result(self, future: Future[Any], what: str, topic: str = "") -> Any:
        return self._call(what, future.result, topic)

    def _refresh(self) -> dict[str, int]:
        self._check_open()
        topics = self._call("metadata request", lambda: self._admin.list_topics(timeout=_TIMEOUT_S)).topics
        counts = {name: len(t.partitions) for name, t in topics.items() if t.error is None}
        with self._lock:
            self._partitions = counts
        return counts

    def _check_partition(self, topic: str, partition: int) -> None:
        self._check_open()
        count = self._partitions.get(topic)
        if count is None or (isinstance(partition, int) and partition >= count):  # maybe stale
            count = self._refresh().get(topic)
        if count is None:
            raise UnknownTopicError(topic)
        check_partition(topic, partition, count)

    def _await_metadata(self, topic: str, present: bool) -> None:
        """Topic changes reach every broker's metadata eventually; wait so callers see them."""
        deadline = time.monotonic() + _TIMEOUT_S
        while (topic in self._refresh()) != present:
            if time.monotonic() > deadline:
                logger.warning("log: %s: metadata still %s topic %r", self.url, "lacks" if present else "has", topic)
                return
            time.sleep(0.05)

    def _topic_configs(self, topic: str) -> dict[str, Any]:
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        futures = self._admin.describe_configs([resource], request_timeout=_TIMEOUT_S)
        return dict(self._result(next(iter(futures.values())), "describing configs", topic))

    def _limits_of(self, topic: str) -> tuple[int, bool]:
        limits = self._limits.get(topic)
        if limits is None:  # effective values, whatever their source
            entries = self._topic_configs(topic)
            info = TopicInfo(topic, 1, {k: e.value for k, e in entries.items() if k in TOPIC_CONFIG_DEFAULTS})
            limits = int(info.setting("max.message.bytes")), "compact" in info.setting("cleanup.policy")
            with self._lock:
                self._limits[topic] = limits
        return limits

    # -- topics -------------------------------------------------------------------
    def create_topic(self, name: str, partitions: int = 1, config: Mapping[str, str] | None = None,
                     *, exist_ok: bool = False) -> TopicInfo:
        validate_topic_name(name)
        settings = validate_topic_config(name, partitions, config)
        self._check_open()
        new = NewTopic(name, partitions, replication_factor=-1, config=settings)  # -1: the broker's default
        try:
            self._result(self._admin.create_topics([new], request_timeout=_TIMEOUT_S)[name], "create", name)
        except TopicExistsError:
            if exist_ok:
                return self.describe_topic(name)
            raise
        self._await_metadata(name, present=True)
        return TopicInfo(name, partitions, settings)

    def delete_topic(self, name: str) -> None:
        self._check_open()
        self._result(self._admin.delete_topics([name], operation_timeout=_TIMEOUT_S)[name], "delete", name)
        with self._lock:
            self._limits.pop(name, None)
            readers = [self._readers.pop(tp) for tp in list(self._readers) if tp.topic == name]
        for reader in readers:
            _close_reader(reader)
        self._await_metadata(name, present=False)

    def list_topics(self) -> list[str]:
        return sorted(name for name in self._refresh() if name not in _INTERNAL_TOPICS)

    def describe_topic(self, name: str) -> TopicInfo:
        count = self._refresh().get(name)
        if count is None:
            raise UnknownTopicError(name)
        explicit = {k: str(e.value) for k, e in self._topic_configs(name).items()
                    if k in TOPIC_CONFIG_DEFAULTS and e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}
        return TopicInfo(name, count, explicit)

    # -- writing ------------------------------------------------------------------
    def append(self, topic: str, partition: int, records: pa.RecordBatch | pa.Table | Sequence[Record]) -> AppendResult:
        table = to_append_table(records)
        self._check_partition(topic, partition)
        if table.num_rows == 0:
            return AppendResult(topic, partition, self.end_offset(topic, partition), 0)
        limit, compacted = self._limits_of(topic)
        keys, values, stamps = (table.column(c).to_pylist() for c in ("key", "value", "timestamp"))
        headers = [[(h["key"], h["value"]) for h in hs] if hs else None for hs in table.column("headers").to_pylist()]
        # Checked before anything is sent, so a rejected batch writes nothing.
        for index, (key, value, hs) in enumerate(zip(keys, values, headers, strict=True)):
            size = _record_size(key, value, hs) + _BATCH_OVERHEAD
            if size > limit:
                raise RecordTooLargeError(topic, partition, index, size, limit)
            if compacted and key is None:
                raise InvalidRecordError(f"log: record {index} of the batch for {topic}[{partition}] has a "
                                         "null key; a compacted topic needs a key on every record")
        producer = self._get_producer()
        offsets: list[int] = []
        errors: list[ck.KafkaError] = []

        def delivered(error: ck.KafkaError | None, message: ck.Message) -> None:
            if error is None:
                offsets.append(message.offset() or 0)
            else:
                errors.append(error)

        # One append per partition at a time, so ours do not interleave.
        with self._lock:
            lock = self._append_locks.setdefault(TopicPartition(topic, partition), threading.Lock())
        with lock:
            for key, value, stamp, hs in zip(keys, values, stamps, headers, strict=True):
                while True:
                    try:  # timestamp 0: librdkafka stamps the record with the current time
                        producer.produce(topic, value, key, partition=partition, timestamp=stamp or 0,
                                         headers=hs, on_delivery=delivered)
                        break
                    except BufferError:  # the local queue is full: let deliveries drain it
                        producer.poll(0.1)
            while len(offsets) + len(errors) < len(keys):
                producer.flush(1.0)
        if errors:
            raise _log_error(errors[0], f"append to {topic}[{partition}]", topic, partition, limit)
        offsets.sort()
        if offsets[-1] - offsets[0] + 1 != len(offsets):  # only another process's writes can interleave
            logger.warning("log: %s[%d]: append got non-contiguous offsets %d..%d for %d records",
                           topic, partition, offsets[0], offsets[-1], len(offsets))
        return AppendResult(topic, partition, offsets[0], len(offsets))

    # -- reading ------------------------------------------------------------------
    def read(self, topic: str, partition: int, offset: int, *, max_records: int = 10_000,
             max_bytes: int = 8 * 1024 * 1024, timeout_s: float = 0.0) -> Fetched:
        self._check_partition(topic, partition)
        tp = TopicPartition(topic, partition)
        if offset < 0:  # librdkafka would read negative offsets as "beginning"/"end"
            raise self._out_of_range(tp, offset)
        reader = self._reader(tp)
        with reader.lock:
            if reader.closed:
                return self.read(topic, partition, offset, max_records=max_records, max_bytes=max_bytes,
                                 timeout_s=timeout_s)
            if reader.position != offset:
                self._seek(reader, tp, offset)
            try:
                messages = self._fetch(reader, tp, offset, max(1, max_records), timeout_s)
            except BaseException:
                reader.position = -1
                raise
            kept, size = len(messages), 0
            for index, message in enumerate(messages):  # at least one, however large
                size += _record_size(message.key(), message.value(), _headers(message))
                if index and size > max_bytes:
                    kept = index
                    break
            reader.pending.extendleft(reversed(messages[kept:]))
            messages = messages[:kept]
            reader.position = next_offset = (messages[-1].offset() or 0) + 1 if messages else offset
            high = reader.consumer.get_watermark_offsets(ck.TopicPartition(*tp), cached=True)[1]
        return Fetched(topic, partition, _to_batch(messages), next_offset, max(high, next_offset))

    def _reader(self, tp: TopicPartition) -> _Reader:
        with self._lock:
            self._check_open()
            reader = self._readers.get(tp)
            if reader is None:
                reader = self._readers[tp] = _Reader(self._reader_consumer())
            self._readers.move_to_end(tp)
            evicted = self._readers.popitem(last=False)[1] if len(self._readers) > _MAX_READERS else None
        if evicted is not None:
            _close_reader(evicted)
        return reader

    def _seek(self, reader: _Reader, tp: TopicPartition, offset: int) -> None:
        if reader.assigned:
            # A new consumer, not a reassigned one: once the old one has
            # prefetched to the end, its fetch is parked at the broker for
            # fetch.wait.max.ms, and a reassigned consumer would wait for it.
            reader.consumer.close()
            reader.consumer = self._reader_consumer()
        reader.assigned = True
        reader.consumer.assign([ck.TopicPartition(tp.topic, tp.partition, offset)])
        reader.pending.clear()
        reader.position = offset

    def _fetch(self, reader: _Reader, tp: TopicPartition, offset: int, limit: int, timeout_s: float
               ) -> list[ck.Message]:
        """Messages from ``offset`` on: those prefetched, else wait as the partition's state calls for."""
        messages = self._take(reader, tp, limit, 0.0)
        if messages:
            return messages
        high = self._known_end(reader, tp)  # below the log start the fetch itself fails (see _records)
        if offset < high:  # records exist: wait for the fetch, however small timeout_s is
            wait = max(timeout_s, _DATA_DUE_S)
        elif offset == high:
            wait = timeout_s
        else:  # past every end we know of: a fetch settles it (records, or an out-of-range error)
            wait = max(timeout_s, self._verify_s)
        messages = self._take(reader, tp, limit, wait)
        if not messages and offset > high:
            high = self._known_end(reader, tp)
            if offset > high:
                raise self._out_of_range(tp, offset, high)
        elif not messages and offset < high:
            logger.warning("log: %s[%d]: records %d..%d were written but not fetched within %.0fs",
                           tp.topic, tp.partition, offset, high - 1, wait)
        return messages

    def _take(self, reader: _Reader, tp: TopicPartition, limit: int, wait_s: float) -> list[ck.Message]:
        taken = [reader.pending.popleft() for _ in range(min(limit, len(reader.pending)))]
        deadline = time.monotonic() + wait_s
        while not taken:  # poll returns at the first message: waiting never spins
            message = reader.consumer.poll(max(0.0, deadline - time.monotonic()))
            if message is None:
                return taken
            taken = self._records(tp, reader.position, [message])
            if not taken and time.monotonic() >= deadline:
                return taken
        if len(taken) < limit:
            taken += self._records(tp, reader.position, reader.consumer.consume(limit - len(taken), 0))
        return taken

    def _records(self, tp: TopicPartition, offset: int, messages: list[ck.Message]) -> list[ck.Message]:
        """The messages that are records; the others are errors, raised or (when librdkafka retries) logged."""
        records = []
        for message in messages:
            error = message.error()
            if error is None:
                records.append(message)
            elif error.code() in (E.OFFSET_OUT_OF_RANGE, E._AUTO_OFFSET_RESET):
                raise self._out_of_range(tp, offset)
            elif error.code() in _UNKNOWN_TOPIC:
                raise UnknownTopicError(tp.topic)
            elif error.fatal():
                raise LogError(f"log: {tp.topic}[{tp.partition}]: consumer failed: {error.str()}")
            else:
                logger.warning("log: %s[%d]: consumer error (retrying): %s", tp.topic, tp.partition, error.str())
        return records

    def _known_end(self, reader: _Reader, tp: TopicPartition) -> int:
        """The larger of the last fetch's high watermark and the last stable offset; both are lower bounds."""
        fetched = reader.consumer.get_watermark_offsets(ck.TopicPartition(*tp), cached=True)[1]
        # Asked through the admin client: the consumer's connection may be held by a parked fetch.
        return max(fetched, self._list_offset(tp, OffsetSpec.latest(), committed_only=True))

    def _out_of_range(self, tp: TopicPartition, offset: int, end: int | None = None) -> OffsetOutOfRangeError:
        end = self.end_offset(*tp) if end is None else end
        return OffsetOutOfRangeError(tp.topic, tp.partition, offset, self.beginning_offset(*tp), end)

    def _list_offset(self, tp: TopicPartition, spec: OffsetSpec, committed_only: bool = False) -> int:
        self._check_open()
        level = ck.IsolationLevel.READ_COMMITTED if committed_only else ck.IsolationLevel.READ_UNCOMMITTED
        futures = self._admin.list_offsets({ck.TopicPartition(*tp): spec}, isolation_level=level,
                                           request_timeout=_TIMEOUT_S)
        return int(self._result(next(iter(futures.values())), "offset query", tp.topic).offset)

    def beginning_offset(self, topic: str, partition: int) -> int:
        self._check_partition(topic, partition)
        return self._list_offset(TopicPartition(topic, partition), OffsetSpec.earliest())

    def end_offset(self, topic: str, partition: int) -> int:
        self._check_partition(topic, partition)
        return self._list_offset(TopicPartition(topic, partition), OffsetSpec.latest())

    def offset_for_time(self, topic: str, partition: int, timestamp_ms: int) -> int | None:
        self._check_partition(topic, partition)
        found = self._list_offset(TopicPartition(topic, partition), OffsetSpec.for_timestamp(timestamp_ms))
        return None if found < 0 else found  # Kafka answers -1 for "no record that late"

    # -- consumer groups ----------------------------------------------------------
    def _group(self, group: str) -> ck.Consumer:
        with self._lock:
            self._check_open()
            if group not in self._groups:
                self._groups[group] = self._consumer(group)
            return self._groups[group]

    def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            self._check_partition(tp.topic, tp.partition)
            if offset < 0:
                raise LogError(f"log: group {group!r}: offset for {tp.topic}[{tp.partition}] must be >= 0, "
                               f"got {offset}")
        if not offsets:
            return
        consumer, request = self._group(group), [ck.TopicPartition(t, p, int(o)) for (t, p), o in offsets.items()]
        answers = self._call(f"commit of group {group!r}", lambda: consumer.commit(offsets=request, asynchronous=False))
        for answer in answers or []:
            if answer.error is not None:
                raise LogError(f"log: group {group!r}: commit of {answer.topic}[{answer.partition}] failed: "
                               f"{answer.error}")

    def committed(self, group: str, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        if not wanted:
            return {}
        consumer, request = self._group(group), [ck.TopicPartition(*tp) for tp in wanted]
        answers = self._call(f"offset fetch of group {group!r}", lambda: consumer.committed(request, _TIMEOUT_S))
        found = {TopicPartition(a.topic, a.partition): (a.offset if a.offset >= 0 else None) for a in answers}
        return {tp: found.get(tp) for tp in wanted}

    def list_groups(self) -> list[str]:
        self._check_open()
        listed = self._result(self._admin.list_consumer_groups(request_timeout=_TIMEOUT_S), "listing groups")
        return sorted(g.group_id for g in listed.valid if g.group_id != _READER_GROUP)

    def delete_group(self, group: str) -> None:
        with self._lock:
            self._check_open()
            consumer = self._groups.pop(group, None)
        if consumer is not None:
            consumer.close()
        try:
            self._admin.delete_consumer_groups([group], request_timeout=_TIMEOUT_S)[group].result()
        except ck.KafkaException as exc:
            if exc.args[0].code() != E.GROUP_ID_NOT_FOUND:  # a group that never committed has nothing to forget
                raise _log_error(exc.args[0], f"{self.url}: deleting group {group!r}") from exc

    # -- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            readers, groups = list(self._readers.values()), list(self._groups.values())
            producer, self._producer = self._producer, None
            self._readers.clear()
            self._groups.clear()
            del self._admin  # the last reference: librdkafka closes its connections
        for reader in readers:  # under its lock: a read in progress finishes first
            _close_reader(reader)
        for consumer in groups:
            consumer.close()
        if producer is not None and producer.flush(_TIMEOUT_S):  # only appends awaiting acks remain
            logger.warning("log: %s: closed with records still unacknowledged", self.url)


def _log_error(error: ck.KafkaError, what: str, topic: str = "", partition: int = -1, limit: int = -1) -> LogError:
    """Kafka's error as Headwater's."""
    code = error.code()
    if code in _UNKNOWN_TOPIC and topic:
        return UnknownTopicError(topic)
    if code == E.TOPIC_ALREADY_EXISTS:
        return TopicExistsError(topic)
    if code in _BAD_TOPIC:
        return InvalidTopicConfigError(f"log: kafka rejected topic {topic!r}: {error.str()}")
    if code in (E.MSG_SIZE_TOO_LARGE, E.RECORD_LIST_TOO_LARGE):
        return RecordTooLargeError(topic, partition, 0, -1, limit)  # the broker does not say which record
    kind = InvalidRecordError if code == E.INVALID_RECORD else LogError
    return kind(f"log: {what} failed: {error.str()}")


def _close_reader(reader: _Reader) -> None:
    with reader.lock:
        reader.closed = True
        reader.consumer.close()


def _record_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]] | None) -> int:
    size = len(key or b"") + len(value or b"")
    for name, data in headers or ():
        size += len(name.encode()) + len(data or b"") + 2  # two varint lengths
    return size


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
