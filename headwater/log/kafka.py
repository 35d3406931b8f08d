"""The log on Apache Kafka (or any Kafka-protocol cluster), through confluent-kafka.

``KafkaLog("kafka://host:port[,host:port][?librdkafka.setting=value&...]")``.
Query settings go to every client (admin, producers, consumers) and override
Headwater's; librdkafka logs a warning for a setting that does not apply to a
client.

Appends and transactions: see kafka_write.py; reads: see kafka_read.py.
Committed offsets use a consumer per group that never joins it: a standalone
commit needs no rebalance. Offsets come from ListOffsets at read_committed, so
the end of a partition is its last stable offset (the high watermark, unless
a transaction is open on it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import confluent_kafka as ck
import pyarrow as pa
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic, OffsetSpec

from headwater.errors import (InvalidRecordError, InvalidTopicConfigError, LogClosedError, LogError,
                              OffsetOutOfRangeError, RecordTooLargeError, TopicExistsError, UnknownTopicError)
from headwater.log.base import (RECORD_SCHEMA, TOPIC_CONFIG_DEFAULTS, AppendResult, Fetched, Log, Record, TopicInfo,
                                TopicPartition, check_partition, to_append_table, validate_topic_config,
                                validate_topic_name)
from headwater.log.kafka_read import READER_GROUP, UNKNOWN_TOPIC, Readers
from headwater.log.kafka_write import PRODUCER_CONF, Transactions, encode, result, send

logger = logging.getLogger(__name__)
_rdkafka_logger = logging.getLogger(__name__ + ".librdkafka")

T = TypeVar("T")
E = ck.KafkaError
_TIMEOUT_S = 30.0  # admin requests, offset queries, metadata convergence
_INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})
_BAD_TOPIC = (E.INVALID_CONFIG, E.INVALID_PARTITIONS, E.INVALID_REPLICATION_FACTOR, E.POLICY_VIOLATION,
              E.TOPIC_EXCEPTION)


def parse_kafka_url(url: str) -> tuple[str, dict[str, str]]:
    """``kafka://h:p,h:p?k=v`` -> (bootstrap servers, librdkafka settings)."""
    parts = urlsplit(url)
    if parts.scheme != "kafka" or not parts.netloc:
        raise LogError(f"log: expected kafka://host:port[,host:port], got {url!r}")
    return parts.netloc, dict(parse_qsl(parts.query, keep_blank_values=True))


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
        self._groups: dict[str, ck.Consumer] = {}
        self._transactions = Transactions(url, self._settings)
        self._append_locks: dict[TopicPartition, threading.Lock] = {}
        self._readers = Readers(self._reader_consumer, self._stable_ends, self._bounds, self._verify_s)

    # -- clients and metadata ----------------------------------------------------
    def _consumer(self, group: str, **extra: Any) -> ck.Consumer:
        # read_committed: records of open or aborted transactions are never read.
        conf = {"group.id": group, "enable.auto.commit": False, "enable.auto.offset.store": False,
                "isolation.level": "read_committed", **extra}
        return ck.Consumer({**conf, **self._settings})

    def _reader_consumer(self) -> ck.Consumer:
        # "error": an offset the broker does not have is reported, never silently replaced.
        # Partition EOF events tell where the consumer reached the end (past transaction markers).
        return self._consumer(READER_GROUP, **{"auto.offset.reset": "error", "enable.partition.eof": True})

    def _get_producer(self) -> ck.Producer:
        with self._lock:
            self._check_open()
            if self._producer is None:
                self._producer = ck.Producer({**PRODUCER_CONF, **self._settings})
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
        self._readers.drop(name)
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
        tp = TopicPartition(topic, partition)
        rows = {tp: encode(tp, table, *self._limits_of(topic))}
        producer = self._get_producer()
        with self._append_lock(tp):  # one append per partition at a time, so ours do not interleave
            deliveries = send(producer, rows)
            while not deliveries.done():
                producer.flush(1.0)
        if deliveries.errors:
            raise _log_error(deliveries.errors[0], f"append to {topic}[{partition}]", topic, partition,
                             self._limits_of(topic)[0])
        return result(tp, deliveries.offsets[tp])

    def transact(
        self,
        appends: Sequence[tuple[str, int, pa.RecordBatch | pa.Table | Sequence[Record]]],
        *,
        group: str | None = None,
        offsets: Mapping[TopicPartition, int] | None = None,
        transactional_id: str = "",
    ) -> list[AppendResult]:
        """See :meth:`Log.transact`; one transactional producer per ``transactional_id``.

        A failed transaction is aborted and raises LogError. After this writer
        was fenced (another process took the id), ``transact`` with the id
        raises ProducerFencedError until ``init_transactions`` starts a new
        producer, which fences that other process in turn: call it only once
        this process owns the id's work again.
        """
        if not transactional_id:
            raise LogError("log: a Kafka transaction needs a transactional_id (the name of its writer)")
        tables: dict[TopicPartition, list[pa.Table]] = {}
        for topic, partition, records in appends:
            table = to_append_table(records)
            self._check_partition(topic, partition)
            tables.setdefault(TopicPartition(topic, partition), []).append(table)
        # Every record is checked before the transaction begins, so a rejected one writes nothing.
        rows = {tp: [row for table in parts for row in encode(tp, table, *self._limits_of(tp.topic))]
                for tp, parts in tables.items()}
        commit = self._checked_offsets(group, offsets) if group is not None and offsets else []
        metadata = self._group(group).consumer_group_metadata() if group is not None and commit else None
        self._check_open()
        if not rows and not commit:
            return []
        locks = [self._append_lock(tp) for tp in sorted(rows)]  # one order: transactions cannot deadlock
        written = self._transactions.run(transactional_id, rows, locks, commit, metadata)
        return [result(tp, written[tp]) if written.get(tp) else AppendResult(*tp, self.end_offset(*tp), 0)
                for tp in rows]

    def init_transactions(self, transactional_id: str) -> None:
        """See :meth:`Log.init_transactions`: a new transactional producer for the id (Kafka bumps its epoch)."""
        if not transactional_id:
            raise LogError("log: init_transactions needs a transactional_id (the name of its writer)")
        self._check_open()
        self._transactions.init(transactional_id)

    def _append_lock(self, tp: TopicPartition) -> threading.Lock:
        with self._lock:
            return self._append_locks.setdefault(tp, threading.Lock())

    # -- reading ------------------------------------------------------------------
    def read(self, topic: str, partition: int, offset: int, *, max_records: int = 10_000,
             max_bytes: int = 8 * 1024 * 1024, timeout_s: float = 0.0) -> Fetched:
        tp = TopicPartition(topic, partition)
        fetched = self._readers.fetch(self._checked_positions({tp: offset}), max_records, max_bytes, timeout_s)
        if fetched:
            return fetched[0]
        empty = pa.RecordBatch.from_pylist([], schema=RECORD_SCHEMA)
        return Fetched(topic, partition, empty, offset, max(self._readers.high_watermark(tp), offset))

    def _read_ready(self, positions: Mapping[TopicPartition, int], max_records: int, max_bytes: int) -> list[Fetched]:
        if not positions:
            return []
        return self._readers.fetch(self._checked_positions(positions), max_records, max_bytes, 0.0)

    def _wait_any(self, positions: Mapping[TopicPartition, int], timeout_s: float) -> bool:
        if not positions:
            time.sleep(timeout_s)
            return False
        return self._readers.wait(self._checked_positions(positions), timeout_s)

    def _checked_positions(self, positions: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        checked = {}
        for (topic, partition), offset in positions.items():
            self._check_partition(topic, partition)
            tp = TopicPartition(topic, partition)
            if offset < 0:  # librdkafka would read negative offsets as "beginning"/"end"
                start, end = self._bounds(tp)
                raise OffsetOutOfRangeError(topic, partition, offset, start, end)
            checked[tp] = int(offset)
        return checked

    def _list_offsets(self, specs: Mapping[TopicPartition, OffsetSpec]) -> dict[TopicPartition, int]:
        # read_committed: the end is the last stable offset, the end of what readers can read.
        self._check_open()
        futures = self._admin.list_offsets({ck.TopicPartition(*tp): spec for tp, spec in specs.items()},
                                           isolation_level=ck.IsolationLevel.READ_COMMITTED,
                                           request_timeout=_TIMEOUT_S)
        return {TopicPartition(tp.topic, tp.partition): int(self._result(future, "offset query", tp.topic).offset)
                for tp, future in futures.items()}

    def _stable_ends(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return self._list_offsets({tp: OffsetSpec.latest() for tp in partitions})

    def _bounds(self, tp: TopicPartition) -> tuple[int, int]:
        """(log start, end) of a partition, for errors."""
        return self._list_offsets({tp: OffsetSpec.earliest()})[tp], self._stable_ends([tp])[tp]

    def beginning_offset(self, topic: str, partition: int) -> int:
        self._check_partition(topic, partition)
        tp = TopicPartition(topic, partition)
        return self._list_offsets({tp: OffsetSpec.earliest()})[tp]

    def end_offset(self, topic: str, partition: int) -> int:
        """The last stable offset: the high watermark unless a transaction is open on the partition."""
        self._check_partition(topic, partition)
        return self._stable_ends([TopicPartition(topic, partition)])[TopicPartition(topic, partition)]

    def offset_for_time(self, topic: str, partition: int, timestamp_ms: int) -> int | None:
        self._check_partition(topic, partition)
        tp = TopicPartition(topic, partition)
        found = self._list_offsets({tp: OffsetSpec.for_timestamp(timestamp_ms)})[tp]
        return None if found < 0 else found  # Kafka answers -1 for "no record that late"

    # -- consumer groups ----------------------------------------------------------
    def _group(self, group: str) -> ck.Consumer:
        with self._lock:
            self._check_open()
            if group not in self._groups:
                self._groups[group] = self._consumer(group)
            return self._groups[group]

    def _checked_offsets(self, group: str, offsets: Mapping[TopicPartition, int]) -> list[ck.TopicPartition]:
        for (topic, partition), offset in offsets.items():
            self._check_partition(topic, partition)
            if offset < 0:
                raise LogError(f"log: group {group!r}: offset for {topic}[{partition}] must be >= 0, got {offset}")
        return [ck.TopicPartition(topic, partition, int(offset)) for (topic, partition), offset in offsets.items()]

    def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        request = self._checked_offsets(group, offsets)
        if not request:
            return
        consumer = self._group(group)
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
        return sorted(g.group_id for g in listed.valid if g.group_id != READER_GROUP)

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
            groups = list(self._groups.values())
            producer, self._producer = self._producer, None
            self._groups.clear()
            del self._admin  # the last reference: librdkafka closes its connections
        self._readers.close()
        for consumer in groups:
            consumer.close()
        self._transactions.close()
        if producer is not None and producer.flush(_TIMEOUT_S):  # only appends awaiting acks remain
            logger.warning("log: %s: closed with records still unacknowledged", self.url)


def _log_error(error: ck.KafkaError, what: str, topic: str = "", partition: int = -1, limit: int = -1) -> LogError:
    """Kafka's error as Headwater's."""
    code = error.code()
    if code in UNKNOWN_TOPIC and topic:
        return UnknownTopicError(topic)
    if code == E.TOPIC_ALREADY_EXISTS:
        return TopicExistsError(topic)
    if code in _BAD_TOPIC:
        return InvalidTopicConfigError(f"log: kafka rejected topic {topic!r}: {error.str()}")
    if code in (E.MSG_SIZE_TOO_LARGE, E.RECORD_LIST_TOO_LARGE):
        return RecordTooLargeError(topic, partition, 0, -1, limit)  # the broker does not say which record
    kind = InvalidRecordError if code == E.INVALID_RECORD else LogError
    return kind(f"log: {what} failed: {error.str()}")
