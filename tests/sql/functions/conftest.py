from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from tests.sql.functions.harness import connection


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One DuckDB connection per test module, with the functions installed and the standard row."""
    connection_ = connection()
    yield connection_
    connection_.close()
