"""The cdc app (seed 001) end to end against the machine's MariaDB and PostgreSQL: fixed rows written to the
source tables come out of the app's cleansed streams exactly (0/1 made booleans, renamed fields, deletes left out),
including the cleaned person stream the seed never built.

The app's folder is copied with its database names made unique (a MariaDB database and a PostgreSQL database of
this test, dropped after with their replication slots), then applied with ``run_app`` as ``headwater apps run``
applies it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa
import yaml

from headwater.apps.producers import CdcProducers
from headwater.apps.runner import EmbeddedTarget, Settings, run_app, stop_app
from headwater.apps.spec import APPS_DIR, AppSpec
from headwater.connect.policy import ConnectPolicy
from headwater.session import Session
from tests.connect.cdc.helpers import mariadb_database, postgres_database, read_topic
from tests.connect.conftest import wait_until
from tests.databases import HOST, MARIADB_PORT, POSTGRES_PORT


@pytest.fixture
def mydb() -> Iterator[str]:
    yield from mariadb_database()


@pytest.fixture
def pgdb() -> Iterator[str]:
    yield from postgres_database()


def _app_copy(tmp_path: Path, mydb: str, pgdb: str) -> AppSpec:
    """The cdc app's folder with ``maf`` renamed to this test's database and the PostgreSQL database named."""
    folder = tmp_path / "cdc"
    shutil.copytree(APPS_DIR / "cdc", folder)
    for path in [folder / "cdc.sql", *folder.glob("connectors/*.json")]:
        text = path.read_text().replace("maf", mydb)
        text = text.replace('"database.dbname": "postgres"', f'"database.dbname": "{pgdb}"')
        path.write_text(text)
    return AppSpec.model_validate({**yaml.safe_load((folder / "app.yaml").read_text()), "folder": folder})


def _values(session: Session, topic: str) -> list[dict[str, object]]:
    return [value for _, value in read_topic(session.log, topic)]


def test_cdc_app_cleanses_the_changes_of_both_databases(tmp_path: Path, mydb: str, pgdb: str) -> None:
    spec = _app_copy(tmp_path, mydb, pgdb)
    producers = CdcProducers(schema=mydb, mariadb_url=f"mysql+pymysql://root@{HOST}:{MARIADB_PORT}/",
                             postgres_url=f"postgresql+psycopg2://postgres@{HOST}:{POSTGRES_PORT}/{pgdb}")
    producers.prepare()
    with producers.mariadb.begin() as conn:  # a row before the app starts: the snapshot brings it
        conn.exec_driver_sql(f"INSERT INTO `{mydb}`.movie_ids VALUES (3924, false, 'Blondie', 2.5, false)")
    with producers.postgres.begin() as conn:
        conn.exec_driver_sql(f'INSERT INTO "{mydb}".tv_series_ids VALUES (1399, %s, 369.5)', ("Game of Thrones",))
    files = tmp_path / "files"
    policy = ConnectPolicy.confined(str(files), [f"{HOST}:{MARIADB_PORT}", f"{HOST}:{POSTGRES_PORT}"])
    settings = Settings(data_dir=str(tmp_path / "data"), files_dir=str(files))
    with Session(str(tmp_path / "data"), connect_policy=policy,
                 properties={"auto.offset.reset": "earliest"}) as session:
        report = run_app(spec, EmbeddedTarget(session), settings)
        assert "connector mysql-connector: created" in report and "connector postgres-connector: created" in report
        wait_until(lambda: len(_values(session, "movie_ids_data")) == 1 and len(_values(session, "tv_series_ids_data"))
                   == 1, 120, "the snapshots")  # the changes below come after them
        with producers.mariadb.begin() as conn:
            table = f"`{mydb}`.movie_ids"
            conn.exec_driver_sql(f"INSERT INTO {table} VALUES (7, true, 'Adult', 1.5, true)")
            conn.exec_driver_sql(f"UPDATE {table} SET popularity = 3.5 WHERE id = 3924")
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE id = 7")
        with producers.postgres.begin() as conn:
            conn.exec_driver_sql(f'UPDATE "{mydb}".tv_series_ids SET popularity = 370.5 WHERE id = 1399')
            conn.exec_driver_sql(f'INSERT INTO "{mydb}".person_ids VALUES (1, %s, 2.5, NULL), (2, %s, 8.0, true)',
                                 ("  Fred Astaire ", "Ginger Rogers"))
            conn.exec_driver_sql(f'DELETE FROM "{mydb}".person_ids WHERE id = 2')
        wanted = {"movie_ids_data": 3, "tv_series_ids_data": 2, "person_ids_data": 2}

        def counts() -> dict[str, int]:
            return {topic: len(_values(session, topic)) for topic in wanted}

        try:
            wait_until(lambda: counts() == wanted, 120, "the cleansed rows")
        except AssertionError:
            raise AssertionError(f"{counts()}; {[v['payload']['op'] for _, v in read_topic(session.log, f'mysql.{mydb}.movie_ids') if v]} {session.connect.status('mysql-connector')}; "
                                 f"{session.connect.status('postgres-connector')}; {session.log.list_topics()}") from None
        session.wait_until_processed()
        movies = sorted((v["ID"], v["ORIGINAL_TITLE"], v["POPULARITY"], v["VIDEO"], v["ADULT"])  # type: ignore[type-var]
                        for v in _values(session, "movie_ids_data"))
        assert movies == [(7, "Adult", 1.5, True, True), (3924, "Blondie", 2.5, False, False),
                          (3924, "Blondie", 3.5, False, False)]  # the delete makes no row of nulls
        assert _values(session, "tv_series_ids_data") == [
            {"ORIGINAL_NAME": "Game of Thrones", "POPULARITY": pop, "ID": 1399} for pop in (369.5, 370.5)]
        assert sorted(_values(session, "person_ids_data"), key=lambda v: str(v["ID"])) == [
            {"NAME": "Fred Astaire", "POPULARITY": 2.5, "ID": 1, "ADULT": False},
            {"NAME": "Ginger Rogers", "POPULARITY": 8.0, "ID": 2, "ADULT": True}]
        ops = session.query("SELECT OP, CHANGES FROM MOVIE_CHANGES_PER_MIN;")
        assert sum(r[1] for r in ops.rows if r[0] in ("c", "r")) == 2  # type: ignore[union-attr]
        assert {r[0] for r in ops.rows} >= {"u", "d"}  # type: ignore[union-attr]
        # A rerun changes nothing.
        assert "connector mysql-connector: unchanged" in run_app(spec, EmbeddedTarget(session), settings)
        # `apps stop` stops the PostgreSQL source and drops the slot and the publication it made ...
        slot = f"headwater_{mydb}"
        assert stop_app(spec, EmbeddedTarget(session))[-3:] == [
            "connector postgres-connector: stopped", f"connector postgres-connector: replication slot {slot} dropped",
            f"connector postgres-connector: publication {slot} dropped"]
        assert _pg_objects(pgdb) == ([], [])
        assert stop_app(spec, EmbeddedTarget(session))[-1] == "connector postgres-connector: stopped"  # nothing left
        # ... and `apps run` starts it again on a new slot, from then on.
        assert "connector postgres-connector: resumed" in run_app(spec, EmbeddedTarget(session), settings)
        wait_until(lambda: _pg_objects(pgdb) == ([slot], [slot]), 60, "the slot and publication made again")
        with producers.postgres.begin() as conn:
            conn.exec_driver_sql(f'UPDATE "{mydb}".tv_series_ids SET popularity = 371.5 WHERE id = 1399')
        wait_until(lambda: len(_values(session, "tv_series_ids_data")) == 3, 60, "a change after the restart")
        assert _values(session, "tv_series_ids_data")[-1]["POPULARITY"] == 371.5
    producers.stop()


def _pg_objects(pgdb: str) -> tuple[list[str], list[str]]:
    """The replication slots and publications of that database."""
    with psycopg2.connect(f"host={HOST} port={POSTGRES_PORT} user=postgres dbname={pgdb}") as conn, \
            conn.cursor() as cur:
        cur.execute("SELECT slot_name FROM pg_replication_slots WHERE database = current_database()")
        slots = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT pubname FROM pg_publication")
        publications = [r[0] for r in cur.fetchall()]
    conn.close()
    return slots, publications


def test_a_leftover_slot_does_not_stop_a_new_start(tmp_path: Path, mydb: str, pgdb: str) -> None:
    """A demo killed before it could drop its slot (and a publication made by hand) leave them behind: the app
    started on a new data directory takes its snapshot on a new slot, and `apps stop` leaves the publication it
    did not make."""
    spec = _app_copy(tmp_path, mydb, pgdb)
    producers = CdcProducers(schema=mydb, mariadb_url=f"mysql+pymysql://root@{HOST}:{MARIADB_PORT}/",
                             postgres_url=f"postgresql+psycopg2://postgres@{HOST}:{POSTGRES_PORT}/{pgdb}")
    producers.prepare()
    slot = f"headwater_{mydb}"
    with producers.postgres.begin() as conn:
        conn.exec_driver_sql(f'INSERT INTO "{mydb}".tv_series_ids VALUES (1399, %s, 369.5)', ("Game of Thrones",))
        conn.exec_driver_sql(f'CREATE PUBLICATION "{slot}" FOR ALL TABLES')
    with producers.postgres.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    assert _pg_objects(pgdb) == ([slot], [slot])
    files = tmp_path / "files"
    policy = ConnectPolicy.confined(str(files), [f"{HOST}:{MARIADB_PORT}", f"{HOST}:{POSTGRES_PORT}"])
    with Session(str(tmp_path / "data"), connect_policy=policy,
                 properties={"auto.offset.reset": "earliest"}) as session:
        run_app(spec, EmbeddedTarget(session), Settings(data_dir=str(tmp_path / "data"), files_dir=str(files)))
        wait_until(lambda: len(_values(session, "tv_series_ids_data")) == 1, 120, "the snapshot on a new slot")
        assert session.connect.status("postgres-connector")["tasks"][0]["state"] == "RUNNING"
        assert stop_app(spec, EmbeddedTarget(session))[-1] == \
            f"connector postgres-connector: replication slot {slot} dropped"
        assert _pg_objects(pgdb) == ([], [slot])  # the publication made by hand stays
    producers.stop()


def test_the_producers_write_to_both_databases(mydb: str, pgdb: str) -> None:
    producers = CdcProducers(schema=mydb, postgres_url=f"postgresql+psycopg2://postgres@{HOST}:{POSTGRES_PORT}/{pgdb}")
    producers.prepare()
    producers.prepare()  # again: nothing to create
    producers.step()
    producers.step()
    with producers.mariadb.connect() as conn:
        assert conn.execute(sa.text(f"SELECT COUNT(*) FROM `{mydb}`.movie_ids")).scalar_one() == 2
    with producers.postgres.connect() as conn:
        for table in ("tv_series_ids", "person_ids"):
            assert conn.execute(sa.text(f'SELECT COUNT(*) FROM "{mydb}".{table}')).scalar_one() == 2
    producers.stop()
    assert producers.written == 8 and producers.failed == 0
