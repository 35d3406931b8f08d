"""GET /metrics: Prometheus text with the log's offsets, consumer lag and the persistent queries' figures."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.server.conftest import AppFactory


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_cover_collector_log_lag_and_queries(make_client: AppFactory) -> None:
    client = make_client(ksql_properties={"auto.offset.reset": "earliest"})
    session = client.app.state.headwater.session  # type: ignore[attr-defined]
    session.execute(
        "CREATE STREAM clicks (`userId` VARCHAR, `event` VARCHAR) WITH (kafka_topic='events', value_format='JSON');"
        "CREATE TABLE per_user AS SELECT `userId`, COUNT(*) AS n FROM clicks "
        "WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY `userId` EMIT CHANGES;"
    )
    batch = [{"type": "track", "userId": f"u{i % 3}", "event": "E"} for i in range(9)]
    assert client.post("/v1/batch", json={"batch": batch}).status_code == 200
    assert client.post("/v1/track", json={"event": "no id"}).status_code == 400
    session.wait_until_processed()
    [query_id] = session.queries
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert value("headwater_collector_requests_total", endpoint="batch", outcome="ok") == 1
    assert value("headwater_collector_requests_total", endpoint="track", outcome="missing_id") == 1
    assert value("headwater_collector_events_total", outcome="accepted") == 9
    assert value("headwater_collector_request_seconds_count", endpoint="batch") == 1
    assert value("headwater_log_records_total", topic="events") == 9
    assert value("headwater_log_end_offset", topic="events", partition="0") == 9
    assert value("headwater_log_records_total", topic="events_dlq") == 1
    assert value("headwater_query_records_in_total", query=query_id) == 9
    assert value("headwater_query_records_out_total", query=query_id) == 9  # EMIT CHANGES: one update each
    assert value("headwater_query_failed_records_total", query=query_id) == 0
    assert value("headwater_query_late_records_total", query=query_id) == 0
    assert value("headwater_query_state_rows", query=query_id) == 3
    assert value("headwater_query_state_bytes", query=query_id) > 0  # the state table's blocks in its DuckDB
    assert value("headwater_query_state", query=query_id, state="RUNNING") == 1
    assert 0 <= value("headwater_query_seconds_since_checkpoint", query=query_id) < 60
    lags = {k: v for k, v in got.items() if k[0] == "headwater_consumer_lag" and ("topic", "events") in k[1]}
    assert lags and all(v == 0 for v in lags.values())


def test_consumer_lag_follows_committed_offsets(make_client: AppFactory) -> None:
    client = make_client()
    log = client.app.state.headwater.log  # type: ignore[attr-defined]
    from headwater.log import Record, TopicPartition

    log.create_topic("orders", 2)
    log.append("orders", 1, [Record(value=b"x")] * 5)
    log.commit("billing", {TopicPartition("orders", 1): 2})
    got = samples(client.get("/metrics").text)
    assert got[("headwater_consumer_lag", (("group", "billing"), ("partition", "1"), ("topic", "orders")))] == 3
