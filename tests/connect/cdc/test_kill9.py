"""kill -9 of ``headwater up`` in the middle of a stream of changes: after the restart every change is in the
topic exactly once and in commit order per key (PostgreSQL and MariaDB, the machine's real servers)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pymysql
import pytest

from headwater.log import open_log
from tests.connect.cdc.helpers import HeadwaterUp, json_converters, mariadb_database, postgres_database, read_topic
from tests.databases import HOST, MARIADB_PORT, POSTGRES_PORT

KEYS, CHANGES, PER_TRANSACTION = 20, 3000, 10


class Database:
    def __init__(self, kind: str, name: str) -> None:
        self.kind, self.name = kind, name
        if kind == "postgres":
            self.conn: Any = psycopg2.connect(host=HOST, port=POSTGRES_PORT, user="postgres", dbname=name)
            self.conn.autocommit = True
            self.topic = "cdc.public.counters"
        else:
            self.conn = pymysql.connect(host=HOST, port=MARIADB_PORT, user="root", password="", database=name,
                                        autocommit=True)
            self.topic = f"cdc.{name}.counters"

    def execute(self, statement: str, *params: Any) -> None:
        with self.conn.cursor() as cur:
            cur.execute(statement, params or None)

    def transaction(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        """The rows' statements in one transaction (so a poll can end, and the kill land, inside one)."""
        with self.conn.cursor() as cur:
            cur.execute("BEGIN")
            for row in rows:
                cur.execute(statement, row)
            cur.execute("COMMIT")

    def connector(self) -> dict[str, str]:
        common = {"topic.prefix": "cdc", "database.hostname": HOST, **json_converters()}
        if self.kind == "postgres":
            return {"connector.class": "io.debezium.connector.postgresql.PostgresConnector", **common,
                    "database.port": str(POSTGRES_PORT), "database.user": "postgres", "database.dbname": self.name,
                    "slot.name": self.name, "publication.name": f"{self.name}_pub", "max.batch.size": "100"}
        return {"connector.class": "io.debezium.connector.mysql.MySqlConnector", **common,
                "database.port": str(MARIADB_PORT), "database.user": "root", "database.include.list": self.name,
                "max.batch.size": "100"}


@pytest.fixture(params=["postgres", "mariadb"])
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    make: Callable[[], Iterator[str]] = postgres_database if request.param == "postgres" else mariadb_database
    names = make()
    db = Database(request.param, next(names))
    try:
        yield db
    finally:
        db.conn.close()
        for _ in names:
            pass


def per_key(log_dir: Path, topic: str) -> dict[int, list[int]]:
    with open_log(str(log_dir)) as log:
        events = read_topic(log, topic)
    out: dict[int, list[int]] = {}
    for key, value in events:
        out.setdefault(key["id"], []).append(value["after"]["n"])
    return out


def count(log_dir: Path, topic: str) -> int:
    return sum(len(v) for v in per_key(log_dir, topic).values())


def wait(check: Callable[[], bool], timeout_s: float, what: str, server: HeadwaterUp) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; server output: {server.output()[-3000:]}")
        time.sleep(0.2)


def test_kill_9_mid_stream_loses_and_doubles_nothing(database: Database, tmp_path: Path) -> None:
    database.execute("CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)")
    for key in range(KEYS):
        database.execute("INSERT INTO counters VALUES (%s, 0)", key)
    server = HeadwaterUp(tmp_path)
    server.start()
    writer_error: list[BaseException] = []

    def write() -> None:
        try:
            for first in range(1, CHANGES + 1, PER_TRANSACTION):
                rows = [(i, i % KEYS) for i in range(first, first + PER_TRANSACTION)]
                database.transaction("UPDATE counters SET n = %s WHERE id = %s", rows)
                time.sleep(0.005)
        except BaseException as exc:  # reported by the test
            writer_error.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    try:
        server.create("cdc", database.connector())
        wait(lambda: count(server.log_dir, database.topic) >= KEYS, 60, "the snapshot", server)
        writer.start()
        wait(lambda: count(server.log_dir, database.topic) >= KEYS + CHANGES // 4, 60, "a quarter of the changes",
             server)
        server.kill()
        time.sleep(0.5)
        server.start()
        writer.join(120)
        assert not writer_error, writer_error
        wait(lambda: count(server.log_dir, database.topic) >= KEYS + CHANGES, 90, "every change", server)
        time.sleep(1.5)  # a doubled tail would show up within a poll
        source = "postgresql" if database.kind == "postgres" else "mysql"
        wanted = ["headwater_cdc_events", "headwater_cdc_commit_lag_ms"]
        wanted += ["headwater_cdc_slot_lag_bytes"] if source == "postgresql" else []
        wait(lambda: all(f'{name}{{connector="cdc",source="{source}"}}' in httpx.get(server.url + "/metrics").text
                         for name in wanted), 15, "the CDC gauges in /metrics", server)
    finally:
        server.stop()
    got = per_key(server.log_dir, database.topic)
    want = {key: [0] + [i for i in range(1, CHANGES + 1) if i % KEYS == key] for key in range(KEYS)}
    assert got == want
