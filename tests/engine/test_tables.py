"""Tables as query sources: upserts and tombstones, retraction in aggregations, push queries."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import orjson
import pytest

from headwater.errors import SqlSemanticError
from headwater.log import Record
from headwater.log.embedded import EmbeddedLog
from headwater.session import Session
from tests.engine.engine_process import start_engine
from tests.engine.test_aggregate import CLICKS, T0, changes, send, table

USERS = ("CREATE TABLE users (id STRING PRIMARY KEY, region STRING, x INT) "
         "WITH (kafka_topic='users', value_format='json', partitions=1);")


def put(session: Session, rows: list[tuple[str, dict[str, object] | None]]) -> None:
    """One record per change, each its own batch on the log (the operator chains them across batches)."""
    for i, (key, value) in enumerate(rows):
        session.log.append("users", 0, [Record(None if value is None else orjson.dumps(value), key.encode(), T0 + i)])


@pytest.fixture
def session(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(USERS)
        yield s


def test_aggregate_over_a_table_retracts_rows_that_move_or_disappear(session: Session) -> None:
    session.execute("CREATE TABLE per_region AS SELECT region, COUNT(*) AS n, SUM(x) AS total, AVG(x) AS mean "
                    "FROM users GROUP BY region;")
    put(session, [("1", {"region": "a", "x": 1}), ("2", {"region": "a", "x": 2}), ("1", {"region": "b", "x": 5}),
                  ("2", None), ("3", {"region": "b", "x": 7})])
    session.wait_until_processed()
    # Each move emits the old group after the retraction, then the new group after the addition.
    assert changes(session.log, "PER_REGION") == [
        {"N": 1, "TOTAL": 1, "MEAN": 1.0}, {"N": 2, "TOTAL": 3, "MEAN": 1.5},
        {"N": 1, "TOTAL": 2, "MEAN": 2.0}, {"N": 1, "TOTAL": 5, "MEAN": 5.0},
        {"N": 0, "TOTAL": 0, "MEAN": 0.0}, {"N": 2, "TOTAL": 12, "MEAN": 6.0},
    ]
    assert sorted(session.query("SELECT * FROM per_region;").rows) == [["a", 0, 0, 0.0], ["b", 2, 12, 6.0]]


def test_changes_within_one_batch_are_chained_per_key(session: Session) -> None:
    session.execute("CREATE TABLE per_region AS SELECT region, COUNT(*) AS n, COLLECT_LIST(id) AS ids "
                    "FROM users GROUP BY region;")
    records = [("1", {"region": "a"}), ("1", {"region": "b"}), ("2", {"region": "b"}), ("1", {"region": "a"})]
    session.log.append("users", 0, [Record(orjson.dumps(v), k.encode(), T0) for k, v in records])
    session.wait_until_processed()
    assert changes(session.log, "PER_REGION") == [
        {"N": 1, "IDS": ["1"]}, {"N": 0, "IDS": []}, {"N": 1, "IDS": ["1"]}, {"N": 2, "IDS": ["1", "2"]},
        {"N": 1, "IDS": ["2"]}, {"N": 1, "IDS": ["1"]},
    ]


def test_a_row_that_stops_matching_where_leaves_its_group(session: Session) -> None:
    session.execute("CREATE TABLE big AS SELECT region, COUNT(*) AS n FROM users WHERE x > 10 GROUP BY region;")
    put(session, [("1", {"region": "a", "x": 20}), ("1", {"region": "a", "x": 5}), ("2", {"region": "a", "x": 1})])
    session.wait_until_processed()
    assert changes(session.log, "BIG") == [{"N": 1}, {"N": 0}]


def test_the_prior_rows_survive_a_restart(tmp_path: Path) -> None:
    statement = "CREATE TABLE per_region AS SELECT region, COUNT(*) AS n, SUM(x) AS total FROM users GROUP BY region;"
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(USERS + statement)
        put(s, [("1", {"region": "a", "x": 1}), ("2", {"region": "a", "x": 2})])
        s.wait_until_processed()
    with Session(str(tmp_path)) as s:
        put(s, [("1", {"region": "b", "x": 10}), ("2", None)])
        s.wait_until_processed()
        assert sorted(s.query("SELECT * FROM per_region;").rows) == [["a", 0, 0], ["b", 1, 10]]


def test_stateless_table_query_emits_a_tombstone_when_a_row_stops_matching(session: Session) -> None:
    session.execute("CREATE TABLE big AS SELECT id, region, x * 2 AS x2 FROM users WHERE x > 1;")
    put(session, [("1", {"region": "a", "x": 1}), ("2", {"region": "a", "x": 2}), ("2", {"region": "b", "x": 0}),
                  ("3", {"region": "c", "x": 3}), ("3", None)])
    session.wait_until_processed()
    assert [(k, v) for k, v in _records(session, "BIG")] == [
        (b"1", None), (b"2", {"REGION": "a", "X2": 4}), (b"2", None), (b"3", {"REGION": "c", "X2": 6}), (b"3", None)]
    assert table(session.log, "BIG") == {}


def test_functions_without_undo_cannot_aggregate_a_table(session: Session) -> None:
    with pytest.raises(SqlSemanticError, match="The aggregation function MAX cannot be applied to a table source, "
                                               "only to a stream source."):
        session.execute("CREATE TABLE t AS SELECT region, MAX(x) AS m FROM users GROUP BY region;")
    with pytest.raises(SqlSemanticError, match="Windowing not supported for table aggregations."):
        session.execute("CREATE TABLE t AS SELECT region, COUNT(*) AS n FROM users "
                        "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY region;")
    with pytest.raises(SqlSemanticError, match="Your SELECT query produces a TABLE"):
        session.execute("CREATE STREAM s AS SELECT * FROM users;")


def test_push_query_over_a_table_shows_live_rows(session: Session) -> None:
    put(session, [("1", {"region": "a", "x": 1}), ("1", None), ("2", {"region": "b", "x": 2})])
    push = session.query("SELECT * FROM users EMIT CHANGES;")
    try:
        assert list(push.rows(timeout_s=1.5)) == [["1", "a", 1], ["2", "b", 2]]
    finally:
        push.close()


def test_push_query_with_group_by_streams_every_update(tmp_path: Path) -> None:
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(CLICKS)
        send(s.log, "clickstream", [(0, {"userid": 1, "bytes": 10}), (10, {"userid": 2, "bytes": 5}),
                                    (70, {"userid": 1, "bytes": 1})])
        push = s.query("SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM clickstream GROUP BY userid EMIT CHANGES;")
        try:
            assert list(push.rows(timeout_s=1.5)) == [[1, 1, 10], [2, 1, 5], [1, 2, 11]]
        finally:
            push.close()
        push = s.query("SELECT userid, WINDOWSTART AS ws, COUNT(*) AS n FROM clickstream "
                       "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY userid EMIT CHANGES LIMIT 3;")
        try:
            assert list(push.rows(timeout_s=5)) == [[1, T0, 1], [2, T0, 1], [1, T0 + 60_000, 1]]
        finally:
            push.close()
        assert not s.queries  # nothing persistent was created
        assert not any("transient" in t for t in s.log.list_topics())


def _records(session: Session, topic: str) -> list[tuple[bytes, object]]:
    out: list[tuple[bytes, object]] = []
    offset = 0
    while offset < session.log.end_offset(topic, 0):
        fetched = session.log.read(topic, 0, offset)
        out += [(r["key"], None if r["value"] is None else orjson.loads(r["value"]))
                for r in fetched.records.select(["key", "value"]).to_pylist()]
        offset = fetched.next_offset
    return out


def test_push_query_with_group_by_over_a_table_retracts(session: Session) -> None:
    put(session, [("1", {"region": "a", "x": 1}), ("1", {"region": "b", "x": 1})])
    push = session.query("SELECT region, COUNT(*) AS n FROM users GROUP BY region EMIT CHANGES;")
    try:
        assert list(push.rows(timeout_s=1.5)) == [["a", 1], ["a", 0], ["b", 1]]
    finally:
        push.close()


def test_kill_9_while_aggregating_a_table_leaves_it_exact(tmp_path: Path) -> None:
    """Eight kill -9s while a table of 300 keys churns; the final aggregate equals one computed in Python."""
    root = str(tmp_path)
    log = EmbeddedLog(root)
    log.create_topic("users", 1)
    statements = USERS + ("CREATE TABLE per_region AS SELECT region, COUNT(*) AS n, SUM(x) AS total FROM users "
                          "GROUP BY region;")
    rng = random.Random(4)
    changes = [(str(rng.randrange(300)), None if rng.random() < 0.1 else
                {"region": rng.choice("abcdefgh"), "x": rng.randrange(100)}) for _ in range(16_000)]
    rows: dict[str, dict[str, object]] = {}
    for key, value in changes:
        if value is None:
            rows.pop(key, None)
        else:
            rows[key] = value
    reference: dict[str, tuple[int, int]] = {}
    for value in rows.values():
        n, total = reference.get(value["region"], (0, 0))  # type: ignore[arg-type]
        reference[value["region"]] = (n + 1, total + value["x"])  # type: ignore[index, operator]
    proc = start_engine(root, statements, create=True)
    try:
        for i in range(0, len(changes), 2000):
            log.append("users", 0, [Record(None if v is None else orjson.dumps(v), k.encode(), T0 + i)
                                    for k, v in changes[i:i + 2000]])
            time.sleep(rng.random() * 0.4)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc = start_engine(root, statements, create=False)
        deadline = time.monotonic() + 180  # a wait, not a speed check: a loaded machine needs minutes
        while time.monotonic() < deadline:
            final = {k.decode(): (v["N"], v["TOTAL"]) for k, v in table(log, "PER_REGION").items() if v["N"]}
            if final == reference:
                break
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert final == reference
    log.close()


def test_pull_query_on_a_table_derived_from_a_table(session: Session) -> None:
    session.execute("CREATE TABLE queryable_users AS SELECT * FROM users WHERE x > 1;")
    put(session, [("1", {"region": "a", "x": 5}), ("2", {"region": "b", "x": 7}), ("1", {"region": "a", "x": 0}),
                  ("3", {"region": "c", "x": 9}), ("3", None), ("2", {"region": "b", "x": 8})])
    session.wait_until_processed()
    assert session.query("SELECT * FROM queryable_users;").rows == [["2", "b", 8]]
    assert session.query("SELECT x FROM queryable_users WHERE id = '2';").rows == [[8]]
    with pytest.raises(SqlSemanticError, match="Incompatible data sink and query result"):
        session.execute("CREATE STREAM s (id STRING KEY, region STRING, x INT, y DOUBLE) WITH (kafka_topic='s', "
                        "value_format='json', partitions=1); INSERT INTO s SELECT * FROM users;")
