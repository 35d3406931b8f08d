"""The Kafka Connect REST API against a running server: the seed's curl commands, a Connect client, error bodies."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kafka_connect import KafkaConnect

from headwater.log import Log
from tests.connect.conftest import lines, wait_until
from tests.connect.server import ThreadedServer

SEED = Path("/work/shared/seeds/004_3a096539879736c3.txt")
SEED_FILE = "/tmp/quickstart/file/output.txt"


@pytest.fixture
def server(connect_log: Log, tmp_path: Path) -> Iterator[ThreadedServer]:
    running = ThreadedServer(connect_log, tmp_path / "log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def seed_commands() -> list[str]:
    """The curl commands of steps 6 and 7 of the seed, exactly as the README has them."""
    text = SEED.read_text()
    blocks = re.findall(r"```bash\n\s*(curl [^\n]*quickstart-file-sink[^\n]*)\n", text)
    assert len(blocks) == 2, blocks
    return blocks


def post_events(server: ThreadedServer, count: int) -> list[str]:
    """N events through the real collector's /v1/batch (Segment's API), as the seed's clients send them."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    batch = [{"type": "track", "event": "Page Viewed", "userId": f"u{i}", "messageId": ids[i],
              "properties": {"n": i}} for i in range(count)]
    response = httpx.post(server.url + "/v1/batch", json={"batch": batch})
    assert response.status_code == 200, response.text
    return ids


def test_seed_curl_commands_create_the_file_sink_and_events_become_lines(
        server: ThreadedServer, tmp_path: Path) -> None:
    output = tmp_path / "quickstart" / "file" / "output.txt"
    output.parent.mkdir(parents=True)  # steps 4 and 5 of the seed: the mount point and the file
    output.touch()
    create, status = (c.replace("localhost:8083", f"localhost:{server.port}").replace(SEED_FILE, str(output))
                      for c in seed_commands())
    created = subprocess.run(["bash", "-c", create + " -w '\\n%{http_code}'"], capture_output=True, text=True,
                             timeout=30, check=True)
    body, code = created.stdout.rsplit("\n", 1)
    assert code == "201"
    assert json.loads(body)["name"] == "quickstart-file-sink"
    assert json.loads(body)["type"] == "sink"

    ids = post_events(server, 25)
    wait_until(lambda: len(lines(output)) == 25, what="25 lines in the sink's file")
    written = [json.loads(line) for line in lines(output)]
    assert sorted(e["messageId"] for e in written) == sorted(ids)  # the collector's events, each once
    assert all(e["event"] == "Page Viewed" and e["type"] == "track" for e in written)

    shown = subprocess.run(["bash", "-c", status], capture_output=True, text=True, timeout=30, check=True)
    state = json.loads(shown.stdout)
    assert state["name"] == "quickstart-file-sink"
    assert state["connector"]["state"] == "RUNNING"
    assert [t["state"] for t in state["tasks"]] == ["RUNNING"]
    assert state["type"] == "sink"


def test_kafka_connect_py_lists_creates_pauses_resumes_and_deletes(server: ThreadedServer, tmp_path: Path) -> None:
    client = KafkaConnect(url=server.url)
    assert client.list_connectors() == []
    out = tmp_path / "out.txt"
    info = client.create_connector({"name": "clicks-file", "config": {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "topics": "events",
        "file": str(out)}})
    assert info["name"] == "clicks-file"
    assert client.list_connectors() == ["clicks-file"]
    expanded = client.list_connectors(expand="status")
    assert expanded["clicks-file"]["status"]["connector"]["state"] == "RUNNING"
    client.pause_connector("clicks-file")
    wait_until(lambda: client.get_connector_status("clicks-file")["tasks"][0]["state"] == "PAUSED", what="PAUSED")
    assert client.get_connector_status("clicks-file")["connector"]["state"] == "PAUSED"
    client.resume_connector("clicks-file")
    wait_until(lambda: client.get_connector_status("clicks-file")["tasks"][0]["state"] == "RUNNING", what="RUNNING")
    assert client.list_connector_tasks("clicks-file")[0]["id"] == {"connector": "clicks-file", "task": 0}
    plugins = {p["class"] for p in client.list_connector_plugins()}
    assert "org.apache.kafka.connect.file.FileStreamSinkConnector" in plugins
    client.delete_connector("clicks-file")
    assert client.list_connectors() == []


def test_connect_status_codes_and_error_bodies(server: ThreadedServer, tmp_path: Path) -> None:
    base = server.url
    config = {"connector.class": "FileStreamSink", "topics": "events", "file": str(tmp_path / "o.txt")}
    with httpx.Client(base_url=base) as http:
        missing = http.get("/connectors/nope")
        assert missing.status_code == 404
        assert missing.json() == {"error_code": 404, "message": "Connector nope not found"}
        bad = http.post("/connectors", json={"name": "bad", "config": {"connector.class": "FileStreamSink"}})
        assert bad.status_code == 400
        assert bad.json()["error_code"] == 400
        assert "contains the following 1 error(s)" in bad.json()["message"]
        assert http.post("/connectors", content=b"{nope").status_code == 400
        created = http.put("/connectors/fs/config", json=config)
        assert created.status_code == 201 and created.headers["location"] == "/connectors/fs"
        assert http.post("/connectors", json={"name": "fs", "config": config}).status_code == 409
        assert http.put("/connectors/fs/config", json={**config, "tasks.max": "1"}).status_code == 200
        patched = http.patch("/connectors/fs/config", json={"tasks.max": None, "topics": "other"})
        assert patched.status_code == 200
        assert "tasks.max" not in patched.json()["config"] and patched.json()["config"]["topics"] == "other"
        assert http.get("/connectors/fs/config").json()["topics"] == "other"
        wait_until(lambda: http.get("/connectors/fs/tasks/0/status").json().get("state") == "RUNNING",
                   what="task RUNNING")
        assert http.get("/connectors/fs/tasks/7/status").status_code == 404
        assert http.post("/connectors/fs/restart").status_code == 204
        restarted = http.post("/connectors/fs/restart", params={"includeTasks": "true"})
        assert restarted.status_code == 202 and restarted.json()["tasks"][0]["state"] == "RESTARTING"
        assert http.post("/connectors/fs/tasks/0/restart").status_code == 204
        assert http.get("/connectors/fs/topics").json() == {"fs": {"topics": ["other"]}}
        refused = http.request("PATCH", "/connectors/fs/offsets", json={"offsets": [
            {"partition": {"kafka_topic": "other", "kafka_partition": 0}, "offset": {"kafka_offset": 0}}]})
        assert refused.status_code == 400 and "STOPPED" in refused.json()["message"]
        assert http.put("/connectors/fs/stop").status_code == 204
        assert http.get("/connectors/fs/status").json()["connector"]["state"] == "STOPPED"
        assert http.delete("/connectors/fs/offsets").json() == {
            "message": "The offsets for this connector have been reset successfully"}
        assert http.put("/connectors/fs/resume").status_code == 202
        validated = http.put("/connector-plugins/FileStreamSinkConnector/config/validate",
                             json={"connector.class": "FileStreamSinkConnector", "topics": "a", "topics.regex": "b"})
        assert validated.status_code == 200
        assert validated.json()["name"] == "org.apache.kafka.connect.file.FileStreamSinkConnector"
        assert validated.json()["error_count"] == 1
        mismatch = http.put("/connector-plugins/FileStreamSourceConnector/config/validate",
                            json={"connector.class": "FileStreamSinkConnector"})
        assert mismatch.status_code == 400
        assert http.delete("/connectors/fs").status_code == 204
        assert http.delete("/connectors/fs").status_code == 404


def test_admin_key_protects_the_connect_api(connect_log: Log, tmp_path: Path) -> None:
    running = ThreadedServer(connect_log, tmp_path / "log", admin_key="s3cret")
    running.start()
    try:
        denied = httpx.get(running.url + "/connectors")
        assert denied.status_code == 401 and denied.json()["error_code"] == 401
        assert httpx.get(running.url + "/connectors", headers={"X-API-Key": "s3cret"}).json() == []
    finally:
        running.stop()


def test_connectors_come_back_when_the_server_restarts(connect_log: Log, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    first = ThreadedServer(connect_log, tmp_path / "log")
    first.start()
    try:
        created = httpx.post(first.url + "/connectors", json={"name": "kept", "config": {
            "connector.class": "FileStreamSink", "topics": "events", "file": str(out)}})
        assert created.status_code == 201
        assert httpx.put(first.url + "/connectors/kept/pause").status_code == 202
    finally:
        first.stop()
    second = ThreadedServer(connect_log, tmp_path / "log")
    second.start()
    try:
        assert httpx.get(second.url + "/connectors").json() == ["kept"]
        wait_until(lambda: httpx.get(second.url + "/connectors/kept/status").json()["tasks"][0]["state"] == "PAUSED",
                   what="restored PAUSED")
        status = httpx.get(second.url + "/connectors/kept/status").json()
        assert status["connector"] == {"state": "PAUSED", "worker_id": f"127.0.0.1:{second.port}"}
    finally:
        second.stop()
