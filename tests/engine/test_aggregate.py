"""Aggregations: exact results of the seed pipelines, windows, emit modes, pull queries, exactly-once state."""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from headwater.log import Record
from headwater.log.embedded import EmbeddedLog
from headwater.session import Session
from tests.engine.engine_process import start_engine

T0 = 1_790_000_040_000  # a minute boundary
CLICKS = "CREATE STREAM clickstream (userid INT, bytes BIGINT) WITH (kafka_topic='clickstream', value_format='json', partitions=1);"


def send(log: EmbeddedLog, topic: str, rows: list[tuple[int, dict[str, object]]]) -> None:
    for seconds, value in rows:
        log.append(topic, 0, [Record(orjson.dumps(value), timestamp=T0 + int(seconds * 1000))])


def table(log: EmbeddedLog, topic: str) -> dict[bytes, object]:
    """The latest value per key of a changelog topic (tombstones remove the key)."""
    latest: dict[bytes, object] = {}
    offset = log.beginning_offset(topic, 0)
    while offset < log.end_offset(topic, 0):
        fetched = log.read(topic, 0, offset)
        for row in fetched.records.select(["key", "value"]).to_pylist():
            if row["value"] is None:
                latest.pop(row["key"], None)
            else:
                latest[row["key"]] = orjson.loads(row["value"])
        offset = fetched.next_offset
    return latest


def changes(log: EmbeddedLog, topic: str) -> list[object]:
    out = []
    offset = log.beginning_offset(topic, 0)
    while offset < log.end_offset(topic, 0):
        fetched = log.read(topic, 0, offset)
        out.extend(None if v is None else orjson.loads(v) for v in fetched.records.column("value").to_pylist())
        offset = fetched.next_offset
    return out


@pytest.fixture
def session(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        yield s


def test_bandwidth_per_min_tumbling(session: Session) -> None:
    session.execute(CLICKS)
    session.execute(
        "CREATE TABLE bandwidth_per_min AS SELECT userid AS k, AS_VALUE(userid) AS userid, WINDOWSTART AS event_ts, "
        "SUM(bytes) AS total_bytes FROM clickstream WINDOW TUMBLING (SIZE 60 SECOND) GROUP BY userid EMIT CHANGES;"
    )
    send(session.log, "clickstream", [(0, {"userid": 1, "bytes": 278}), (10, {"userid": 1, "bytes": 1289}),
                                      (59, {"userid": 1, "bytes": 2048}), (61, {"userid": 1, "bytes": 4096})])
    session.wait_until_processed()
    # Every update is emitted (caching off), keyed by userid + window start.
    assert [c["TOTAL_BYTES"] for c in changes(session.log, "BANDWIDTH_PER_MIN")] == [278, 1567, 3615, 4096]
    final = table(session.log, "BANDWIDTH_PER_MIN")
    assert final == {
        struct.pack(">iq", 1, T0): {"USERID": 1, "EVENT_TS": T0, "TOTAL_BYTES": 3615},
        struct.pack(">iq", 1, T0 + 60_000): {"USERID": 1, "EVENT_TS": T0 + 60_000, "TOTAL_BYTES": 4096},
    }
    pulled = session.query("SELECT * FROM bandwidth_per_min WHERE k = 1;")
    assert pulled.columns == ["K", "WINDOWSTART", "WINDOWEND", "USERID", "EVENT_TS", "TOTAL_BYTES"]
    assert pulled.rows == [[1, T0, T0 + 60_000, 1, T0, 3615], [1, T0 + 60_000, T0 + 120_000, 1, T0 + 60_000, 4096]]
    ranged = session.query(f"SELECT total_bytes FROM bandwidth_per_min WHERE k = 1 AND WINDOWSTART >= {T0 + 1};")
    assert ranged.rows == [[4096]]


def test_user_session_bandwidth(session: Session) -> None:
    session.execute(CLICKS)
    session.execute(
        "CREATE TABLE user_session_bandwidth AS SELECT userid AS k, AS_VALUE(userid) AS userid, "
        "WINDOWSTART AS event_ts, SUM(bytes) AS total_bytes FROM clickstream WINDOW SESSION (30 SECOND) "
        "GROUP BY userid EMIT CHANGES;"
    )
    for rows in ([(0, {"userid": 1, "bytes": 278})], [(20, {"userid": 1, "bytes": 1289})],
                 [(45, {"userid": 1, "bytes": 2048}), (100, {"userid": 1, "bytes": 4096})]):
        send(session.log, "clickstream", rows)
        session.wait_until_processed()
    final = table(session.log, "USER_SESSION_BANDWIDTH")
    assert sorted((v["EVENT_TS"] - T0, v["TOTAL_BYTES"]) for v in final.values()) == [(0, 3615), (100_000, 4096)]
    # The key is the user and the session's end and start; merged sessions were retracted.
    assert struct.pack(">iqq", 1, T0 + 45_000, T0) in final


def test_website_five_second_summary(session: Session) -> None:
    session.execute("CREATE STREAM visits (lastAction VARCHAR, duration INT) WITH (kafka_topic='visits', "
                    "value_format='json', partitions=1);")
    session.execute(
        "CREATE TABLE summary WITH (KEY_FORMAT='JSON') AS SELECT lastAction, WINDOWSTART AS window_start, "
        "SUM(duration) AS total FROM visits WINDOW TUMBLING (SIZE 5 SECONDS) GROUP BY lastAction EMIT CHANGES;"
    )
    send(session.log, "visits", [(0, {"lastAction": "SHOPPING_CART", "duration": 5}),
                                 (1, {"lastAction": "FAQ", "duration": 7}),
                                 (2, {"lastAction": "SHOPPING_CART", "duration": 9})])
    session.wait_until_processed()
    rows = sorted(session.query("SELECT lastAction, window_start, total FROM summary;").rows)
    assert rows == [["FAQ", T0, 7], ["SHOPPING_CART", T0, 14]]


def test_emit_final_emits_each_window_once_when_it_closes(session: Session) -> None:
    session.execute(CLICKS)
    session.execute(
        "CREATE TABLE per_min AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM clickstream "
        "WINDOW TUMBLING (SIZE 60 SECONDS, GRACE PERIOD 5 SECONDS) GROUP BY userid EMIT FINAL;"
    )
    send(session.log, "clickstream", [(1, {"userid": 1, "bytes": 1}), (2, {"userid": 2, "bytes": 2}),
                                      (30, {"userid": 1, "bytes": 3}), (64, {"userid": 1, "bytes": 4})])
    session.wait_until_processed()
    assert changes(session.log, "PER_MIN") == []  # 64 s < 60 s + 5 s grace: still open
    send(session.log, "clickstream", [(65, {"userid": 3, "bytes": 5}), (66, {"userid": 1, "bytes": 6})])
    session.wait_until_processed()
    assert sorted(changes(session.log, "PER_MIN"), key=str) == [{"N": 1, "B": 2}, {"N": 2, "B": 4}]


def test_late_records_are_dropped_counted_and_logged(session: Session) -> None:
    session.execute(CLICKS)
    session.execute(
        "CREATE TABLE per_min AS SELECT userid, COUNT(*) AS n FROM clickstream "
        "WINDOW TUMBLING (SIZE 60 SECONDS, GRACE PERIOD 0 SECONDS) GROUP BY userid EMIT CHANGES;"
    )
    send(session.log, "clickstream", [(10, {"userid": 1}), (70, {"userid": 1}), (20, {"userid": 1})])
    session.wait_until_processed()
    assert [c["N"] for c in changes(session.log, "PER_MIN")] == [1, 1]
    query = next(iter(session.queries.values()))
    assert query.late_records == 1  # type: ignore[attr-defined]
    logged = changes(session.log, "default_ksql_processing_log")
    assert len(logged) == 1 and "closed" in logged[0]["message"]["recordProcessingError"]["errorMessage"]


def test_hopping_windows_count_each_record_in_every_window(session: Session) -> None:
    session.execute(CLICKS)
    session.execute(
        "CREATE TABLE hops AS SELECT userid, COUNT(*) AS n FROM clickstream "
        "WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS) GROUP BY userid EMIT CHANGES;"
    )
    send(session.log, "clickstream", [(5, {"userid": 1}), (25, {"userid": 1})])
    session.wait_until_processed()
    rows = session.query("SELECT WINDOWSTART, n FROM hops WHERE userid = 1;").rows
    assert sorted((ws - T0, n) for ws, n in rows) == [(-20_000, 1), (-10_000, 1), (0, 2), (10_000, 1), (20_000, 1)]


def test_non_windowed_aggregate_and_having(session: Session) -> None:
    session.execute("CREATE STREAM pageviews (pageid VARCHAR, userid VARCHAR) WITH (kafka_topic='pageviews', "
                    "value_format='json', partitions=1);")
    session.execute("CREATE TABLE popular AS SELECT pageid, COUNT(*) AS views, AVG(LEN(userid)) AS l, "
                    "MAX(userid) AS last_user FROM pageviews GROUP BY pageid HAVING COUNT(*) > 1;")
    send(session.log, "pageviews", [(0, {"pageid": "a", "userid": "u1"}), (1, {"pageid": "a", "userid": "u22"}),
                                    (2, {"pageid": "b", "userid": "u1"}), (3, {"pageid": None, "userid": "x"})])
    session.wait_until_processed()
    assert session.query("SELECT * FROM popular;").rows == [["a", 2, 2.5, "u22"]]


def test_restart_resumes_the_state_without_doubling(tmp_path: Path) -> None:
    statement = ("CREATE TABLE totals AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM clickstream "
                 "GROUP BY userid;")
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(CLICKS + statement)
        send(s.log, "clickstream", [(i, {"userid": i % 3, "bytes": i}) for i in range(30)])
        s.wait_until_processed()
    with Session(str(tmp_path)) as s:
        send(s.log, "clickstream", [(100 + i, {"userid": i % 3, "bytes": 1}) for i in range(3)])
        s.wait_until_processed()
        rows = sorted(s.query("SELECT * FROM totals;").rows)
    assert rows == [[0, 11, sum(range(0, 30, 3)) + 1], [1, 11, sum(range(1, 30, 3)) + 1],
                    [2, 11, sum(range(2, 30, 3)) + 1]]




def test_having_tombstones_only_groups_that_qualified_across_a_restart(tmp_path: Path) -> None:
    """HAVING is a KTable filter: a tombstone only for a group whose last update qualified, a flag
    that the changelog carries over a restart."""
    users = ("CREATE TABLE users (id STRING PRIMARY KEY, region STRING) WITH (kafka_topic='users', "
             "value_format='json', partitions=1);")
    big = "CREATE TABLE big AS SELECT region, COUNT(*) AS n FROM users GROUP BY region HAVING COUNT(*) > 1;"

    def put(log: EmbeddedLog, key: str, region: str | None) -> None:
        value = None if region is None else orjson.dumps({"region": region})
        log.append("users", 0, [Record(value, key=key.encode(), timestamp=T0)])

    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(users + big)
        for key, region in (("1", "a"), ("2", "a"), ("3", "b")):
            put(s.log, key, region)
        s.wait_until_processed()
    with Session(str(tmp_path)) as s:
        for key, region in (("2", "b"), ("3", None), ("1", None)):
            put(s.log, key, region)
        s.wait_until_processed()
        fetched = s.log.read("BIG", 0, s.log.beginning_offset("BIG", 0))
        out = [(r["key"], None if r["value"] is None else orjson.loads(r["value"])["N"])
               for r in fetched.records.select(["key", "value"]).to_pylist()]
    assert out == [(b"a", 2), (b"a", None), (b"b", 2), (b"b", None)]


def test_kill_9_at_random_points_leaves_the_table_exact(tmp_path: Path) -> None:
    """20 kill -9s while aggregating; the final table equals a reference computed in Python."""
    root = str(tmp_path)
    log = EmbeddedLog(root)
    log.create_topic("clickstream", 1)
    statements = CLICKS + (
        "CREATE TABLE per_min AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM clickstream "
        "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY userid EMIT CHANGES;"
    )
    rng = random.Random(20261122)
    events = [(i * 0.05, {"userid": rng.randrange(50), "bytes": rng.randrange(1000)}) for i in range(40_000)]
    reference: dict[tuple[int, int], tuple[int, int]] = {}
    for seconds, value in events:
        window = T0 + int(seconds * 1000) // 60_000 * 60_000
        n, b = reference.get((value["userid"], window), (0, 0))  # type: ignore[arg-type]
        reference[(value["userid"], window)] = (n + 1, b + value["bytes"])  # type: ignore[index, operator]

    def start(mode: str) -> subprocess.Popen[str]:
        return start_engine(root, statements, create=mode == "create")

    chunks = [events[i:i + 2000] for i in range(0, len(events), 2000)]
    proc = start("create")
    try:
        for chunk in chunks:
            records = [Record(orjson.dumps(v), timestamp=T0 + int(s * 1000)) for s, v in chunk]
            log.append("clickstream", 0, records)
            time.sleep(rng.random() * 0.4)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc = start("resume")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            final = table(log, "PER_MIN")
            if sum(v["N"] for v in final.values()) == len(events):
                break
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    final = table(log, "PER_MIN")
    got = {(struct.unpack(">iq", k)[0], struct.unpack(">iq", k)[1]): (v["N"], v["B"]) for k, v in final.items()}
    assert got == reference
    log.close()


def test_windows_past_retention_leave_the_state(session: Session) -> None:
    """A window is dropped once stream time passes its end + retention: pull queries no longer see it."""
    session.execute(CLICKS + "CREATE TABLE per_min AS SELECT userid, COUNT(*) AS n FROM clickstream WINDOW TUMBLING "
                    "(SIZE 60 SECONDS, RETENTION 2 MINUTES, GRACE PERIOD 0 SECONDS) GROUP BY userid;")
    send(session.log, "clickstream", [(0, {"userid": 1, "bytes": 1}), (100, {"userid": 1, "bytes": 1})])
    session.wait_until_processed()
    assert session.query("SELECT WINDOWSTART, N FROM per_min WHERE userid = 1;").rows == [[T0, 1], [T0 + 60_000, 1]]
    send(session.log, "clickstream", [(180, {"userid": 2, "bytes": 1})])  # stream time = end of [T0, T0+60 s) + 2 min
    session.wait_until_processed()
    assert session.query("SELECT WINDOWSTART, N FROM per_min WHERE userid = 1;").rows == [[T0 + 60_000, 1]]
