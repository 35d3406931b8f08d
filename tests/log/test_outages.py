"""Disk full and damage as users see them: through the collector, a persistent query and the health check."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import orjson
from starlette.testclient import TestClient

from headwater.session import Session
from headwater.engine.query import QueryState
from headwater.log import Record
from headwater.log.embedded import EmbeddedLog
from headwater.server import ServerConfig, create_app

from tests.log.conftest import SmallDisk


def _batch(n: int) -> tuple[list[str], dict[str, object]]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    body = {"batch": [{"type": "track", "event": "Clicked", "userId": f"u{i}", "messageId": mid,
                       "properties": {"pad": "p" * 400}} for i, mid in enumerate(ids)]}
    return ids, body


def _stored_ids(log: EmbeddedLog, topic: str = "events") -> list[str]:
    ids: list[str] = []
    for partition in range(log.describe_topic(topic).partitions):
        offset = log.beginning_offset(topic, partition)
        while offset < log.end_offset(topic, partition):
            fetched = log.read(topic, partition, offset)
            ids += [orjson.loads(v)["messageId"] for v in fetched.records.column("value").to_pylist()]
            offset = fetched.next_offset
    return ids


def test_collector_answers_503_on_a_full_disk_and_loses_nothing(small_disk: SmallDisk) -> None:
    data = small_disk.root / "data"
    acked: list[str] = []
    refused: list[tuple[list[str], dict[str, object]]] = []
    with TestClient(create_app(ServerConfig(log_url=str(data))), base_url="http://127.0.0.1:8088") as client:
        for _ in range(3):
            ids, body = _batch(20)
            assert client.post("/v1/batch", json=body).status_code == 200
            acked += ids
        # Let the index's next commits reuse its WAL file, so the segment writes meet the full disk first.
        with sqlite3.connect(data / "meta.db") as other:
            other.execute("PRAGMA wal_checkpoint(RESTART)")
        small_disk.fill(leave=100_000)
        for _ in range(60):
            ids, body = _batch(20)
            response = client.post("/v1/batch", json=body)
            if response.status_code == 200:
                acked += ids
                continue
            assert response.status_code == 503, response.text
            answer = response.json()
            assert answer["success"] is False and answer["code"] == "unavailable"
            assert "disk is full" in answer["message"]
            refused.append((ids, body))
        assert len(refused) >= 3, "the disk never filled"
        health = client.get("/healthcheck")
        assert health.status_code == 200  # the process is alive; only writes wait for space
        produced = client.post("/topics/events/messages", json={"records": [{"value": "x" * 200_000}]})
        assert produced.status_code == 503 and "disk is full" in produced.json()["message"]
        small_disk.free()
        for ids, body in refused:  # a client retries what was refused
            assert client.post("/v1/batch", json=body).status_code == 200
            acked += ids
        ids, body = _batch(20)
        assert client.post("/v1/batch", json=body).status_code == 200
        acked += ids
    with EmbeddedLog(str(data)) as log:
        stored = _stored_ids(log)
    assert sorted(stored) == sorted(acked)  # every acknowledged event, each exactly once


def test_persistent_query_waits_out_a_full_disk_and_resumes(small_disk: SmallDisk) -> None:
    data = small_disk.root / "data"
    with Session(str(data), properties={"auto.offset.reset": "earliest"}) as session:
        session.execute("CREATE STREAM clicks (id INT, pad VARCHAR) WITH (kafka_topic='clicks', "
                        "value_format='JSON', partitions=1);")
        session.execute("CREATE STREAM copied AS SELECT id, pad FROM clicks;")
        [query] = session.queries.values()
        log = session.log
        log.append("clicks", 0, [Record(orjson.dumps({"id": i, "pad": "x" * 200})) for i in range(50)])
        session.wait_until_processed(60)
        small_disk.fill()
        small_disk.free_some(120_000)
        # The input fits; the query's output then meets the full disk.
        log.append("clicks", 0, [Record(orjson.dumps({"id": i, "pad": "x" * 200})) for i in range(50, 400)])
        small_disk.fill()
        deadline = time.monotonic() + 60
        while query.state is not QueryState.ERROR and time.monotonic() < deadline:
            time.sleep(0.1)
        assert query.state is QueryState.ERROR
        assert "disk is full" in (query.stats.last_error or "")
        small_disk.free()
        session.wait_until_processed(60)
        assert query.state is QueryState.RUNNING
        output = []
        offset = 0
        while offset < log.end_offset("COPIED", 0):
            fetched = log.read("COPIED", 0, offset)
            output += [orjson.loads(v)["ID"] for v in fetched.records.column("value").to_pylist()]
            offset = fetched.next_offset
        assert output == list(range(400))


def test_health_check_reports_damage(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with EmbeddedLog(str(data)) as log:
        log.create_topic("t", 2)
        for p in (0, 1):
            log.append("t", p, [Record(b"x" * 100) for _ in range(10)])
    with TestClient(create_app(ServerConfig(log_url=str(data))), base_url="http://127.0.0.1:8088") as client:
        assert client.get("/ksql/healthcheck").json()["isHealthy"] is True
    (segment,) = data.glob("topics/t-*/1/*.log")
    segment.unlink()
    with TestClient(create_app(ServerConfig(log_url=str(data))), base_url="http://127.0.0.1:8088") as client:
        response = client.get("/ksql/healthcheck")
        assert response.status_code == 503
        health = response.json()
        assert health["isHealthy"] is False
        [problem] = health["details"]["log"]["problems"]
        assert (problem["topic"], problem["partition"]) == ("t", 1)
        assert "offsets 0..9" in problem["problem"] and "missing" in problem["problem"]
        # The intact partition still serves reads through the topic API.
        log = client.app.state.headwater.log  # type: ignore[attr-defined]
        assert log.read("t", 0, 0).records.num_rows == 10
