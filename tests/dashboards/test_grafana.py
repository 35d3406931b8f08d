"""The Grafana export: a dashboard JSON Grafana imports (schemaVersion 39, a Prometheus data source variable),
its panels over series that /metrics really serves."""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.testclient import TestClient

from headwater.dashboards.grafana import export
from headwater.dashboards.spec import from_data

AppFactory = Callable[..., TestClient]
METRIC = re.compile(r"\b(headwater_[a-z_]+)\{?")


def check_structure(dashboard: dict) -> None:  # type: ignore[type-arg]
    assert dashboard["schemaVersion"] == 39 and isinstance(dashboard["title"], str) and dashboard["uid"]
    variables = dashboard["templating"]["list"]
    assert [v for v in variables if v["type"] == "datasource" and v["query"] == "prometheus"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["type"] in ("timeseries", "stat", "bargauge")
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid) and grid["x"] + grid["w"] <= 24 and grid["w"] >= 1
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["expr"] and target["refId"] and target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].count("(") == target["expr"].count(")")
            assert target["expr"].count("{") == target["expr"].count("}")
    for row in {p["gridPos"]["y"] for p in dashboard["panels"]}:
        widths = sum(p["gridPos"]["w"] for p in dashboard["panels"] if p["gridPos"]["y"] == row)
        assert widths <= 24


def test_the_clickstream_dashboard_exports_over_served_series(make_client: AppFactory) -> None:
    client = make_client(ksql_properties={"auto.offset.reset": "earliest"})
    client.post("/ksql", json={"ksql": "CREATE STREAM clickstream (userid INT, bytes BIGINT) WITH "
                                       "(kafka_topic='clickstream', value_format='json', partitions=1); "
                                       "CREATE TABLE events_per_min WITH (kafka_topic='epm_topic') AS SELECT userid "
                                       "AS k1, COUNT(*) AS events FROM clickstream WINDOW TUMBLING (SIZE 60 SECONDS) "
                                       "GROUP BY userid;"})
    client.post("/ksql", json={"ksql": "INSERT INTO clickstream (userid, bytes) VALUES (1, 10);"})
    assert client.post("/v1/track", json={"userId": "u1", "event": "Seen"}).status_code == 200
    answer = client.get("/dashboards/clickstream/grafana")
    assert answer.status_code == 200, answer.text
    dashboard = answer.json()
    check_structure(dashboard)
    assert dashboard["title"] == "Clickstream analytics" and dashboard["refresh"] == "5s"
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    # The table's own topic (from the catalog), and the query writing it, by its id.
    assert 'sum(rate(headwater_log_records_total{topic="epm_topic"}[1m]))' in exprs
    assert 'sum(rate(headwater_query_records_in_total{query=~"C[TS]AS_EVENTS_PER_MIN_[0-9]+"}[1m]))' in exprs
    served = client.get("/metrics").text
    for name in {m for expr in exprs for m in METRIC.findall(expr)}:
        assert re.search(rf"^{name}[{{ ]", served, re.MULTILINE), f"{name} is not served by /metrics"
    query_id = next(line.split('query="')[1].split('"')[0] for line in served.splitlines()
                    if line.startswith("headwater_query_records_in_total{"))
    assert re.fullmatch("C[TS]AS_EVENTS_PER_MIN_[0-9]+", query_id)
    described = {p["description"] for p in dashboard["panels"]}
    assert any("SELECT * FROM EVENTS_PER_MIN EMIT CHANGES;" in d for d in described)


def test_label_values_are_escaped() -> None:
    board = from_data({"id": "odd", "title": "Odd", "panels": [
                          {"id": "p", "title": "P", "type": "stat", "query": 'SELECT * FROM `we"ird` EMIT CHANGES;',
                           "value": "V", "width": 12}]}, "odd")
    dashboard = export(board, {'we"ird': 'to"pic\\'})
    check_structure(dashboard)
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert 'sum(rate(headwater_log_records_total{topic="to\\"pic\\\\"}[1m]))' in exprs
