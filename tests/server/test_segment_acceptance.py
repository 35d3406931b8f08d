"""The issue's acceptance test: Segment's own Python library against a real `headwater up` process.

1,000 track and 10 identify calls all land in the events topic with their
properties; after kill -9 and a restart they are all still there, and a
re-send of the same messageIds is de-duplicated (the index is rebuilt from
the topic on start).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import segment.analytics as analytics

from headwater.log import open_log
from tests.server.server_process import ServerProcess

WRITE_KEY = "acceptance-key"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "log", "--write-key", WRITE_KEY)
    try:
        yield proc.start()
    finally:
        proc.stop()


def events_in_log(log_dir: Path) -> dict[str, dict[str, object]]:
    """Every event of the events topic, by messageId (read by this process: the log is multi-process)."""
    out: dict[str, dict[str, object]] = {}
    with open_log(str(log_dir)) as log:
        offset, end = 0, log.end_offset("events", 0)
        while offset < end:
            fetched = log.read("events", 0, offset)
            for key, value in zip(fetched.records.column("key").to_pylist(),
                                  fetched.records.column("value").to_pylist(), strict=True):
                event = orjson.loads(value)
                assert key == (event.get("userId") or event["anonymousId"]).encode()
                assert event["messageId"] not in out, "an event was stored twice"
                out[event["messageId"]] = event
            offset = fetched.next_offset
    return out


def send(client: analytics.Client, ids: dict[str, tuple[str, str]] | None = None) -> dict[str, tuple[str, str]]:
    """1,000 tracks and 10 identifies; returns messageId -> (type, marker). Re-sends ``ids`` when given."""
    sent: dict[str, tuple[str, str]] = {}
    reuse = iter(ids) if ids else None
    for i in range(1000):
        _, msg = client.track(user_id=f"user-{i % 37}", event="Order Completed",
                              properties={"order": i, "total": i * 1.5, "sku": f"sku-{i}"},
                              message_id=next(reuse) if reuse else None)
        sent[msg["messageId"]] = ("track", str(i))
    for i in range(10):
        _, msg = client.identify(user_id=f"user-{i}", traits={"email": f"u{i}@example.com", "rank": i},
                                 message_id=next(reuse) if reuse else None)
        sent[msg["messageId"]] = ("identify", str(i))
    client.flush()
    return sent


def client_for(server: ServerProcess, errors: list[BaseException]) -> analytics.Client:
    return analytics.Client(write_key=WRITE_KEY, host=server.url, gzip=True, max_retries=3, upload_size=100,
                            on_error=lambda exc, batch: errors.append(exc))


def check(stored: dict[str, dict[str, object]], sent: dict[str, tuple[str, str]]) -> None:
    assert set(stored) == set(sent)
    for message_id, (kind, marker) in sent.items():
        event = stored[message_id]
        assert event["type"] == kind
        assert "receivedAt" in event and "timestamp" in event
        if kind == "track":
            i = int(marker)
            assert event["event"] == "Order Completed"
            assert event["properties"] == {"order": i, "total": i * 1.5, "sku": f"sku-{i}"}
            assert event["userId"] == f"user-{i % 37}"
        else:
            assert event["traits"] == {"email": f"u{marker}@example.com", "rank": int(marker)}


def test_segment_python_library_events_survive_kill_and_are_deduplicated(server: ServerProcess) -> None:
    errors: list[BaseException] = []
    client = client_for(server, errors)
    sent = send(client)
    client.shutdown()
    assert not errors
    assert len(sent) == 1010
    check(events_in_log(server.log_dir), sent)

    server.kill()
    server.start()
    check(events_in_log(server.log_dir), sent)

    again = client_for(server, errors)
    resent = send(again, ids=sent)
    again.shutdown()
    assert not errors
    assert set(resent) == set(sent)
    check(events_in_log(server.log_dir), sent)  # still exactly one of each


def test_bad_write_key_is_refused_and_counted(server: ServerProcess) -> None:
    import httpx

    response = httpx.post(server.url + "/v1/track", auth=("wrong-key", ""),
                          json={"userId": "u", "event": "E"})
    assert response.status_code == 401
    assert response.json()["message"] == "The write key is not valid."
    metrics = httpx.get(server.url + "/metrics").text
    assert 'headwater_collector_requests_total{endpoint="track",outcome="bad_write_key"} 1.0' in metrics
