"""The log on Apache Kafka (or any Kafka-protocol cluster), through confluent-kafka.

``KafkaLog("kafka://host:port[,host:port][?librdkafka.setting=value&...]")``.
Query settings go to every client (admin, producer, consumers) and override
Headwater's; librdkafka warns about a setting that does not apply to a client.

Reads use one assigned consumer per partition, kept between calls: a read at
the offset where the previous one stopped continues the consumer's prefetch;
a read anywhere else reassigns it. Appends go through one idempotent producer
(acks=all) with an explicit partition, and return once every record is
acknowledged. Committed offsets use a consumer per group that never joins the
group: a standalone commit needs no rebalance.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import confluent_kafka as ck
import pyarrow as pa
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic

from headwater.errors import (
    InvalidRecordError,
    InvalidTopicConfigError,
    LogClosedError,
    LogError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    TopicExistsError,
    UnknownTopicError,
)
from headwater.log.base import (
    RECORD_SCHEMA,
    TOPIC_CONFIG_DEFAULTS,
    AppendResult,
    Fetched,
    Log,
    Record,
    TopicInfo,
    TopicPartition,
    check_partition,
    to_append_table,
    validate_topic_config,
    validate_topic_name,
)

logger = logging.getLogger(__name__)
_rdkafka_logger = logging.getLogger(__name__ + ".librdkafka")

E = ck.KafkaError
_TIMEOUT_S = 30.0  # admin requests, offset queries, metadata convergence
_DATA_DUE_S = 30.0  # how long to wait for records the broker reported as written
_MAX_READERS = 256  # cached partition consumers; each holds librdkafka threads
_READER_GROUP = "headwater-reader"  # confluent-kafka insists on a group.id; it never commits
_INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})
# Kafka checks max.message.bytes against the whole record batch: a one-record
# batch costs a 61-byte batch header plus at most 21 bytes of record framing.
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
    position: int = -1  # offset the next delivered message will have; -1: reassign
    pending: deque[ck.Message] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)


class KafkaLog(Log):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        bootstrap, settings = parse_kafka_url(url)
        self._settings: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": _rdkafka_logger, **settings}
        # A fetch that finds nothing is held by the broker up to fetch.wait.max.ms;
        # a read past the known end waits that long for the broker's verdict.
        self._verify_s = int(settings.get("fetch.wait.max.ms", 500)) / 1000 + 0.5
        self._admin = AdminClient(self._settings)
        self._lock = threading.Lock()  # guards the caches and the lazily made clients
        self._closed = False
        self._producer: ck.Producer | None = None
        self._meta: ck.Consumer | None = None
        self._partitions: dict[str, int] = {}
        self._limits: dict[str, tuple[int, bool]] = {}  # topic -> (max.message.bytes, compacted)
        self._readers: OrderedDict[TopicPartition, _Reader] = OrderedDict()
        self._groups: dict[str, ck.Consumer] = {}
        self._append_locks: dict[TopicPartition, threading.Lock] = {}

    # -- clients ----------------------------------------------------------------
    def _conf(self, **defaults: Any) -> dict[str, Any]:
        return {**defaults, **self._settings}

    def _consumer(self, group: str, **extra: Any) -> ck.Consumer:
        return ck.Consumer(self._conf(**{"group.id": group, "enable.auto.commit": False,
                                         "enable.auto.offset.store": False, **extra}))

    def _get_producer(self) -> ck.Producer:
        with self._lock:
            self._check_open()
            if self._producer is None:
                self._producer = ck.Producer(self._conf(**{
                    "acks": "all", "enable.idempotence": True, "partitioner": "murmur2_random",
                    "linger.ms": 5, "message.max.bytes": 100 * 1024 * 1024,
                }))
            return self._producer

    def _get_meta(self) -> ck.Consumer:
        """A consumer for offset queries; read_uncommitted so the end is the high watermark."""
        with self._lock:
            self._check_open()
            if self._meta is None:
                self._meta = self._consumer(_READER_GROUP, **{"isolation.level": "read_uncommitted"})
            return self._meta

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError(f"log: {self.url} is closed")

    # -- metadata ---------------------------------------------------------------
    def _refresh(self) -> dict[str, int]:
        self._check_open()
        try:
            topics = self._admin.list_topics(timeout=_TIMEOUT_S).topics
        except ck.KafkaException as exc:
            raise LogError(f"log: {self.url}: metadata request failed: {exc}") from exc
        counts = {name: len(t.partitions) for name, t in topics.items() if t.error is None}
        with self._lock:
            self._partitions = counts
        return counts

    def _partition_count(self, topic: str, at_least: int = 0) -> int:
        count = self._partitions.get(topic)
        if count is None or count <= at_least:  # unknown or stale: partitions may have been added
            count = self._refresh().get(topic)
        if count is None:
            raise UnknownTopicError(topic)
        return count

    def _check_partition(self, topic: str, partition: int) -> None:
        count = self._partition_count(topic, partition if isinstance(partition, int) else 0)
        check_partition(topic, partition, count)

    def _await_metadata(self, topic: str, present: bool) -> None:
        """Topic changes reach every broker's metadata eventually; wait so callers see them."""
        deadline = time.monotonic() + _TIMEOUT_S
        while (topic in self._refresh()) != present:
            if time.monotonic() > deadline:
                logger.warning("log: %s: metadata still %s topic %r", self.url,
                               "lacks" if present else "shows", topic)
                return
            time.sleep(0.05)

    def _topic_configs(self, topic: str) -> dict[str, Any]:
        future = self._admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)],
                                              request_timeout=_TIMEOUT_S)
        try:
            return dict(next(iter(future.values())).result())
        except ck.KafkaException as exc:
            if exc.args[0].code() in _UNKNOWN_TOPIC:
                raise UnknownTopicError(topic) from None
            raise LogError(f"log: {self.url}: describing topic {topic!r} failed: {exc}") from exc

    def _limits_of(self, topic: str) -> tuple[int, bool]:
        limits = self._limits.get(topic)
        if limits is None:
            entries = self._topic_configs(topic)
            effective = {k: e.value for k, e in entries.items() if e.value is not None}
            info = TopicInfo(topic, 1, {k: v for k, v in effective.items() if k in TOPIC_CONFIG_DEFAULTS})
            limits = int(info.setting("max.message.bytes")), "compact" in info.setting("cleanup.policy")
            with self._lock:
                self._limits[topic] = limits
        return limits

    # -- topics -----------------------------------------------------------------
    def create_topic(self, name: str, partitions: int = 1, config: Mapping[str, str] | None = None,
                     *, exist_ok: bool = False) -> TopicInfo:
        validate_topic_name(name)
        settings = validate_topic_config(name, partitions, config)
        self._check_open()
        new = NewTopic(name, partitions, replication_factor=-1, config=settings)  # -1: broker default
        try:
            self._admin.create_topics([new], request_timeout=_TIMEOUT_S)[name].result()
        except ck.KafkaException as exc:
            error = exc.args[0]
            if error.code() == E.TOPIC_ALREADY_EXISTS:
                if exist_ok:
                    return self.describe_topic(name)
                raise TopicExistsError(name) from None
            if error.code() in _BAD_TOPIC:
                raise InvalidTopicConfigError(f"log: kafka rejected topic {name!r}: {error.str()}") from None
            raise LogError(f"log: {self.url}: creating topic {name!r} failed: {error.str()}") from exc
        self._await_metadata(name, present=True)
        return TopicInfo(name, partitions, settings)

    def delete_topic(self, name: str) -> None:
        self._check_open()
        try:
            self._admin.delete_topics([name], operation_timeout=_TIMEOUT_S)[name].result()
        except ck.KafkaException as exc:
            if exc.args[0].code() in _UNKNOWN_TOPIC:
                raise UnknownTopicError(name) from None
            raise LogError(f"log: {self.url}: deleting topic {name!r} failed: {exc}") from exc
        with self._lock:
            self._limits.pop(name, None)
            stale = [tp for tp in self._readers if tp.topic == name]
            readers = [self._readers.pop(tp) for tp in stale]
        for reader in readers:
            with reader.lock:
                reader.consumer.close()
        self._await_metadata(name, present=False)

    def list_topics(self) -> list[str]:
        return sorted(name for name in self._refresh() if name not in _INTERNAL_TOPICS)

    def describe_topic(self, name: str) -> TopicInfo:
        count = self._refresh().get(name)
        if count is None:
            raise UnknownTopicError(name)
        entries = self._topic_configs(name)
        explicit = {k: str(e.value) for k, e in entries.items()
                    if k in TOPIC_CONFIG_DEFAULTS and e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}
        return TopicInfo(name, count, explicit)

    # -- writing ----------------------------------------------------------------
    def append(self, topic: str, partition: int,
               records: pa.RecordBatch | pa.Table | Sequence[Record]) -> AppendResult:
        table = to_append_table(records)
        self._check_partition(topic, partition)
        if table.num_rows == 0:
            return AppendResult(topic, partition, self.end_offset(topic, partition), 0)
        limit, compacted = self._limits_of(topic)
        keys = table.column("key").to_pylist()
        values = table.column("value").to_pylist()
        stamps = table.column("timestamp").to_pylist()
        headers = [[(h["key"], h["value"]) for h in hs] if hs else None
                   for hs in table.column("headers").to_pylist()]
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
                offsets.append(message.offset())
            else:
                errors.append(error)

        with self._append_lock(TopicPartition(topic, partition)):
            for key, value, stamp, hs in zip(keys, values, stamps, headers, strict=True):
                while True:
                    try:  # timestamp 0 makes librdkafka stamp the record with the current time
                        producer.produce(topic, value, key, partition=partition, timestamp=stamp or 0,
                                         headers=hs, on_delivery=delivered)
                        break
                    except BufferError:  # local queue full: deliver some first
                        producer.poll(0.1)
            while len(offsets) + len(errors) < len(keys):
                producer.flush(1.0)
        if errors:
            raise _append_error(errors[0], topic, partition, limit)
        offsets.sort()
        if offsets[-1] - offsets[0] + 1 != len(offsets):
            # Only another writer to the same partition can interleave records.
            logger.warning("log: %s[%d]: append got non-contiguous offsets %d..%d for %d records",
                           topic, partition, offsets[0], offsets[-1], len(offsets))
        return AppendResult(topic, partition, offsets[0], len(offsets))

    def _append_lock(self, tp: TopicPartition) -> threading.Lock:
        with self._lock:
            return self._append_locks.setdefault(tp, threading.Lock())

    # -- reading ----------------------------------------------------------------
    def read(self, topic: str, partition: int, offset: int, *, max_records: int = 10_000,
             max_bytes: int = 8 * 1024 * 1024, timeout_s: float = 0.0) -> Fetched:
        self._check_partition(topic, partition)
        tp = TopicPartition(topic, partition)
        if offset < 0:  # librdkafka reads negative offsets as "beginning"/"end"
            raise self._out_of_range(tp, offset, None)
        reader = self._reader(tp)
        with reader.lock:
            if reader.position != offset:
                reader.consumer.assign([ck.TopicPartition(topic, partition, offset)])
                reader.pending.clear()
                reader.position = offset
            try:
                messages = self._fetch(reader, tp, offset, max(1, max_records), timeout_s)
            except BaseException:
                reader.position = -1
                raise
            kept, size = 0, 0
            for kept, message in enumerate(messages):  # noqa: B007 - kept is used after the loop
                size += _record_size(message.key(), message.value(), message.headers())
                if kept and size > max_bytes:
                    break
            else:
                kept = len(messages)
            reader.pending.extendleft(reversed(messages[kept:]))
            messages = messages[:kept]
            next_offset = messages[-1].offset() + 1 if messages else offset
            reader.position = next_offset
            high = reader.consumer.get_watermark_offsets(ck.TopicPartition(topic, partition), cached=True)[1]
        return Fetched(topic, partition, _to_batch(messages), next_offset, max(high, next_offset))

    def _reader(self, tp: TopicPartition) -> _Reader:
        evicted = None
        with self._lock:
            self._check_open()
            reader = self._readers.get(tp)
            if reader is None:
                reader = self._readers[tp] = _Reader(self._consumer(_READER_GROUP, **{"auto.offset.reset": "error"}))
                if len(self._readers) > _MAX_READERS:
                    evicted = self._readers.popitem(last=False)[1]
            self._readers.move_to_end(tp)
        if evicted is not None:
            with evicted.lock:
                evicted.consumer.close()
        return reader

    def _fetch(self, reader: _Reader, tp: TopicPartition, offset: int, limit: int, timeout_s: float) -> list[ck.Message]:
        """Messages from ``offset`` on: the prefetched ones, else wait as the broker's state calls for."""
        messages = self._take(reader, tp, limit, 0.0)
        if messages:
            return messages
        # Nothing fetched yet. Both the high watermark of the last fetch (maybe
        # stale) and the one queried now are lower bounds of the true end.
        low, high = self._range(reader, tp)
        if offset < low:
            raise self._out_of_range(tp, offset, (low, high))
        if offset < high:  # written records: wait for the fetch, however small timeout_s is
            wait = max(timeout_s, _DATA_DUE_S)
        elif offset == high:
            wait = timeout_s
        else:  # past every end we know of: a fetch answers (out-of-range error, or records)
            wait = max(timeout_s, self._verify_s)
        messages = self._take(reader, tp, limit, wait)
        if not messages and offset > high:
            low, high = self._range(reader, tp)
            if offset > high:
                raise self._out_of_range(tp, offset, (low, high))
        elif not messages and offset < high:
            logger.warning("log: %s[%d]: records %d..%d were written but not fetched within %.0fs",
                           tp.topic, tp.partition, offset, high - 1, wait)
        return messages

    def _take(self, reader: _Reader, tp: TopicPartition, limit: int, wait_s: float) -> list[ck.Message]:
        taken = [reader.pending.popleft() for _ in range(min(limit, len(reader.pending)))]
        deadline = time.monotonic() + wait_s
        while not taken:  # poll returns at the first message, so waiting never spins
            message = reader.consumer.poll(max(0.0, deadline - time.monotonic()))
            if message is None:
                return taken
            if message.error() is None:
                taken.append(message)
            else:
                self._consume_error(message.error(), tp, reader.position)
                if time.monotonic() >= deadline:
                    return taken
        if len(taken) < limit:
            for message in reader.consumer.consume(limit - len(taken), 0):
                if message.error() is None:
                    taken.append(message)
                else:
                    self._consume_error(message.error(), tp, reader.position)
        return taken

    def _consume_error(self, error: ck.KafkaError, tp: TopicPartition, offset: int) -> None:
        if error.code() in (E.OFFSET_OUT_OF_RANGE, E._AUTO_OFFSET_RESET):
            raise self._out_of_range(tp, offset, None)
        if error.code() in _UNKNOWN_TOPIC:
            with self._lock:
                self._partitions.pop(tp.topic, None)
            raise UnknownTopicError(tp.topic)
        if error.fatal():
            raise LogError(f"log: {tp.topic}[{tp.partition}]: consumer failed: {error.str()}")
        logger.warning("log: %s[%d]: consumer error (retrying): %s", tp.topic, tp.partition, error.str())

    def _range(self, reader: _Reader, tp: TopicPartition) -> tuple[int, int]:
        ctp = ck.TopicPartition(tp.topic, tp.partition)
        low, high = reader.consumer.get_watermark_offsets(ctp, timeout=_TIMEOUT_S, cached=False)
        return low, max(high, reader.consumer.get_watermark_offsets(ctp, cached=True)[1])

    def _out_of_range(self, tp: TopicPartition, offset: int, known: tuple[int, int] | None) -> OffsetOutOfRangeError:
        low, high = known or (self.beginning_offset(*tp), self.end_offset(*tp))
        return OffsetOutOfRangeError(tp.topic, tp.partition, offset, low, high)

    def _watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        self._check_partition(topic, partition)
        try:
            low, high = self._get_meta().get_watermark_offsets(
                ck.TopicPartition(topic, partition), timeout=_TIMEOUT_S, cached=False)
        except ck.KafkaException as exc:
            raise LogError(f"log: {topic}[{partition}]: offset query failed: {exc}") from exc
        return int(low), int(high)

    def beginning_offset(self, topic: str, partition: int) -> int:
        return self._watermarks(topic, partition)[0]

    def end_offset(self, topic: str, partition: int) -> int:
        return self._watermarks(topic, partition)[1]

    def offset_for_time(self, topic: str, partition: int, timestamp_ms: int) -> int | None:
        self._check_partition(topic, partition)
        query = [ck.TopicPartition(topic, partition, timestamp_ms)]
        try:
            [found] = self._get_meta().offsets_for_times(query, timeout=_TIMEOUT_S)
        except ck.KafkaException as exc:
            raise LogError(f"log: {topic}[{partition}]: offset-for-time query failed: {exc}") from exc
        if found.error is not None:
            raise LogError(f"log: {topic}[{partition}]: offset-for-time query failed: {found.error}")
        return None if found.offset < 0 else int(found.offset)  # Kafka answers -1 for "none"

    # -- consumer groups --------------------------------------------------------
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
                raise LogError(f"log: group {group!r}: offset for {tp.topic}[{tp.partition}] "
                               f"must be >= 0, got {offset}")
        if not offsets:
            return
        request = [ck.TopicPartition(tp.topic, tp.partition, int(o)) for tp, o in offsets.items()]
        try:
            answers = self._group(group).commit(offsets=request, asynchronous=False) or []
        except ck.KafkaException as exc:
            raise LogError(f"log: group {group!r}: commit failed: {exc}") from exc
        for answer in answers:
            if answer.error is not None:
                raise LogError(f"log: group {group!r}: commit of {answer.topic}[{answer.partition}] "
                               f"failed: {answer.error}")

    def committed(self, group: str, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        if not wanted:
            return {}
        request = [ck.TopicPartition(tp.topic, tp.partition) for tp in wanted]
        try:
            answers = self._group(group).committed(request, timeout=_TIMEOUT_S)
        except ck.KafkaException as exc:
            raise LogError(f"log: group {group!r}: fetching committed offsets failed: {exc}") from exc
        found = {TopicPartition(a.topic, a.partition): (a.offset if a.offset >= 0 else None) for a in answers}
        return {tp: found.get(tp) for tp in wanted}

    def list_groups(self) -> list[str]:
        self._check_open()
        try:
            listed = self._admin.list_consumer_groups(request_timeout=_TIMEOUT_S).result()
        except ck.KafkaException as exc:
            raise LogError(f"log: {self.url}: listing groups failed: {exc}") from exc
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
            if exc.args[0].code() != E.GROUP_ID_NOT_FOUND:  # nothing committed: nothing to forget
                raise LogError(f"log: group {group!r}: delete failed: {exc}") from exc

    # -- lifecycle --------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            consumers = [r.consumer for r in self._readers.values()] + list(self._groups.values())
            consumers += [self._meta] if self._meta is not None else []
            producer, self._producer, self._meta = self._producer, None, None
            self._readers.clear()
            self._groups.clear()
        for consumer in consumers:
            consumer.close()
        if producer is not None:
            left = producer.flush(_TIMEOUT_S)  # only appends still waiting on acks remain
            if left:
                logger.warning("log: %s: closed with %d records unacknowledged", self.url, left)


def _record_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]] | None) -> int:
    size = len(key or b"") + len(value or b"")
    for name, data in headers or ():
        size += len(name.encode()) + len(data or b"") + 2
    return size


def _append_error(error: ck.KafkaError, topic: str, partition: int, limit: int) -> LogError:
    code = error.code()
    if code in (E.MSG_SIZE_TOO_LARGE, E.RECORD_LIST_TOO_LARGE):
        return RecordTooLargeError(topic, partition, 0, -1, limit)
    if code == E.INVALID_RECORD:
        return InvalidRecordError(f"log: kafka rejected a record for {topic}[{partition}]: {error.str()}")
    if code in _UNKNOWN_TOPIC:
        return UnknownTopicError(topic)
    return LogError(f"log: append to {topic}[{partition}] failed: {error.str()}")


def _to_batch(messages: Sequence[ck.Message]) -> pa.RecordBatch:
    headers = [[{"key": k, "value": v} for k, v in hs] if hs else None for hs in (m.headers() for m in messages)]
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
