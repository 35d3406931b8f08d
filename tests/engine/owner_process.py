"""Processes for the ownership kill tests: an engine that claims (or takes over) a service, and a feeder.

The engine writes, every 0.1 s, a status file with its queries' states, so a
test can see a fenced process stop its queries (and not retry them).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap

import duckdb
import orjson
import pyarrow as pa

from headwater.log import Log, Record

T0 = 1_700_000_000_000
#: A CSAS that copies every record, and a windowed CTAS: the queries the kill tests run.
STATEMENTS = (
    "CREATE STREAM clicks (seq INT, userid INT, bytes INT) WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON');"
    "CREATE STREAM copied AS SELECT seq, userid, bytes FROM clicks EMIT CHANGES;"
    "CREATE TABLE per_min AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM clicks "
    "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY userid EMIT CHANGES;"
)

ENGINE = textwrap.dedent(
    """
    import json, os, sys, time
    from headwater.errors import ServiceOwnedError
    from headwater.session import Session
    root, mode, statements, status = sys.argv[1:5]
    try:
        session = Session(root, properties={"auto.offset.reset": "earliest"}, take_over=mode == "take-over")
    except ServiceOwnedError as exc:
        print("refused:", exc, flush=True)
        sys.exit(3)
    if mode == "create":
        session.execute(statements)
    print("ready", flush=True)
    while True:
        queries = {q.id: {"state": q.state.value, "error": q.stats.last_error,
                          "thread_alive": q._thread is not None and q._thread.is_alive()}
                   for q in session.queries.values()}
        with open(status + ".tmp", "w") as out:
            json.dump({"pid": os.getpid(), "queries": queries, "fenced": session.fenced}, out)
        os.replace(status + ".tmp", status)
        time.sleep(0.1)
    """
)

FEEDER = textwrap.dedent(
    """
    import json, random, sys, time
    from headwater.log import Record
    from headwater.log.embedded import EmbeddedLog
    root, n, chunk, t0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

    def click(i):  # as click() below
        value = {"seq": i, "userid": i % 40, "bytes": (i * 7919) % 1000}
        return Record(json.dumps(value).encode(), timestamp=t0 + i * 50)

    rng = random.Random(7)
    with EmbeddedLog(root) as log:
        for start in range(0, n, chunk):
            records = [click(i) for i in range(start, min(n, start + chunk))]
            log.append("clicks", 0, records)
            time.sleep(rng.random() * 0.3)
    """
)


def start_engine(root: str, mode: str, statements: str, status: str) -> tuple[subprocess.Popen[str], str]:
    """An engine child in ``mode`` create, resume or take-over; returns it and its first line (ready / refused)."""
    with open(status + ".err", "a") as err:  # the child's log, for a failing test's report
        proc = subprocess.Popen([sys.executable, "-c", ENGINE, root, mode, statements, status],
                                stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def start_feeder(root: str, n: int, chunk: int) -> subprocess.Popen[bytes]:
    """Appends records 0..n-1 (see ``click``) in chunks, with random pauses."""
    return subprocess.Popen([sys.executable, "-c", FEEDER, root, str(n), str(chunk), str(T0)])


def read_status(path: str) -> dict[str, object]:
    with open(path) as handle:
        return json.load(handle)  # type: ignore[no-any-return]


def click(i: int) -> Record:
    """Input record ``i``: seq i, 40 users, 20 records a second of event time from T0."""
    return Record(orjson.dumps({"seq": i, "userid": i % 40, "bytes": (i * 7919) % 1000}), timestamp=T0 + i * 50)


def records(log: Log, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    out: list[tuple[bytes | None, bytes | None]] = []
    offset = 0
    while True:
        fetched = log.read(topic, 0, offset)
        if not len(fetched):
            return out
        out += zip(fetched.records.column("key").to_pylist(), fetched.records.column("value").to_pylist(),
                   strict=True)
        offset = fetched.next_offset


def reference(n: int) -> dict[tuple[int, int], tuple[int, int]]:
    """Per (userid, window start): COUNT and SUM of records 0..n-1 (see ``click``), computed by DuckDB."""
    seq = pa.array(range(n), pa.int64())
    inputs = pa.table({"seq": seq})
    rows = duckdb.sql(
        f"SELECT seq % 40 AS userid, ({T0} + seq * 50) // 60000 * 60000 AS ws, COUNT(*), SUM((seq * 7919) % 1000) "
        "FROM inputs GROUP BY ALL"
    ).fetchall()
    return {(int(u), int(w)): (int(n), int(b)) for u, w, n, b in rows}


def check_sinks(log: Log) -> tuple[list[int], dict[tuple[int, int], list[tuple[int, int]]]]:
    copied = [orjson.loads(v)["SEQ"] for _, v in records(log, "COPIED") if v is not None]
    changes: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for key, value in records(log, "PER_MIN"):
        if key is None or value is None:
            continue
        userid, window = struct.unpack(">iq", key)
        decoded = orjson.loads(value)
        changes.setdefault((userid, window), []).append((decoded["N"], decoded["B"]))
    return copied, changes
