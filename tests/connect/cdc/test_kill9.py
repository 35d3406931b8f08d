"""kill -9 of ``headwater up`` in the middle of a stream of changes: after the restart every change is in the
topic exactly once and in commit order per key, and a JDBC sink fed through ExtractNewRecordState (upsert,
deletes enabled) in the same server ends equal to the source table (PostgreSQL and MariaDB, the machine's
real servers). tests/connect/cdc/test_sink_equality.py is the long variant: 100,000 changes, three kills."""

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

KEYS, CHANGES, PER_TRANSACTION = 20, 1000, 10


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

    def transaction(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        """The statements in one transaction (so a poll can end, and the kill land, inside one)."""
        with self.conn.cursor() as cur:
            cur.execute("BEGIN")
            for statement, params in statements:
                cur.execute(statement, params)
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
def databases(request: pytest.FixtureRequest) -> Iterator[tuple[Database, Database]]:
    """A source and a sink database on the same server."""
    make: Callable[[], Iterator[str]] = postgres_database if request.param == "postgres" else mariadb_database
    source_names, sink_names = make(), make()
    source, sink = Database(request.param, next(source_names)), Database(request.param, next(sink_names))
    try:
        yield source, sink
    finally:
        source.conn.close()
        sink.conn.close()
        for names in (source_names, sink_names):
            for _ in names:
                pass


def table_rows(db: Database, table: str) -> set[tuple[Any, ...]] | None:
    """The rows of ``table``; None while it does not exist (the sink creates it)."""
    try:
        with db.conn.cursor() as cur:
            cur.execute(f"SELECT id, n FROM {table}")
            return {tuple(r) for r in cur.fetchall()}
    except (psycopg2.Error, pymysql.err.Error):
        return None


def sink_config(source: Database, sink: Database, table: str) -> dict[str, str]:
    """A JDBC sink of the source's topic of ``table`` into ``<table>_copy`` of the sink database."""
    if sink.kind == "postgres":
        url = f"jdbc:postgresql://{HOST}:{POSTGRES_PORT}/{sink.name}?user=postgres"
    else:
        url = f"jdbc:mariadb://{HOST}:{MARIADB_PORT}/{sink.name}?user=root"
    return {"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "connection.url": url,
            "topics": source.topic.replace("counters", table), "table.name.format": f"{table}_copy",
            "insert.mode": "upsert", "pk.mode": "record_key", "delete.enabled": "true", "auto.create": "true",
            "transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
            **json_converters()}


def statements() -> Iterator[tuple[str, tuple[int, ...], tuple[int, str, int | None]]]:
    """(statement, parameters, the change event it makes as (key, op, n)): updates, and in every transaction
    of ten one key deleted and inserted again."""
    for i in range(1, CHANGES + 1):
        if i % PER_TRANSACTION == PER_TRANSACTION - 1:
            yield "DELETE FROM counters WHERE id = %s", (i % KEYS,), (i % KEYS, "d", None)
        elif i % PER_TRANSACTION == 0:
            key = (i - 1) % KEYS
            yield "INSERT INTO counters VALUES (%s, %s)", (key, i), (key, "c", i)
        else:
            yield "UPDATE counters SET n = %s WHERE id = %s", (i, i % KEYS), (i % KEYS, "u", i)


def per_key(log_dir: Path, topic: str) -> dict[int, list[tuple[str, int | None]]]:
    """(op, n) of the change events of each key, in topic order (tombstones left out)."""
    with open_log(str(log_dir)) as log:
        events = read_topic(log, topic)
    out: dict[int, list[tuple[str, int | None]]] = {}
    for key, value in events:
        if value is not None:
            out.setdefault(key["id"], []).append((value["op"], (value["after"] or {}).get("n")))
    return out


def count(log_dir: Path, topic: str) -> int:
    return sum(len(v) for v in per_key(log_dir, topic).values())


def wait(check: Callable[[], bool], timeout_s: float, what: str, server: HeadwaterUp) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; server output: {server.output()[-3000:]}")
        time.sleep(0.2)


def test_kill_9_mid_stream_loses_and_doubles_nothing(databases: tuple[Database, Database], tmp_path: Path) -> None:
    database, sink = databases
    database.execute("CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)")
    for key in range(KEYS):
        database.execute("INSERT INTO counters VALUES (%s, 0)", key)
    server = HeadwaterUp(tmp_path)
    server.start()
    writer_error: list[BaseException] = []

    def write() -> None:
        try:
            planned = list(statements())
            for first in range(0, CHANGES, PER_TRANSACTION):
                database.transaction([(sql, params) for sql, params, _ in planned[first:first + PER_TRANSACTION]])
                time.sleep(0.005)
        except BaseException as exc:  # reported by the test
            writer_error.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    try:
        server.create("cdc", database.connector())
        server.create("counters-sink", sink_config(database, sink, "counters"))
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
        want_rows = table_rows(database, "counters")
        wait(lambda: table_rows(sink, "counters_copy") == want_rows, 60, "the sink table equal to the source",
             server)
        time.sleep(1.5)  # a doubled tail would show up within a poll
        source = "postgresql" if database.kind == "postgres" else "mysql"
        wanted = ["headwater_cdc_events", "headwater_cdc_commit_lag_ms"]
        wanted += ["headwater_cdc_slot_lag_bytes"] if source == "postgresql" else []
        wait(lambda: all(f'{name}{{connector="cdc",source="{source}"}}' in httpx.get(server.url + "/metrics").text
                         for name in wanted), 15, "the CDC gauges in /metrics", server)
    finally:
        server.stop()
    got = per_key(server.log_dir, database.topic)
    want: dict[int, list[tuple[str, int | None]]] = {key: [("r", 0)] for key in range(KEYS)}
    for _, _, (key, op, n) in statements():
        want[key].append((op, n))
    assert got == want
