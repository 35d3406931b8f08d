"""MariaDB CDC against the machine's MariaDB (binlog ROW with full row metadata, set up by scripts/services.sh)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pymysql
import pytest

from headwater.connect.api import ConnectError
from headwater.connect.cdc.mysql import check_binlog
from headwater.connect.runtime import ConnectRuntime
from headwater.log import Log
from tests.connect.cdc.helpers import json_converters, mariadb_database, read_topic
from tests.connect.conftest import wait_until
from tests.databases import HOST, MARIADB_PORT

Factory = Callable[[], ConnectRuntime]


@pytest.fixture
def mydb() -> Iterator[str]:
    yield from mariadb_database()


def connect(db: str) -> Any:
    return pymysql.connect(host=HOST, port=MARIADB_PORT, user="root", password="", database=db, autocommit=True)


def config(db: str, **extra: str) -> dict[str, str]:
    return {"connector.class": "io.debezium.connector.mysql.MySqlConnector", "database.hostname": HOST,
            "database.port": str(MARIADB_PORT), "database.user": "root", "database.password": "",
            "database.include.list": db, "topic.prefix": "my", **json_converters(), **extra}


def test_snapshot_then_insert_update_delete_and_a_transaction(
        mydb: str, connect_log: Log, runtime_factory: Factory) -> None:
    conn = connect(mydb)
    topic = f"my.{mydb}.movies"
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE movies (id INT PRIMARY KEY, title VARCHAR(100) NOT NULL, rating DECIMAL(3,1), "
                    "seen DATE, added DATETIME(3), at TIMESTAMP NULL, kind ENUM('film','series'), adult TINYINT(1))")
        cur.execute("INSERT INTO movies VALUES (1, 'Alien', 8.5, '1979-05-25', '2020-01-01 10:00:00.123', "
                    "'2020-01-01 08:00:00', 'film', 0)")
    runtime = runtime_factory()
    runtime.create("my", config(mydb, **{"decimal.handling.mode": "double"}))
    wait_until(lambda: len(read_topic(connect_log, topic)) == 1, 20, "the snapshot row")
    with conn.cursor() as cur:
        cur.execute("INSERT INTO movies (id, title) VALUES (2, 'Brazil')")
        cur.execute("UPDATE movies SET title = 'Alien (1979)' WHERE id = 1")
        cur.execute("DELETE FROM movies WHERE id = 2")
    conn.autocommit(False)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO movies (id, title) VALUES (3, 'Casablanca'), (4, 'Dune')")
        cur.execute("UPDATE movies SET rating = 9 WHERE id = 3")
    conn.commit()
    wait_until(lambda: len(read_topic(connect_log, topic)) == 8, 20, "the streamed changes")
    events = read_topic(connect_log, topic)
    ops = [(k, v and v["op"]) for k, v in events]
    assert ops == [({"id": 1}, "r"), ({"id": 2}, "c"), ({"id": 1}, "u"), ({"id": 2}, "d"), ({"id": 2}, None),
                   ({"id": 3}, "c"), ({"id": 4}, "c"), ({"id": 3}, "u")]
    snap = events[0][1]
    expected = {"id": 1, "title": "Alien", "rating": 8.5, "seen": 3431, "added": 1577872800123,
                "at": "2020-01-01T08:00:00Z", "kind": "film", "adult": 0}
    assert snap["after"] == expected
    assert snap["source"]["snapshot"] == "last" and snap["source"]["db"] == mydb
    update = events[2][1]
    assert update["before"] == expected
    assert update["after"] == {**expected, "title": "Alien (1979)"}
    assert update["source"]["connector"] == "mysql" and update["source"]["file"].startswith("mariadb-bin")
    assert update["source"]["gtid"]
    assert events[3][1]["before"]["title"] == "Brazil" and events[3][1]["after"] is None
    assert len({events[i][1]["source"]["gtid"] for i in (5, 6, 7)}) == 1


def test_no_primary_key_schema_change_filters_and_the_schema_envelope(
        mydb: str, connect_log: Log, runtime_factory: Factory) -> None:
    conn = connect(mydb)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE logs (line TEXT, level INT)")
        cur.execute("CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(50), secret VARCHAR(50))")
        cur.execute("CREATE TABLE ignored (id INT PRIMARY KEY)")
    runtime = runtime_factory()
    runtime.create("my", config(mydb, **{"snapshot.mode": "never", "table.include.list": rf"{mydb}\.(logs|people)",
                                         "column.exclude.list": rf"{mydb}\.people\.secret",
                                         "tombstones.on.delete": "false", **json_converters(schemas=True)}))
    runtime.wait_for("my", timeout_s=20)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO logs VALUES ('boot', 1)")
        cur.execute("INSERT INTO ignored VALUES (1)")
        cur.execute("INSERT INTO people VALUES (1, 'Ada', 'x')")
        cur.execute("ALTER TABLE people ADD COLUMN born INT")
        cur.execute("UPDATE people SET born = 1815 WHERE id = 1")
        cur.execute("DELETE FROM people WHERE id = 1")
    wait_until(lambda: len(read_topic(connect_log, f"my.{mydb}.people")) == 3, 20, "the people changes")
    assert f"my.{mydb}.ignored" not in connect_log.list_topics()
    (log_key, log_value), = read_topic(connect_log, f"my.{mydb}.logs")
    assert log_key is None  # a table without a primary key: null key, as Debezium
    assert log_value["payload"]["after"] == {"line": "boot", "level": 1}
    assert log_value["schema"]["name"] == f"my.{mydb}.logs.Envelope"
    insert, update, delete = (v["payload"] for _, v in read_topic(connect_log, f"my.{mydb}.people"))
    assert insert["after"] == {"id": 1, "name": "Ada"}  # secret excluded
    assert update["before"] == {"id": 1, "name": "Ada", "born": None}  # the new column, from the table map
    assert update["after"] == {"id": 1, "name": "Ada", "born": 1815}
    assert delete["op"] == "d" and delete["before"] == {"id": 1, "name": "Ada", "born": 1815}


def test_restart_resumes_from_the_binlog_position(mydb: str, connect_log: Log, runtime_factory: Factory) -> None:
    conn = connect(mydb)
    topic = f"my.{mydb}.items"
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, qty INT)")
        cur.executemany("INSERT INTO items VALUES (%s, %s)", [(i, i) for i in range(1, 51)])
    runtime = runtime_factory()
    runtime.create("my", config(mydb))
    wait_until(lambda: len(read_topic(connect_log, topic)) == 50, 20, "the snapshot")
    with conn.cursor() as cur:
        cur.execute("UPDATE items SET qty = qty + 100 WHERE id <= 10")
    wait_until(lambda: len(read_topic(connect_log, topic)) == 60, 20, "the update")
    runtime.close()
    with conn.cursor() as cur:
        cur.execute("UPDATE items SET qty = qty + 1000 WHERE id <= 5")
    runtime = runtime_factory()
    wait_until(lambda: len(read_topic(connect_log, topic)) == 65, 30, "the changes made while stopped")
    time.sleep(1.5)
    events = read_topic(connect_log, topic)
    assert len(events) == 65
    assert [v["after"]["qty"] for _, v in events[60:]] == [1101, 1102, 1103, 1104, 1105]


def test_a_server_without_full_row_metadata_is_refused_with_a_clear_message() -> None:
    class Cursor:
        def __enter__(self) -> Cursor:
            return self

        def __exit__(self, *args: object) -> None:
            return None

        def execute(self, query: str) -> None:
            self.query = query

        def fetchone(self) -> tuple[int, str, str, str]:
            return (1, "MIXED", "FULL", "NO_LOG")

    class Connection:
        def cursor(self) -> Cursor:
            return Cursor()

    with pytest.raises(ConnectError, match="binlog_format=MIXED .needs ROW.*binlog_row_metadata=NO_LOG"):
        check_binlog(Connection())


def test_types_map_as_debezium_maps_them_alike_in_snapshot_and_binlog(
        mydb: str, connect_log: Log, runtime_factory: Factory) -> None:
    conn = connect(mydb)
    topic = f"my.{mydb}.typed"
    columns = ("ti TINYINT, si SMALLINT UNSIGNED, mi MEDIUMINT, i INT UNSIGNED, bi BIGINT, f FLOAT, d DOUBLE, "
               "n DECIMAL(10,2), c CHAR(3), vc VARCHAR(10), tx TEXT, vb VARBINARY(4), bl BLOB, dt DATE, "
               "dtm DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME(6), y YEAR, e ENUM('a','b'), st SET('x','y','z'), "
               "b1 BIT(1), b12 BIT(12), j JSON")
    row = ("-1, 65535, -3, 4294967295, -5, 1.5, 2.25, 12.34, 'abc', 'héllo', 'long', x'0102', x'03', "
           "'2024-02-29', '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789', '12:34:56.5', 2024, 'b', "
           "'x,z', b'1', b'000100000001', '{\"a\": 1}'")
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE typed (id INT PRIMARY KEY, {columns})")
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(f"INSERT INTO typed VALUES (1, {row})")
    runtime = runtime_factory()
    runtime.create("my", config(mydb, **json_converters(schemas=True)))
    wait_until(lambda: len(read_topic(connect_log, topic)) == 1, 20, "the snapshot row")
    with conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.execute(f"INSERT INTO typed VALUES (2, {row})")
    wait_until(lambda: len(read_topic(connect_log, topic)) == 2, 20, "the binlog row")
    (_, snap), (_, streamed) = read_topic(connect_log, topic)
    after = snap["payload"]["after"]
    assert {**streamed["payload"]["after"], "id": 1} == after
    assert after == {
        "id": 1, "ti": -1, "si": 65535, "mi": -3, "i": 4294967295, "bi": -5, "f": 1.5, "d": 2.25, "n": "BNI=",
        "c": "abc", "vc": "héllo", "tx": "long", "vb": "AQI=", "bl": "Aw==", "dt": 19782,
        "dtm": 1709210096789012, "ts": "2024-02-29T12:34:56.789Z", "tm": 45296500000, "y": 2024, "e": "b",
        "st": "x,z", "b1": True, "b12": "AQE=", "j": '{"a": 1}'}
    fields = {f["field"]: f for f in snap["schema"]["fields"][1]["fields"]}
    assert (fields["si"]["type"], fields["i"]["type"], fields["ti"]["type"]) == ("int32", "int64", "int16")
    assert fields["e"]["name"] == "io.debezium.data.Enum" and fields["b12"]["name"] == "io.debezium.data.Bits"
    assert fields["tm"]["name"] == "io.debezium.time.MicroTime" and fields["y"]["name"] == "io.debezium.time.Year"


@pytest.mark.parametrize("mode", ["never", "initial"])
def test_the_start_position_survives_a_restart_before_any_change(
        mode: str, mydb: str, connect_log: Log, runtime_factory: Factory) -> None:
    """Streaming from the current position (snapshot.mode=never) or after an empty snapshot: a heartbeat
    record stores the position, so changes made while stopped are not skipped."""
    conn = connect(mydb)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE later (id INT PRIMARY KEY)")
    runtime = runtime_factory()
    runtime.create("my", config(mydb, **{"snapshot.mode": mode}))
    wait_until(lambda: "__debezium-heartbeat.my" in connect_log.list_topics(), 20, "the heartbeat")
    runtime.close()
    with conn.cursor() as cur:
        cur.execute("INSERT INTO later VALUES (1), (2)")
    runtime_factory()
    wait_until(lambda: len(read_topic(connect_log, f"my.{mydb}.later")) == 2, 20, "the changes made while stopped")
    assert [v["op"] for _, v in read_topic(connect_log, f"my.{mydb}.later")] == ["c", "c"]
