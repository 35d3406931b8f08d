"""PostgreSQL CDC against the machine's PostgreSQL (wal_level=logical, set up by scripts/services.sh)."""

from __future__ import annotations

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
    assert snap["after"] == {"id": 1, "title": "Alien", "rating": "VQ==", "seen": 3431,  # precise: Connect's Decimal, base64
                             "added": 1577872800123, "at": "2020-01-01T08:00:00Z", "doc": '{"a": 1}'}
    assert snap["source"]["snapshot"] == "last" and snap["source"]["table"] == "movies"
    update = events[2][1]
    assert update["before"]["title"] == "Alien" and update["after"]["title"] == "Alien (1979)"
    assert update["source"]["schema"] == "public" and update["source"]["db"] == pgdb
    assert update["source"]["connector"] == "postgresql" and update["source"]["lsn"] > 0
    assert events[3][1]["before"]["title"] == "Brazil" and events[3][1]["after"] is None
    txids = {events[5][1]["source"]["txId"], events[6][1]["source"]["txId"], events[7][1]["source"]["txId"]}
    assert len(txids) == 1
