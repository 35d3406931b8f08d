"""The log contract: Kafka semantics, so the Kafka backend slots in unchanged.

A *topic* has N partitions, numbered 0..N-1, and a config (Kafka's topic config
keys, see :data:`TOPIC_CONFIG_DEFAULTS`). A partition is an ordered sequence of
records; each record has an *offset* (assigned by the log, strictly increasing
within the partition, never reused), a *timestamp* (milliseconds since the
epoch), a *key* and a *value* (bytes or null; a null value is a tombstone) and
*headers* (a list of (str, bytes-or-null) pairs).

Records move in Arrow batches. Appends take an Arrow table or batch with the
columns of :data:`APPEND_SCHEMA` (``timestamp`` and ``headers`` may be absent)
or a sequence of :class:`Record`. Reads return :class:`Fetched`, whose
``records`` is a ``pyarrow.RecordBatch`` with the columns of
:data:`RECORD_SCHEMA`.

Guarantees every backend gives:

- ``append`` returns only once the records are durable (they survive ``kill -9``
  of the writer); the offsets it returns are contiguous.
- ``read`` returns records with offset >= the requested offset, in offset
  order, at least one record when any is available (even if it alone exceeds
  ``max_bytes``), and waits up to ``timeout_s`` for the first one to arrive.
  Offsets may have gaps (compaction, transaction markers): continue from
  ``Fetched.next_offset``, not from the last offset + 1.
- Committed group offsets are "the next offset to read", as in Kafka.

Not guaranteed: records of different partitions have no order between them;
``end_offset`` is exact only for a quiet partition.
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import InvalidTopicConfigError, UnknownPartitionError
from headwater.log.partitioner import partition_for_keys

HEADER_TYPE = pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())]))

#: Columns of every batch returned by :meth:`Log.read`.
RECORD_SCHEMA = pa.schema(
    [
        pa.field("offset", pa.int64(), nullable=False),
        pa.field("timestamp", pa.int64(), nullable=False),
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
        pa.field("headers", HEADER_TYPE),
    ]
)

#: Columns accepted by :meth:`Log.append`; ``timestamp`` and ``headers`` are optional.
APPEND_SCHEMA = pa.schema(
    [
        pa.field("timestamp", pa.int64()),
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
        pa.field("headers", HEADER_TYPE),
    ]
)

#: Topic configs Headwater understands, with Apache Kafka's defaults.
TOPIC_CONFIG_DEFAULTS: dict[str, str] = {
    "cleanup.policy": "delete",
    "retention.ms": "604800000",
    "retention.bytes": "-1",
    "max.message.bytes": "1048588",
    "segment.bytes": "1073741824",
    "segment.ms": "604800000",
    "delete.retention.ms": "86400000",
    "message.timestamp.type": "CreateTime",
}

#: Smallest value Kafka accepts for the numeric configs (-1 means "no limit").
_CONFIG_FLOORS = {"retention.ms": -1, "retention.bytes": -1, "delete.retention.ms": 0, "max.message.bytes": 0}

_TOPIC_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class TopicPartition(NamedTuple):
    topic: str
    partition: int


@dataclass(frozen=True)
class Record:
    """One record to append. ``timestamp`` None means "now"."""

    value: bytes | None
    key: bytes | None = None
    timestamp: int | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)

    def setting(self, key: str) -> str:
        """The effective value of a topic config key (explicit or Kafka's default)."""
        return self.config.get(key, TOPIC_CONFIG_DEFAULTS[key])


@dataclass(frozen=True)
class AppendResult:
    topic: str
    partition: int
    base_offset: int
    count: int

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.count - 1


@dataclass(frozen=True)
class Fetched:
    """The answer to a read: records of one partition in offset order."""

    topic: str
    partition: int
    records: pa.RecordBatch
    next_offset: int
    high_watermark: int

    def __len__(self) -> int:
        return self.records.num_rows


def validate_topic_name(name: str) -> None:
    """Kafka's rules: 1..249 chars of [a-zA-Z0-9._-], not '.' or '..'."""
    if not name or len(name) > 249 or name in (".", "..") or not set(name) <= _TOPIC_NAME_CHARS:
        raise InvalidTopicConfigError(
            f"log: invalid topic name {name!r}: expected 1-249 characters of "
            "ASCII letters, digits, '.', '_' and '-' (not '.' or '..')"
        )


def validate_topic_config(topic: str, partitions: int, config: Mapping[str, str] | None) -> dict[str, str]:
    """Check a partition count and topic config; return the config as strings."""
    if not isinstance(partitions, int) or partitions < 1:
        raise InvalidTopicConfigError(
            f"log: topic {topic!r}: partitions must be a positive integer, got {partitions!r}"
        )
    out: dict[str, str] = {}
    for key, raw in (config or {}).items():
        if key not in TOPIC_CONFIG_DEFAULTS:
            known = ", ".join(sorted(TOPIC_CONFIG_DEFAULTS))
            raise InvalidTopicConfigError(f"log: topic {topic!r}: unknown config {key!r}; known: {known}")
        value = str(raw).lower() if isinstance(raw, bool) else str(raw)
        if key == "cleanup.policy":
            parts = {p.strip() for p in value.split(",")}
            if not parts or not parts <= {"delete", "compact"}:
                raise InvalidTopicConfigError(
                    f"log: topic {topic!r}: cleanup.policy must be delete, compact or "
                    f"'compact,delete', got {value!r}"
                )
            value = ",".join(sorted(parts))
        elif key == "message.timestamp.type":
            if value not in ("CreateTime", "LogAppendTime"):
                raise InvalidTopicConfigError(
                    f"log: topic {topic!r}: message.timestamp.type must be CreateTime or "
                    f"LogAppendTime, got {value!r}"
                )
        else:
            try:
                number = int(value)
            except ValueError:
                raise InvalidTopicConfigError(
                    f"log: topic {topic!r}: {key} must be an integer, got {value!r}"
                ) from None
            floor = _CONFIG_FLOORS.get(key, 1)
            if number < floor:
                raise InvalidTopicConfigError(
                    f"log: topic {topic!r}: {key} must be >= {floor}, got {number}"
                )
        out[key] = value
    return out


def check_partition(topic: str, partition: int, partitions: int) -> None:
    if not isinstance(partition, int) or partition < 0 or partition >= partitions:
        raise UnknownPartitionError(topic, partition, partitions)


#: Bytes of Kafka's record batch header (v2): the 12-byte log overhead plus 49 bytes of batch fields.
RECORD_BATCH_OVERHEAD = 61


def record_sizes(
    keys: pa.Array | pa.ChunkedArray, values: pa.Array | pa.ChunkedArray, headers: pa.Array | pa.ChunkedArray
) -> np.ndarray:
    """Per record, the bytes Kafka checks against max.message.bytes when the record is alone in a batch.

    That is the v2 batch header plus the record as Kafka encodes it (varint
    lengths, null as -1). Every backend enforces max.message.bytes with this,
    so a record is accepted or refused alike by each. ``headers`` has the
    type of the ``headers`` column; the columns are of equal length.
    """
    keys, values, headers = (c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c
                             for c in (keys, values, headers))
    key_len, value_len = _lengths(keys), _lengths(values)
    counts = pc.fill_null(pc.list_value_length(headers), 0).to_numpy().astype(np.int64)
    # Attributes, timestamp delta and offset delta (1 byte each: all 0), key, value, header count, headers.
    body = 3 + _varint_sizes(key_len) + np.maximum(key_len, 0) + _varint_sizes(value_len) + np.maximum(value_len, 0)
    body += _varint_sizes(counts)
    if counts.any():
        flat = pc.list_flatten(headers)
        name_len, data_len = _lengths(flat.field("key")), _lengths(flat.field("value"))
        cost = _varint_sizes(name_len) + np.maximum(name_len, 0) + _varint_sizes(data_len) + np.maximum(data_len, 0)
        parents = pc.list_parent_indices(headers).to_numpy()
        body += np.bincount(parents, weights=cost, minlength=len(body)).astype(np.int64)
    return RECORD_BATCH_OVERHEAD + _varint_sizes(body) + body


def _lengths(column: pa.Array) -> np.ndarray:
    """Byte length of each value; -1 for null, as Kafka encodes it."""
    return pc.fill_null(pc.binary_length(column), -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _varint_sizes(numbers: np.ndarray) -> np.ndarray:
    """Bytes of each number in Kafka's zigzag varint encoding."""
    zigzag = np.where(numbers >= 0, numbers * 2, -numbers * 2 - 1).astype(np.uint64)
    sizes = np.ones(len(zigzag), np.int64)
    zigzag >>= np.uint64(7)
    while zigzag.any():
        sizes += zigzag > 0
        zigzag >>= np.uint64(7)
    return sizes


def to_append_table(records: pa.RecordBatch | pa.Table | Sequence[Record]) -> pa.Table:
    """Normalize append input to a table with exactly the columns of APPEND_SCHEMA.

    Missing timestamps stay null here; backends fill them with the append time.
    """
    if isinstance(records, (pa.RecordBatch, pa.Table)):
        table = pa.Table.from_batches([records]) if isinstance(records, pa.RecordBatch) else records
        n = table.num_rows
        columns = []
        for f in APPEND_SCHEMA:
            if f.name in table.column_names:
                col = table.column(f.name)
                if col.type != f.type:
                    col = col.cast(f.type)
                columns.append(col)
            else:
                columns.append(pa.nulls(n, f.type))
        return pa.Table.from_arrays(columns, schema=APPEND_SCHEMA)
    return pa.Table.from_pydict(
        {
            "timestamp": [r.timestamp for r in records],
            "key": [r.key for r in records],
            "value": [r.value for r in records],
            "headers": [[{"key": k, "value": v} for k, v in r.headers] or None for r in records],
        },
        schema=APPEND_SCHEMA,
    )


class ServiceClaim(ABC):
    """A process's claim on a service (see :meth:`Log.claim_service`); released on close or exit."""

    #: True once this process holds the claim alone; False while a taken-over owner still lives.
    exclusive: bool
    #: Called, from a thread of the claim, with the new owner's pid (None if unknown) when another
    #: process takes the service over: the owner stops its queries then, not at their next
    #: (refused) commit. Fencing does not depend on it.
    on_taken_over: Callable[[int | None], None] | None = None

    @abstractmethod
    def release(self) -> None:
        """Give the claim up (idempotent)."""


class Log(ABC):
    """A partitioned, durable log with Kafka semantics.

    Implementations are thread-safe: one instance may be shared by the threads
    of a process.
    """

    #: The URL the log was opened with (a path, or kafka://host:port).
    url: str

    def __init__(self) -> None:
        self._sticky_lock = threading.Lock()
        self._sticky: dict[str, int] = {}
        #: Damage found in stored data, (topic, partition) -> what is wrong; empty when all is well.
        #: Reads of the damaged offsets raise CorruptLogError; the rest stays usable. Health checks report it.
        self.problems: dict[tuple[str, int], str] = {}

    # -- topics ---------------------------------------------------------------
    @abstractmethod
    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        config: Mapping[str, str] | None = None,
        *,
        exist_ok: bool = False,
    ) -> TopicInfo:
        """Create a topic. Raises TopicExistsError unless ``exist_ok``.

        With ``exist_ok`` an existing topic is returned as it is, even if its
        partition count or configs differ from the ones asked for (as
        ksqlDB's and Kafka's "if not exists" do).
        """

    @abstractmethod
    def delete_topic(self, name: str) -> None:
        """Delete a topic and its data. Raises UnknownTopicError."""

    @abstractmethod
    def list_topics(self) -> list[str]:
        """Names of all topics, sorted."""

    @abstractmethod
    def describe_topic(self, name: str) -> TopicInfo:
        """Partition count and explicitly set configs. Raises UnknownTopicError."""

    # -- writing --------------------------------------------------------------
    @abstractmethod
    def append(
        self,
        topic: str,
        partition: int,
        records: pa.RecordBatch | pa.Table | Sequence[Record],
    ) -> AppendResult:
        """Append records to one partition; return once they are durable.

        Raises RecordTooLargeError (nothing of the batch is written) when a
        record exceeds max.message.bytes, InvalidRecordError for a null key
        on a compacted topic.
        """

    @abstractmethod
    def transact(
        self,
        appends: Sequence[tuple[str, int, pa.RecordBatch | pa.Table | Sequence[Record]]],
        *,
        group: str | None = None,
        offsets: Mapping[TopicPartition, int] | None = None,
        transactional_id: str = "",
    ) -> list[AppendResult]:
        """Append to several partitions and commit ``group``'s ``offsets``, all as one unit.

        This is how a query task is exactly-once: its output, its state
        changelog and its input offsets commit together. Readers see every
        record of the transaction or none; after a crash at any moment the log
        holds all of it or nothing of it. ``transactional_id`` names the writer
        (one per query task); on Kafka it is the producer's transactional.id,
        so a newer writer with the same id fences an older one. Returns one
        result per (topic, partition), in order of first appearance.

        Records are checked as ``append`` checks them before anything is
        written (RecordTooLargeError, InvalidRecordError). Offsets are
        committed only when ``group`` is given. On Kafka, transaction markers
        take offsets: the next append to a partition does not continue at the
        last offset + 1.

        Fencing, as Kafka's producer epochs: the first ``transact`` of an id
        in this log instance calls :meth:`init_transactions` for it. Once a
        newer writer has initialised the id, this one's transactions raise
        ProducerFencedError and commit nothing (neither records nor offsets),
        and keep raising it until :meth:`init_transactions` is called again.
        """

    @abstractmethod
    def init_transactions(self, transactional_id: str) -> None:
        """Become the one writer of ``transactional_id``, fencing every other (Kafka's initTransactions).

        Bumps the id's epoch: from the moment this returns, no transaction of
        an older writer of the id (in any process) can commit, and what one
        left open is aborted. A task calls it before it reads the committed
        offsets it continues from, so nothing a zombie commits afterwards can
        be missed by it or redone.
        """

    def claim_service(self, service_id: str, *, take_over: bool = False) -> ServiceClaim | None:
        """Claim, for this process, the running of ``service_id``'s persistent queries.

        The embedded log answers one claim per data directory and service
        (an OS file lock, so a killed owner releases it): a second claim
        raises ServiceOwnedError naming the owner, unless ``take_over``, when
        the claim goes on and the caller fences the owner's writers with
        :meth:`init_transactions`. Kafka returns None: there, writers are
        fenced by the broker and nothing local is locked. Reading needs no claim.
        """
        return None

    def produce(
        self, topic: str, records: pa.RecordBatch | pa.Table | Sequence[Record]
    ) -> list[AppendResult]:
        """Append records spread over partitions as Kafka's default partitioner does.

        Keyed records go to murmur2(key) % partitions (so the embedded log and
        Kafka agree); records without a key go, per call, to one partition
        chosen round-robin (Kafka's sticky partitioner).
        """
        table = to_append_table(records)
        partitions = self.describe_topic(topic).partitions
        if partitions == 1 or table.num_rows == 0:
            return [self.append(topic, 0, table)] if table.num_rows else []
        with self._sticky_lock:
            # Start at a random partition, as Kafka's sticky partitioner does, so short-lived
            # producers do not all pile unkeyed records onto partition 0.
            sticky = self._sticky.get(topic, random.randrange(partitions)) + 1
            self._sticky[topic] = sticky
        targets = partition_for_keys(table.column("key"), partitions, sticky % partitions)
        results = []
        for p in sorted(set(targets.tolist())):
            mask = pa.array(targets == p)
            results.append(self.append(topic, p, table.filter(mask)))
        return results

    # -- reading --------------------------------------------------------------
    @abstractmethod
    def read(
        self,
        topic: str,
        partition: int,
        offset: int,
        *,
        max_records: int = 10_000,
        max_bytes: int = 8 * 1024 * 1024,
        timeout_s: float = 0.0,
    ) -> Fetched:
        """Read records with offset >= ``offset``.

        ``offset`` must lie in [beginning_offset, end_offset] or
        OffsetOutOfRangeError is raised. When no record is available the call
        waits up to ``timeout_s`` for one (without busy polling) and may return
        an empty batch.
        """

    def poll(
        self,
        positions: Mapping[TopicPartition, int],
        *,
        max_records: int = 10_000,
        max_bytes: int = 8 * 1024 * 1024,
        timeout_s: float = 0.0,
    ) -> list[Fetched]:
        """Read several partitions at once, each from its position.

        Returns the batches of the partitions that have records, waiting up to
        ``timeout_s`` (without busy polling) for any of them to have one; an
        empty list when none had. Per partition, the rules of :meth:`read`
        apply, ``max_records`` and ``max_bytes`` included. A returned batch may
        be empty when its partition's position moved past offsets that hold no
        record (Kafka's transaction markers): continue from its
        ``next_offset``, as after a read.
        """
        deadline = time.monotonic() + timeout_s
        fetched = self._read_ready(positions, max_records, max_bytes)
        while not fetched:
            left = deadline - time.monotonic()
            if left <= 0 or not self._wait_any(positions, left):
                break
            fetched = self._read_ready(positions, max_records, max_bytes)
        return fetched

    def _read_ready(self, positions: Mapping[TopicPartition, int], max_records: int, max_bytes: int) -> list[Fetched]:
        """What ``poll`` returns without waiting (beyond what :meth:`read` itself waits)."""
        out = []
        for tp, offset in positions.items():
            batch = self.read(tp.topic, tp.partition, offset, max_records=max_records, max_bytes=max_bytes)
            if len(batch):
                out.append(batch)
        return out

    @abstractmethod
    def _wait_any(self, positions: Mapping[TopicPartition, int], timeout_s: float) -> bool:
        """Block until one of the partitions may have records past its position, or the timeout.

        Called by ``poll`` after ``_read_ready`` found nothing. Returns False
        when the timeout passed with nothing new; True may be a false alarm
        (``poll`` reads again and, finding nothing, waits again).
        """

    @abstractmethod
    def beginning_offset(self, topic: str, partition: int) -> int:
        """The first offset still stored (log start offset)."""

    @abstractmethod
    def end_offset(self, topic: str, partition: int) -> int:
        """The end of what readers can read: the next offset to be written (embedded), the last
        stable offset (Kafka: no record of an open transaction lies before it)."""

    @abstractmethod
    def offset_for_time(self, topic: str, partition: int, timestamp_ms: int) -> int | None:
        """The earliest offset whose timestamp is >= ``timestamp_ms``; None if none is."""

    # -- consumer groups ------------------------------------------------------
    @abstractmethod
    def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Store the next offset to read for each partition, for ``group``."""

    @abstractmethod
    def committed(self, group: str, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """The committed offsets of ``group`` (None where nothing is committed)."""

    @abstractmethod
    def list_groups(self) -> list[str]:
        """Groups that have committed offsets, sorted."""

    @abstractmethod
    def delete_group(self, group: str) -> None:
        """Forget a group's committed offsets."""

    # -- lifecycle ------------------------------------------------------------
    def run_cleaner(self) -> None:  # noqa: B027 - optional hook
        """Apply retention and compaction once. Kafka's brokers do this themselves."""

    @abstractmethod
    def close(self) -> None:
        """Release resources. The log is unusable afterwards."""

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
