"""The auditlog app (seed 000) end to end: per-day counts equal the day's events, unchanged by a rerun."""

from __future__ import annotations

import collections
import json
import random
import sqlite3
import time
from pathlib import Path

from headwater.apps.runner import EmbeddedTarget, Settings, run_app
from headwater.apps.spec import load_app
from headwater.connect.policy import ConnectPolicy
from headwater.log import Record
from headwater.connect.jdbc_dialect import create_engine, sqlalchemy_url
from headwater.session import Session
from tests.databases import mariadb_database  # noqa: F401 - a session fixture

TOPIC = "mongo-01-.eventlog.auditlog"


def _events(n: int) -> list[dict[str, object]]:
    rng = random.Random(0)
    days = ["2026-12-05", "2026-12-06"]
    return [{"_id": i, "type": rng.choice(["PAGE", "ORDER"]),
             "details": {"name": rng.choice(["CART", "PRODUCT_LISTING"]), "action": rng.choice(["VIEW", "CLICK"]),
                         "userId": " 7", "productId": f" {rng.randrange(5)}"},
             "created_at": f"{rng.choice(days)}T{rng.randrange(24):02d}:00:00.000001"} for i in range(n)]


def _table(db: Path, expected: int, timeout_s: float = 60) -> dict[tuple[str, ...], int]:
    deadline = time.monotonic() + timeout_s
    rows: dict[tuple[str, ...], int] = {}
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db) as conn:
                rows = {tuple(r[:4]): r[4] for r in conn.execute(
                    "SELECT DAY, PRODUCTID, NAME, ACTION, COUNT FROM audit_stats")}
        except sqlite3.OperationalError:
            rows = {}
        if sum(rows.values()) == expected:
            return rows
        time.sleep(0.2)
    return rows


def test_auditlog_app_end_to_end(tmp_path: Path) -> None:
    files = tmp_path / "files"
    settings = Settings(data_dir=str(tmp_path / "data"), files_dir=str(files), generators=False)
    spec = load_app("auditlog")
    events = _events(200)
    expected = collections.Counter(
        (str(e["created_at"])[:10], e["details"]["productId"], e["details"]["name"], e["details"]["action"])  # type: ignore[index]
        for e in events)
    with Session(str(tmp_path / "data"), connect_policy=ConnectPolicy.confined(str(files))) as session:
        run_app(spec, EmbeddedTarget(session), settings)
        session.log.append(TOPIC, 0, [Record(json.dumps(e).encode(), key=str(e["_id"]).encode()) for e in events])
        session.wait_until_processed()
        assert _table(files / "eventlog_summary.db", len(events)) == dict(expected)
        pulled = session.query("SELECT * FROM audit_stats;").rows  # type: ignore[union-attr]
        assert {tuple(r[:4]): r[4] for r in pulled} == dict(expected)
        # The summary topic is keyed by screen; its last record per (day, product, screen, action) is the count.
        latest: dict[tuple[str, ...], int] = {}
        for record in session.log.read("eventlog-summary", 0, 0, max_records=10_000).records.to_pylist():
            value = json.loads(record["value"])
            assert record["key"].decode() == value["NAME"]
            latest[(value["DAY"], value["PRODUCTID"], value["NAME"], value["ACTION"])] = value["COUNT"]
        assert latest == dict(expected)
        # A rerun changes nothing.
        again = run_app(spec, EmbeddedTarget(session), settings)
        assert "connector audit_stats_sink: unchanged" in again
        session.wait_until_processed()
        assert _table(files / "eventlog_summary.db", len(events)) == dict(expected)
        ordered = collections.Counter(e["details"]["productId"] for e in events  # type: ignore[index]
                                      if e["type"] == "ORDER")
        orders = session.query("SELECT PRODUCTID, ORDERS FROM PRODUCT_ORDERS_TODAY;").rows  # type: ignore[union-attr]
        totals: collections.Counter[str] = collections.Counter()
        for product, count in orders:
            totals[product] += count
        assert totals == ordered


def test_auditlog_app_on_mariadb(tmp_path: Path, mariadb_database: str) -> None:
    """The seed's database: four string key columns fit MariaDB's index; a rerun leaves the counts."""
    files = tmp_path / "files"
    settings = Settings(data_dir=str(tmp_path / "data"), files_dir=str(files), database_url=mariadb_database,
                        generators=False)
    events = _events(50)
    expected = collections.Counter((str(e["created_at"])[:10], e["details"]["productId"],  # type: ignore[index]
                                    e["details"]["name"], e["details"]["action"]) for e in events)  # type: ignore[index]
    engine = create_engine(sqlalchemy_url(mariadb_database))
    policy = ConnectPolicy.confined(str(files), ["127.0.0.1:3306"])
    with Session(str(tmp_path / "data"), connect_policy=policy) as session:
        for _ in range(2):
            run_app(load_app("auditlog"), EmbeddedTarget(session), settings)
        session.log.append(TOPIC, 0, [Record(json.dumps(e).encode(), key=str(e["_id"]).encode()) for e in events])
        session.wait_until_processed()
        rows: dict[tuple[str, ...], int] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(rows.values()) != len(events):
            time.sleep(0.3)
            with engine.connect() as conn:
                if "audit_stats" in engine.dialect.get_table_names(conn):
                    rows = {tuple(r[:4]): r[4] for r in conn.exec_driver_sql(
                        "SELECT DAY, PRODUCTID, NAME, ACTION, COUNT FROM audit_stats")}
    engine.dispose()
    assert rows == dict(expected)
