"""The log contract (headwater/log/base.py), run against every backend.

Each test gets the ``log`` fixture once per backend: the embedded log in a
fresh directory, and Kafka on the session's Tansu broker (so topic and group
names come from ``new_topic``). The contract follows Apache Kafka; where Tansu
deviates, the single affected test calls ``broker_limitation``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import confluent_kafka
import pyarrow as pa
import pytest

from headwater.errors import (
    InvalidRecordError,
    InvalidTopicConfigError,
    LogClosedError,
    LogError,
    OffsetOutOfRangeError,
    ProducerFencedError,
    RecordTooLargeError,
    TopicExistsError,
    UnknownPartitionError,
    UnknownTopicError,
)
from headwater.log import RECORD_SCHEMA, Fetched, Log, Record, TopicPartition
from headwater.log.partitioner import partition_for_keys

NewTopic = Callable[..., str]
Limitation = Callable[[str], None]

LISTOFFSETS_END = "ListOffsets(latest) answers the last batch's base offset + 1, not the high watermark"
LISTOFFSETS_TIME = "ListOffsets(timestamp) answers 0 whatever the timestamp"
CONFIG_SOURCE = "DescribeConfigs reports explicitly set topic configs as DEFAULT_CONFIG, not DYNAMIC_TOPIC_CONFIG"
ABORTED_VISIBLE = "read_committed consumers see aborted records"
OFFSETS_ONLY = "a transaction without records commits its offsets only when it is the producer's first"
OPEN_TRANSACTION_END = "ListOffsets(latest, read_committed) answers 0 while a transaction is open, not the LSO"


def values(n: int, start: int = 0) -> list[Record]:
    return [Record(b"v%d" % i) for i in range(start, start + n)]


def read_all(log: Log, topic: str, partition: int = 0, offset: int = 0, **kwargs: float) -> list[Fetched]:
    """Read from ``offset`` until a read comes back empty."""
    out: list[Fetched] = []
    while True:
        fetched = log.read(topic, partition, offset, **kwargs)  # type: ignore[arg-type]
        if not len(fetched):
            return out
        out.append(fetched)
        offset = fetched.next_offset


def column(fetched: Fetched | list[Fetched], name: str) -> list[object]:
    batches = fetched if isinstance(fetched, list) else [fetched]
    return [v for f in batches for v in f.records.column(name).to_pylist()]


def follow(log: Log, positions: dict[TopicPartition, int], until: dict[TopicPartition, int]) -> list[Fetched]:
    """Poll from ``positions`` (advanced in place, as a consumer does) until each reaches ``until``."""
    out: list[Fetched] = []
    deadline = time.monotonic() + 10
    while any(positions[tp] < end for tp, end in until.items()):
        assert time.monotonic() < deadline, f"stuck at {positions}, the ends are {until}"
        for fetched in log.poll(positions, max_records=3, timeout_s=1):
            tp = TopicPartition(fetched.topic, fetched.partition)
            assert fetched.next_offset > positions[tp]
            positions[tp] = fetched.next_offset
            out.append(fetched)
    return out


def raw_producer(log: Log, **settings: str) -> confluent_kafka.Producer:
    return confluent_kafka.Producer({"bootstrap.servers": log.url.removeprefix("kafka://"), **settings})


# -- topics --------------------------------------------------------------------
def test_create_list_describe_delete(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    info = log.create_topic(name, partitions=3)
    assert (info.name, info.partitions, dict(info.config)) == (name, 3, {})
    assert name in log.list_topics()
    assert log.list_topics() == sorted(log.list_topics())
    described = log.describe_topic(name)
    assert (described.partitions, dict(described.config)) == (3, {})
    log.delete_topic(name)
    assert name not in log.list_topics()
    with pytest.raises(UnknownTopicError):
        log.describe_topic(name)
    with pytest.raises(UnknownTopicError):
        log.delete_topic(name)


def test_create_returns_the_explicit_config(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    config = {"retention.ms": 3_600_000, "cleanup.policy": "compact"}  # values need not be strings
    info = log.create_topic(name, 2, config)  # type: ignore[arg-type]
    assert dict(info.config) == {"retention.ms": "3600000", "cleanup.policy": "compact"}
    assert info.setting("max.message.bytes") == "1048588"


def test_describe_returns_the_explicit_config(log: Log, new_topic: NewTopic, broker_limitation: Limitation) -> None:
    broker_limitation(CONFIG_SOURCE)
    name = new_topic()
    log.create_topic(name, 2, {"retention.ms": "3600000", "cleanup.policy": "compact"})
    info = log.describe_topic(name)
    assert dict(info.config) == {"retention.ms": "3600000", "cleanup.policy": "compact"}
    assert info.setting("cleanup.policy") == "compact"


def test_create_existing_topic(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name, partitions=2)
    with pytest.raises(TopicExistsError, match=name):
        log.create_topic(name, partitions=2)
    again = log.create_topic(name, partitions=5, exist_ok=True)
    assert (again.name, again.partitions) == (name, 2)  # the existing topic, unchanged


@pytest.mark.parametrize("name", ["", "has space", "slash/y", "x" * 250, ".", "..", "ünï"])
def test_invalid_topic_name(log: Log, name: str) -> None:
    with pytest.raises(InvalidTopicConfigError):
        log.create_topic(name)
    assert name not in log.list_topics()


@pytest.mark.parametrize(
    ("partitions", "config"),
    [
        (0, {}),
        (1, {"retention.ms": "soon"}),
        (1, {"no.such.setting": "1"}),
        (1, {"cleanup.policy": "shred"}),
        (1, {"max.message.bytes": "-5"}),
        (1, {"message.timestamp.type": "WallClock"}),
    ],
)
def test_invalid_topic_config(log: Log, new_topic: NewTopic, partitions: int, config: dict[str, str]) -> None:
    name = new_topic()
    with pytest.raises(InvalidTopicConfigError, match=name):
        log.create_topic(name, partitions, config)
    assert name not in log.list_topics()


# -- append and read -------------------------------------------------------------
def test_append_returns_contiguous_offsets(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name, partitions=2)
    first = log.append(name, 1, values(5))
    second = log.append(name, 1, values(3))
    assert (first.topic, first.partition, first.base_offset, first.count, first.last_offset) == (name, 1, 0, 5, 4)
    assert (second.base_offset, second.count, second.last_offset) == (5, 3, 7)
    assert log.append(name, 0, values(1)).base_offset == 0  # partitions count separately


def test_read_preserves_records(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name)
    records = [
        Record(b"v0", b"k0", 1_000, (("trace", b"abc"), ("empty", None))),
        Record(None, b"k1", 2_000),  # a tombstone
        Record(b"", None, 3_000, (("dup", b"1"), ("dup", b"2"))),
    ]
    log.append(name, 0, records)
    fetched = log.read(name, 0, 0)
    assert fetched.records.schema.equals(RECORD_SCHEMA)
    assert (fetched.topic, fetched.partition, fetched.next_offset, fetched.high_watermark) == (name, 0, 3, 3)
    assert column(fetched, "offset") == [0, 1, 2]
    assert column(fetched, "key") == [b"k0", b"k1", None]
    assert column(fetched, "value") == [b"v0", None, b""]
    assert column(fetched, "timestamp") == [1_000, 2_000, 3_000]
    headers = [[(h["key"], h["value"]) for h in hs or []]  # type: ignore[attr-defined]
               for hs in column(fetched, "headers")]
    assert headers == [[("trace", b"abc"), ("empty", None)], [], [("dup", b"1"), ("dup", b"2")]]


def test_append_arrow_table_without_timestamps(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name)
    before = int(time.time() * 1000)
    table = pa.table({"key": pa.array([b"a", None], pa.binary()), "value": pa.array([b"1", b"2"], pa.binary())})
    result = log.append(name, 0, table)
    assert (result.base_offset, result.count) == (0, 2)
    fetched = log.read(name, 0, 0)
    assert column(fetched, "key") == [b"a", None]
    assert column(fetched, "value") == [b"1", b"2"]
    for stamp in column(fetched, "timestamp"):  # "now", by the log's clock
        assert before - 60_000 <= stamp <= int(time.time() * 1000) + 60_000  # type: ignore[operator]


def test_read_from_the_middle_of_a_batch(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name)
    log.append(name, 0, values(10))
    log.append(name, 0, values(10, start=10))
    fetched = log.read(name, 0, 4)
    assert column(fetched, "offset") == list(range(4, 20))
    assert column(fetched, "value") == [b"v%d" % i for i in range(4, 20)]
    assert fetched.next_offset == 20


def test_read_from_the_middle_of_the_last_batch(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name)
    log.append(name, 0, values(10))
    fetched = log.read(name, 0, 7)
    assert column(fetched, "offset") == [7, 8, 9]


def test_max_records(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name)
    log.append(name, 0, values(10))
    log.append(name, 0, values(10, start=10))
    first = log.read(name, 0, 0, max_records=4)
    assert (column(first, "offset"), first.next_offset) == ([0, 1, 2, 3], 4)
    second = log.read(name, 0, first.next_offset, max_records=8)
    assert column(second, "offset") == list(range(4, 12))
    again = log.read(name, 0, 2, max_records=1)  # back to an earlier offset
    assert (column(again, "offset"), again.next_offset) == ([2], 3)


def test_max_bytes_still_returns_a_record(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name)
    for start in range(0, 50, 10):
        log.append(name, 0, [Record(b"x" * 1000, b"k%d" % i) for i in range(start, start + 10)])
    fetched = log.read(name, 0, 0, max_bytes=1)
    assert 1 <= len(fetched) < 50
    rest = read_all(log, name, offset=fetched.next_offset, max_bytes=1)
    assert column([fetched, *rest], "offset") == list(range(50))


def test_next_offset_continues_over_many_batches(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name)
    for start in range(0, 140, 7):
        log.append(name, 0, values(7, start))
    batches = read_all(log, name, max_records=5)
    assert column(batches, "offset") == list(range(140))
    assert column(batches, "value") == [b"v%d" % i for i in range(140)]
    assert all(len(b) <= 5 for b in batches)
    at_end = log.read(name, 0, batches[-1].next_offset)
    assert (len(at_end), at_end.next_offset) == (0, 140)


def test_read_at_the_end_waits_for_timeout(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name)
    log.append(name, 0, values(3))
    assert len(log.read(name, 0, 0)) == 3
    started = time.monotonic()
    fetched = log.read(name, 0, 3, timeout_s=0.6)
    waited = time.monotonic() - started
    assert (len(fetched), fetched.next_offset) == (0, 3)
    assert 0.5 <= waited < 3.0


def test_read_at_the_end_returns_when_records_arrive(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name)
    log.append(name, 0, values(2))
    assert len(log.read(name, 0, 0)) == 2

    def append_later() -> None:
        time.sleep(0.3)
        log.append(name, 0, values(1, start=2))

    writer = threading.Thread(target=append_later)
    started = time.monotonic()
    writer.start()
    fetched = log.read(name, 0, 2, timeout_s=10)
    waited = time.monotonic() - started
    writer.join()
    assert column(fetched, "value") == [b"v2"]
    assert 0.2 <= waited < 3.0


def test_appends_from_many_threads(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name)
    results = []

    def write(n: int) -> None:
        for i in range(5):
            results.append(log.append(name, 0, [Record(b"%d-%d" % (n, i))] * 3))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spans = sorted((r.base_offset, r.last_offset) for r in results)
    assert spans == [(3 * i, 3 * i + 2) for i in range(20)]  # contiguous, never interleaved
    assert len(column(read_all(log, name), "offset")) == 60


# -- produce -------------------------------------------------------------------
def test_produce_partitions_keys_by_murmur2(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name, partitions=4)
    keys = [b"user-%d" % i for i in range(200)]
    results = log.produce(name, [Record(b"v", k) for k in keys])
    assert sum(r.count for r in results) == 200
    assert sorted(r.partition for r in results) == [0, 1, 2, 3]
    expected = partition_for_keys(pa.array(keys, pa.binary()), 4, 0)
    for partition in range(4):
        got = column(log.read(name, partition, 0), "key")
        assert got == [k for k, p in zip(keys, expected, strict=True) if p == partition]
    again = log.produce(name, [Record(b"w", b"user-7")])
    assert [r.partition for r in again] == [int(expected[7])]  # the same key, the same partition


def test_produce_without_keys_sticks_to_one_partition_per_call(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name, partitions=3)
    first = log.produce(name, values(10))
    second = log.produce(name, values(10))
    assert [r.count for r in first] == [10]
    assert [r.count for r in second] == [10]
    assert first[0].partition != second[0].partition


def test_partitioner_agrees_with_librdkafka(log: Log, backend: str, new_topic: NewTopic) -> None:
    if backend != "kafka":
        pytest.skip("compares with librdkafka's murmur2_random partitioner")
    name = new_topic()
    log.create_topic(name, partitions=7)
    keys = [b"", b"a", b"ab", b"abc", b"abcd", b"abcde", b"\xff\x00\x80", "clé-ü".encode()]
    keys += [b"user-%d" % i for i in range(40)] + [bytes(range(i, i + 13)) for i in range(20)]
    producer = raw_producer(log, partitioner="murmur2_random")
    placed: dict[bytes | None, int | None] = {}
    for key in keys:
        producer.produce(name, b"v", key, on_delivery=lambda e, m: placed.__setitem__(m.key(), m.partition()))
    assert producer.flush(30) == 0
    expected = partition_for_keys(pa.array(keys, pa.binary()), 7, 0)
    assert [placed[k] for k in keys] == expected.tolist()


# -- poll ----------------------------------------------------------------------
def test_poll_waits_for_any_of_several_partitions(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name, partitions=3)
    positions = {TopicPartition(name, p): 0 for p in range(3)}
    started = time.monotonic()
    assert log.poll(positions, timeout_s=0.3) == []
    assert 0.25 <= time.monotonic() - started < 3.0
    timer = threading.Timer(0.3, lambda: log.append(name, 1, values(2)))
    timer.start()
    started = time.monotonic()
    fetched = log.poll(positions, timeout_s=20)
    waited = time.monotonic() - started
    timer.join()
    assert [(f.partition, column(f, "value"), f.next_offset) for f in fetched] == [(1, [b"v0", b"v1"], 2)]
    assert 0.2 <= waited < 3.0


def test_poll_reads_every_partition_from_its_position(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name, partitions=3)
    log.append(name, 0, values(7))
    log.append(name, 2, values(4, start=100))
    positions = {TopicPartition(name, 0): 2, TopicPartition(name, 1): 0, TopicPartition(name, 2): 0}
    batches = follow(log, positions, {TopicPartition(name, 0): 7, TopicPartition(name, 2): 4})
    assert all(1 <= len(b) <= 3 for b in batches)  # max_records counts per partition
    by_partition = {p: column([b for b in batches if b.partition == p], "value") for p in range(3)}
    assert by_partition == {0: [b"v%d" % i for i in range(2, 7)], 1: [], 2: [b"v%d" % i for i in range(100, 104)]}
    assert log.poll(positions, timeout_s=0.2) == []
    log.append(name, 1, values(1))
    assert [(f.partition, column(f, "value")) for f in log.poll(positions, timeout_s=10)] == [(1, [b"v0"])]


# -- offsets -------------------------------------------------------------------
def test_offsets_of_an_empty_partition(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name, partitions=2)
    assert (log.beginning_offset(name, 1), log.end_offset(name, 1)) == (0, 0)
    fetched = log.read(name, 1, 0)
    assert (len(fetched), fetched.next_offset) == (0, 0)


def test_end_offset_follows_appends(log: Log, new_topic: NewTopic, broker_limitation: Limitation) -> None:
    broker_limitation(LISTOFFSETS_END)
    name = new_topic()
    log.create_topic(name)
    log.append(name, 0, values(5))
    log.append(name, 0, values(3))
    assert (log.beginning_offset(name, 0), log.end_offset(name, 0)) == (0, 8)


def test_offset_for_time(log: Log, new_topic: NewTopic, broker_limitation: Limitation) -> None:
    broker_limitation(LISTOFFSETS_TIME)
    name = new_topic()
    log.create_topic(name, partitions=2)
    assert log.offset_for_time(name, 1, 0) is None  # an empty partition
    log.append(name, 0, [Record(b"a", timestamp=1_000), Record(b"b", timestamp=2_000)])
    log.append(name, 0, [Record(b"c", timestamp=3_000)])
    assert log.offset_for_time(name, 0, 0) == 0
    assert log.offset_for_time(name, 0, 1_500) == 1
    assert log.offset_for_time(name, 0, 2_000) == 1
    assert log.offset_for_time(name, 0, 3_000) == 2
    assert log.offset_for_time(name, 0, 3_001) is None


# -- errors --------------------------------------------------------------------
def test_unknown_topic(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    calls: list[Callable[[], object]] = [
        lambda: log.append(name, 0, values(1)),
        lambda: log.produce(name, values(1)),
        lambda: log.read(name, 0, 0),
        lambda: log.describe_topic(name),
        lambda: log.beginning_offset(name, 0),
        lambda: log.end_offset(name, 0),
        lambda: log.offset_for_time(name, 0, 0),
        lambda: log.commit(new_topic("g"), {TopicPartition(name, 0): 1}),
    ]
    for call in calls:
        with pytest.raises(UnknownTopicError, match=name):
            call()
    assert name not in log.list_topics()  # asking never creates it


@pytest.mark.parametrize("partition", [-1, 2, 99])
def test_unknown_partition(log: Log, new_topic: NewTopic, partition: int) -> None:
    name = new_topic()
    log.create_topic(name, partitions=2)
    calls: list[Callable[[], object]] = [
        lambda: log.append(name, partition, values(1)),
        lambda: log.read(name, partition, 0),
        lambda: log.end_offset(name, partition),
        lambda: log.commit(new_topic("g"), {TopicPartition(name, partition): 1}),
    ]
    for call in calls:
        with pytest.raises(UnknownPartitionError, match=rf"partition {partition}\b") as caught:
            call()
        assert (caught.value.topic, caught.value.partition) == (name, partition)


@pytest.mark.parametrize("offset", [-1, 6, 100])
def test_offset_out_of_range(log: Log, new_topic: NewTopic, broker_limitation: Limitation, offset: int) -> None:
    if offset < 0:  # the valid range in the message comes from ListOffsets
        broker_limitation(LISTOFFSETS_END)
    name = new_topic()
    log.create_topic(name)
    log.append(name, 0, values(5))
    with pytest.raises(OffsetOutOfRangeError) as caught:
        log.read(name, 0, offset, timeout_s=0.1)
    error = caught.value
    assert (error.topic, error.partition, error.offset, error.start, error.end) == (name, 0, offset, 0, 5)
    assert name in str(error) and f"{name}[0]" in str(error) and f"offset {offset}" in str(error)
    assert "0..5" in str(error)
    assert column(log.read(name, 0, 5), "offset") == []  # the end itself is a valid offset


def test_record_over_max_message_bytes(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name, config={"max.message.bytes": "1024"})
    with pytest.raises(RecordTooLargeError, match="max.message.bytes=1024") as caught:
        log.append(name, 0, [Record(b"small"), Record(b"x" * 5000), Record(b"small")])
    assert (caught.value.topic, caught.value.partition, caught.value.limit) == (name, 0, 1024)
    assert caught.value.size > 1024
    assert len(log.read(name, 0, 0)) == 0  # nothing of the batch was written
    assert log.append(name, 0, [Record(b"y" * 500)]).base_offset == 0


def test_max_message_bytes_counts_records_as_kafka_does(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name, config={"max.message.bytes": "1024"})
    # A 954-byte value in a batch of its own: 61 bytes of batch header, 2 of record length, 961 of record.
    assert log.append(name, 0, [Record(b"x" * 954)]).count == 1
    with pytest.raises(RecordTooLargeError) as caught:
        log.append(name, 0, [Record(b"x" * 955)])
    assert (caught.value.size, caught.value.limit) == (1025, 1024)
    with pytest.raises(RecordTooLargeError):  # headers count too
        log.append(name, 0, [Record(b"x" * 900, headers=(("h", b"y" * 60),))])


def test_null_key_on_a_compacted_topic(log: Log, new_topic: NewTopic) -> None:
    name = new_topic()
    log.create_topic(name, config={"cleanup.policy": "compact"})
    with pytest.raises(InvalidRecordError, match=name):
        log.append(name, 0, [Record(b"keyed", b"k"), Record(b"unkeyed")])
    assert len(log.read(name, 0, 0)) == 0
    assert log.append(name, 0, [Record(b"keyed", b"k")]).count == 1


# -- consumer groups -----------------------------------------------------------
def test_consumer_group_offsets(log: Log, new_topic: NewTopic) -> None:
    name, group, other = new_topic(), new_topic("g"), new_topic("g")
    log.create_topic(name, partitions=3)
    tp0, tp1, tp2 = (TopicPartition(name, p) for p in range(3))
    assert log.committed(group, [tp0]) == {tp0: None}
    log.commit(group, {tp0: 5, tp1: 7})
    assert log.committed(group, [tp0, tp1, tp2]) == {tp0: 5, tp1: 7, tp2: None}
    log.commit(group, {tp0: 9})
    assert log.committed(group, [tp0, tp1]) == {tp0: 9, tp1: 7}
    assert log.committed(other, [tp0]) == {tp0: None}  # groups are independent
    assert group in log.list_groups() and other not in log.list_groups()
    assert log.list_groups() == sorted(log.list_groups())
    log.delete_group(group)
    assert group not in log.list_groups()
    assert log.committed(group, [tp0, tp1]) == {tp0: None, tp1: None}


# -- transactions --------------------------------------------------------------
def test_transact_appends_and_commits_offsets_together(log: Log, new_topic: NewTopic) -> None:
    out, audit, source, group = new_topic(), new_topic(), new_topic(), new_topic("g")
    log.create_topic(out, partitions=2)
    log.create_topic(audit, partitions=2)
    log.create_topic(source, partitions=1)
    consumed = TopicPartition(source, 0)
    results = log.transact(
        [(out, 1, values(3)), (audit, 0, [Record(b"a", b"k")]), (out, 1, values(1, start=3))],
        group=group, offsets={consumed: 42}, transactional_id=new_topic("tx"),
    )
    assert [(r.topic, r.partition, r.base_offset, r.count) for r in results] == [(out, 1, 0, 4), (audit, 0, 0, 1)]
    assert column(read_all(log, out, 1), "value") == [b"v0", b"v1", b"v2", b"v3"]
    assert column(read_all(log, audit, 0), "key") == [b"k"]
    assert log.committed(group, [consumed]) == {consumed: 42}
    assert len(log.read(out, 0, 0)) == 0  # partitions outside the transaction are untouched


def test_a_failed_transaction_leaves_nothing(log: Log, new_topic: NewTopic) -> None:
    out, small, source, group, writer = new_topic(), new_topic(), new_topic(), new_topic("g"), new_topic("tx")
    log.create_topic(out, partitions=2)
    log.create_topic(small, config={"max.message.bytes": "1024"})
    log.create_topic(source)
    consumed = TopicPartition(source, 0)
    with pytest.raises(RecordTooLargeError) as caught:
        log.transact(
            [(out, 0, values(3)), (out, 1, values(2)), (small, 0, [Record(b"fits"), Record(b"x" * 5000)])],
            group=group, offsets={consumed: 5}, transactional_id=writer,
        )
    assert (caught.value.topic, caught.value.partition) == (small, 0)
    for topic, partition in ((out, 0), (out, 1), (small, 0)):
        assert log.end_offset(topic, partition) == 0
        assert len(log.read(topic, partition, 0)) == 0
    assert log.committed(group, [consumed]) == {consumed: None}
    log.transact([(out, 1, values(1))], group=group, offsets={consumed: 5}, transactional_id=writer)  # carries on
    assert column(read_all(log, out, 1), "value") == [b"v0"]
    assert log.committed(group, [consumed]) == {consumed: 5}


def test_a_transaction_of_offsets_only(log: Log, new_topic: NewTopic, broker_limitation: Limitation) -> None:
    broker_limitation(OFFSETS_ONLY)
    source, group, writer = new_topic(), new_topic("g"), new_topic("tx")
    log.create_topic(source)
    consumed = TopicPartition(source, 0)
    for offset in (3, 4):  # a query task whose input produced no output still moves on
        assert log.transact([], group=group, offsets={consumed: offset}, transactional_id=writer) == []
    assert log.committed(group, [consumed]) == {consumed: 4}


def test_reads_continue_past_transaction_markers(log: Log, new_topic: NewTopic) -> None:
    name, writer = new_topic(), new_topic("tx")
    log.create_topic(name, partitions=2)
    for n in range(3):
        log.transact([(name, 0, values(2, start=2 * n)), (name, 1, values(1, start=n))], transactional_id=writer)
    ends = {TopicPartition(name, p): log.end_offset(name, p) for p in range(2)}
    batches = follow(log, {TopicPartition(name, p): 0 for p in range(2)}, ends)  # ends count the markers
    assert column([b for b in batches if b.partition == 0], "value") == [b"v%d" % i for i in range(6)]
    assert column([b for b in batches if b.partition == 1], "value") == [b"v0", b"v1", b"v2"]
    offsets: list[int] = [o for b in batches if b.partition == 0 for o in b.records.column("offset").to_pylist()]
    assert offsets == sorted(offsets) and offsets[-1] < ends[TopicPartition(name, 0)]
    at_end = log.read(name, 0, ends[TopicPartition(name, 0)])
    assert (len(at_end), at_end.next_offset) == (0, ends[TopicPartition(name, 0)])
    started = time.monotonic()
    assert log.poll(ends, timeout_s=0.5) == []
    assert time.monotonic() - started < 3.0


def test_a_newer_writer_fences_an_older_one(log: Log, log_url: str, new_topic: NewTopic) -> None:
    from headwater.log import open_log

    name, source, group, writer = new_topic(), new_topic(), new_topic("g"), new_topic("tx")
    log.create_topic(name)
    log.create_topic(source)
    consumed = TopicPartition(source, 0)
    log.transact([(name, 0, values(1))], group=group, offsets={consumed: 1}, transactional_id=writer)
    with open_log(log_url) as newer:
        newer.transact([(name, 0, values(1, start=1))], group=group, offsets={consumed: 2}, transactional_id=writer)
        with pytest.raises(ProducerFencedError, match=rf"{writer}.*fenced"):
            log.transact([(name, 0, [Record(b"zombie")])], group=group, offsets={consumed: 9}, transactional_id=writer)
        # Fenced stays fenced: a zombie that retries never commits, not even offsets alone.
        with pytest.raises(ProducerFencedError):
            log.transact([(name, 0, [Record(b"again")])], group=group, offsets={consumed: 9}, transactional_id=writer)
        newer.transact([(name, 0, values(1, start=2))], group=group, offsets={consumed: 3}, transactional_id=writer)
        log.append(name, 0, [Record(b"plain")])  # appends without a transactional id are never fenced
    assert column(read_all(log, name), "value") == [b"v0", b"v1", b"v2", b"plain"]
    assert log.committed(group, [consumed]) == {consumed: 3}


def test_init_transactions_fences_before_the_first_transaction(log: Log, log_url: str, new_topic: NewTopic) -> None:
    """A task fences the old writer first, then reads the offsets: nothing the old one does after is kept."""
    from headwater.log import open_log

    name, source, group, writer = new_topic(), new_topic(), new_topic("g"), new_topic("tx")
    log.create_topic(name)
    log.create_topic(source)
    consumed = TopicPartition(source, 0)
    log.transact([(name, 0, values(1))], group=group, offsets={consumed: 1}, transactional_id=writer)
    with open_log(log_url) as newer:
        newer.init_transactions(writer)
        assert newer.committed(group, [consumed]) == {consumed: 1}
        with pytest.raises(ProducerFencedError):
            log.transact([(name, 0, [Record(b"zombie")])], group=group, offsets={consumed: 2}, transactional_id=writer)
        assert newer.committed(group, [consumed]) == {consumed: 1}
        # The old writer takes the id back explicitly: now the newer one is the zombie.
        log.init_transactions(writer)
        with pytest.raises(ProducerFencedError):
            newer.transact([(name, 0, [Record(b"zombie2")])], group=group, offsets={consumed: 7},
                           transactional_id=writer)
        log.transact([(name, 0, values(1, start=1))], group=group, offsets={consumed: 2}, transactional_id=writer)
    assert column(read_all(log, name), "value") == [b"v0", b"v1"]
    assert log.committed(group, [consumed]) == {consumed: 2}


def test_writers_of_other_ids_are_not_fenced(log: Log, log_url: str, new_topic: NewTopic) -> None:
    from headwater.log import open_log

    name, first, second = new_topic(), new_topic("tx"), new_topic("tx")
    log.create_topic(name)
    log.transact([(name, 0, values(1))], transactional_id=first)
    with open_log(log_url) as other:
        other.init_transactions(second)
        other.transact([(name, 0, values(1, start=1))], transactional_id=second)
    log.transact([(name, 0, values(1, start=2))], transactional_id=first)
    assert column(read_all(log, name), "value") == [b"v0", b"v1", b"v2"]


@pytest.fixture
def open_transaction(log: Log) -> Iterator[Callable[[str], confluent_kafka.Producer]]:
    """Factory: a raw producer whose transaction holds one record of ``topic``[0], left open.

    After the test the producers are closed, which aborts a transaction still open.
    """
    producers: list[confluent_kafka.Producer] = []

    def make(topic: str) -> confluent_kafka.Producer:
        producer = raw_producer(log, **{"transactional.id": f"raw-{topic}"})
        producers.append(producer)
        producer.init_transactions(30)
        producer.begin_transaction()
        producer.produce(topic, b"open", partition=0)
        assert producer.flush(30) == 0
        return producer

    yield make
    for producer in producers:
        producer.close()


def test_a_transaction_failing_after_its_records_were_sent_is_aborted(
    log: Log, backend: str, new_topic: NewTopic, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "kafka":
        pytest.skip("injects a failure into the Kafka producer's transaction")
    from headwater.log import kafka_write

    name, source, group, writer = new_topic(), new_topic(), new_topic("g"), new_topic("tx")
    log.create_topic(name, partitions=2)
    log.create_topic(source)
    consumed = TopicPartition(source, 0)
    send = kafka_write.send

    def send_then_fail(producer: confluent_kafka.Producer, rows: object) -> object:
        send(producer, rows)  # type: ignore[arg-type]
        assert producer.flush(30) == 0  # the records reached the broker, inside the transaction
        raise confluent_kafka.KafkaException(confluent_kafka.KafkaError(
            confluent_kafka.KafkaError._INVALID_ARG, "injected", fatal=False, txn_requires_abort=True))

    monkeypatch.setattr(kafka_write, "send", send_then_fail)
    with pytest.raises(LogError, match=rf"{writer}.*failed at produce: injected.*aborted"):
        log.transact([(name, 0, values(2)), (name, 1, values(1))], group=group, offsets={consumed: 5},
                     transactional_id=writer)
    monkeypatch.undo()
    assert log.committed(group, [consumed]) == {consumed: None}
    log.transact([(name, 1, [Record(b"after")])], group=group, offsets={consumed: 6}, transactional_id=writer)
    assert log.committed(group, [consumed]) == {consumed: 6}


def test_an_open_transaction_is_invisible_until_it_commits(
    log: Log, backend: str, new_topic: NewTopic, open_transaction: Callable[[str], confluent_kafka.Producer]
) -> None:
    if backend != "kafka":
        pytest.skip("opens a transaction with a raw Kafka producer")
    name = new_topic()
    log.create_topic(name)
    log.append(name, 0, values(1))
    assert column(log.read(name, 0, 0), "value") == [b"v0"]
    producer = open_transaction(name)
    started = time.monotonic()
    at_end = log.read(name, 0, 1, timeout_s=0.3)  # nothing committed is due: returns after its timeout
    assert (len(at_end), at_end.next_offset) == (0, 1)
    assert time.monotonic() - started < 3.0
    assert log.poll({TopicPartition(name, 0): 1}, timeout_s=0.3) == []
    producer.commit_transaction(30)
    assert column(log.read(name, 0, 1, timeout_s=10), "value") == [b"open"]


def test_end_offset_stops_at_an_open_transaction(
    log: Log, backend: str, new_topic: NewTopic, broker_limitation: Limitation,
    open_transaction: Callable[[str], confluent_kafka.Producer],
) -> None:
    if backend != "kafka":
        pytest.skip("opens a transaction with a raw Kafka producer")
    broker_limitation(OPEN_TRANSACTION_END)
    name = new_topic()
    log.create_topic(name)
    log.append(name, 0, values(1))
    open_transaction(name)
    assert log.end_offset(name, 0) == 1  # the last stable offset: readers can read up to there
    assert column(log.read(name, 0, 0), "value") == [b"v0"]  # a new reader, told the end by ListOffsets


def test_records_of_an_aborted_transaction_are_never_read(
    log: Log, backend: str, new_topic: NewTopic, broker_limitation: Limitation,
    open_transaction: Callable[[str], confluent_kafka.Producer],
) -> None:
    if backend != "kafka":
        pytest.skip("aborts a transaction with a raw Kafka producer")
    broker_limitation(ABORTED_VISIBLE)
    name = new_topic()
    log.create_topic(name)
    open_transaction(name).abort_transaction(30)
    log.transact([(name, 0, [Record(b"committed")])], transactional_id=new_topic("tx"))
    assert column(read_all(log, name), "value") == [b"committed"]


# -- lifecycle -----------------------------------------------------------------
def test_a_closed_log_refuses_work(log_url: str, new_topic: NewTopic) -> None:
    from headwater.log import open_log

    name = new_topic()
    log = open_log(log_url)
    log.create_topic(name)
    log.append(name, 0, values(1))
    assert len(log.read(name, 0, 0)) == 1
    log.close()
    log.close()  # closing twice is harmless
    for call in (
        lambda: log.list_topics(),
        lambda: log.append(name, 0, values(1)),
        lambda: log.read(name, 0, 0),
        lambda: log.end_offset(name, 0),
        lambda: log.commit(new_topic("g"), {TopicPartition(name, 0): 1}),
    ):
        with pytest.raises(LogClosedError):
            call()
