"""Records a real database refuses, through the Connect runtime: dead-letter topic with the reason under
errors.tolerance=all, a FAILED task with the trace in its status under errors.tolerance=none."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from headwater.connect.jdbc_dialect import sqlalchemy_url
from headwater.connect.runtime import ConnectRuntime
from headwater.log import Log, Record
from tests.connect.conftest import wait_until
from tests.databases import mariadb_database, postgres_database  # noqa: F401 - session fixtures

_tables = itertools.count()


@pytest.fixture(params=["mariadb", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("mariadb_database" if request.param == "mariadb" else "postgres_database"))


def existing_table(db_url: str) -> str:
    """A table made by its owner (not by the sink) whose INT column refuses text."""
    name = f"payments_{os.getpid()}_{next(_tables)}"
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with engine.begin() as conn:
            sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                     sa.Column("amount", sa.Integer, nullable=False)).create(conn)
    finally:
        engine.dispose()
    return name


def rows(db_url: str, table: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(f"SELECT id, amount FROM {table} ORDER BY id"))]
    finally:
        engine.dispose()


def feed(log: Log, table: str) -> None:
    log.create_topic(table, 1)
    log.append(table, 0, [Record(orjson.dumps(v)) for v in (
        {"id": 1, "amount": 5}, {"id": 2, "amount": "lots"}, {"id": 3, "amount": 9})])


def jdbc_sink(db_url: str, table: str, **extra: str) -> dict[str, str]:
    return {"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "tasks.max": "1", "topics": table,
            "connection.url": db_url, "auto.create": "false", "insert.mode": "insert",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false", **extra}


Factory = Callable[[], ConnectRuntime]


def test_refused_value_goes_to_the_dead_letter_topic_and_the_others_are_written(
        connect_log: Log, runtime_factory: Factory, db_url: str) -> None:
    table = existing_table(db_url)
    feed(connect_log, table)
    runtime = runtime_factory()
    runtime.create("jdbc", jdbc_sink(db_url, table, **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq",
        "errors.deadletterqueue.context.headers.enable": "true"}))
    wait_until(lambda: "dlq" in connect_log.list_topics() and connect_log.end_offset("dlq", 0) == 1,
               what="the dead letter")
    wait_until(lambda: rows(db_url, table) == [(1, 5), (3, 9)], what="the two good rows")
    [dead] = connect_log.read("dlq", 0, 0).records.to_pylist()
    assert orjson.loads(dead["value"]) == {"id": 2, "amount": "lots"}
    headers = {h["key"]: h["value"].decode() for h in dead["headers"]}
    assert headers["__connect.errors.topic"] == table
    assert headers["__connect.errors.offset"] == "1"
    assert headers["__connect.errors.stage"] == "TASK_PUT"
    assert headers["__connect.errors.connector.name"] == "jdbc"
    reason = headers["__connect.errors.exception.message"]
    assert "lots" in reason or "integer" in reason.lower()  # the database's own words
    assert runtime.status("jdbc")["tasks"][0]["state"] == "RUNNING"


def test_refused_value_fails_the_task_with_a_trace_under_tolerance_none(
        connect_log: Log, runtime_factory: Factory, db_url: str) -> None:
    table = existing_table(db_url)
    feed(connect_log, table)
    runtime = runtime_factory()
    runtime.create("jdbc", jdbc_sink(db_url, table))
    wait_until(lambda: runtime.status("jdbc")["tasks"][0]["state"] == "FAILED", what="FAILED task")
    trace = runtime.status("jdbc")["tasks"][0]["trace"]
    assert "lots" in trace or "integer" in trace.lower()
    assert runtime.status("jdbc")["connector"]["state"] == "RUNNING"
