"""NULL GROUP BY values: the record is dropped and logged, as ksqlDB does, and the query goes on.

Every aggregate path gets a batch whose group keys are ALL null (nothing left to
aggregate), then ordinary records: the query must stay RUNNING and count them.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from headwater.engine.query import QueryState
from headwater.log import Record
from headwater.session import Session
from tests.engine.test_aggregate import CLICKS, T0, changes

NULL_KEY = "Group-by column with null value"


def batch(session: Session, rows: list[tuple[int, dict[str, object]]]) -> None:
    """All rows in ONE append, so the query sees them as one batch."""
    session.log.append("clickstream", 0, [Record(orjson.dumps(v), timestamp=T0 + s * 1000) for s, v in rows])


def null_key_entries(session: Session) -> list[object]:
    logged = changes(session.log, "default_ksql_processing_log")
    return [e for e in logged
            if NULL_KEY in e["message"]["recordProcessingError"]["errorMessage"]]  # type: ignore[index]


@pytest.fixture
def session(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(CLICKS)
        yield s


@pytest.mark.parametrize("window", [
    "WINDOW TUMBLING (SIZE 60 SECONDS)",
    "WINDOW HOPPING (SIZE 60 SECONDS, ADVANCE BY 30 SECONDS)",
    "WINDOW SESSION (30 SECONDS)",
    "",
])
@pytest.mark.parametrize("emit", ["EMIT CHANGES", "EMIT FINAL"])
def test_a_batch_of_only_null_keys_is_logged_and_the_query_goes_on(session: Session, window: str, emit: str) -> None:
    if emit == "EMIT FINAL" and not window:
        pytest.skip("EMIT FINAL needs a window")
    session.execute(f"CREATE TABLE t AS SELECT userid, COUNT(*) AS n FROM clickstream {window} GROUP BY userid {emit};")
    batch(session, [(0, {"userid": None, "bytes": 1}), (1, {"bytes": 2}), (2, {"userid": None})])
    session.wait_until_processed()
    query = next(iter(session.queries.values()))
    assert query.state is QueryState.RUNNING, query.stats.last_error
    assert len(null_key_entries(session)) == 3
    batch(session, [(3, {"userid": 7, "bytes": 1}), (4, {"userid": None, "bytes": 1}), (5, {"userid": 7})])
    session.wait_until_processed()
    assert query.state is QueryState.RUNNING, query.stats.last_error
    assert len(null_key_entries(session)) == 4
    counts = [r[-1] for r in session.query("SELECT * FROM t;").rows]
    assert counts and set(counts) == {2}  # one row per window of user 7 (two for the hopping windows)
    assert query.stats.last_error is None


def test_a_push_query_with_group_by_skips_null_keys(session: Session) -> None:
    push = session.query("SELECT userid, COUNT(*) AS n FROM clickstream WINDOW TUMBLING (SIZE 60 SECONDS) "
                         "GROUP BY userid EMIT CHANGES;", {"auto.offset.reset": "earliest"})
    try:
        batch(session, [(0, {"userid": None}), (1, {"bytes": 1})])
        batch(session, [(2, {"userid": 3}), (3, {"userid": None}), (4, {"userid": 3})])
        assert list(push.rows(timeout_s=2)) == [[3, 1], [3, 2]]
    finally:
        push.close()


def test_a_table_aggregate_with_null_groups_goes_on(tmp_path: Path) -> None:
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute("CREATE TABLE users (id STRING PRIMARY KEY, region STRING) "
                  "WITH (kafka_topic='users', value_format='json', partitions=1);")
        s.execute("CREATE TABLE per_region AS SELECT region, COUNT(*) AS n FROM users GROUP BY region;")
        s.log.append("users", 0, [Record(orjson.dumps({"region": None}), b"a", T0),
                                  Record(orjson.dumps({}), b"b", T0 + 1)])
        s.wait_until_processed()
        query = next(iter(s.queries.values()))
        assert query.state is QueryState.RUNNING, query.stats.last_error
        s.log.append("users", 0, [Record(orjson.dumps({"region": "x"}), b"a", T0 + 2)])
        s.wait_until_processed()
        assert s.query("SELECT * FROM per_region;").rows == [["x", 1]]
        assert query.state is QueryState.RUNNING and query.stats.last_error is None
        assert len(null_key_entries(s)) == 2
