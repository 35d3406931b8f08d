"""The clickstream app (seed 003) end to end: fixed users, codes and clicks in; its tables checked exactly."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from headwater.apps.runner import EmbeddedTarget, Settings, run_app
from headwater.apps.spec import load_app
from headwater.log import Record
from headwater.session import Session

MINUTE = 1_700_000_040_000  # a minute boundary


def _append(session: Session, topic: str, key: bytes, value: dict[str, object], ts: int) -> None:
    session.log.append(topic, 0, [Record(json.dumps(value).encode(), key=key, timestamp=ts)])


def test_clickstream_app_end_to_end(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), files_dir=str(tmp_path / "files"), generators=False)
    with Session(str(tmp_path / "data")) as session:
        report = run_app(load_app("clickstream"), EmbeddedTarget(session), settings)
        assert report[0] == "clickstream.sql: 15 statements"
        assert "connector datagen_clickstream: generator left out" in report
        _append(session, "clickstream_codes", struct.pack(">i", 404), {"code": 404, "definition": "Page not found"}, 0)
        for user_id, name in ((1, "alison_99"), (2, "bobk_43")):
            _append(session, "clickstream_users", struct.pack(">i", user_id),
                    {"user_id": user_id, "username": name, "city": "London", "level": "Gold"}, 0)
        clicks = [(1, 200, 60_000), (1, 404, 50_000), (2, 404, 100), (1, 200, 1_000)]  # userid, status, bytes
        for n, (userid, status, size) in enumerate(clicks):
            _append(session, "clickstream", b"10.0.0.1", {"ip": "10.0.0.1", "userid": userid, "status": status,
                                                          "bytes": size, "request": "GET /index.html"}, MINUTE + n)
        session.wait_until_processed()

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
