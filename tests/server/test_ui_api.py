"""The UI's JSON APIs: topic browser (offsets, sizes, rates, decoded messages, key search) and the flow graph."""

from __future__ import annotations

import base64
import time

from headwater.server.rates import RateWindow
from tests.server.conftest import AppFactory

ADMIN = {"X-API-Key": "secret"}


def _produce(client, topic: str, records: list[dict], headers: dict | None = None) -> None:  # type: ignore[no-untyped-def]
    response = client.post(f"/topics/{topic}/messages", json={"records": records}, headers=headers or {})
    assert response.status_code == 200, response.text


def test_rate_window_averages_growth_over_the_window() -> None:
    window = RateWindow(window_s=60)
    window.observe({"a": 0}, now=0.0)
    window.observe({"a": 50, "b": 7}, now=5.0)
    window.observe({"a": 100, "b": 9}, now=10.0)
    rates = window.rates()
    assert rates["a"] == 10.0  # 100 records over 10 s
    assert rates["b"] == 0.4  # seen from t=5: 2 records over 5 s
    window.observe({"a": 100}, now=100.0)  # older samples leave the window: nothing grew in the last minute
    assert window.rates()["a"] == 0.0


def test_topics_list_messages_decoded_and_key_search(make_client: AppFactory) -> None:
    client = make_client()
    assert client.post("/topics", json={"name": "clicks", "partitions": 2}).status_code == 200
    binary = bytes([0, 1, 2, 255])
    _produce(client, "clicks", [
        {"key": "u1", "value": {"page": "/a", "n": 1}, "partition": 0, "headers": {"trace": "t-1"}},
        {"key": "u2", "value": "plain text", "partition": 0},
        {"key": {"base64": base64.b64encode(binary).decode()}, "value": {"base64": base64.b64encode(binary).decode()},
         "partition": 1},
        {"key": "u1", "value": {"page": "/b"}, "partition": 1},
    ])
    listed = {t["name"]: t for t in client.get("/ui/api/topics").json()["topics"]}
    clicks = listed["clicks"]
    assert clicks["messages"] == 4 and clicks["partition_count"] == 2 and not clicks["internal"]
    assert [p["end_offset"] for p in clicks["partitions"]] == [2, 2]
    assert clicks["size_bytes"] > 0 and all(p["size_bytes"] > 0 for p in clicks["partitions"])
    assert clicks["rate"] >= 0
    page = client.get("/ui/api/topics/clicks/partitions/0/messages", params={"offset": 0}).json()
    first, second = page["messages"]
    assert first["key"] == {"type": "text", "size": 2, "text": "u1"}
    assert first["value"]["type"] == "json" and first["value"]["json"] == {"page": "/a", "n": 1}
    assert first["headers"] == [{"key": "trace", "value": {"type": "text", "size": 3, "text": "t-1"}}]
    assert second["value"] == {"type": "text", "size": 10, "text": "plain text"}
    raw = client.get("/ui/api/topics/clicks/partitions/1/messages").json()["messages"][0]
    assert raw["key"]["type"] == "binary" and raw["key"]["hex"] == "000102ff"
    assert base64.b64decode(raw["value"]["base64"]) == binary
    by_time = client.get("/ui/api/topics/clicks/partitions/0/messages",
                         params={"timestamp": int(time.time() * 1000) + 60_000}).json()
    assert by_time["messages"] == [] and by_time["offset"] == 2
    found = client.get("/ui/api/topics/clicks/search", params={"key": "u1"}).json()
    assert sorted((m["partition"], m["offset"]) for m in found["messages"]) == [(0, 0), (1, 1)]
    assert found["scanned"] == 4
    contains = client.get("/ui/api/topics/clicks/search", params={"key": "u", "match": "contains"}).json()
    assert len(contains["messages"]) == 3
    described = client.get("/ui/api/topics/clicks").json()
    assert described["name"] == "clicks" and "config" in described and described["consumer_groups"] == []


def test_bad_input_is_a_clear_4xx(make_client: AppFactory) -> None:
    client = make_client()
    client.post("/topics", json={"name": "t", "partitions": 1})
    assert client.get("/ui/api/topics/nope").status_code == 404
    assert client.get("/ui/api/topics/t/partitions/3/messages").status_code == 404
    assert client.get("/ui/api/topics/t/partitions/x/messages").status_code == 400
    assert client.get("/ui/api/topics/t/partitions/0/messages", params={"limit": 0}).status_code == 400
    assert client.get("/ui/api/topics/t/partitions/0/messages", params={"offset": 1, "timestamp": 5}).status_code == 400
    assert client.get("/ui/api/topics/t/partitions/0/messages", params={"timestamp": "yesterday"}).status_code == 400
    assert client.get("/ui/api/topics/t/search").status_code == 400
    assert client.get("/ui/api/topics/t/search", params={"key": "k", "match": "regex"}).status_code == 400
    assert client.get("/ui/api/flow/widget/x").status_code == 404
    assert client.get("/ui/api/flow/query/NOPE").status_code == 404


def test_api_keys_guard_the_ui_apis(make_client: AppFactory) -> None:
    client = make_client(admin_key="secret", read_keys=("reader",))
    assert client.get("/ui/api/topics").status_code == 401
    assert client.get("/ui/api/flow").status_code == 401
    reader = {"X-API-Key": "reader"}
    assert client.get("/ui/api/topics", headers=reader).status_code == 200
    assert client.post("/topics", json={"name": "connect-configs"}, headers=ADMIN).status_code == 200
    refused = client.get("/ui/api/topics/connect-configs/partitions/0/messages", headers=reader)
    assert refused.status_code == 403 and "secrets" in refused.json()["message"]
    assert client.get("/ui/api/topics/connect-configs/search", params={"key": "k"}, headers=reader).status_code == 403
    foreign = client.get("/ui/api/topics", headers={**reader, "Origin": "http://evil.example"})
    assert foreign.status_code == 403


def test_flow_graph_and_query_details(make_client: AppFactory) -> None:
    client = make_client(ksql_properties={"auto.offset.reset": "earliest"})
    ksql = ("CREATE STREAM clicks (user VARCHAR KEY, page VARCHAR, n INT) "
            "WITH (kafka_topic='clicks', partitions=1, value_format='JSON');"
            "CREATE TABLE per_user AS SELECT user, SUM(n) AS n FROM clicks GROUP BY user EMIT CHANGES;")
    assert client.post("/ksql", json={"ksql": ksql}).status_code == 200, client.post
    _produce(client, "clicks", [{"key": "u1", "value": {"page": "/a", "n": 1}},
                                {"key": "u1", "value": "{broken"}])
    graph = client.get("/ui/api/flow").json()
    ids = {n["id"]: n for n in graph["nodes"]}
    query_id = next(n["name"] for n in graph["nodes"] if n["kind"] == "query")
    assert {"topic:clicks", "stream:CLICKS", "table:PER_USER", "topic:PER_USER", f"query:{query_id}"} <= set(ids)
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert {("topic:clicks", "stream:CLICKS"), ("stream:CLICKS", f"query:{query_id}"),
            (f"query:{query_id}", "topic:PER_USER"), ("topic:PER_USER", "table:PER_USER")} <= edges
    deadline = time.time() + 20
    details = client.get(f"/ui/api/flow/query/{query_id}").json()
    while (details["records_in"] < 2 or not details["processing_log"]) and time.time() < deadline:
        time.sleep(0.2)
        details = client.get(f"/ui/api/flow/query/{query_id}").json()
    assert details["status"] == "RUNNING" and "SUM(n)" in details["statement"]
    assert details["records_in"] == 2 and details["failed_records"] == 1 and details["lag"] == 0, str(details)
    entry = details["processing_log"][0]
    assert entry["logger"].startswith(f"processing.{query_id}.") and entry["message"]["type"] == 0
    stream = client.get("/ui/api/flow/stream/CLICKS").json()
    assert stream["topic"] == "clicks" and stream["read_by"] == [query_id]
    assert client.get("/ui/api/flow/table/CLICKS").status_code == 404
    assert client.get("/ui/api/flow/topic/clicks").json()["sources"] == ["CLICKS"]


def test_ksql_errors_carry_their_position(make_client: AppFactory) -> None:
    client = make_client()
    ksql = "CREATE STREAM s (a INT) WITH (kafka_topic='s', partitions=1, value_format='JSON');\nSHOW STREAMS;\n  SELEC 1;"
    body = client.post("/ksql", json={"ksql": ksql}).json()
    assert body["@type"] == "statement_error" and body["position"] == {"line": 3, "column": 3}
    assert len(body["entities"]) == 2  # ksqlDB's shape is kept: the statements that ran before it
    query = client.post("/query-stream", json={"sql": "SELECT b\nFROM s EMIT CHANGES;"}).json()
    assert query["position"] == {"line": 1, "column": 8} and "cannot be resolved" in query["message"]
    later = client.post("/query-stream", json={"sql": "\n\n  SELECT b\nFROM s EMIT CHANGES;"}).json()
    assert later["position"] == {"line": 3, "column": 10}  # where it is in the request, as /ksql counts
