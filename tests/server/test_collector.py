"""The collector's contract, in process: Segment's endpoints, auth, gzip, limits, de-duplication, clock skew."""

from __future__ import annotations

import base64
import inspect
import gzip
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from headwater.log import Log
from headwater.server.tracking import parse_time_ms
from tests.server.conftest import AppFactory

KEY = {"Authorization": "Basic " + base64.b64encode(b"wk:").decode()}


def log_of(client: TestClient) -> Log:
    return client.app.state.headwater.log  # type: ignore[attr-defined,no-any-return]


def stored(client: TestClient, topic: str = "events") -> list[dict[str, Any]]:
    log = log_of(client)
    return log.read(topic, 0, log.beginning_offset(topic, 0)).records.to_pylist()


def events(client: TestClient) -> list[dict[str, Any]]:
    return [orjson.loads(r["value"]) for r in stored(client)]


def metric(client: TestClient, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("kind,body", [
    ("track", {"userId": "u1", "event": "Clicked", "properties": {"x": 1}}),
    ("identify", {"userId": "u1", "traits": {"email": "a@b.c"}}),
    ("page", {"anonymousId": "a1", "name": "Home"}),
    ("screen", {"userId": "u1", "name": "Main"}),
    ("group", {"userId": "u1", "groupId": "g1"}),
    ("alias", {"userId": "u1", "previousId": "a1"}),
])
def test_each_endpoint_stores_its_type_keyed_by_user(make_client: AppFactory, kind: str, body: dict[str, Any]) -> None:
    client = make_client()
    response = client.post(f"/v1/{kind}", json={**body, "type": "whatever"})
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    [record] = stored(client)
    event = orjson.loads(record["value"])
    assert event["type"] == kind  # the endpoint decides the type, as in Segment
    assert record["key"] == (body.get("userId") or body["anonymousId"]).encode()
    assert {k: event[k] for k in body} == body
    assert record["headers"] == [{"key": "messageId", "value": event["messageId"].encode()}]


def test_batch_merges_context_and_corrects_clock_skew(make_client: AppFactory) -> None:
    client = make_client()
    body = {"sentAt": "2020-01-01T00:00:10.000Z", "context": {"library": {"name": "x"}, "ip": "1.2.3.4"},
            "batch": [{"type": "track", "userId": "u", "event": "E", "timestamp": "2020-01-01T00:00:07.500Z",
                       "context": {"ip": "5.6.7.8"}},
                      {"type": "identify", "anonymousId": "a"}]}
    assert client.post("/v1/batch", json=body).status_code == 200
    first, second = events(client)
    received = parse_time_ms(first["receivedAt"], "receivedAt")
    # The device's clock is 6 years off, but it sent the event 2.5 s after it happened.
    assert parse_time_ms(first["timestamp"], "timestamp") == received - 2500
    assert first["originalTimestamp"] == "2020-01-01T00:00:07.500Z"
    assert first["sentAt"] == "2020-01-01T00:00:10.000Z"
    assert first["context"] == {"library": {"name": "x"}, "ip": "5.6.7.8"}
    assert second["timestamp"] == second["receivedAt"]  # no client timestamp: the time it arrived


def test_write_keys_basic_auth_or_body(make_client: AppFactory) -> None:
    client = make_client(write_keys=("wk", "other"))
    track = {"userId": "u", "event": "E"}
    assert client.post("/v1/track", json=track, headers=KEY).status_code == 200
    assert client.post("/v1/track", json={**track, "writeKey": "other"}).status_code == 200
    missing = client.post("/v1/track", json=track)
    assert missing.status_code == 401 and "write key is needed" in missing.json()["message"]
    wrong = client.post("/v1/track", json=track, auth=("nope", ""))
    assert wrong.status_code == 401 and wrong.json() == {
        "success": False, "code": "bad_write_key", "message": "The write key is not valid."}
    assert len(events(client)) == 2
    assert metric(client, 'headwater_collector_requests_total{endpoint="track",outcome="bad_write_key"}') == 2


def test_open_collector_when_no_write_key_is_configured(make_client: AppFactory) -> None:
    client = make_client()
    assert client.post("/v1/track", json={"userId": "u", "event": "E"}, auth=("anything", "")).status_code == 200


def test_gzip_body_and_limit_after_decompression(make_client: AppFactory) -> None:
    client = make_client(max_body_bytes=20_000)
    small = gzip.compress(orjson.dumps({"batch": [{"type": "track", "userId": "u", "event": "E"}]}))
    assert client.post("/v1/batch", content=small, headers={"Content-Encoding": "gzip"}).status_code == 200
    bomb = gzip.compress(orjson.dumps({"batch": [{"type": "track", "userId": "u", "event": "E" * 50_000}]}))
    assert len(bomb) < 20_000
    response = client.post("/v1/batch", content=bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "after decompression" in response.json()["message"]
    broken = client.post("/v1/batch", content=b"not gzip", headers={"Content-Encoding": "gzip"})
    assert broken.status_code == 400 and "not valid gzip" in broken.json()["message"]
    assert client.post("/v1/batch", content=small, headers={"Content-Encoding": "br"}).status_code == 415
    assert len(events(client)) == 1


def test_body_and_event_size_limits(make_client: AppFactory) -> None:
    client = make_client(max_body_bytes=10_000, max_event_bytes=1_000)
    too_big = client.post("/v1/track", content=b"x" * 10_001)
    assert too_big.status_code == 413 and "10000 bytes" in too_big.json()["message"]
    big_event = client.post("/v1/track", json={"userId": "u", "event": "E", "properties": {"p": "y" * 2000}})
    assert big_event.status_code == 400 and big_event.json()["code"] == "too_large"
    assert metric(client, 'headwater_collector_requests_total{endpoint="track",outcome="too_large"}') == 2


def test_client_errors_are_4xx_with_reason_counted_and_dead_lettered(make_client: AppFactory) -> None:
    client = make_client()
    bad_json = client.post("/v1/batch", content=b'{"batch": [')
    assert bad_json.status_code == 400 and bad_json.json()["code"] == "bad_json"
    no_id = client.post("/v1/track", json={"event": "E"})
    assert no_id.status_code == 400
    assert no_id.json()["message"] == "track event needs a userId or an anonymousId"
    no_event = client.post("/v1/track", json={"userId": "u"})
    assert no_event.status_code == 400 and "needs 'event'" in no_event.json()["message"]
    mixed = client.post("/v1/batch", json={"batch": [
        {"type": "track", "userId": "u", "event": "kept"},
        {"type": "launch", "userId": "u"},
        {"type": "page"},
    ]})
    assert mixed.status_code == 400
    body = mixed.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(1, "unknown_type"), (2, "missing_id")]
    assert [e["event"] for e in events(client)] == ["kept"]
    reasons = [r["headers"][0]["value"].decode() for r in stored(client, "events_dlq")]
    assert reasons[0].startswith("bad_json: ")
    assert reasons[1:] == ["missing_id: event 0: track event needs a userId or an anonymousId",
                           "invalid_field: event 0: track event needs 'event'",
                           "unknown_type: event 1: unknown event type 'launch'; expected one of alias, group, "
                           "identify, page, screen, track",
                           "missing_id: event 2: page event needs a userId or an anonymousId"]
    assert stored(client, "events_dlq")[0]["value"] == b'{"batch": ['
    assert metric(client, 'headwater_collector_events_total{outcome="unknown_type"}') == 1
    assert metric(client, 'headwater_collector_events_total{outcome="missing_id"}') == 2
    assert metric(client, 'headwater_collector_events_total{outcome="accepted"}') == 1
    assert metric(client, 'headwater_collector_requests_total{endpoint="batch",outcome="bad_json"}') == 1


def test_message_ids_are_deduplicated_across_requests_and_restarts(make_client: AppFactory) -> None:
    client = make_client()
    batch = {"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": f"m{i}"} for i in range(5)]}
    assert client.post("/v1/batch", json=batch).status_code == 200
    assert client.post("/v1/batch", json=batch).status_code == 200  # a retry: 200, nothing stored twice
    twice = {"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": "m9"}] * 2}
    assert client.post("/v1/batch", json=twice).status_code == 200
    assert sorted(e["messageId"] for e in events(client)) == ["m0", "m1", "m2", "m3", "m4", "m9"]
    assert metric(client, 'headwater_collector_events_total{outcome="duplicate"}') == 6
    client.__exit__(None, None, None)
    again = make_client()  # a new app on the same log reads the recent ids back
    assert again.post("/v1/batch", json=batch).status_code == 200
    assert len(events(again)) == 6


def test_deduplication_window_expires(make_client: AppFactory) -> None:
    client = make_client(dedupe_window_s=0.0)
    one = {"userId": "u", "event": "E", "messageId": "same"}
    client.post("/v1/track", json=one)
    client.post("/v1/track", json=one)
    assert len(events(client)) == 2


def test_raw_batch_stores_the_body_byte_for_byte(make_client: AppFactory) -> None:
    client = make_client(raw_batch=True)
    body = b'{"batch":[{"type":"track","userId":"123456","event":"Download"}],  "sentAt": "x"}\n'
    response = client.post("/v1/batch", content=body)
    assert response.status_code == 200 and response.content == b""  # the seed's Go service: an empty 200
    [record] = stored(client)
    assert record["value"] == body
    if "client" in inspect.signature(TestClient.__init__).parameters:  # a TestClient that gives the app a peer
        assert record["key"].startswith(b"address-")  # what the Go collector of seed 004 used as key
    else:  # no peer in the scope (ASGI's "client" is optional): no key, as for any keyless record
        assert record["key"] is None
    assert client.post("/v1/batch", content=b"not even json").status_code == 200
    assert stored(client)[1]["value"] == b"not even json"
    # The seed's router had /healthcheck and /v1/batch only: the rest is 404, nothing stored.
    assert client.post("/v1/track", json={"userId": "u", "event": "E"}).status_code == 404
    assert client.get("/healthcheck").text == "Alive"
    assert len(stored(client)) == 2


def test_healthcheck_tracker_and_cors(make_client: AppFactory) -> None:
    client = make_client()
    assert client.get("/healthcheck").text == "Alive"
    script = client.get("/js/headwater.js")
    assert script.status_code == 200 and "/v1/batch" in script.text
    assert script.headers["content-type"].startswith("application/javascript")
    preflight = client.options("/v1/batch")
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert client.get("/v1/batch").status_code == 405


def test_latency_histogram_counts_requests(make_client: AppFactory) -> None:
    client = make_client()
    for _ in range(3):
        client.post("/v1/page", json={"anonymousId": "a"})
    assert metric(client, 'headwater_collector_request_seconds_count{endpoint="page"}') == 3
    assert metric(client, "headwater_collector_append_events_sum") == 3


def test_collector_on_each_log_backend(log_url: str, new_topic: Any, tmp_path: Any) -> None:
    """The same collector on the embedded log and on Kafka: appended, keyed, de-duplicated after a restart."""
    from headwater.server import ServerConfig, create_app

    topic = new_topic()
    config = ServerConfig(log_url=log_url, events_topic=topic, dead_letter_topic=topic + "_dlq",
                          ksql_properties={"ksql.service.id": topic + "_"})
    batch = {"batch": [{"type": "track", "userId": f"u{i}", "event": "E", "messageId": f"{topic}-{i}"}
                       for i in range(3)]}
    for _ in range(2):  # the second app reads the ids back from the topic and stores nothing new
        with TestClient(create_app(config), base_url="http://127.0.0.1:8088") as client:
            assert client.post("/v1/batch", json=batch).status_code == 200
            log = log_of(client)
            fetched = log.read(topic, 0, log.beginning_offset(topic, 0), max_records=100, timeout_s=5)
            assert sorted(orjson.loads(v)["messageId"] for v in fetched.records.column("value").to_pylist()) == [
                f"{topic}-{i}" for i in range(3)]
            assert fetched.records.column("key").to_pylist() == [b"u0", b"u1", b"u2"]


def test_restart_reads_back_at_most_dedupe_max_ids(make_client: AppFactory) -> None:
    client = make_client(dedupe_max_ids=3)
    batch = {"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": f"m{i}"} for i in range(5)]}
    assert client.post("/v1/batch", json=batch).status_code == 200
    client.__exit__(None, None, None)
    again = make_client(dedupe_max_ids=3)
    assert again.post("/v1/batch", json=batch).status_code == 200
    # m2..m4 were remembered; m0 and m1 were past the limit and are stored again.
    assert [e["messageId"] for e in events(again)][5:] == ["m0", "m1"]
