"""MariaDB CDC against the machine's MariaDB (binlog ROW with full row metadata, set up by scripts/services.sh)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pymysql
import pytest

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
