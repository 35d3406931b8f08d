"""The JDBC sink against the real MariaDB, PostgreSQL and SQLite: modes, keys, DDL, deletes, replay, refusals."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater.connect.api import ConnectError, RetriableError
from headwater.connect.data import ConnectSchema, Field, SinkRecord
from headwater.connect.jdbc import JdbcSinkConnector, JdbcSinkTask
from headwater.connect.jdbc_dialect import sqlalchemy_url
from tests.databases import mariadb_database, postgres_database  # noqa: F401 - session fixtures

_tables = itertools.count()
_offsets = itertools.count()


@pytest.fixture(params=["sqlite", "mariadb", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"jdbc:sqlite:{tmp_path_factory.mktemp('sqlite') / 'sink.db'}"
    return str(request.getfixturevalue("mariadb_database" if request.param == "mariadb" else "postgres_database"))


Sink = Callable[..., JdbcSinkTask]


@pytest.fixture
def sink(db_url: str) -> Iterator[Sink]:
    """Started sink tasks on the test's database; stopped after the test."""
    started: list[JdbcSinkTask] = []

    def make(**config: str) -> JdbcSinkTask:
        full = {"connection.url": db_url, "auto.create": "true", **config}
        assert JdbcSinkConnector.validate(full) == {}
        connector = JdbcSinkConnector()
        connector.start(full)
        task = JdbcSinkTask()
        task.start(connector.task_configs(1)[0])
        started.append(task)
        return task

    yield make
    for task in started:
        task.stop()


@pytest.fixture
def topic() -> str:
    return f"t{os.getpid()}_{next(_tables)}"


def rec(topic: str, value: Any, key: Any = None, *, value_schema: ConnectSchema | None = None,
        key_schema: ConnectSchema | None = None, offset: int | None = None, partition: int = 0) -> SinkRecord:
    return SinkRecord(topic, partition, next(_offsets) if offset is None else offset, None, key, value,
                      key_schema, value_schema)


def rows(db_url: str, table: str, order_by: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with engine.connect() as conn:
            t = sa.Table(table, sa.MetaData(), autoload_with=conn)
            return [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c[order_by]))]
    finally:
        engine.dispose()


def columns(db_url: str, table: str) -> dict[str, tuple[str, bool]]:
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with engine.connect() as conn:
            return {c["name"]: (str(c["type"]).upper(), c["nullable"]) for c in sa.inspect(conn).get_columns(table)}
    finally:
        engine.dispose()


def primary_key(db_url: str, table: str) -> list[str]:
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with engine.connect() as conn:
            return list(sa.inspect(conn).get_pk_constraint(table)["constrained_columns"])
    finally:
        engine.dispose()


def test_insert_schemaless_with_inferred_columns(sink: Sink, db_url: str, topic: str) -> None:
    task = sink()
    values = [{"id": n, "name": f"n{n}", "score": n / 2, "ok": n % 2 == 0, "tags": ["a", n]} for n in range(5)]
    assert task.put([rec(topic, v) for v in values]) == []
    got = rows(db_url, topic, "id")
    assert [(r["id"], r["name"], r["score"]) for r in got] == [(v["id"], v["name"], v["score"]) for v in values]
    assert [bool(r["ok"]) for r in got] == [True, False, True, False, True]
    assert got[1]["tags"] == '["a",1]'
    types = columns(db_url, topic)
    assert "BIGINT" in types["id"][0] and "TEXT" in types["name"][0]
    assert any(t in types["score"][0] for t in ("DOUBLE", "FLOAT"))
    assert all(nullable for _, nullable in types.values())
    assert primary_key(db_url, topic) == []


def test_upsert_by_struct_key_is_idempotent(sink: Sink, db_url: str, topic: str) -> None:
    task = sink(**{"insert.mode": "upsert", "pk.mode": "record_key"})
    batch = [rec(topic, {"city": "Oslo", "visits": n}, {"region": "north", "site": n % 3}) for n in range(9)]
    assert task.put(batch) == []
    expected = [{"region": "north", "site": s, "city": "Oslo", "visits": v} for s, v in ((0, 6), (1, 7), (2, 8))]
    assert rows(db_url, topic, "site") == expected
    # A replay after a crash: the same records again leave the same rows.
    assert task.put(batch) == [] and task.put(batch[4:]) == []
    assert rows(db_url, topic, "site") == expected
    assert primary_key(db_url, topic) == ["region", "site"]


def test_upsert_windowed_aggregate_by_record_value(sink: Sink, db_url: str, topic: str) -> None:
    """A ksqlDB windowed table (AS_VALUE key + WINDOWSTART) kept current by upserts."""
    task = sink(**{"insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "USERID,EVENT_TS"})
    updates = [{"USERID": u, "EVENT_TS": w, "EVENTS": n} for n, (u, w) in enumerate(
        [(1, 60_000), (2, 60_000), (1, 60_000), (1, 120_000), (2, 60_000), (1, 60_000)], 1)]
    assert task.put([rec(topic, v, v["USERID"]) for v in updates]) == []
    got = {(r["USERID"], r["EVENT_TS"]): r["EVENTS"] for r in rows(db_url, topic, "EVENTS")}
    assert got == {(1, 60_000): 6, (2, 60_000): 5, (1, 120_000): 4}


def test_primitive_key_needs_one_pk_field(sink: Sink, db_url: str, topic: str) -> None:
    task = sink(**{"insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "code"})
    assert task.put([rec(topic, {"definition": d}, c) for c, d in [(200, "OK"), (404, "Nope"), (404, "Not found")]]) == []
    assert rows(db_url, topic, "code") == [{"code": 200, "definition": "OK"}, {"code": 404, "definition": "Not found"}]
    bad = sink(**{"insert.mode": "upsert", "pk.mode": "record_key"})
    with pytest.raises(ConnectError, match="pk.fields must name exactly one column"):
        bad.put([rec(topic, {"definition": "x"}, 500)])


def test_update_mode_changes_existing_rows_only(sink: Sink, db_url: str, topic: str) -> None:
    sink(**{"insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id"}).put(
        [rec(topic, {"id": n, "state": "new"}) for n in (1, 2)])
    task = sink(**{"insert.mode": "update", "pk.mode": "record_value", "pk.fields": "id"})
    assert task.put([rec(topic, {"id": 2, "state": "paid"}), rec(topic, {"id": 3, "state": "paid"})]) == []
    assert rows(db_url, topic, "id") == [{"id": 1, "state": "new"}, {"id": 2, "state": "paid"}]


def test_kafka_coordinates_as_primary_key(sink: Sink, db_url: str, topic: str) -> None:
    task = sink(**{"insert.mode": "upsert", "pk.mode": "kafka"})
    batch = [rec(topic, {"v": n}, offset=n, partition=n % 2) for n in range(4)]
    assert task.put(batch) == [] and task.put(batch) == []
    got = rows(db_url, topic, "__connect_offset")
    assert [(r["__connect_topic"], r["__connect_partition"], r["__connect_offset"], r["v"]) for r in got] == [
        (topic, n % 2, n, n) for n in range(4)]
    assert primary_key(db_url, topic) == ["__connect_topic", "__connect_partition", "__connect_offset"]


def test_auto_evolve_adds_optional_columns(sink: Sink, db_url: str, topic: str) -> None:
    fixed = sink(**{"pk.mode": "record_value", "pk.fields": "id", "insert.mode": "upsert"})
    assert fixed.put([rec(topic, {"id": 1, "a": "x"})]) == []
    refused = fixed.put([rec(topic, {"id": 2, "a": "y", "b": 5}), rec(topic, {"id": 3, "a": "z"})])
    assert len(refused) == 1 and refused[0].record.value["id"] == 2
    assert "has no column(s) b" in str(refused[0].error) and "auto.evolve is false" in str(refused[0].error)
    evolving = sink(**{"pk.mode": "record_value", "pk.fields": "id", "insert.mode": "upsert", "auto.evolve": "true"})
    assert evolving.put([rec(topic, {"id": 2, "a": "y", "b": 5})]) == []
    assert rows(db_url, topic, "id") == [{"id": 1, "a": "x", "b": None}, {"id": 2, "a": "y", "b": 5},
                                         {"id": 3, "a": "z", "b": None}]
    # A required (non-optional) field cannot be added to a table that has rows.
    schema = ConnectSchema("struct", fields=(Field("id", ConnectSchema("int64")), Field("a", ConnectSchema("string")),
                                             Field("c", ConnectSchema("string"))))
    (failure,) = evolving.put([rec(topic, {"id": 4, "a": "w", "c": "q"}, value_schema=schema)])
    assert "they are not optional" in str(failure.error)


def test_tombstones_delete_by_key(sink: Sink, db_url: str, topic: str) -> None:
    task = sink(**{"insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id", "delete.enabled": "true"})
    assert task.put([rec(topic, None, 7)]) == []  # nothing to delete yet, and no table made of the key alone
    assert task.put([rec(topic, {"v": n}, n) for n in range(4)] + [rec(topic, None, 1), rec(topic, None, 3),
                                                                   rec(topic, {"v": 30}, 3)]) == []
    assert rows(db_url, topic, "id") == [{"id": 0, "v": 0}, {"id": 2, "v": 2}, {"id": 3, "v": 30}]
    keep = sink(**{"insert.mode": "upsert", "pk.mode": "record_key", "pk.fields": "id"})
    assert keep.put([rec(topic, None, 0)]) == []  # without delete.enabled a tombstone is skipped
    assert len(rows(db_url, topic, "id")) == 3


def test_refused_record_is_returned_with_the_database_reason(sink: Sink, db_url: str, topic: str) -> None:
    schema = ConnectSchema("struct", fields=(Field("id", ConnectSchema("int32")), Field("name", ConnectSchema("string"))))
    task = sink(**{"batch.size": "2"})
    batch = [rec(topic, {"id": n, "name": None if n == 3 else f"n{n}"}, value_schema=schema) for n in range(6)]
    failures = task.put(batch)
    assert [f.record.offset for f in failures] == [batch[3].offset]
    message = str(failures[0].error).lower()
    assert f"refused the record at {topic}[0]@{batch[3].offset}" in message
    assert "null" in message  # the database's own words: NOT NULL constraint / cannot be null / null value
    assert [r["id"] for r in rows(db_url, topic, "id")] == [0, 1, 2, 4, 5]


@pytest.mark.parametrize("db", ["mariadb", "postgresql"])  # SQLite stores any value in any column
def test_value_the_column_type_refuses(db: str, request: pytest.FixtureRequest, topic: str) -> None:
    db_url = str(request.getfixturevalue("mariadb_database" if db == "mariadb" else "postgres_database"))
    task = JdbcSinkTask()
    task.start({"connection.url": db_url, "auto.create": "true"})
    assert task.put([rec(topic, {"id": 1, "amount": 5})]) == []
    failures = task.put([rec(topic, {"id": 2, "amount": 7}), rec(topic, {"id": 3, "amount": "lots"}),
                         rec(topic, {"id": 4, "amount": 9})])
    assert len(failures) == 1 and failures[0].record.value["id"] == 3
    assert "lots" in str(failures[0].error) or "integer" in str(failures[0].error).lower()
    assert [r["amount"] for r in rows(db_url, topic, "id")] == [5, 7, 9]
    task.stop()


def test_batch_size_bounds_rows_per_statement(sink: Sink, db_url: str, topic: str) -> None:
    task = sink(**{"batch.size": "3", "insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "id"})
    statements: list[int] = []

    @sa.event.listens_for(task.engine, "before_execute")
    def count(_conn: Any, clause: Any, multiparams: Any, _params: Any, _opts: Any) -> None:
        if isinstance(clause, sa.Insert):
            statements.append(len(multiparams) if isinstance(multiparams, list) else 1)

    assert task.put([rec(topic, {"id": n, "x": n}) for n in range(8)]) == []
    assert statements == [3, 3, 2]
    assert len(rows(db_url, topic, "id")) == 8


def test_connect_types_map_to_sql_types(sink: Sink, db_url: str, topic: str) -> None:
    schema = ConnectSchema("struct", fields=(
        Field("code", ConnectSchema("string")),
        Field("small", ConnectSchema("int16")),
        Field("n", ConnectSchema("int32")),
        Field("big", ConnectSchema("int64", optional=True)),
        Field("ratio", ConnectSchema("float64")),
        Field("flag", ConnectSchema("boolean")),
        Field("price", ConnectSchema("bytes", name="org.apache.kafka.connect.data.Decimal", parameters={"scale": "2"})),
        Field("at", ConnectSchema("int64", name="org.apache.kafka.connect.data.Timestamp")),
        Field("raw", ConnectSchema("bytes", optional=True)),
    ))
    task = sink(**{"insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "code"})
    value = {"code": "A1", "small": 3, "n": 70000, "big": None, "ratio": 0.25, "flag": True,
             "price": Decimal("12.50"), "at": 1_790_000_000_123, "raw": b"\x00\x01"}
    assert task.put([rec(topic, value, value_schema=schema)]) == []
    (row,) = rows(db_url, topic, "code")
    assert row["n"] == 70000 and row["ratio"] == 0.25 and Decimal(str(row["price"])) == Decimal("12.50")
    assert bytes(row["raw"]) == b"\x00\x01" and bool(row["flag"]) is True
    assert str(row["at"]).startswith("2026-09-21 14:13:20")
    types = columns(db_url, topic)
    assert types["n"][0] == "INTEGER" and types["big"] == ("BIGINT", True) and types["n"][1] is False
    if "mariadb" in db_url:
        assert types["code"][0].startswith("VARCHAR(256)") and types["price"][0] == "DECIMAL(65, 2)"
        assert types["at"][0] == "DATETIME(FSP=3)" or types["at"][0].startswith("DATETIME")
    if "postgresql" in db_url:
        assert types["code"][0] == "VARCHAR(256)" and types["flag"][0] == "BOOLEAN" and types["raw"][0] == "BYTEA"
        assert types["ratio"][0] == "DOUBLE PRECISION" and types["at"][0] in ("TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE")


def test_missing_table_without_auto_create_fails_the_task(sink: Sink, topic: str) -> None:
    task = sink(**{"auto.create": "false"})
    with pytest.raises(ConnectError, match=f"table '{topic}' does not exist and auto.create is false"):
        task.put([rec(topic, {"id": 1})])


def test_non_struct_value_is_refused(sink: Sink, topic: str) -> None:
    (failure,) = sink().put([rec(topic, "just text")])
    assert "is str, expected a struct or a map" in str(failure.error)


def test_unreachable_database_is_retriable(tmp_path: Path) -> None:
    task = JdbcSinkTask()
    task.start({"connection.url": "jdbc:mariadb://127.0.0.1:1/nowhere?user=root", "auto.create": "true"})
    try:
        with pytest.raises(RetriableError, match="cannot connect"):
            task.put([rec("t", {"id": 1})])
    finally:
        task.stop()


def test_url_translation() -> None:
    assert sqlalchemy_url("jdbc:mysql://db:3307/shop?user=u&password=p&useSSL=false").render_as_string(
        hide_password=False) == "mysql+pymysql://u:p@db:3307/shop?charset=utf8mb4"
    assert sqlalchemy_url("jdbc:mariadb://127.0.0.1/shop", "root").render_as_string() == \
        "mariadb+pymysql://root@127.0.0.1/shop?charset=utf8mb4"
    assert sqlalchemy_url("jdbc:postgresql://h:5432/db", "pg", "s3cret").render_as_string(
        hide_password=False) == "postgresql+psycopg://pg:s3cret@h:5432/db"
    assert sqlalchemy_url("jdbc:postgresql:db").render_as_string() == "postgresql+psycopg://localhost/db"
    assert sqlalchemy_url("jdbc:sqlite:/tmp/x.db").render_as_string() == "sqlite:////tmp/x.db"
    assert sqlalchemy_url("jdbc:sqlite::memory:").render_as_string() == "sqlite://"
    assert sqlalchemy_url("postgresql+psycopg://a@h/db").render_as_string() == "postgresql+psycopg://a@h/db"


def test_config_validation() -> None:
    errors = JdbcSinkConnector.validate({"connection.url": "jdbc:oracle:thin:@h:1521:x"})
    assert "unsupported JDBC URL" in errors["connection.url"][0]
    assert "needs a primary key" in JdbcSinkConnector.validate(
        {"connection.url": "jdbc:sqlite:x.db", "insert.mode": "upsert"})["insert.mode"][0]
    assert "requires pk.mode=record_key" in JdbcSinkConnector.validate(
        {"connection.url": "jdbc:sqlite:x.db", "delete.enabled": "true", "pk.mode": "record_value"})[
        "delete.enabled"][0]
    assert "Missing required configuration" in JdbcSinkConnector.validate({})["connection.url"][0]
    with pytest.raises(ConnectError, match="insert.mode must be insert, upsert or update"):
        JdbcSinkConnector().start({"connection.url": "jdbc:sqlite:x.db", "insert.mode": "merge"})


def _kill_session(db_url: str, session_id: int) -> None:
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with engine.connect() as conn:
            if "mariadb" in db_url:
                conn.exec_driver_sql(f"KILL CONNECTION {session_id}")
            else:
                conn.exec_driver_sql(f"SELECT pg_terminate_backend({session_id})")
    finally:
        engine.dispose()


@pytest.mark.parametrize("db", ["mariadb", "postgresql"])
def test_connection_lost_mid_put_is_retriable_and_the_retry_writes_once(
        db: str, request: pytest.FixtureRequest, topic: str) -> None:
    db_url = str(request.getfixturevalue("mariadb_database" if db == "mariadb" else "postgres_database"))
    task = JdbcSinkTask()
    task.start({"connection.url": db_url, "auto.create": "true", "insert.mode": "upsert",
                "pk.mode": "record_value", "pk.fields": "id", "batch.size": "2"})
    try:
        batch = [rec(topic, {"id": n, "v": n * 10}) for n in range(5)]
        assert task.put(batch[:1]) == []
        killed: list[int] = []
        inserts: list[str] = []

        @sa.event.listens_for(task.engine, "before_cursor_execute")
        def kill_once(conn: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT"):
                inserts.append(statement)
            # The server drops the session once the put's first statement (2 rows) went through.
            if len(inserts) == 2 and not killed:
                session_sql = "SELECT CONNECTION_ID()" if db == "mariadb" else "SELECT pg_backend_pid()"
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                cursor.execute(session_sql)
                (session_id,) = cursor.fetchone() or (0,)
                killed.append(int(session_id))
                _kill_session(db_url, killed[0])

        with pytest.raises(RetriableError):
            task.put(batch)
        assert killed and len(inserts) == 2
        assert rows(db_url, topic, "id") == [{"id": 0, "v": 0}]  # the failed put left nothing behind
        sa.event.remove(task.engine, "before_cursor_execute", kill_once)
        assert task.put(batch) == []
        assert rows(db_url, topic, "id") == [{"id": n, "v": n * 10} for n in range(5)]
    finally:
        task.stop()


def _window_updates(topic: str, n: int) -> list[SinkRecord]:
    """A windowed count's changelog (EMIT CHANGES): one update per input event, as a CTAS emits it."""
    counts: dict[tuple[int, int], int] = {}
    records = []
    for i in range(n):
        user, window = (i * 7) % 13, (i // 97) * 60_000
        counts[(user, window)] = counts.get((user, window), 0) + 1
        value = {"USERID": user, "EVENT_TS": window, "EVENTS": counts[(user, window)]}
        records.append(SinkRecord(topic, 0, i, None, user, value))
    return records


WINDOW_SINK = {"auto.create": "true", "insert.mode": "upsert", "pk.mode": "record_value",
               "pk.fields": "USERID,EVENT_TS", "batch.size": "20"}


def _write_until_killed(db_url: str, topic: str) -> None:
    """Runs in a child process: put the changelog 50 records at a time, forever, until kill -9."""
    task = JdbcSinkTask()
    task.start({"connection.url": db_url, **WINDOW_SINK})
    records = _window_updates(topic, 3000)
    print("started", flush=True)
    while True:
        for start in range(0, len(records), 50):
            task.put(records[start:start + 50])


@pytest.mark.parametrize("db", ["mariadb", "postgresql"])
def test_replay_after_kill_9_leaves_the_table_correct(db: str, request: pytest.FixtureRequest, topic: str) -> None:
    import signal
    import subprocess
    import sys
    import time

    db_url = str(request.getfixturevalue("mariadb_database" if db == "mariadb" else "postgres_database"))
    child = subprocess.Popen(
        [sys.executable, "-c", f"from tests.connect.test_jdbc import _write_until_killed; "
                               f"_write_until_killed({db_url!r}, {topic!r})"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert child.stdout is not None and child.stdout.readline() == "started\n"
        time.sleep(0.7)  # mid-stream: puts (transactions) are running
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    records = _window_updates(topic, 3000)
    task = JdbcSinkTask()
    task.start({"connection.url": db_url, **WINDOW_SINK})
    try:
        # The runtime replays from its last committed offset, which may be any put the child finished
        # (or none): replaying from the start covers them all.
        for start in range(0, len(records), 250):
            assert task.put(records[start:start + 250]) == []
    finally:
        task.stop()
    expected = {(r.value["USERID"], r.value["EVENT_TS"]): r.value["EVENTS"] for r in records}
    got = {(r["USERID"], r["EVENT_TS"]): r["EVENTS"] for r in rows(db_url, topic, "EVENT_TS")}
    assert got == expected


def test_table_name_format_and_fields_whitelist(sink: Sink, db_url: str, topic: str) -> None:
    task = sink(**{"table.name.format": "kafka_${topic}", "fields.whitelist": "id, city"})
    assert task.put([rec(topic, {"id": 1, "city": "Oslo", "secret": "x"})]) == []
    assert rows(db_url, f"kafka_{topic}", "id") == [{"id": 1, "city": "Oslo"}]


def test_tasks_creating_the_same_table_at_once(sink: Sink, db_url: str, topic: str) -> None:
    import threading

    tasks = [sink(**{"insert.mode": "upsert", "pk.mode": "kafka"}) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(tasks))

    def run(n: int, task: JdbcSinkTask) -> None:
        try:
            barrier.wait()
            assert task.put([rec(topic, {"v": i}, offset=i, partition=n) for i in range(10)]) == []
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, t)) for n, t in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(rows(db_url, topic, "__connect_offset")) == 40
