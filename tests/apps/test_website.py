"""The website app (seed 002) end to end: fixed visits in, abandoned carts and the summary table out, exactly."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from headwater.apps.runner import EmbeddedTarget, Settings, run_app, stop_app
from headwater.apps.spec import load_app
from headwater.connect.policy import ConnectPolicy
from headwater.log import Record
from headwater.session import Session

#: A 5-second window's start (event time): visits at +0.0, +1.0 and +2.0 s fall in it.
WINDOW = 1_700_000_000_000
VISITS = [(1000, "UAE", "SHOPPING_CART", 5), (1001, "INDIA", "FAQ", 7), (1002, "QATAR", "SHOPPING_CART", 9)]


def _rows(db: Path, timeout_s: float = 60) -> list[tuple[object, ...]]:
    deadline = time.monotonic() + timeout_s
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    rows = conn.execute("SELECT LAST_ACTION, WINDOWSTART, WINDOWEND, ID, DURATION, VISITS "
                                        "FROM visit_summary_stats ORDER BY LAST_ACTION").fetchall()
            except sqlite3.OperationalError:  # the sink has not created the table yet
                rows = []
            if len(rows) == 2 and rows[1][4] == 14:
                return rows
        time.sleep(0.2)
    return rows


def test_website_app_end_to_end(tmp_path: Path) -> None:
    files = tmp_path / "files"
    settings = Settings(data_dir=str(tmp_path / "data"), files_dir=str(files), generators=False)
    spec = load_app("website")
    with Session(str(tmp_path / "data"), connect_policy=ConnectPolicy.confined(str(files))) as session:
        report = run_app(spec, EmbeddedTarget(session), settings)
        assert "connector website_visits_datagen: generator left out" in report
        assert "connector visit_summary_stats_sink: created" in report
        for n, (offset_ms, country, action, duration) in enumerate(VISITS):
            value = {"visitDate": str(WINDOW + offset_ms), "country": country, "lastAction": action,
                     "duration": duration}
            session.log.append("spark.streaming.website.visits", 0,
                               [Record(json.dumps(value).encode(), key=country.encode(), timestamp=WINDOW + n)])
        session.wait_until_processed()
        carts = session.log.read("spark.streaming.carts.abandoned", 0, 0).records.to_pylist()
        assert [(r["key"], r["value"]) for r in carts] == [
            (b"UAE", b"1700000001000,UAE,SHOPPING_CART,5"), (b"QATAR", b"1700000001002,QATAR,SHOPPING_CART,9")]
        rows = _rows(files / "website_stats.db")
        assert [(r[0], r[3], r[4], r[5]) for r in rows] == [
            ("FAQ", f"FAQ@{WINDOW}", 7, 1), ("SHOPPING_CART", f"SHOPPING_CART@{WINDOW}", 14, 2)]
        assert {(r[1], r[2]) for r in rows} == {("2023-11-14 22:13:20.000000", "2023-11-14 22:13:25.000000")}
        # A rerun changes nothing and fails on nothing.
        again = run_app(spec, EmbeddedTarget(session), settings)
        assert "connector visit_summary_stats_sink: unchanged" in again
        session.wait_until_processed()
        assert len(session.log.read("spark.streaming.carts.abandoned", 0, 0).records) == 2
        assert _rows(files / "website_stats.db") == rows
        # `apps stop` pauses the app's connectors; `apps run` resumes them.
        assert stop_app(spec, EmbeddedTarget(session)) == ["connector visit_summary_stats_sink: paused"]
        assert "connector visit_summary_stats_sink: resumed" in run_app(spec, EmbeddedTarget(session), settings)
        leaderboard = session.query("SELECT LASTACTION, TOTAL_SECONDS, VISITS FROM VISIT_LEADERBOARD;")
        assert sorted(leaderboard.rows) == [["FAQ", 7, 1], ["SHOPPING_CART", 14, 2]]  # type: ignore[union-attr]
