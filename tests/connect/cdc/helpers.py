"""Helpers of the CDC tests: a database per test on the machine's servers, reading change events back."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from headwater.log import Log
from tests.databases import HOST, MARIADB_PORT, POSTGRES_PORT

PG_ADMIN = f"host={HOST} port={POSTGRES_PORT} user=postgres dbname=postgres connect_timeout=5"


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def postgres_database() -> Iterator[str]:
    """A new database on the local PostgreSQL with logical decoding; its slots and the database are dropped after."""
    import psycopg2

    try:
        admin = psycopg2.connect(PG_ADMIN)
    except psycopg2.Error as exc:
        skip_or_fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable ({exc}); run scripts/services.sh")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SHOW wal_level")
        if cur.fetchone()[0] != "logical":
            skip_or_fail("PostgreSQL runs without wal_level=logical; run scripts/services.sh as root")
        name = unique("hw_cdc")
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                        "WHERE database = %s AND active_pid IS NOT NULL", (name,))
            cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = %s",
                        (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def mariadb_database() -> Iterator[str]:
    """A new database on the local MariaDB with the binlog in ROW format; dropped after."""
    import pymysql

    try:
        admin = pymysql.connect(host=HOST, port=MARIADB_PORT, user="root", password="", autocommit=True,
                                connect_timeout=5)
    except pymysql.err.Error as exc:
        skip_or_fail(f"MariaDB on 127.0.0.1:3306 is not reachable ({exc}); run scripts/services.sh")
    with admin.cursor() as cur:
        cur.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_metadata")
        if cur.fetchone() != (1, "ROW", "FULL"):
            skip_or_fail("MariaDB runs without the binlog in ROW format with full metadata; run scripts/services.sh "
                         "as root")
        name = unique("hw_cdc")
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def read_topic(log: Log, topic: str) -> list[tuple[Any, Any]]:
    """(key, value) of every record of ``topic`` (JSON decoded; None stays None)."""
    if topic not in log.list_topics():
        return []
    out: list[tuple[Any, Any]] = []
    for partition in range(log.describe_topic(topic).partitions):
        position = log.beginning_offset(topic, partition)
        while position < log.end_offset(topic, partition):
            fetched = log.read(topic, partition, position)
            for key, value in zip(fetched.records.column("key").to_pylist(),
                                  fetched.records.column("value").to_pylist(), strict=True):
                out.append((None if key is None else orjson.loads(key), None if value is None else orjson.loads(value)))
            position = fetched.next_offset
    return out


def json_converters(schemas: bool = False) -> dict[str, str]:
    enabled = "true" if schemas else "false"
    return {"key.converter": "org.apache.kafka.connect.json.JsonConverter", "key.converter.schemas.enable": enabled,
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": enabled}
