"""PostgreSQL CDC against the machine's PostgreSQL (wal_level=logical, set up by scripts/services.sh)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest

from headwater.connect.runtime import ConnectRuntime
from headwater.log import Log
from tests.connect.cdc.helpers import json_converters, postgres_database, read_topic
from tests.connect.conftest import wait_until
from tests.databases import HOST, POSTGRES_PORT

Factory = Callable[[], ConnectRuntime]


@pytest.fixture
def pgdb() -> Iterator[str]:
    yield from postgres_database()


def connect(db: str) -> Any:
    conn = psycopg2.connect(host=HOST, port=POSTGRES_PORT, user="postgres", dbname=db)
    conn.autocommit = True
    return conn


def config(db: str, **extra: str) -> dict[str, str]:
    return {"connector.class": "io.debezium.connector.postgresql.PostgresConnector", "database.hostname": HOST,
            "database.port": str(POSTGRES_PORT), "database.user": "postgres", "database.dbname": db,
            "topic.prefix": "pg", "slot.name": db, "publication.name": f"{db}_pub", **json_converters(), **extra}


def test_snapshot_then_insert_update_delete_and_a_transaction(
        pgdb: str, connect_log: Log, runtime_factory: Factory) -> None:
    conn = connect(pgdb)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE movies (id int PRIMARY KEY, title text NOT NULL, rating numeric(3,1), "
                    "seen date, added timestamp(3), at timestamptz, doc jsonb)")
        cur.execute("ALTER TABLE movies REPLICA IDENTITY FULL")
        cur.execute("INSERT INTO movies VALUES (1, 'Alien', 8.5, '1979-05-25', '2020-01-01 10:00:00.123', "
                    "'2020-01-01 10:00:00+02', '{\"a\": 1}')")
    runtime = runtime_factory()
    runtime.create("pg", config(pgdb))
    wait_until(lambda: len(read_topic(connect_log, "pg.public.movies")) == 1, 20, "the snapshot row")
    with conn.cursor() as cur:
        cur.execute("INSERT INTO movies (id, title) VALUES (2, 'Brazil')")
        cur.execute("UPDATE movies SET title = 'Alien (1979)' WHERE id = 1")
        cur.execute("DELETE FROM movies WHERE id = 2")
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("INSERT INTO movies (id, title) VALUES (3, 'Casablanca'), (4, 'Dune')")
        cur.execute("UPDATE movies SET rating = 9 WHERE id = 3")
    conn.commit()
    wait_until(lambda: len(read_topic(connect_log, "pg.public.movies")) == 8, 20, "the streamed changes")
    events = read_topic(connect_log, "pg.public.movies")
    ops = [(k, v and v["op"]) for k, v in events]
    assert ops == [({"id": 1}, "r"), ({"id": 2}, "c"), ({"id": 1}, "u"), ({"id": 2}, "d"), ({"id": 2}, None),
                   ({"id": 3}, "c"), ({"id": 4}, "c"), ({"id": 3}, "u")]
    snap = events[0][1]
    # rating: decimal.handling.mode=precise is Connect's Decimal, bytes written as base64
    assert snap["after"] == {"id": 1, "title": "Alien", "rating": "VQ==", "seen": 3431,
                             "added": 1577872800123, "at": "2020-01-01T08:00:00Z", "doc": '{"a": 1}'}
    assert snap["source"]["snapshot"] == "last" and snap["source"]["table"] == "movies"
    update = events[2][1]
    assert update["before"]["title"] == "Alien" and update["after"]["title"] == "Alien (1979)"
    assert update["source"]["schema"] == "public" and update["source"]["db"] == pgdb
    assert update["source"]["connector"] == "postgresql" and update["source"]["lsn"] > 0
    assert events[3][1]["before"]["title"] == "Brazil" and events[3][1]["after"] is None
    txids = {events[5][1]["source"]["txId"], events[6][1]["source"]["txId"], events[7][1]["source"]["txId"]}
    assert len(txids) == 1


def test_no_primary_key_schema_change_filters_and_the_schema_envelope(
        pgdb: str, connect_log: Log, runtime_factory: Factory) -> None:
    conn = connect(pgdb)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE logs (line text, level int)")  # no primary key, REPLICA IDENTITY DEFAULT
        cur.execute("CREATE TABLE people (id int PRIMARY KEY, name text, secret text)")
        cur.execute("CREATE TABLE ignored (id int PRIMARY KEY)")
    runtime = runtime_factory()
    runtime.create("pg", config(pgdb, **{"snapshot.mode": "never", "table.include.list": r"public\.(logs|people)",
                                         "column.exclude.list": r"public\.people\.secret",
                                         "tombstones.on.delete": "false", **json_converters(schemas=True)}))
    runtime.wait_for("pg", timeout_s=20)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO logs VALUES ('boot', 1)")
        cur.execute("INSERT INTO ignored VALUES (1)")
        cur.execute("INSERT INTO people VALUES (1, 'Ada', 'x')")
        cur.execute("ALTER TABLE people ADD COLUMN born int")
        cur.execute("UPDATE people SET born = 1815 WHERE id = 1")
        cur.execute("DELETE FROM people WHERE id = 1")
        cur.execute("TRUNCATE logs")
    wait_until(lambda: len(read_topic(connect_log, "pg.public.people")) == 3, 20, "the people changes")
    assert "pg.public.ignored" not in connect_log.list_topics()
    (log_key, log_value), = read_topic(connect_log, "pg.public.logs")
    assert log_key is None  # a table without a primary key: null key, as Debezium
    assert log_value["payload"]["after"] == {"line": "boot", "level": 1}
    assert log_value["schema"]["name"] == "pg.public.logs.Envelope"
    people = read_topic(connect_log, "pg.public.people")
    insert, update, delete = (v["payload"] for _, v in people)
    assert insert["after"] == {"id": 1, "name": "Ada"}  # secret excluded
    assert update["after"] == {"id": 1, "name": "Ada", "born": 1815}  # the new column, from the Relation message
    assert update["before"] is None  # REPLICA IDENTITY DEFAULT has no before-image of an update
    assert delete["op"] == "d" and delete["before"] == {"id": 1, "name": None, "born": None}  # the key only
    fields = [f["field"] for f in people[1][1]["schema"]["fields"][1]["fields"]]
    assert fields == ["id", "name", "born"]
    assert people[0][0] == {"schema": people[0][0]["schema"], "payload": {"id": 1}}
    assert people[0][0]["schema"]["name"] == "pg.public.people.Key"


def test_restart_resumes_after_the_last_change_and_unwrap_gives_rows(
        pgdb: str, connect_log: Log, runtime_factory: Factory) -> None:
    conn = connect(pgdb)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id int PRIMARY KEY, qty int)")
        cur.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 50) g")
    unwrap = {"transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
              "transforms.unwrap.add.fields": "op,lsn"}
    runtime = runtime_factory()
    runtime.create("pg", config(pgdb, **unwrap))
    wait_until(lambda: len(read_topic(connect_log, "pg.public.items")) == 50, 20, "the snapshot")
    with conn.cursor() as cur:
        cur.execute("UPDATE items SET qty = qty + 100 WHERE id <= 10")
    wait_until(lambda: len(read_topic(connect_log, "pg.public.items")) == 60, 20, "the update")
    runtime.close()
    with conn.cursor() as cur:
        cur.execute("UPDATE items SET qty = qty + 1000 WHERE id <= 5")
        cur.execute("DELETE FROM items WHERE id = 50")
    runtime = runtime_factory()
    wait_until(lambda: len(read_topic(connect_log, "pg.public.items")) == 66, 30, "the changes made while stopped")
    time.sleep(1.5)
    events = read_topic(connect_log, "pg.public.items")
    assert len(events) == 66  # nothing twice: the snapshot is not taken again, the stream resumes after the update
    assert events[0][1] == {"id": 1, "qty": 1, "__op": "r", "__lsn": events[0][1]["__lsn"]}
    assert [v["qty"] for _, v in events[60:65]] == [1101, 1102, 1103, 1104, 1105]
    assert events[65] == ({"id": 50}, None)  # the delete is dropped by unwrap; its tombstone stays
    with conn.cursor() as cur:
        cur.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (pgdb,))
        assert cur.fetchone() == (True,)


def test_types_map_as_debezium_maps_them_alike_in_snapshot_and_stream(
        pgdb: str, connect_log: Log, runtime_factory: Factory) -> None:
    conn = connect(pgdb)
    columns = ("b boolean, s smallint, i integer, g bigint, r real, d double precision, n numeric(10,2), "
               "v numeric, t text, vc varchar(5), by bytea, u uuid, j json, jb jsonb, dt date, ts timestamp, "
               "ts3 timestamp(3), tz timestamptz, tm time, tmz timetz, arr int[], iv interval")
    row = ("true, 1, 2, 3, 1.5, 2.25, 12.34, 1.005, 'x', 'y', '\\x0102', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', "
           "'{\"a\":1}', '{\"b\": 2}', '2024-02-29', '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789', "
           "'2024-02-29 12:34:56+01', '12:34:56.5', '12:34:56+02', '{1,2}', '1 day'")
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE typed (id int PRIMARY KEY, {columns})")
        cur.execute(f"INSERT INTO typed VALUES (1, {row})")
    runtime = runtime_factory()
    runtime.create("pg", config(pgdb, **json_converters(schemas=True)))
    wait_until(lambda: len(read_topic(connect_log, "pg.public.typed")) == 1, 20, "the snapshot row")
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO typed VALUES (2, {row})")
    wait_until(lambda: len(read_topic(connect_log, "pg.public.typed")) == 2, 20, "the streamed row")
    (_, snap), (_, streamed) = read_topic(connect_log, "pg.public.typed")
    after = snap["payload"]["after"]
    assert {**streamed["payload"]["after"], "id": 1} == after
    assert after == {
        "id": 1, "b": True, "s": 1, "i": 2, "g": 3, "r": 1.5, "d": 2.25, "n": "BNI=",
        "v": {"scale": 3, "value": "A+0="}, "t": "x", "vc": "y", "by": "AQI=",
        "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": '{"a":1}', "jb": '{"b": 2}', "dt": 19782,
        "ts": 1709210096789012, "ts3": 1709210096789, "tz": "2024-02-29T11:34:56Z", "tm": 45296500000,
        "tmz": "10:34:56Z", "arr": "{1,2}", "iv": "1 day"}
    fields = {f["field"]: f for f in snap["schema"]["fields"][1]["fields"]}
    assert fields["n"]["name"] == "org.apache.kafka.connect.data.Decimal" and fields["n"]["parameters"]["scale"] == "2"
    assert fields["ts"]["name"] == "io.debezium.time.MicroTimestamp"
    assert fields["ts3"]["name"] == "io.debezium.time.Timestamp"
    assert fields["tz"]["name"] == "io.debezium.time.ZonedTimestamp"
    assert fields["dt"]["name"] == "io.debezium.time.Date" and fields["s"]["type"] == "int16"
    assert fields["id"]["optional"] is False and fields["t"]["optional"] is True


@pytest.mark.parametrize("mode", ["never", "initial"])
def test_the_start_position_survives_a_restart_before_any_change(
        mode: str, pgdb: str, connect_log: Log, runtime_factory: Factory) -> None:
    """The slot keeps the position of a stream begun without a snapshot; after an empty snapshot a heartbeat
    record stores that it is complete: either way changes made while stopped are streamed, not re-read."""
    conn = connect(pgdb)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE later (id int PRIMARY KEY)")
    runtime = runtime_factory()
    runtime.create("pg", config(pgdb, **{"snapshot.mode": mode}))
    runtime.wait_for("pg", timeout_s=20)
    if mode == "initial":
        wait_until(lambda: "__debezium-heartbeat.pg" in connect_log.list_topics(), 20, "the heartbeat")
    runtime.close()
    with conn.cursor() as cur:
        cur.execute("INSERT INTO later VALUES (1), (2)")
    runtime_factory()
    wait_until(lambda: len(read_topic(connect_log, "pg.public.later")) == 2, 20, "the changes made while stopped")
    assert [v["op"] for _, v in read_topic(connect_log, "pg.public.later")] == ["c", "c"]
