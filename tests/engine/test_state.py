"""State stores: a compacted changelog keyed by state row, snapshot + tail restores, old changelogs,
and pull queries that never see a half-applied batch or a half-restored store."""

from __future__ import annotations

import io
import logging
import os
import random
import shutil
import signal
import struct
import threading
import time
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from headwater.engine.aggregate import AggregateOperator
from headwater.engine.query import PersistentQuery
from headwater.engine.row_codec import FixedRowCodec
from headwater.engine.state import StoreNotReadyError
from headwater.log import Record, TopicPartition
from headwater.log.embedded import EmbeddedLog
from headwater.session import Session
from tests.engine.engine_process import start_engine
from tests.engine.test_aggregate import CLICKS, T0, send, table
from tests.engine.test_aggregate import session as session  # noqa: F401  (the fixture)

PER_MIN = ("CREATE TABLE per_min AS SELECT userid, COUNT(*) AS n FROM clickstream "
           "WINDOW TUMBLING (SIZE 60 SECONDS, RETENTION 2 MINUTES, GRACE PERIOD 0 SECONDS) GROUP BY userid;")
TOTALS = "CREATE TABLE totals AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM clickstream GROUP BY userid;"


def aggregate(session: Session) -> PersistentQuery:
    query = next(q for q in session.queries.values() if isinstance(q.operator, AggregateOperator))
    return query


def operator(session: Session) -> AggregateOperator:
    found = aggregate(session).operator
    assert isinstance(found, AggregateOperator)
    return found


def changelog_records(log: EmbeddedLog, topic: str) -> list[tuple[bytes, bytes | None]]:
    out = []
    offset = log.beginning_offset(topic, 0)
    while offset < log.end_offset(topic, 0):
        fetched = log.read(topic, 0, offset)
        out += [(r["key"], r["value"]) for r in fetched.records.select(["key", "value"]).to_pylist()]
        offset = fetched.next_offset
    return out


def fill(log: EmbeddedLog, users: int, per_user: int = 1, start: int = 0) -> None:
    """``users * per_user`` clicks, user i of each round sending ``bytes`` = i; appended in large batches."""
    rows = [Record(orjson.dumps({"userid": u, "bytes": u}), timestamp=T0 + start + r)
            for r in range(per_user) for u in range(users)]
    for i in range(0, len(rows), 50_000):
        log.append("clickstream", 0, rows[i:i + 50_000])


def test_the_changelog_is_compacted_and_keyed_by_state_row(session: Session) -> None:
    session.execute(CLICKS + PER_MIN)
    send(session.log, "clickstream", [(0, {"userid": 1}), (1, {"userid": 2}), (2, {"userid": 1}), (70, {"userid": 1})])
    session.wait_until_processed()
    query = aggregate(session)
    assert session.log.describe_topic(query.operator.changelog).setting("cleanup.policy") == "compact"
    keys = FixedRowCodec(["g0", "ws"], ["INTEGER", "BIGINT"])  # both fixed width: packed, not JSON

    def latest() -> dict[tuple[int, int], bytes | None]:
        records = [(k, v) for k, v in changelog_records(session.log, query.operator.changelog) if k.startswith(b"s|")]
        decoded = keys.decode(pa.array([k for k, _ in records], pa.binary()), skip=2).to_pylist()
        return {(d["g0"], d["ws"]): v for d, (_, v) in zip(decoded, records)}

    # One key per (user, window), whose newest record holds the row.
    assert set(latest()) == {(1, T0), (2, T0), (1, T0 + 60_000)}
    assert all(v is not None for v in latest().values())
    # A window past retention leaves the state with a tombstone.
    send(session.log, "clickstream", [(240, {"userid": 3})])
    session.wait_until_processed()
    # (stream time 240 s: every window ending at or before 120 s is past its 2 minutes of retention)
    assert latest() == {**{k: None for k in [(1, T0), (2, T0), (1, T0 + 60_000)]},
                        (3, T0 + 240_000): latest()[(3, T0 + 240_000)]}
    assert latest()[(3, T0 + 240_000)] is not None


def test_a_restart_loads_the_snapshot_and_replays_only_the_tail(tmp_path: Path) -> None:
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(CLICKS + TOTALS)
        fill(s.log, 2_000, per_user=3)
        s.wait_until_processed()
    assert os.path.exists(tmp_path / "state" / "CTAS_TOTALS_1" / "meta.json")  # written on stop
    with Session(str(tmp_path)) as s:
        s.wait_until_processed()
        assert operator(s).restored_records == 0
        fill(s.log, 10, start=10)
        s.wait_until_processed()
        rows = sorted(s.query("SELECT * FROM totals;").rows)
    expected = sorted([u, 3 + (u < 10), u * (3 + (u < 10))] for u in range(2_000))
    assert rows == expected
    # After a kill (no snapshot on stop), the tail since the last snapshot is replayed: still exact.
    with Session(str(tmp_path)) as s:
        fill(s.log, 5)
        s.wait_until_processed()
        query = aggregate(s)
        query.operator.finish = lambda con: None  # type: ignore[method-assign]  # as if killed: no snapshot on stop
    with Session(str(tmp_path)) as s:
        s.wait_until_processed()
        assert 0 < operator(s).restored_records < 100
        rows = sorted(s.query("SELECT * FROM totals;").rows)
    assert rows == sorted([u, 3 + (u < 10) + (u < 5), u * (3 + (u < 10) + (u < 5))] for u in range(2_000))


def test_without_a_snapshot_the_changelog_alone_restores(tmp_path: Path) -> None:
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(CLICKS + TOTALS)
        fill(s.log, 300, per_user=2)
        s.wait_until_processed()
    shutil.rmtree(tmp_path / "state")
    with Session(str(tmp_path)) as s:
        s.wait_until_processed()
        assert sorted(s.query("SELECT * FROM totals;").rows) == sorted([u, 2, 2 * u] for u in range(300))


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def test_an_old_format_changelog_still_restores_and_is_migrated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A data directory from before keyed stores: Arrow IPC chunks all keyed ``state``, never compacted."""
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(CLICKS + "CREATE TABLE totals AS SELECT userid, COUNT(*) AS n FROM clickstream GROUP BY userid;")
        s.wait_until_processed()
        query = aggregate(s)
        topic, group = query.operator.changelog, query.group
    shutil.rmtree(tmp_path / "state", ignore_errors=True)
    log = EmbeddedLog(str(tmp_path))
    log.delete_topic(topic)
    log.create_topic(topic, 1, {"retention.ms": "-1"})
    fill(log, 4, per_user=2)  # users 0..3, two clicks each
    chunk = pa.table({"g0": pa.array([0, 1, 2, 3], pa.int32()), "ws": [0] * 4, "we": [0] * 4, "s0_0": [1, 2, 2, 9],
                      "__ts": [T0] * 4, "__emitted": [False] * 4})
    fixed = pa.table({"g0": pa.array([0], pa.int32()), "ws": [0], "we": [0], "s0_0": [2], "__ts": [T0],
                      "__emitted": [False]})
    gone = pa.table({"g0": pa.array([3], pa.int32()), "ws": [0]})
    log.append(topic, 0, [Record(_ipc(chunk), b"state"), Record(_ipc(fixed), b"state"),
                          Record(None, b"state", headers=[("deleted", _ipc(gone)),
                                                          ("stream_time", b'{"0": %d}' % (T0 + 1))])])
    # Offsets 0..5 (users 0, 1, 2, 3, 0, 1) were processed; 3's row was then deleted; 6 and 7 (users 2, 3) were not.
    log.commit(group, {TopicPartition("clickstream", 0): 6})
    log.close()
    with caplog.at_level(logging.WARNING), Session(str(tmp_path)) as s:
        s.wait_until_processed()
        assert sorted(s.query("SELECT * FROM totals;").rows) == [[0, 2], [1, 2], [2, 3], [3, 1]]
    assert "old format" in caplog.text
    with Session(str(tmp_path)) as s:  # the snapshot taken at migration covers the old records
        s.wait_until_processed()
        assert operator(s).restored_records == 0
        fill(s.log, 2)
        s.wait_until_processed()
        assert sorted(s.query("SELECT * FROM totals;").rows) == [[0, 3], [1, 3], [2, 3], [3, 1]]
    shutil.rmtree(tmp_path / "state")
    with Session(str(tmp_path)) as s:  # no snapshot: old records, then the reset and the keyed dump
        s.wait_until_processed()
        assert sorted(s.query("SELECT * FROM totals;").rows) == [[0, 3], [1, 3], [2, 3], [3, 1]]


def test_pull_queries_under_writes_see_whole_batches(session: Session) -> None:
    """Every pull answers all 50 keys: a batch's DELETE and INSERT are never seen apart."""
    session.execute(CLICKS + TOTALS)
    fill(session.log, 50)
    session.wait_until_processed()
    stop = threading.Event()

    def write() -> None:
        start = 1
        while not stop.is_set():
            fill(session.log, 50, per_user=20, start=start)
            start += 20

    writer = threading.Thread(target=write)
    writer.start()
    try:
        answers = [len(session.query("SELECT * FROM totals;").rows) for _ in range(150)]
    finally:
        stop.set()
        writer.join()
    assert answers == [50] * 150


def test_pull_queries_during_a_restore_wait_or_say_not_ready(tmp_path: Path) -> None:
    users = 100_000
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(CLICKS + TOTALS)
        fill(s.log, users)
        s.wait_until_processed(timeout_s=120)
    shutil.rmtree(tmp_path / "state")  # restore from the changelog alone: the slow path
    answers: list[int | str] = []
    ready = threading.Event()
    holder: list[Session] = []

    def hammer() -> None:
        while not holder:
            ready.wait(0.001)
        while not ready.is_set():
            try:
                answers.append(len(holder[0].query("SELECT * FROM totals;").rows))
            except StoreNotReadyError as exc:
                answers.append(str(exc))

    thread = threading.Thread(target=hammer)
    thread.start()
    with Session(str(tmp_path)) as s:
        holder.append(s)
        query = aggregate(s)
        try:
            with pytest.raises(StoreNotReadyError, match="not RUNNING"):
                while True:  # the restore is under way, so a pull that cannot wait is refused
                    query.operator.snapshot(timeout_s=0)
                    if query.caught_up():
                        pytest.skip("the restore finished before a pull could see it")
            s.wait_until_processed(timeout_s=120)
            assert len(s.query("SELECT * FROM totals;").rows) == users  # whole right after the wait
        finally:
            ready.set()
            thread.join()
    assert answers
    assert all(a == users or (isinstance(a, str) and "not RUNNING" in a) for a in answers), set(map(str, answers))


def test_kill_9_with_a_snapshot_before_every_batch_leaves_the_table_exact(tmp_path: Path) -> None:
    """Restores from snapshot + tail at random points, with windows expiring (tombstones) meanwhile."""
    root = str(tmp_path)
    log = EmbeddedLog(root)
    log.create_topic("clickstream", 1)
    statements = CLICKS + (
        "CREATE TABLE per_min AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM clickstream "
        "WINDOW TUMBLING (SIZE 60 SECONDS, RETENTION 3 MINUTES) GROUP BY userid EMIT CHANGES;"
    )
    rng = random.Random(20261206)
    events = [(i * 0.05, {"userid": rng.randrange(50), "bytes": rng.randrange(1000)}) for i in range(20_000)]
    reference: dict[tuple[int, int], tuple[int, int]] = {}
    for seconds, value in events:
        window = T0 + int(seconds * 1000) // 60_000 * 60_000
        n, b = reference.get((value["userid"], window), (0, 0))  # type: ignore[arg-type]
        reference[(value["userid"], window)] = (n + 1, b + value["bytes"])  # type: ignore[index, operator]
    env = {"HEADWATER_TEST_SNAPSHOT_EVERY_BATCH": "1"}
    proc = start_engine(root, statements, create=True, env=env)
    try:
        for i in range(0, len(events), 2000):
            records = [Record(orjson.dumps(v), timestamp=T0 + int(s * 1000)) for s, v in events[i:i + 2000]]
            for j in range(0, len(records), 250):  # batches arriving apart: several per run, many snapshots
                log.append("clickstream", 0, records[j:j + 250])
                time.sleep(0.03)
            time.sleep(rng.random() * 0.3)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc = start_engine(root, statements, create=False, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if sum(v["N"] for v in table(log, "PER_MIN").values()) == len(events):  # type: ignore[index]
                break
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    final = table(log, "PER_MIN")
    got = {struct.unpack(">iq", k): (v["N"], v["B"]) for k, v in final.items()}  # type: ignore[index]
    assert got == reference
    assert os.listdir(tmp_path / "state" / "CTAS_PER_MIN_1")  # snapshots were taken
    log.close()
