"""The cdc app's producers (seed 001): rows of TMDB-like movies, TV series and people written to MariaDB and PostgreSQL.

The seed ran three producer containers that loaded TMDB id exports into MySQL
(``maf.movie_ids``), PostgreSQL (``maf.tv_series_ids``) and MongoDB
(``maf.person_ids``). No MongoDB runs here, so the people go to PostgreSQL
(``maf.person_ids``) beside the TV series. ``CdcProducers.prepare()`` creates
the database, schema and tables when missing (the CDC connectors need them
before their first snapshot); ``start()`` then inserts, updates and now and
then deletes a row every ``interval_s`` from a thread, as users of the
source systems would, until ``stop()``. A failed write is counted, never
raised: the demo goes on and says how many failed.
"""

from __future__ import annotations

import random
import threading

import sqlalchemy as sa

from headwater.connect.jdbc_dialect import create_engine

MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/"
POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
TITLES = ["Blondie", "Ariel", "Shadows in Paradise", "Four Rooms", "Judgment Night", "Star Wars", "Finding Nemo",
          "Forrest Gump", "American Beauty", "Dancer in the Dark"]
SERIES = ["Game of Thrones", "Breaking Bad", "The Wire", "Dark", "Chernobyl", "Fargo", "Sherlock", "Narcos"]
PEOPLE = ["Fred Astaire", "Ginger Rogers", "Lauren Bacall", "Humphrey Bogart", "Greta Garbo", "Cary Grant",
          "Ingrid Bergman", "James Stewart"]


class CdcProducers:
    """A thread writing movies to MariaDB ``<schema>.movie_ids`` and TV series and people to PostgreSQL."""

    def __init__(self, schema: str = "maf", interval_s: float = 2.0, seed: int = 1,
                 mariadb_url: str = MARIADB_URL, postgres_url: str = POSTGRES_URL) -> None:
        self.schema = schema
        self.interval_s = interval_s
        self.rng = random.Random(seed)
        self.mariadb = create_engine(sa.make_url(mariadb_url))
        self.postgres = create_engine(sa.make_url(postgres_url))
        self.written = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headwater-cdc-producers", daemon=True)

    def _quoted(self, conn: sa.Connection) -> str:
        return str(conn.dialect.identifier_preparer.quote(self.schema))

    def prepare(self) -> None:
        """The seed's tables (as its producers created them), when missing."""
        with self.mariadb.begin() as conn:
            db = self._quoted(conn)
            conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4")
            conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {db}.movie_ids (id INT PRIMARY KEY, adult BOOLEAN, "
                                 "original_title VARCHAR(255), popularity FLOAT, video BOOLEAN)")
        with self.postgres.begin() as conn:
            schema = self._quoted(conn)
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {schema}.tv_series_ids (id INTEGER PRIMARY KEY, "
                                 "original_name VARCHAR(255), popularity REAL)")
            conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {schema}.person_ids (id INTEGER PRIMARY KEY, "
                                 "name VARCHAR(255), popularity REAL, adult BOOLEAN)")

    def _next_id(self, conn: sa.Connection, table: str) -> int:
        return int(conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").scalar_one())

    def step(self) -> None:
        """One round: a new movie, TV series and person; a popularity update; sometimes a delete."""
        rng = self.rng
        with self.mariadb.begin() as conn:
            table = f"{self._quoted(conn)}.movie_ids"
            new = self._next_id(conn, table)
            conn.exec_driver_sql(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s)",
                                 (new, rng.random() < 0.05, rng.choice(TITLES), round(rng.uniform(0.5, 60), 1),
                                  rng.random() < 0.2))
            conn.exec_driver_sql(f"UPDATE {table} SET popularity = popularity + 1 WHERE id = %s",
                                 (rng.randrange(1, new + 1),))
            if new > 20 and rng.random() < 0.1:
                conn.exec_driver_sql(f"DELETE FROM {table} WHERE id = %s", (rng.randrange(1, new),))
        with self.postgres.begin() as conn:
            schema = self._quoted(conn)
            for table, names in ((f"{schema}.tv_series_ids", SERIES), (f"{schema}.person_ids", PEOPLE)):
                new = self._next_id(conn, table)
                values: tuple[object, ...] = (new, rng.choice(names), round(rng.uniform(0.5, 400), 1))
                if table.endswith("person_ids"):
                    values += (rng.random() < 0.05,)
                marks = ", ".join(["%s"] * len(values))
                conn.exec_driver_sql(f"INSERT INTO {table} VALUES ({marks})", values)
        self.written += 4

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except sa.exc.SQLAlchemyError:
                self.failed += 1
            self._stop.wait(self.interval_s)

    def start(self) -> CdcProducers:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(15)
        self.mariadb.dispose()
        self.postgres.dispose()
