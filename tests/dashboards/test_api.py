"""The dashboards REST API and the panels' data, on a real app and SQL session."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from tests.server.live import LiveServer

AppFactory = Callable[..., TestClient]
SETUP = ("CREATE STREAM clicks (user VARCHAR KEY, bytes INT) WITH (kafka_topic='clicks', value_format='json', "
         "partitions=1); CREATE TABLE per_user AS SELECT user, COUNT(*) AS n, SUM(bytes) AS total FROM clicks "
         "GROUP BY user;")
ROWS = "".join(f"INSERT INTO clicks (user, bytes) VALUES ('{u}', {b});" for u, b in
               [("ann", 10), ("bob", 20), ("ann", 30), ("cid", 5)])


def board(board_id: str = "mine", **panel: Any) -> dict[str, Any]:
    spec = {"id": "totals", "title": "Totals", "type": "topn", "query": "SELECT * FROM PER_USER;",
            "label": "USER", "value": "TOTAL", **panel}
    return {"id": board_id, "title": "My board", "description": "tests", "panels": [spec]}


def wait_for(probe: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_put_get_list_delete(make_client: AppFactory) -> None:
    client = make_client()
    listed = client.get("/dashboards").json()
    assert {"id": "clickstream", "source": "packaged"}.items() <= next(
        d for d in listed["dashboards"] if d["id"] == "clickstream").items()
    made = client.put("/dashboards/mine", json=board())
    assert made.status_code == 201, made.text
    assert made.json()["source"] == "api"
    again = client.put("/dashboards/mine", json={**board(), "title": "Renamed"})
    assert again.status_code == 200 and client.get("/dashboards/mine").json()["title"] == "Renamed"
    assert "mine" in {d["id"] for d in client.get("/dashboards").json()["dashboards"]}
    assert client.delete("/dashboards/mine").status_code == 204
    gone = client.get("/dashboards/mine")
    assert gone.status_code == 404 and gone.json()["error_code"] == 404


@pytest.mark.parametrize(("body", "says"), [
    ({**board(), "panels": [{**board()["panels"][0], "type": "gauge"}]}, "panels.0.type"),
    ({**board(), "refresh": 3}, "refresh"),
    ({**board(), "id": "other"}, "id: the body's id 'other' differs"),
    ([1, 2], "mapping"),
])
def test_an_invalid_body_is_a_400_naming_the_field(make_client: AppFactory, body: Any, says: str) -> None:
    answer = make_client().put("/dashboards/mine", json=body)
    assert answer.status_code == 400 and says in answer.json()["message"], answer.text


def test_bodies_that_are_not_json_are_refused(make_client: AppFactory) -> None:
    client = make_client()
    assert client.put("/dashboards/mine", content=b"{", headers={"content-type": "application/json"}).status_code == 400
    plain = client.put("/dashboards/mine", content=orjson.dumps(board()), headers={"content-type": "text/plain"})
    assert plain.status_code == 415
    assert client.get("/dashboards/mine").status_code == 404


def test_a_packaged_dashboard_cannot_be_deleted(make_client: AppFactory) -> None:
    answer = make_client().delete("/dashboards/clickstream")
    assert answer.status_code == 409 and "packaged" in answer.json()["message"]


def test_writes_need_the_admin_key(make_client: AppFactory) -> None:
    client = make_client(admin_keys=("admin-secret",), read_keys=("reader",))
    assert client.get("/dashboards").status_code == 401
    assert client.get("/dashboards", headers={"x-api-key": "reader"}).status_code == 200
    assert client.put("/dashboards/mine", json=board(), headers={"x-api-key": "reader"}).status_code == 403
    assert client.put("/dashboards/mine", json=board()).status_code == 401
    assert client.put("/dashboards/mine", json=board(), headers={"x-api-key": "admin-secret"}).status_code == 201
    assert client.delete("/dashboards/mine", headers={"x-api-key": "reader"}).status_code == 403


def test_a_dashboards_folder_is_read_and_written(make_client: AppFactory, tmp_path: Path) -> None:
    folder = tmp_path / "boards"
    folder.mkdir()
    client = make_client(dashboards_dir=str(folder))
    assert client.put("/dashboards/mine", json=board()).json()["source"] == "folder"
    assert "title: My board" in (folder / "mine.yaml").read_text()
    (folder / "broken.yaml").write_text("id: broken\n")
    problems = client.get("/dashboards").json()["problems"]
    assert any("broken.yaml: title" in p["error"] for p in problems), problems


def test_a_pull_panel_answers_the_tables_rows(make_client: AppFactory) -> None:
    client = make_client(ksql_properties={"auto.offset.reset": "earliest"})
    assert client.post("/ksql", json={"ksql": SETUP}).status_code == 200
    assert client.post("/ksql", json={"ksql": ROWS}).status_code == 200
    live = {"id": "live", "title": "Live", "type": "stat", "query": "SELECT * FROM PER_USER EMIT CHANGES;",
            "value": "N"}
    missing = {"id": "missing", "title": "Missing", "type": "table", "query": "SELECT * FROM NOPE;"}
    spec = board()
    spec["panels"] += [live, missing]
    assert client.put("/dashboards/mine", json=spec).status_code == 201

    def totals() -> dict[str, int] | None:
        answer = client.get("/dashboards/mine/panels/totals/data").json()
        rows = {r[answer["columns"].index("USER")]: r[answer["columns"].index("TOTAL")] for r in answer["rows"]}
        return rows if len(rows) == 3 and rows.get("ann") == 40 else None

    assert wait_for(totals, "the table's rows") == {"ann": 40, "bob": 20, "cid": 5}
    pushed = client.get("/dashboards/mine/panels/live/data")
    assert pushed.status_code == 400 and "/stream" in pushed.json()["message"]
    failed = client.get("/dashboards/mine/panels/missing/data")
    assert failed.status_code == 400 and "NOPE" in failed.json()["message"]
    assert client.get("/dashboards/mine/panels/nope/data").status_code == 404
    assert client.get("/dashboards/nope/panels/totals/data").status_code == 404


def read_events(response: httpx.Response, until: Callable[[list[tuple[str, Any]]], bool]) -> list[tuple[str, Any]]:
    """Server-sent events of a streaming response, parsed, until ``until(events)`` holds."""
    events: list[tuple[str, Any]] = []
    name, data = "message", []
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            events.append((name, orjson.loads("\n".join(data))))
            name, data = "message", []
            if until(events):
                return events
    raise AssertionError(f"the stream ended: {events}")


def test_live_panels_stream_the_tables_rows(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    assert httpx.post(f"{server.url}/ksql", json={"ksql": SETUP}).status_code == 200
    assert httpx.post(f"{server.url}/ksql", json={"ksql": ROWS}).status_code == 200
    live = {"id": "live", "title": "Live", "type": "stat", "query": "SELECT * FROM PER_USER EMIT CHANGES;",
            "value": "N"}
    same = {**live, "id": "same", "type": "table"}
    spec = {"id": "mine", "title": "Mine", "panels": [live, same, {**live, "id": "bad",
                                                                   "query": "SELECT * FROM NOPE EMIT CHANGES;"}]}
    assert httpx.put(f"{server.url}/dashboards/mine", json=spec).status_code == 201

    def folded(events: list[tuple[str, Any]]) -> dict[str, int]:
        header = next(data for name, data in events if name in ("header", "message") and "columns" in data)
        columns = header["columns"]
        rows = [r for name, data in events if name == "rows" for r in data["rows"]]
        rows += [data for name, data in events if name == "message" and isinstance(data, list)]
        return {r[columns.index("USER")]: r[columns.index("N")] for r in rows}  # the latest row per key

    with httpx.stream("GET", f"{server.url}/dashboards/mine/stream", timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response, lambda ev: folded(ev) == {"ann": 2, "bob": 1, "cid": 1}
                             and any(n == "error" for n, _ in ev))
    headers = [data for name, data in events if name == "header"]
    assert [h["panels"] for h in headers] == [["live", "same"]]  # one push query for the two panels
    assert headers[0]["key"] == ["USER"]
    error = next(data for name, data in events if name == "error")
    assert error["panels"] == ["bad"] and "NOPE" in error["message"]

    with httpx.stream("GET", f"{server.url}/dashboards/mine/panels/live/stream", timeout=30) as response:
        events = read_events(response, lambda ev: folded(ev) == {"ann": 2, "bob": 1, "cid": 1})
    assert events[0][0] == "header" and events[0][1]["key"] == ["USER"]
    wait_for(lambda: not server.state.session.push_queries, "the push queries to close")
