"""The clickstream app (seed 003) end to end: fixed users, codes and clicks in; its tables checked exactly, and
with a search URL, the documents its Elasticsearch sinks write (tests/connect/search_server.py)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import orjson

from headwater.apps.runner import EmbeddedTarget, Settings, run_app
from headwater.apps.spec import load_app
from headwater.log import Record
from headwater.session import Session
from tests.connect.conftest import wait_until
from tests.connect.search_server import search_server

MINUTE = 1_700_000_040_000  # a minute boundary


def _append(session: Session, topic: str, key: bytes, value: dict[str, object], ts: int) -> None:
    session.log.append(topic, 0, [Record(json.dumps(value).encode(), key=key, timestamp=ts)])


def _feed(session: Session) -> None:
    """Fixed codes, users and clicks: two users, four clicks in one minute, two of them 404s."""
    _append(session, "clickstream_codes", struct.pack(">i", 404), {"code": 404, "definition": "Page not found"}, 0)
    for user_id, name in ((1, "alison_99"), (2, "bobk_43")):
        _append(session, "clickstream_users", struct.pack(">i", user_id),
                {"user_id": user_id, "username": name, "city": "London", "level": "Gold"}, 0)
    clicks = [(1, 200, 60_000), (1, 404, 50_000), (2, 404, 100), (1, 200, 1_000)]  # userid, status, bytes
    for n, (userid, status, size) in enumerate(clicks):
        _append(session, "clickstream", b"10.0.0.1", {"ip": "10.0.0.1", "userid": userid, "status": status,
                                                      "bytes": size, "request": "GET /index.html"}, MINUTE + n)
    session.wait_until_processed()


#: The seed's nine tables sent to Elasticsearch (ksql-tables-to-grafana.sh), and HIGH_BANDWIDTH_SESSIONS.
SEARCH_TABLES = ["CLICK_USER_SESSIONS", "USER_IP_ACTIVITY", "ENRICHED_ERROR_CODES_COUNT", "ERRORS_PER_MIN_ALERT",
                 "ERRORS_PER_MIN", "EVENTS_PER_MIN", "PAGES_PER_MIN", "BANDWIDTH_PER_MIN", "USER_SESSION_BANDWIDTH",
                 "HIGH_BANDWIDTH_SESSIONS"]


def test_clickstream_app_end_to_end(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), files_dir=str(tmp_path / "files"), generators=False)
    with Session(str(tmp_path / "data")) as session:
        report = run_app(load_app("clickstream"), EmbeddedTarget(session), settings)
        assert report[0] == "clickstream.sql: 15 statements"
        assert "connector datagen_clickstream: generator left out" in report
        # Without a search URL the Elasticsearch sinks are skipped, in one line that says why.
        skipped = [line for line in report if "skipped" in line]
        assert len(skipped) == 1 and "--search-url" in skipped[0] and "HEADWATER_SEARCH_URL" in skipped[0]
        assert all(f"es_sink_{table}" in skipped[0] for table in SEARCH_TABLES)
        assert session.connect.connectors.keys().isdisjoint(f"es_sink_{table}" for table in SEARCH_TABLES)
        _feed(session)

        def rows(sql: str) -> list[list[object]]:
            return sorted(session.query(sql).rows)  # type: ignore[union-attr]

        assert rows("SELECT USERNAME, EVENT_TS, TOTAL_BYTES FROM BANDWIDTH_PER_MIN;") == [
            ["alison_99", MINUTE, 111_000], ["bobk_43", MINUTE, 100]]
        assert rows("SELECT USERID, EVENTS FROM EVENTS_PER_MIN;") == [[1, 3], [2, 1]]
        assert rows("SELECT USERNAME, TOTAL_BYTES, CLICKS FROM HIGH_BANDWIDTH_SESSIONS;") == [["alison_99", 111_000, 3]]
        assert rows("SELECT USERNAME, TOTAL_BYTES FROM USER_SESSION_BANDWIDTH;") == [
            ["alison_99", 111_000], ["bobk_43", 100]]
        errors = rows("SELECT STATUS, EVENT_TS, ERRORS FROM ERRORS_PER_MIN;")
        assert {e[2] for e in errors} == {2} and len(errors) == 12  # 12 hopping windows of 60 s hold the minute
        assert rows("SELECT CODE, DEFINITION, COUNT FROM ENRICHED_ERROR_CODES_COUNT;") == [[404, "Page not found", 2]]
        assert rows("SELECT USERNAME, CITY, COUNT FROM USER_IP_ACTIVITY;") == [["alison_99", "London", 3]]
        assert run_app(load_app("clickstream"), EmbeddedTarget(session), settings) == report  # a rerun: no change


def test_clickstream_tables_to_elasticsearch(tmp_path: Path) -> None:
    """As the seed's ksql-tables-to-grafana.sh: one sink per table, index = the table's name in lower case, ids
    topic+partition+offset (key.ignore), every change of the table one document, tombstones dropped."""
    with search_server() as es, Session(str(tmp_path / "data")) as session:
        settings = Settings(data_dir=str(tmp_path), files_dir=str(tmp_path / "files"), generators=False,
                            search_url=es.url)
        report = run_app(load_app("clickstream"), EmbeddedTarget(session), settings)
        assert sorted(f"connector es_sink_{table}: created" for table in SEARCH_TABLES) == [
            line for line in report if line.startswith("connector es_sink_")]
        _feed(session)

        def changes(table: str) -> dict[str, object]:
            records = session.log.read(table, 0, session.log.beginning_offset(table, 0)).records.to_pylist()
            return {f"{table}+0+{r['offset']}": orjson.loads(r["value"]) for r in records if r["value"] is not None}

        wanted = {table.lower(): changes(table) for table in SEARCH_TABLES}
        assert all(wanted[t] for t in ("events_per_min", "bandwidth_per_min", "high_bandwidth_sessions"))
        wait_until(lambda: {t: es.indexes.get(t, {}) for t in wanted} == wanted, 60, "every table's changes")
        latest = list(es.indexes["bandwidth_per_min"].values())
        assert {d["USERNAME"]: d["TOTAL_BYTES"] for d in latest} == {"alison_99": 111_000, "bobk_43": 100}
        assert all(d["EVENT_TS"] == MINUTE for d in latest)
        assert [d["CLICKS"] for d in es.indexes["high_bandwidth_sessions"].values()][-1] == 3
        assert all(line.endswith("unchanged") for line in run_app(load_app("clickstream"), EmbeddedTarget(session),
                                                                   settings) if line.startswith("connector es_"))
