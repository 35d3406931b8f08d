"""The Python API: the clickstream script of issue 3, restarts, errors, inspection."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from headwater.errors import SqlError
from headwater.log import Record
from headwater.log.embedded import EmbeddedLog
from headwater.session import Session
from tests.engine.engine_process import start_engine

CLICKSTREAM = (
    "CREATE STREAM clickstream (_time BIGINT, time VARCHAR, ip VARCHAR, request VARCHAR, status INT, userid INT, "
    "bytes BIGINT, agent VARCHAR) WITH (kafka_topic='clickstream', value_format='json', partitions=1);"
)
ERRORS = "CREATE STREAM errors AS SELECT userid, request, status FROM clickstream WHERE status >= 400 EMIT CHANGES;"


def click(n: int, status: object, userid: object = 1) -> Record:
    value = {"_time": n, "time": str(n), "ip": "1.2.3.4", "request": f"GET /{n}", "status": status,
             "userid": userid, "bytes": 100, "agent": "a"}
    return Record(orjson.dumps(value), timestamp=1_000_000 + n)


def output(log: EmbeddedLog, topic: str = "ERRORS") -> list[dict[str, object]]:
    rows, offset = [], log.beginning_offset(topic, 0)
    while offset < log.end_offset(topic, 0):
        fetched = log.read(topic, 0, offset)
        rows.extend(orjson.loads(v) for v in fetched.records.column("value").to_pylist())
        offset = fetched.next_offset
    return rows


def test_clickstream_errors_survive_a_restart_between_inserts(tmp_path: Path) -> None:
    root = str(tmp_path)
    with Session(root) as session:
        session.execute(CLICKSTREAM + ERRORS)
        session.execute(
            "INSERT INTO clickstream (_time, request, status, userid) VALUES (1, 'GET /a', 200, 1);"
            "INSERT INTO clickstream (_time, request, status, userid) VALUES (2, 'GET /b', 404, 2);"
        )
        session.log.append("clickstream", 0, [click(3, "405", "3"), Record(b"not json at all")])
        session.wait_until_processed()
    # A new process: the stream, the query and its position come back from the command log.
    with Session(root) as session:
        assert [q["id"] for q in session.execute("SHOW QUERIES;")[0]["queries"]] == ["CSAS_ERRORS_1"]
        session.execute("INSERT INTO clickstream (_time, request, status, userid) VALUES (4, 'GET /c', 500, 4);")
        session.wait_until_processed()
        rows = output(session.log)  # type: ignore[arg-type]
        assert rows == [
            {"USERID": 2, "REQUEST": "GET /b", "STATUS": 404},
            {"USERID": 3, "REQUEST": "GET /3", "STATUS": 405},
            {"USERID": 4, "REQUEST": "GET /c", "STATUS": 500},
        ]
        errors = output(session.log, "default_ksql_processing_log")  # type: ignore[arg-type]
        assert len(errors) == 1
        problem = errors[0]["message"]["deserializationError"]  # type: ignore[index]
        assert problem["topic"] == "clickstream" and problem["offset"] == 3
        assert "not json" in problem["errorMessage"].lower() or "json" in problem["errorMessage"].lower()




def test_kill_9_of_the_engine_neither_loses_nor_doubles_output(tmp_path: Path) -> None:
    root = str(tmp_path)
    log = EmbeddedLog(root)
    log.create_topic("clickstream", 1)
    total = 30_000
    batches = [[click(n, 404 if n % 3 else 200) for n in range(i, i + 1000)] for i in range(0, total, 1000)]
    rng = random.Random(7)

    def start(mode: str) -> subprocess.Popen[str]:
        return start_engine(root, CLICKSTREAM + ERRORS, create=mode == "create")

    proc = start("create")
    for i, batch in enumerate(batches):
        log.append("clickstream", 0, batch)
        if i % 6 == 5:
            time.sleep(rng.random() * 0.3)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc = start("resume")
    try:
        deadline = time.monotonic() + 60
        expected = sum(1 for n in range(total) if n % 3)
        while time.monotonic() < deadline and log.end_offset("ERRORS", 0) < expected:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    requests = [row["REQUEST"] for row in output(log)]
    assert len(requests) == len(set(requests)), "an output record was doubled"
    assert sorted(requests) == sorted(f"GET /{n}" for n in range(total) if n % 3), "an output record was lost"
    log.close()


def test_user_errors_name_the_problem_and_position(tmp_path: Path) -> None:
    with Session(str(tmp_path)) as session:
        session.execute(CLICKSTREAM)
        cases = [
            ("SELECT * FORM clickstream EMIT CHANGES;", "line 1:10"),
            ("CREATE STREAM s AS SELECT nope FROM clickstream;", "line 1:27: Column 'NOPE' cannot be resolved"),
            ("CREATE STREAM s AS SELECT * FROM missing;", "MISSING does not exist"),
            ("CREATE STREAM s AS SELECT no_such_fn(userid) FROM clickstream;", "NO_SUCH_FN"),
            ("CREATE STREAM s AS SELECT * FROM clickstream WHERE status = 'x' AND;", "line 1:"),
            ("CREATE STREAM t (a INT) WITH (kafka_topic='t', value_format='json', partitions=1, bogus=1);", "BOGUS"),
            ("CREATE STREAM t (a INT) WITH (value_format='json', partitions=1);", "KAFKA_TOPIC"),
            ("CREATE STREAM t (a INT) WITH (kafka_topic='nope');", "VALUE_FORMAT"),
        ]
        for statement, expected in cases:
            with pytest.raises(SqlError) as info:
                session.execute(statement)
            assert expected in str(info.value), (statement, str(info.value))


def test_push_query_limit_partition_by_and_print(tmp_path: Path) -> None:
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as session:
        session.execute(CLICKSTREAM)
        session.execute("CREATE STREAM by_user AS SELECT userid, request FROM clickstream PARTITION BY userid;")
        session.log.append("clickstream", 0, [click(n, 200, n % 2) for n in range(5)])
        push = session.query("SELECT userid, status FROM clickstream WHERE userid = 1 EMIT CHANGES LIMIT 2;")
        assert list(push.rows(timeout_s=10)) == [[1, 200], [1, 200]]  # type: ignore[union-attr]
        push.close()  # type: ignore[union-attr]
        session.wait_until_processed()
        fetched = session.log.read("BY_USER", 0, 0)
        # Re-keyed by userid (KAFKA INT key), userid no longer in the value.
        assert fetched.records.column("key").to_pylist()[:2] == [b"\x00\x00\x00\x00", b"\x00\x00\x00\x01"]
        assert orjson.loads(fetched.records.column("value")[0].as_py()) == {"REQUEST": "GET /0"}
        lines = list(session.print_topic("PRINT clickstream FROM BEGINNING LIMIT 2;", idle_timeout_s=5))
        assert lines[0] == "Key format: KAFKA_STRING"  # the clicks have no key
        assert lines[1] == "Value format: JSON"
        assert len(lines) == 4 and lines[2].startswith("rowtime: ") and ", partition: 0, offset: 0" in lines[2]
