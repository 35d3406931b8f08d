"""Real databases for tests: a fresh MariaDB and PostgreSQL database per test session, dropped after.

The servers are the machine's own (127.0.0.1:3306 as root without password,
127.0.0.1:5432 as postgres with trust auth); ``scripts/services.sh``, run by
``make test``, installs and starts them on a fresh Debian machine. When one is
not reachable the tests that need it are skipped with the reason, except under
``CI=true``, where a missing database is a failure: CI must not pass by
skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

HOST = "127.0.0.1"
MARIADB_PORT = 3306
POSTGRES_PORT = 5432


def _missing(what: str, exc: Exception) -> None:
    reason = f"{what} is not reachable ({exc}); run scripts/services.sh (as root it installs and starts it)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _name() -> str:
    return f"headwater_test_{os.getpid()}_{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def mariadb_database() -> Iterator[str]:
    """The JDBC URL of a new, empty MariaDB database."""
    import pymysql

    try:
        admin = pymysql.connect(host=HOST, port=MARIADB_PORT, user="root", password="", autocommit=True,
                                connect_timeout=5)
    except pymysql.err.Error as exc:
        _missing("MariaDB on 127.0.0.1:3306 (root, no password)", exc)
    name = _name()
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"jdbc:mariadb://{HOST}:{MARIADB_PORT}/{name}?user=root"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The JDBC URL of a new, empty PostgreSQL database."""
    import psycopg

    try:
        admin = psycopg.connect(host=HOST, port=POSTGRES_PORT, user="postgres", dbname="postgres", autocommit=True,
                                connect_timeout=5)
    except psycopg.Error as exc:
        _missing("PostgreSQL on 127.0.0.1:5432 (user postgres, trust)", exc)
    name = _name()
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"jdbc:postgresql://{HOST}:{POSTGRES_PORT}/{name}?user=postgres"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
