"""Windowed keys (ksqlDB's TimeWindowed / SessionWindowed layouts) read by the JDBC sink through WindowedKey."""

from __future__ import annotations

import datetime as dt
import sqlite3
import struct
from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater.connect.data import SinkRecord
from headwater.connect.jdbc import JdbcSinkTask
from headwater.connect.jdbc_dialect import create_engine, sqlalchemy_url
from headwater.connect.transform_chain import TransformChain
from headwater.connect.transforms import TransformError
from tests.databases import mariadb_database  # noqa: F401 - a session fixture

START = 1_700_000_000_000


def _time_key(key: bytes, start: int) -> bytes:
    return key + struct.pack(">q", start)


def _chain(**extra: str) -> TransformChain:
    return TransformChain({"transforms": "w", "transforms.w.type": "io.headwater.connect.transforms.WindowedKey",
                           **{f"transforms.w.{k.replace('_', '.')}": v for k, v in extra.items()}})


def test_time_and_session_layouts() -> None:
    chain = _chain(window_type="TUMBLING", window_size_ms="5000", key_field="LAST_ACTION")
    record = chain.apply(SinkRecord("t", 0, 0, None, key=_time_key(b"FAQ", START), value={"N": 1}))
    assert record is not None and record.key == {"LAST_ACTION": "FAQ", "WINDOWSTART": START, "WINDOWEND": START + 5000}
    session = _chain(window_type="SESSION", key_format="KAFKA_INT")
    raw = struct.pack(">i", 7) + struct.pack(">qq", START + 30_000, START)  # key, end, start
    record = session.apply(SinkRecord("t", 0, 0, None, key=raw, value={"N": 1}))
    assert record is not None and record.key == {"KEY": 7, "WINDOWSTART": START, "WINDOWEND": START + 30_000}
    with pytest.raises(TransformError, match="ByteArrayConverter"):
        chain.apply(SinkRecord("t", 0, 0, None, key="FAQ\ufffd", value={"N": 1}))
    with pytest.raises(TransformError, match="at least 16 bytes"):
        session.apply(SinkRecord("t", 0, 0, None, key=b"\x00" * 8, value={"N": 1}))


def _sink_windows(url: str, table: str) -> None:
    chain = _chain(window_type="TUMBLING", window_size_ms="5000", key_field="LAST_ACTION")
    sink = JdbcSinkTask()
    sink.start({"connection.url": url, "auto.create": "true", "insert.mode": "upsert", "pk.mode": "record_key",
                "table.name.format": table})
    rows = [("SHOPPING_CART", 5), ("FAQ", 7), ("SHOPPING_CART", 14)]
    records = [chain.apply(SinkRecord("visit_summary", 0, n, None, key=_time_key(a.encode(), START),
                                      value={"DURATION": d})) for n, (a, d) in enumerate(rows)]
    sink.put([r for r in records if r is not None])
    sink.put([r for r in records if r is not None])  # a replay changes nothing
    sink.stop()


def test_jdbc_sink_upserts_windows_by_key_and_bounds_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    _sink_windows(f"jdbc:sqlite:{db}", "visit_summary_stats")
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT LAST_ACTION, WINDOWSTART, WINDOWEND, DURATION FROM visit_summary_stats "
                            "ORDER BY 1").fetchall()
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'visit_summary_stats'").fetchone()[0]
    start = dt.datetime(2023, 11, 14, 22, 13, 20)
    assert [(a, d) for a, _, _, d in rows] == [("FAQ", 7), ("SHOPPING_CART", 14)]
    assert rows[0][1].startswith(str(start)) and rows[0][2].startswith(str(start + dt.timedelta(seconds=5)))
    assert "PRIMARY KEY (\"LAST_ACTION\", \"WINDOWSTART\", \"WINDOWEND\")" in ddl and "VARCHAR(256)" in ddl


def test_jdbc_sink_windowed_table_types_mariadb(mariadb_database: str) -> None:
    url = mariadb_database
    engine = create_engine(sqlalchemy_url(url))
    _sink_windows(url, "windowed_key_test")
    with engine.connect() as conn:
        columns = {c["name"]: str(c["type"]) for c in sa.inspect(conn).get_columns("windowed_key_test")}
        rows = conn.exec_driver_sql("SELECT LAST_ACTION, DURATION FROM windowed_key_test ORDER BY 1").fetchall()
        conn.exec_driver_sql("DROP TABLE windowed_key_test")
    assert [tuple(r) for r in rows] == [("FAQ", 7), ("SHOPPING_CART", 14)]
    assert columns["LAST_ACTION"].startswith("VARCHAR(256)") and columns["WINDOWSTART"].startswith("DATETIME")
    assert columns["DURATION"] == "BIGINT"
