"""Seed 001's KSQL runs unchanged over Headwater's Debezium topics: MariaDB's movie_ids through the MySQL
connector (JSON with schemas, as the seed's Connect worker wrote) into movie_ids_data, 0/1 made booleans."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from headwater.session import Session
from tests.connect.cdc.helpers import mariadb_database, read_topic
from tests.connect.conftest import wait_until
from tests.databases import HOST, MARIADB_PORT

SEED_KSQL = """
CREATE STREAM movie_ids_source (payload STRUCT<after STRUCT<original_title VARCHAR, popularity DOUBLE, id INT,
    video INT, adult INT>>) WITH (KAFKA_TOPIC='mysql.{db}.movie_ids', VALUE_FORMAT='JSON');
CREATE STREAM movie_ids_data (original_title VARCHAR, popularity DOUBLE, id INT, video BOOLEAN, adult BOOLEAN)
    WITH (KAFKA_TOPIC='movie_ids_data', VALUE_FORMAT='JSON', PARTITIONS=2, REPLICAS=1);
INSERT INTO movie_ids_data SELECT payload->after->original_title, payload->after->popularity, payload->after->id,
    CASE WHEN payload->after->video = 1 THEN true ELSE false END AS video,
    CASE WHEN payload->after->adult = 1 THEN true ELSE false END AS adult FROM movie_ids_source;
"""


@pytest.fixture
def mydb() -> Iterator[str]:
    yield from mariadb_database()


def test_the_seeds_ksql_cleanses_debezium_events_of_mariadb(mydb: str, tmp_path: Path) -> None:
    conn = pymysql.connect(host=HOST, port=MARIADB_PORT, user="root", password="", database=mydb, autocommit=True)
    with conn.cursor() as cur:  # the seed's producer table, booleans as MariaDB stores them (TINYINT(1))
        cur.execute("CREATE TABLE movie_ids (adult boolean, id int, original_title varchar(255), popularity float, "
                    "video boolean)")
        cur.execute("INSERT INTO movie_ids VALUES (false, 3924, 'Blondie', 2.4, false)")
    with Session(str(tmp_path / "data"), properties={"auto.offset.reset": "earliest"}) as session:
        session.execute(f"""CREATE SOURCE CONNECTOR mysql_connector WITH (
            'connector.class'='io.debezium.connector.mysql.MySqlConnector', 'database.hostname'='{HOST}',
            'database.port'='{MARIADB_PORT}', 'database.user'='root', 'database.password'='',
            'database.server.id'='184054', 'topic.prefix'='mysql', 'database.include.list'='{mydb}',
            'value.converter'='org.apache.kafka.connect.json.JsonConverter',
            'value.converter.schemas.enable'='true');""")
        wait_until(lambda: "mysql.{}.movie_ids".format(mydb) in session.log.list_topics(), 30, "the CDC topic")
        for statement in SEED_KSQL.format(db=mydb).split(";"):
            if statement.strip():
                session.execute(statement + ";")
        with conn.cursor() as cur:
            cur.execute("INSERT INTO movie_ids VALUES (true, 7, 'Adult', 1.5, true)")
            cur.execute("UPDATE movie_ids SET popularity = 3.5 WHERE id = 3924")
        wait_until(lambda: len(read_topic(session.log, "movie_ids_data")) == 3, 30, "the cleansed rows")
        rows = sorted((v["ID"], v["ORIGINAL_TITLE"], v["POPULARITY"], v["VIDEO"], v["ADULT"])
                      for _, v in read_topic(session.log, "movie_ids_data"))
    # FLOAT is single precision: the snapshot and the binlog both give its exact value (as Debezium does)
    assert rows == [(7, "Adult", 1.5, True, True), (3924, "Blondie", 2.4000000953674316, False, False),
                    (3924, "Blondie", 3.5, False, False)]
