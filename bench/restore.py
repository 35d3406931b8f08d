"""Restart time of a windowed table: from a new Session to the first full pull-query answer.

Builds a TUMBLING 60 s table (COUNT, SUM per userid, EMIT CHANGES) whose state has
``--state-rows`` (group, window) rows from ``--records`` clickstream records (about
``records / state_rows`` records per row: ``state_rows / 100`` users over 100 minutes of
event time), in a child process that then stops cleanly. A second child opens a Session
on the same directory and pulls ``SELECT * FROM per_min;`` until it gets every row:
``restore_s`` is the time from ``Session(...)`` to that answer (pull queries wait while
the state restores, so the first answer is the full one). The build stops as a kill -9
would (no snapshot on the way out), so the first restart loads the last periodic snapshot
and replays the changelog tail after it (``restore_after_kill_s``); it stops cleanly, so
the second loads a snapshot alone (``restore_s``). A third restart follows the deletion of
the local snapshot, as after a loss of the state directory: the whole changelog is
replayed (``restore_from_changelog_s``).

Ceiling, measured in the same run: DuckDB alone loading the snapshot's Parquet file
(``snapshot_load_s``) and one full pull on the restored table (``pull_s``).

Usage: python -m bench.restore [--records N] [--state-rows N]
Last line: {"state_rows", "input_records", "restore_s", "changelog_records", ...}
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import tempfile
import time

import duckdb

from bench.clickstream import SEED
from headwater.datagen.clickstream import generate
from headwater.log.embedded import EmbeddedLog
from headwater.session import Session

SOURCE = ("CREATE STREAM clickstream (userid INT, bytes BIGINT) "
          "WITH (kafka_topic='clickstream', value_format='json', partitions=1);")
TABLE = ("CREATE TABLE per_min AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS total FROM clickstream "
         "WINDOW TUMBLING (SIZE 60 SECONDS, RETENTION 7 DAYS) GROUP BY userid EMIT CHANGES;")
PULL = "SELECT * FROM per_min;"
MINUTES = 100


def build(root: str, records: int, state_rows: int) -> dict[str, float]:
    users = max(1, state_rows // MINUTES)
    with EmbeddedLog(root) as log:
        log.create_topic("clickstream", 1)
        chunk = 500_000
        rate = max(1, records // (MINUTES * 60))
        for start in range(0, records, chunk):
            table = generate(min(chunk, records - start), seed=SEED + start, users=users, rate_per_s=rate,
                             disorder_ms=0, start_ms=1_790_000_040_000 + start * 1000 // rate)
            for i in range(0, table.num_rows, 50_000):
                log.append("clickstream", 0, table.slice(i, 50_000))
    started = time.perf_counter()
    with Session(root, properties={"auto.offset.reset": "earliest"}) as session:
        session.execute(SOURCE + TABLE)
        session.wait_until_processed(timeout_s=3600)
        built = time.perf_counter() - started
        rows = session.query(PULL).num_rows  # type: ignore[union-attr]
        for query in session.queries.values():  # stop as a kill -9 would: no snapshot on the way out
            query.operator.finish = lambda con: None  # type: ignore[method-assign]
    return {"state_rows": rows, "build_s": built}


def restart(root: str, expected: int) -> dict[str, float]:
    started = time.perf_counter()
    with Session(root) as session:
        while True:
            rows = session.query(PULL).num_rows  # type: ignore[union-attr]
            if rows == expected:
                break
        restore_s = time.perf_counter() - started
        query = next(iter(session.queries.values()))
        replayed = query.operator.restored_records  # type: ignore[attr-defined]
        topic = query.operator.changelog  # type: ignore[attr-defined]
        changelog = session.log.end_offset(topic, 0) - session.log.beginning_offset(topic, 0)
        pulled = time.perf_counter()
        session.query(PULL)
        pull_s = time.perf_counter() - pulled
    return {"restore_s": restore_s, "replayed_records": replayed, "changelog_records": changelog, "pull_s": pull_s}


def snapshot_load(root: str) -> float:
    directory = os.path.join(root, "state")
    files = [os.path.join(d, f) for d, _, names in os.walk(directory) for f in names if f.endswith(".parquet")]
    con = duckdb.connect(config={"threads": 1})
    started = time.perf_counter()
    for path in files:
        con.execute("CREATE OR REPLACE TABLE t AS SELECT * FROM read_parquet(?)", [path]).fetchall()
    return time.perf_counter() - started


def in_child(function, *args):  # type: ignore[no-untyped-def]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--state-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="hw-bench-restore-")
    try:
        built = in_child(build, root, args.records, args.state_rows)
        rows = int(built["state_rows"])
        print(f"built {rows:,} state rows from {args.records:,} records in {built['build_s']:.1f} s", flush=True)
        killed = in_child(restart, root, rows)
        print(f"restart after a kill (last periodic snapshot + changelog tail of {killed['replayed_records']:,} "
              f"records): full answer after {killed['restore_s']:.2f} s", flush=True)
        warm = in_child(restart, root, rows)
        print(f"restart with snapshot: full answer after {warm['restore_s']:.2f} s", flush=True)
        load_s = snapshot_load(root)
        shutil.rmtree(os.path.join(root, "state"))
        cold = in_child(restart, root, rows)
        print(f"restart from the changelog alone: full answer after {cold['restore_s']:.2f} s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({
        "state_rows": rows, "input_records": args.records, "restore_s": round(warm["restore_s"], 3),
        "changelog_records": cold["changelog_records"], "replayed_records": warm["replayed_records"],
        "restore_after_kill_s": round(killed["restore_s"], 3), "replayed_after_kill": killed["replayed_records"],
        "restore_from_changelog_s": round(cold["restore_s"], 3), "pull_s": round(warm["pull_s"], 3),
        "snapshot_load_s": round(load_s, 3), "restore_over_snapshot_load": round(warm["restore_s"] / load_s, 2),
        "build_s": round(built["build_s"], 1),
    }))


if __name__ == "__main__":
    main()
