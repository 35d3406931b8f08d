"""CDC throughput and lag: change events per second from PostgreSQL and MariaDB, and commit-to-log lag.

Usage: python -m bench.cdc_throughput [--changes N] [--lag-events N]
Needs the local servers set up by scripts/services.sh (PostgreSQL wal_level=logical, MariaDB ROW binlog with
full row metadata); each run uses a new database, dropped after (with its replication slot).

Throughput: the connector starts (slot or binlog position taken), is stopped, N row changes are committed
(inserts and updates in transactions of 1,000), then the connector starts again and the time until all N change
events are in the log is measured: decode, envelope, JsonConverter (schemaless), one log transaction per poll
with the source offsets. Lag: with the connector running, single-row transactions are committed at a steady
pace and the time from each COMMIT returning to its event being readable in the log is recorded (p50, p99).
The last line printed is one JSON object:
{"postgres_events_per_s", "mariadb_events_per_s", "postgres_lag_p50_ms", "postgres_lag_p99_ms",
 "mariadb_lag_p50_ms", "mariadb_lag_p99_ms"}
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg2
import pymysql

from headwater.connect.runtime import ConnectRuntime
from headwater.log.embedded import EmbeddedLog

HOST = "127.0.0.1"
JSON = {"key.converter": "org.apache.kafka.connect.json.JsonConverter", "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false"}


class Database:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f"hw_bench_cdc_{os.getpid()}_{secrets.token_hex(3)}"
        if kind == "postgres":
            self.admin: Any = psycopg2.connect(host=HOST, user="postgres", dbname="postgres")
            self.admin.autocommit = True
            self.admin.cursor().execute(f'CREATE DATABASE "{self.name}"')
            self.conn: Any = psycopg2.connect(host=HOST, user="postgres", dbname=self.name)
            self.topic = "bench.public.items"
            self.config = {"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
                           "database.dbname": self.name, "database.user": "postgres", "slot.name": self.name,
                           "publication.name": f"{self.name}_pub"}
        else:
            self.admin = pymysql.connect(host=HOST, user="root", password="", autocommit=True)
            self.admin.cursor().execute(f"CREATE DATABASE `{self.name}`")
            self.conn = pymysql.connect(host=HOST, user="root", password="", database=self.name)
            self.topic = f"bench.{self.name}.items"
            self.config = {"connector.class": "io.debezium.connector.mysql.MySqlConnector", "database.user": "root",
                           "database.include.list": self.name}
        self.config.update({"database.hostname": HOST, "topic.prefix": "bench", "snapshot.mode": "never", **JSON})
        self.execute(["CREATE TABLE items (id INT PRIMARY KEY, qty INT NOT NULL, name VARCHAR(40))"])

    def execute(self, statements: list[str], params: list[tuple[Any, ...]] | None = None) -> None:
        with self.conn.cursor() as cur:
            for i, statement in enumerate(statements):
                cur.execute(statement, params[i] if params else None)
        self.conn.commit()

    def drop(self) -> None:
        self.conn.close()
        with self.admin.cursor() as cur:
            if self.kind == "postgres":
                cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                            "WHERE database = %s AND NOT active", (self.name,))
                cur.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            else:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
        self.admin.close()


def _wait(check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.005)


def _end(log: EmbeddedLog, topic: str) -> int:
    return log.end_offset(topic, 0) if topic in log.list_topics() else 0


def measure(kind: str, changes: int, lag_events: int) -> tuple[float, list[float]]:
    db = Database(kind)
    root = tempfile.mkdtemp(prefix="hw-bench-cdc-")
    try:
        with EmbeddedLog(os.path.join(root, "log")) as log:
            runtime = ConnectRuntime(log, worker_id="bench:0")
            runtime.create("cdc", db.config)
            runtime.wait_for("cdc", timeout_s=60)
            time.sleep(1.0)
            runtime.close()
            inserts = changes // 2
            for first in range(0, inserts, 1000):
                rows = range(first, min(first + 1000, inserts))
                db.execute(["INSERT INTO items VALUES (%s, %s, %s)"] * len(rows), [(i, i, f"item {i}") for i in rows])
            for first in range(0, changes - inserts, 1000):
                rows = range(first, min(first + 1000, changes - inserts))
                db.execute(["UPDATE items SET qty = qty + 1 WHERE id = %s"] * len(rows), [(i,) for i in rows])
            start = time.perf_counter()
            runtime = ConnectRuntime(log, worker_id="bench:0")
            _wait(lambda: _end(log, db.topic) >= changes, 600)
            rate = changes / (time.perf_counter() - start)
            lags: list[float] = []
            seen: dict[int, float] = {}
            stop = threading.Event()

            def watch() -> None:
                while not stop.is_set():
                    end = _end(log, db.topic)
                    now = time.perf_counter()
                    for n in range(len(seen), end - changes):
                        seen[n] = now
                    time.sleep(0.002)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            committed: list[float] = []
            for n in range(lag_events):
                db.execute(["UPDATE items SET qty = %s WHERE id = %s"], [(n, n % max(1, inserts))])
                committed.append(time.perf_counter())
                time.sleep(0.02)
            _wait(lambda: len(seen) >= lag_events, 60)
            stop.set()
            watcher.join()
            lags = [max(0.0, (seen[n] - committed[n]) * 1000) for n in range(lag_events)]
            runtime.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        db.drop()
    return rate, lags


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--lag-events", type=int, default=200)
    args = parser.parse_args()
    figures: dict[str, float] = {}
    for kind, label in (("postgres", "postgres"), ("mariadb", "mariadb")):
        rate, lags = measure(kind, args.changes, args.lag_events)
        figures[f"{label}_events_per_s"] = round(rate)
        figures[f"{label}_lag_p50_ms"] = round(statistics.median(lags), 1)
        figures[f"{label}_lag_p99_ms"] = round(percentile(lags, 0.99), 1)
        print(f"{label}: {args.changes:,} changes at {rate:,.0f} events/s; commit->log lag p50 "
              f"{figures[f'{label}_lag_p50_ms']} ms, p99 {figures[f'{label}_lag_p99_ms']} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
