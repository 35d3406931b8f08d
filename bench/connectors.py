"""Datagen and JDBC sink throughput: records generated per second per quickstart, rows upserted per second.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.connectors [records]`` (default
20,000). Datagen: each quickstart's records with their JSON encoding, as
``headwater generate`` and the connector make them (one Python call per record,
as kafka-connect-datagen). JDBC sink: a windowed count's changelog upserted
into SQLite, and into MariaDB and PostgreSQL when they answer on 127.0.0.1
(a fresh database, dropped after), ``batch.size`` 3000, puts of 5,000 records.
The last line is one JSON object.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from typing import Any

import orjson

from headwater.connect.data import SinkRecord
from headwater.connect.jdbc import JdbcSinkTask
from headwater.datagen.base import record_rng
from headwater.datagen.quickstarts import QUICKSTARTS, quickstart

NOW_MS = 1_790_000_000_000


def datagen_rate(name: str, records: int) -> float:
    generator = quickstart(name)
    started = time.perf_counter()
    for i in range(records):
        value = generator.value(i, record_rng(7, 0, i), NOW_MS)
        orjson.dumps(value)
        generator.key(value)
    return records / (time.perf_counter() - started)


def changelog(records: int) -> list[SinkRecord]:
    counts: dict[tuple[int, int], int] = {}
    out = []
    for i in range(records):
        key = ((i * 7919) % 5000, (i // 2000) * 60_000)
        counts[key] = counts.get(key, 0) + 1
        out.append(SinkRecord("bench", 0, i, None, key[0], {"USERID": key[0], "EVENT_TS": key[1],
                                                            "EVENTS": counts[key]}))
    return out


def sink_rate(url: str, records: list[SinkRecord]) -> float:
    task = JdbcSinkTask()
    task.start({"connection.url": url, "auto.create": "true", "insert.mode": "upsert", "pk.mode": "record_value",
                "pk.fields": "USERID,EVENT_TS", "batch.size": "3000", "table.name.format": "bench_${topic}"})
    try:
        task.put(records[:10])  # create the table outside the timing
        started = time.perf_counter()
        for start in range(0, len(records), 5000):
            assert not task.put(records[start:start + 5000])
        return len(records) / (time.perf_counter() - started)
    finally:
        task.stop()


def server_databases() -> list[tuple[str, str, Any]]:
    """(name, JDBC URL, drop) of a fresh MariaDB and PostgreSQL database, when they answer."""
    found: list[tuple[str, str, Any]] = []
    name = f"headwater_bench_{secrets.token_hex(3)}"
    try:
        import pymysql

        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
        admin.cursor().execute(f"CREATE DATABASE `{name}`")
        found.append(("mariadb", f"jdbc:mariadb://127.0.0.1:3306/{name}?user=root",
                      lambda: admin.cursor().execute(f"DROP DATABASE `{name}`")))
    except Exception as exc:  # noqa: BLE001 - a missing server only leaves its figure out
        print(f"MariaDB skipped: {exc}")
    try:
        import psycopg

        pg = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True)
        pg.execute(f'CREATE DATABASE "{name}"')
        found.append(("postgresql", f"jdbc:postgresql://127.0.0.1:5432/{name}?user=postgres",
                      lambda: pg.execute(f'DROP DATABASE "{name}" WITH (FORCE)')))
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL skipped: {exc}")
    return found


def main(records: int = 20_000) -> dict[str, int]:
    result: dict[str, int] = {}
    for name in QUICKSTARTS:
        rate = datagen_rate(name, records)
        print(f"datagen {name}: {rate:,.0f} records/s")
        result[f"datagen_{name}_records_per_s"] = round(rate)
    updates = changelog(records)
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"jdbc:sqlite:{tmp}/bench.db", lambda: None), *server_databases()]
        for db, url, drop in targets:
            try:
                rate = sink_rate(url, updates)
            finally:
                drop()
            print(f"jdbc sink upserts into {db}: {rate:,.0f} records/s")
            result[f"jdbc_upsert_{db}_records_per_s"] = round(rate)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:2]))
