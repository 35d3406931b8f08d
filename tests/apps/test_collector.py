"""The collector app (seed 004) end to end on a server: Segment batches in over HTTP, tables and file sink out.

The app is applied through the server's REST APIs (the runner's HttpTarget,
on the in-process client), as ``headwater apps run collector`` does.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from starlette.testclient import TestClient

from headwater.apps.runner import HttpTarget, Settings, run_app
from headwater.apps.spec import load_app
from headwater.apps.traffic import SegmentTraffic
from headwater.server import ServerConfig, create_app


def _query(client: TestClient, sql: str) -> list[list[object]]:
    response = client.post("/query", json={"ksql": sql, "streamsProperties": {}},
                           headers={"Content-Type": "application/vnd.ksql.v1+json"})
    assert response.status_code == 200, response.text
    return sorted(row["row"]["columns"] for row in response.json() if "row" in row)


def test_collector_app_end_to_end(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    config = ServerConfig(log_url=str(log_dir), write_keys=("k",), ksql_properties={"auto.offset.reset": "earliest"})
    with TestClient(create_app(config), base_url="http://127.0.0.1:8088") as client:
        target = HttpTarget("http://127.0.0.1:8088")
        target.client = client  # type: ignore[assignment] - the in-process client speaks httpx's API
        files = log_dir / "connect-files"
        settings = Settings(data_dir=str(log_dir), files_dir=str(files))
        report = run_app(load_app("collector"), target, settings)
        assert "connector quickstart-file-sink: created" in report
        batch = {"batch": [{"type": "track", "userId": "123456", "event": "Download", "messageId": f"m{n}"}
                           for n in range(3)] + [{"type": "page", "anonymousId": "a1", "name": "Home"}]}
        assert client.post("/v1/batch", json=batch, auth=("k", "")).status_code == 200
        traffic = SegmentTraffic("http://127.0.0.1:8088", "k", events_per_batch=10)
        traffic.post_batch(client)
        assert traffic.sent == 10 and traffic.refused == 0
        deadline = time.monotonic() + 60
        by_type: list[list[object]] = []
        while time.monotonic() < deadline and sum(int(r[1]) for r in by_type) != 14:  # type: ignore[call-overload]
            time.sleep(0.3)
            by_type = _query(client, "SELECT EVENT_TYPE, EVENTS FROM EVENTS_BY_TYPE;")
        assert sum(int(r[1]) for r in by_type) == 14  # type: ignore[call-overload]
        by_user = dict(_query(client, "SELECT USER_ID, EVENTS FROM EVENTS_BY_USER;"))
        assert by_user.get("123456") == 3 and sum(by_user.values()) == 14  # type: ignore[arg-type]
        output = files / "quickstart-output.txt"
        while time.monotonic() < deadline and not (output.exists() and len(output.read_text().splitlines()) >= 14):
            time.sleep(0.3)
        lines = output.read_text().splitlines()
        assert len(lines) == 14 and json.loads(lines[0])["event"] == "Download"
        assert run_app(load_app("collector"), target, settings) == [
            line.replace("created", "unchanged") for line in report]
