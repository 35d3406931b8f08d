"""The topic API: list, describe, read by offset or time, produce, admin key on writes."""

from __future__ import annotations

import base64

from headwater.log import Record
from tests.server.conftest import AppFactory

ADMIN = {"X-API-Key": "secret"}


def test_create_list_describe_delete_behind_the_admin_key(make_client: AppFactory) -> None:
    client = make_client(admin_key="secret")
    refused = client.post("/topics", json={"name": "clicks", "partitions": 3})
    assert refused.status_code == 401 and "needs an API key" in refused.json()["message"]
    wrong = client.post("/topics", json={"name": "clicks"}, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401 and wrong.json()["message"] == "The API key is not valid."
    created = client.post("/topics", json={"name": "clicks", "partitions": 3, "config": {"retention.ms": "1000"}},
                          headers=ADMIN)
    assert created.status_code == 200
    assert created.json() == {"name": "clicks", "partitions": 3, "config": {"retention.ms": "1000"}}
    assert client.post("/topics", json={"name": "clicks"}, headers=ADMIN).status_code == 409
    bad = client.post("/topics", json={"name": "bad name!"}, headers=ADMIN)
    assert bad.status_code == 400 and "invalid topic name" in bad.json()["message"]
    assert client.get("/topics").status_code == 401  # with keys configured, reading needs one too
    listed = client.get("/topics", headers=ADMIN).json()["topics"]
    assert {"name": "clicks", "partitions": 3} in listed
    described = client.get("/topics/clicks", headers=ADMIN).json()
    assert described["partitions"] == [{"partition": p, "beginning_offset": 0, "end_offset": 0} for p in range(3)]
    assert client.get("/topics/nope", headers=ADMIN).status_code == 404
    assert client.delete("/topics/clicks").status_code == 401
    assert client.delete("/topics/clicks", headers=ADMIN).json() == {"deleted": "clicks"}
    assert client.get("/topics/clicks", headers=ADMIN).status_code == 404


def test_produce_then_read_by_offset(make_client: AppFactory) -> None:
    client = make_client(admin_key="secret")
    client.post("/topics", json={"name": "t", "partitions": 2}, headers=ADMIN)
    produced = client.post("/topics/t/messages", headers=ADMIN, json={"records": [
        {"key": "k1", "value": "hello"},
        {"key": "k1", "value": {"n": 1}, "headers": {"h": "v"}},
        {"value": {"base64": base64.b64encode(b"\xff\x00").decode()}, "partition": 1},
    ]})
    assert produced.status_code == 200, produced.text
    offsets = produced.json()["offsets"]
    assert offsets[0]["partition"] == offsets[1]["partition"]  # same key, same partition
    assert offsets[1]["offset"] == offsets[0]["offset"] + 1
    assert offsets[2] == {"partition": 1, "offset": offsets[2]["offset"]}
    p = offsets[0]["partition"]
    read = client.get(f"/topics/t/partitions/{p}/messages", params={"offset": offsets[0]["offset"]},
                      headers=ADMIN).json()
    first, second = read["messages"][:2]
    assert (first["key"], first["value"], first["encoding"]) == ("k1", "hello", "utf-8")
    assert second["value"] == '{"n":1}' and second["headers"] == [{"key": "h", "value": "v"}]
    binary = client.get("/topics/t/partitions/1/messages", params={"offset": offsets[2]["offset"]},
                        headers=ADMIN).json()
    assert binary["messages"][-1]["encoding"] == "base64"
    assert base64.b64decode(binary["messages"][-1]["value"]) == b"\xff\x00"
    assert client.post("/topics/t/messages", json={"records": [{"value": "x"}]}).status_code == 401


def test_read_limit_next_offset_and_time(make_client: AppFactory) -> None:
    client = make_client()
    log = client.app.state.headwater.log  # type: ignore[attr-defined]
    log.create_topic("t", 1)
    log.append("t", 0, [Record(value=f"v{i}".encode(), timestamp=1_000 + i * 1_000) for i in range(10)])
    page = client.get("/topics/t/partitions/0/messages", params={"offset": 2, "limit": 3}).json()
    assert [m["value"] for m in page["messages"]] == ["v2", "v3", "v4"]
    assert page["next_offset"] == 5 and page["high_watermark"] == 10
    by_time = client.get("/topics/t/partitions/0/messages", params={"timestamp": 5_500, "limit": 2}).json()
    assert [m["offset"] for m in by_time["messages"]] == [5, 6]
    iso = client.get("/topics/t/partitions/0/messages", params={"timestamp": "1970-01-01T00:00:09Z"}).json()
    assert [m["value"] for m in iso["messages"]] == ["v8", "v9"]
    future = client.get("/topics/t/partitions/0/messages", params={"timestamp": 99_000}).json()
    assert future["messages"] == [] and future["next_offset"] == 10


def test_read_errors_say_what_was_wrong(make_client: AppFactory) -> None:
    client = make_client()
    client.app.state.headwater.log.create_topic("t", 1)  # type: ignore[attr-defined]
    cases = {
        "/topics/t/partitions/5/messages": (404, "partitions 0..0"),
        "/topics/t/partitions/x/messages": (400, "Partition must be an integer"),
        "/topics/t/partitions/0/messages?offset=7": (400, "out of range"),
        "/topics/t/partitions/0/messages?limit=0": (400, "limit must be between 1 and 10000"),
        "/topics/t/partitions/0/messages?offset=1&timestamp=2": (400, "not both"),
        "/topics/t/partitions/0/messages?timestamp=yesterday": (400, "ISO-8601"),
    }
    for url, (status, text) in cases.items():
        response = client.get(url)
        assert response.status_code == status, url
        assert text in response.json()["message"], (url, response.json())


def test_produce_errors(make_client: AppFactory) -> None:
    client = make_client()
    client.app.state.headwater.log.create_topic("t", 1)  # type: ignore[attr-defined]
    assert client.post("/topics/t/messages", content=b"{").json()["message"].startswith("The body is not valid JSON")
    assert client.post("/topics/t/messages", json={"records": []}).status_code == 400
    wrong = client.post("/topics/t/messages", json={"records": [{"value": "x", "partition": 4}]})
    assert wrong.status_code == 400 and "partitions 0..0" in wrong.json()["message"]
    extra = client.post("/topics/t/messages", json={"records": [{"value": "x", "colour": "red"}]})
    assert extra.status_code == 400 and "unknown fields ['colour']" in extra.json()["message"]
    assert client.post("/topics/nope/messages", json={"records": [{"value": "x"}]}).status_code == 404


def test_topic_api_requests_are_counted_by_status(make_client: AppFactory) -> None:
    client = make_client(admin_key="secret")
    client.post("/topics", json={"name": "t"}, headers=ADMIN)
    client.post("/topics", json={"name": "t"}, headers=ADMIN)
    client.get("/topics/missing", headers=ADMIN)
    text = client.get("/metrics", headers=ADMIN).text
    assert 'headwater_topic_api_requests_total{operation="create",status="409"} 1.0' in text
    assert 'headwater_topic_api_requests_total{operation="create",status="200"} 1.0' in text
    assert 'headwater_topic_api_requests_total{operation="describe",status="404"} 1.0' in text
