"""Processes for the ownership kill tests: an engine that claims (or takes over) a service, and a feeder.

The engine writes, every 0.1 s, a status file with its queries' states, so a
test can see a fenced process stop its queries (and not retry them).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

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
    rng = random.Random(7)
    with EmbeddedLog(root) as log:
        for start in range(0, n, chunk):
            records = [Record(json.dumps({"seq": i, "userid": i % 40, "bytes": (i * 7919) % 1000}).encode(),
                              timestamp=t0 + i * 50) for i in range(start, min(n, start + chunk))]
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


def start_feeder(root: str, n: int, chunk: int, t0: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", FEEDER, root, str(n), str(chunk), str(t0)])


def read_status(path: str) -> dict[str, object]:
    with open(path) as handle:
        return json.load(handle)  # type: ignore[no-any-return]
