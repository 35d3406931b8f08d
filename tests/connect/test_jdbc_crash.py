"""A JDBC sink keeps the demo's windowed BANDWIDTH_PER_MIN current in MariaDB / PostgreSQL through kill -9s.

Headwater (a Session with the CTAS and a CREATE SINK CONNECTOR) runs in a child process that is killed at random
points while input arrives and restarted; the sink replays from its last committed offset and upserts by
(username, window start), so at the end the database table equals the Headwater table exactly.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from headwater.connect.jdbc_dialect import sqlalchemy_url
from headwater.log import Record
from headwater.log.embedded import EmbeddedLog
from tests.databases import mariadb_database, postgres_database  # noqa: F401 - session fixtures
from tests.engine.engine_process import start_engine

T0 = 1_700_000_040_000  # a minute boundary
NAMES = ["akatz1022", "bobk_43", "alison_99", "k_robertz_88", "Ferd88", "Reeva43", "Antonio_0966"]


def statements(db_url: str, table: str) -> str:
    return f"""
    CREATE STREAM user_clickstream (username varchar, bytes bigint)
        WITH (kafka_topic='user_clickstream', value_format='json', partitions=1);
    CREATE TABLE {table} AS SELECT username AS K, AS_VALUE(username) AS username,
        WINDOWSTART AS EVENT_TS, SUM(bytes) AS total_bytes
        FROM user_clickstream WINDOW TUMBLING (SIZE 60 SECOND) GROUP BY username EMIT CHANGES;
    CREATE SINK CONNECTOR jdbc_bandwidth WITH (
        'connector.class'='io.confluent.connect.jdbc.JdbcSinkConnector', 'tasks.max'='1',
        'topics'='{table.upper()}', 'connection.url'='{db_url}', 'auto.create'='true',
        'insert.mode'='upsert', 'pk.mode'='record_value', 'pk.fields'='USERNAME,EVENT_TS',
        'key.converter'='org.apache.kafka.connect.converters.ByteArrayConverter',
        'value.converter'='org.apache.kafka.connect.json.JsonConverter',
        'value.converter.schemas.enable'='false');
    """


def database_rows(db_url: str, table: str) -> dict[tuple[str, int], int] | None:
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return None
            t = sa.Table(table, sa.MetaData(), autoload_with=conn)
            return {(r.USERNAME, int(r.EVENT_TS)): int(r.TOTAL_BYTES) for r in conn.execute(sa.select(t))}
    finally:
        engine.dispose()


def headwater_table(log: EmbeddedLog, topic: str) -> dict[tuple[str, int], int]:
    """The table's final state: the last value per key of its changelog topic."""
    latest: dict[bytes, bytes | None] = {}
    offset = log.beginning_offset(topic, 0)
    while offset < log.end_offset(topic, 0):
        fetched = log.read(topic, 0, offset)
        for row in fetched.records.to_pylist():
            latest[row["key"]] = row["value"]
        offset = fetched.next_offset
    result = {}
    for value in latest.values():
        if value is not None:
            row = orjson.loads(value)
            result[(row["USERNAME"], row["EVENT_TS"])] = row["TOTAL_BYTES"]
    return result


@pytest.mark.parametrize("db", ["mariadb", "postgresql"])
def test_windowed_table_in_the_database_equals_headwater_after_kill_9s(
        db: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    db_url = str(request.getfixturevalue("mariadb_database" if db == "mariadb" else "postgres_database"))
    table = f"bandwidth_per_min_{os.getpid()}_{db}"
    root = str(tmp_path / "log")
    log = EmbeddedLog(root)
    log.create_topic("user_clickstream", 1)
    rng = random.Random(7)
    events = [(T0 + i * 40, {"username": rng.choice(NAMES), "bytes": rng.choice([278, 1289, 2048, 4096, 14096])})
              for i in range(6000)]
    reference: dict[tuple[str, int], int] = {}
    for ts, value in events:
        window = (ts // 60_000) * 60_000
        key = (str(value["username"]), window)
        reference[key] = reference.get(key, 0) + int(value["bytes"])

    sql = statements(db_url, table)
    proc = start_engine(root, sql, create=True)
    try:
        for start in range(0, len(events), 1000):
            log.append("user_clickstream", 0, [Record(orjson.dumps(v), timestamp=ts)
                                               for ts, v in events[start:start + 1000]])
            time.sleep(0.2 + rng.random() * 0.8)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc = start_engine(root, sql, create=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and database_rows(db_url, table.upper()) != reference:
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    final = headwater_table(log, table.upper())
    log.close()
    assert final == reference  # Headwater's table is exact ...
    assert database_rows(db_url, table.upper()) == final  # ... and the database equals it
