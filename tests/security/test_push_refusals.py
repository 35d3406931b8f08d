"""Issue 12's silent push queries: what DuckDB would refuse for every batch is refused when planned, with a
clear error; what fails for some records only gives those records NULL (and a processing-log entry)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from headwater.engine.push import PushQuery
from headwater.errors import SqlSemanticError
from headwater.session import Session
from tests.security.attack import EARLIEST


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with Session(str(tmp_path / "log"), properties=EARLIEST) as opened:
        opened.execute("CREATE STREAM s (a VARCHAR, p VARCHAR, j VARCHAR) WITH (kafka_topic='s', "
                       "value_format='json', partitions=1);"
                       "INSERT INTO s (a, p, j) VALUES ('abc', '(b)', '{\"x\": 1}');"
                       "INSERT INTO s (a, p, j) VALUES ('abc', 'a', '{\"x\": 2}');")
        yield opened


REFUSED = {
    "SELECT CAST(1 AS DECIMAL(2147483647, 0)) AS d FROM s EMIT CHANGES;":
        ("line 1:8:", "DECIMAL precision must be <= 38"),
    "SELECT CAST(NULL AS ARRAY<DECIMAL(39, 2)>) AS d FROM s EMIT CHANGES;":
        ("line 1:8:", "DECIMAL precision must be <= 38"),
    "SELECT REGEXP_REPLACE(a, 'a', '$1') AS r FROM s EMIT CHANGES;":
        ("line 1:31:", "REGEXP_REPLACE': invalid replacement '$1' for the pattern 'a'"),
    "SELECT REGEXP_REPLACE(a, '(?<=a)b', 'x') AS r FROM s EMIT CHANGES;":
        ("line 1:26:", "REGEXP_REPLACE': invalid regular expression '(?<=a)b'"),
    "SELECT REGEXP_EXTRACT('(a', a) AS r FROM s EMIT CHANGES;": ("line 1:23:", "invalid regular expression '(a'"),
    "SELECT EXTRACTJSONFIELD(j, '$.[') AS r FROM s EMIT CHANGES;":
        ("line 1:28:", "EXTRACTJSONFIELD': invalid JSON path '$.['"),
}


@pytest.mark.parametrize("text", REFUSED)
def test_a_push_query_duckdb_would_never_run_is_refused_when_planned(session: Session, text: str) -> None:
    position, message = REFUSED[text]
    with pytest.raises(SqlSemanticError) as caught:
        session.query(text)
    assert str(caught.value).startswith(position) and message in str(caught.value)
    # A persistent query too: it would otherwise sit RUNNING with nothing written and nothing logged.
    with pytest.raises(SqlSemanticError):
        session.execute("CREATE STREAM out AS " + text)
    assert session.execute("SHOW QUERIES;")[0]["queries"] == []


def test_a_replacement_that_fails_for_some_records_gives_them_null(session: Session) -> None:
    """The pattern comes from the data: '$1' fits '(b)', not 'a' (Java's 'No group 1')."""
    query = session.query("SELECT REGEXP_REPLACE(a, p, '$1') AS r FROM s EMIT CHANGES LIMIT 2;")
    assert isinstance(query, PushQuery)
    assert list(query.rows(timeout_s=30)) == [["abc"], [None]]
    session.execute("CREATE STREAM replaced AS SELECT REGEXP_REPLACE(a, p, '$1') AS r FROM s EMIT CHANGES;")
    session.wait_until_processed()
    log = session.log
    values = [orjson.loads(v) for v in log.read("REPLACED", 0, 0).records.column("value").to_pylist()]
    assert values == [{"R": "abc"}, {"R": None}]
    errors = [orjson.loads(v) for v in log.read("default_ksql_processing_log", 0, 0).records.column("value").to_pylist()]
    assert len(errors) == 1 and "regexp" in errors[0]["message"]["recordProcessingError"]["errorMessage"].lower()
