"""Every DuckDB connection the engine opens is sealed: no file, no network, no extension, no way back."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import headwater
from headwater.engine.query import new_connection
from headwater.formats import duck
from headwater.sql.functions import install_functions

FACTORIES: dict[str, Callable[[], duckdb.DuckDBPyConnection]] = {
    "factory": duck.connect,
    "factory with the engine's functions": lambda: duck.connect(install_functions),
    "query engine": new_connection,
    "formats cursor": duck.cursor,
}


@pytest.fixture(params=list(FACTORIES))
def con(request: pytest.FixtureRequest) -> duckdb.DuckDBPyConnection:
    connection = FACTORIES[request.param]()
    request.addfinalizer(connection.close)
    return connection


def refused(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    with pytest.raises(duckdb.Error) as caught:
        con.execute(sql).fetchall()
    return str(caught.value)


def test_a_connection_cannot_write_a_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    for sql in (f"COPY (SELECT 1) TO '{out}'", f"EXPORT DATABASE '{tmp_path / 'export'}'",
                f"ATTACH '{tmp_path / 'other.db'}' AS other"):
        assert "disabled by configuration" in refused(con, sql)
    assert list(tmp_path.iterdir()) == []


def test_a_connection_cannot_read_a_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n42\n")
    for sql in (f"SELECT * FROM read_text('{secret}')", f"SELECT * FROM read_csv('{secret}')",
                f"SELECT * FROM read_json('{secret}')", f"SELECT * FROM '{secret}'", "SELECT * FROM glob('/*')"):
        assert "42" not in refused(con, sql)


def test_a_connection_cannot_install_or_load_an_extension(con: duckdb.DuckDBPyConnection) -> None:
    for sql in ("INSTALL httpfs", "FORCE INSTALL spatial", "INSTALL httpfs FROM 'http://127.0.0.1:9/'"):
        assert "disabled by configuration" in refused(con, sql)
    assert "Loading external extensions is disabled" in refused(con, "LOAD httpfs")
    # Not loaded on demand either: an https URL would autoload httpfs.
    assert "disabled by configuration" in refused(con, "SELECT * FROM read_parquet('https://127.0.0.1:9/y.parquet')")


def test_a_connection_cannot_change_its_configuration_back(con: duckdb.DuckDBPyConnection) -> None:
    for sql in ("SET enable_external_access = true", "RESET enable_external_access",
                "SET lock_configuration = false", "RESET lock_configuration",
                "SET autoload_known_extensions = true", "SET allow_unsigned_extensions = true"):
        assert "configuration has been locked" in refused(con, sql)
    settings = dict(con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'lock_configuration', "
        "'autoinstall_known_extensions', 'autoload_known_extensions')").fetchall())
    assert settings == {"enable_external_access": "false", "lock_configuration": "true",
                        "autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}


def test_what_the_engine_registers_still_works(con: duckdb.DuckDBPyConnection) -> None:
    """Arrow tables from Python, JSON functions and macros: the engine's own reads are not files."""
    con.register("t", pa.table({"v": ['{"a": 1}', '{"a": 2}']}))
    assert con.execute("SELECT sum(CAST(json_extract_string(v, '$.a') AS INT)) FROM t").fetchall() == [(3,)]
    con.execute("CREATE OR REPLACE TEMP MACRO twice(x) AS x * 2")
    assert con.execute("SELECT twice(21)").fetchall() == [(42,)]


def test_the_setup_runs_before_the_lock() -> None:
    con = duck.connect(install_functions)
    try:
        assert con.execute("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]
        assert "locked" in refused(con, "SET TimeZone = 'Europe/Paris'")
    finally:
        con.close()


def test_no_module_opens_duckdb_outside_the_factory() -> None:
    """A new ``duckdb.connect`` anywhere else would open an unsealed database."""
    root = Path(headwater.__file__).parent
    factory = root / "formats" / "duck.py"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Attribute) and node.attr in ("connect", "default_connection", "sql", "query",
                                                                  "execute", "read_csv", "read_json", "read_parquet")
                    and isinstance(node.value, ast.Name) and node.value.id == "duckdb" and path != factory):
                offenders.append(f"{path.relative_to(root)}:{node.lineno} duckdb.{node.attr}")
    assert offenders == []


def test_installing_the_functions_again_on_a_sealed_connection_is_harmless() -> None:
    con = new_connection()
    try:
        install_functions(con)
        assert con.execute("SELECT current_setting('TimeZone'), hw_double_to_string(1e10)").fetchall() == [
            ("UTC", "1.0E10")]
    finally:
        con.close()
