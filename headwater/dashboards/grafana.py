"""A dashboard as Grafana dashboard JSON over a Prometheus data source scraping ``/metrics``.

Prometheus sees the server's counters, not the SQL results, so each panel becomes the rates that
correspond to it: the records appended per second to the topic of the stream or table the panel
queries (``headwater_log_records_total``), and the records in, out and failed per second of the
persistent query that writes it (``headwater_query_records_in_total`` ...). A first row shows the
server: events the collector accepted and the SQL requests. The panel's SQL is kept in the
Grafana panel's description. The data source is a dashboard variable (``${datasource}``), so the
file imports into any Grafana with a Prometheus data source (schemaVersion 39, Grafana 10/11).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headwater.dashboards.spec import Dashboard, Panel, parse_select, range_ms
from headwater.sql import ast

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_COLUMNS = 24
PANEL_HEIGHT = 8
GRAFANA_TYPES = {"timeseries": "timeseries", "bar": "timeseries", "table": "timeseries", "stat": "stat",
                 "topn": "bargauge", "category": "bargauge"}


def source_name(panel: Panel) -> str | None:
    """The stream or table the panel's query reads (the left side of a join)."""
    relation: Any = parse_select(panel.query).from_
    while isinstance(relation, ast.Join):
        relation = relation.left
    if isinstance(relation, ast.AliasedRelation):
        return str(relation.name)
    return None


def label_value(text: str) -> str:
    """A PromQL label value in double quotes, escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def regex_escape(text: str) -> str:
    return "".join("\\\\" + c if not (c.isalnum() or c == "_") else c for c in text)


def targets(source: str, topic: str) -> list[dict[str, Any]]:
    query = f'{{query=~"C[TS]AS_{regex_escape(source)}_[0-9]+"}}'
    exprs = [
        (f"sum(rate(headwater_log_records_total{{topic={label_value(topic)}}}[1m]))", f"{topic} appended/s"),
        (f"sum(rate(headwater_query_records_in_total{query}[1m]))", f"{source} query in/s"),
        (f"sum(rate(headwater_query_records_out_total{query}[1m]))", f"{source} query out/s"),
        (f"sum(rate(headwater_query_failed_records_total{query}[1m]))", f"{source} failed/s"),
    ]
    return [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend, "datasource": DATASOURCE,
             "range": True} for i, (expr, legend) in enumerate(exprs)]


def grafana_panel(number: int, title: str, kind: str, grid: dict[str, int], panel_targets: list[dict[str, Any]],
                  description: str = "") -> dict[str, Any]:
    options: dict[str, Any] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                               "tooltip": {"mode": "multi", "sort": "none"}}
    if kind in ("stat", "bargauge"):
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                   "orientation": "horizontal"}
    return {"id": number, "type": kind, "title": title, "description": description, "datasource": DATASOURCE,
            "gridPos": grid, "targets": panel_targets, "options": options,
            "fieldConfig": {"defaults": {"unit": "ops"}, "overrides": []}}


def server_row(y: int) -> list[dict[str, Any]]:
    collector = [{"refId": "A", "expr": "sum(rate(headwater_collector_events_total{outcome=\"accepted\"}[1m]))",
                  "legendFormat": "events accepted/s", "datasource": DATASOURCE, "range": True}]
    ksql = [{"refId": "A", "expr": "sum by (endpoint) (rate(headwater_ksql_requests_total[1m]))",
             "legendFormat": "{{endpoint}}", "datasource": DATASOURCE, "range": True}]
    half = GRID_COLUMNS // 2
    return [grafana_panel(1, "Collector: events accepted per second", "timeseries",
                          {"h": PANEL_HEIGHT, "w": half, "x": 0, "y": y}, collector),
            grafana_panel(2, "SQL requests per second", "timeseries",
                          {"h": PANEL_HEIGHT, "w": half, "x": half, "y": y}, ksql)]


def export(dashboard: Dashboard, topics: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Grafana dashboard; ``topics`` maps a stream/table name to its topic (default: the same name)."""
    topics = topics or {}
    panels = server_row(0)
    x, y, number = 0, PANEL_HEIGHT, len(panels) + 1
    for panel in dashboard.panels:
        width = min(GRID_COLUMNS, panel.width * 2)
        if x + width > GRID_COLUMNS:
            x, y = 0, y + PANEL_HEIGHT
        source = source_name(panel)
        title = f"{panel.title} ({source} rates)" if source else panel.title
        panel_targets = targets(source, topics.get(source, source)) if source else []
        panels.append(grafana_panel(number, title, GRAFANA_TYPES[panel.type],
                                    {"h": PANEL_HEIGHT, "w": width, "x": x, "y": y}, panel_targets,
                                    f"Headwater panel {panel.id}: {panel.query}"))
        number += 1
        x += width
    minutes = max(1, range_ms(dashboard.time_range) // 60_000)
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "scrapes Headwater's /metrics",
                      "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "uid": f"headwater-{dashboard.id}"[:40],
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["headwater"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": f"{max(5, int(dashboard.refresh_s))}s",
        "time": {"from": f"now-{minutes}m", "to": "now"},
        "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource",
                                 "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "regex": "",
                                 "options": [], "includeAll": False, "multi": False}]},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }
