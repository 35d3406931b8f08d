"""Kill test: second engines on a running engine's directory, refused or taking over, and kill -9s.

A feeder process appends N records while engines come and go: some are
refused (the owner is alive), some take the service over (fencing the
owner, which stays alive as a zombie), owners and zombies are killed with
SIGKILL at random moments. At the end the CSAS sink holds every input record
exactly once, and the windowed CTAS's changes per window only ever grow and
end at the counts and sums DuckDB computes from the input.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from headwater.log.embedded import EmbeddedLog
from tests.engine.owner_process import (
    STATEMENTS,
    check_sinks,
    click,
    read_status,
    reference,
    start_engine,
    start_feeder,
)

N = 20_000
TAIL = 1_000  # appended by the test itself, after the last engine came or went
def test_second_engines_refused_or_taking_over_with_kill_9s_never_double(tmp_path: Path) -> None:
    root = str(tmp_path / "data")
    log = EmbeddedLog(root)
    log.create_topic("clicks", 1)
    rng = random.Random(20261206)
    children: list[subprocess.Popen[str]] = []
    statuses: dict[int, str] = {}

    def engine(mode: str) -> tuple[subprocess.Popen[str], str]:
        status = str(tmp_path / f"engine-{len(children)}.json")
        proc, first = start_engine(root, mode, STATEMENTS, status)
        children.append(proc)
        statuses[proc.pid] = status
        return proc, first

    owner, first = engine("create")
    assert first == "ready"
    zombies: list[subprocess.Popen[str]] = []
    refused = taken_over = killed = 0
    feeder = start_feeder(root, N - TAIL, 200)
    schedule = ["refuse", "take-over", "kill-owner", "take-over", "kill-zombie", "refuse", "take-over",
                "kill-owner", "take-over", "kill-zombie", "refuse"]
    rng.shuffle(schedule)
    try:
        for action in schedule:
            time.sleep(rng.uniform(0.0, 0.8))
            if action == "refuse":
                proc, first = engine("resume")
                assert proc.wait(30) == 3
                assert first.startswith("refused:") and "owned by process" in first, first
                if owner.poll() is None:
                    assert f"process {owner.pid}" in first, first  # the message names the live owner
                refused += 1
            elif action == "take-over":
                proc, first = engine("take-over")
                assert first == "ready"
                zombies.append(owner)
                owner = proc
                taken_over += 1
            elif action == "kill-owner":
                os.kill(owner.pid, signal.SIGKILL)
                owner.wait()
                killed += 1
                # A zombie may still hold the lock: the new owner takes over from it.
                owner, first = engine("take-over" if any(z.poll() is None for z in zombies) else "resume")
                assert first == "ready"
            elif action == "kill-zombie" and zombies:
                zombie = zombies.pop(rng.randrange(len(zombies)))
                os.kill(zombie.pid, signal.SIGKILL)
                zombie.wait()
                killed += 1
        assert feeder.wait(120) == 0
        # The last records arrive once every zombie exists: each of them sees input, so each tries to commit.
        log.append("clicks", 0, [click(i) for i in range(N - TAIL, N)])
        deadline = time.monotonic() + 120
        expected = reference(N)
        while time.monotonic() < deadline:
            copied, changes = check_sinks(log)
            if len(copied) >= N and {k: v[-1] for k, v in changes.items()} == expected:
                break
            time.sleep(0.5)
        # Every zombie still alive stopped its queries for good, saying why.
        for zombie in zombies:
            if zombie.poll() is None:
                status = read_status(statuses[zombie.pid])
                queries = status["queries"]
                assert isinstance(queries, dict) and queries
                for query in queries.values():
                    assert query["state"] == "ERROR" and query["error"].startswith("fenced"), status
                    assert not query["thread_alive"], status
    finally:
        for proc in children:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        if feeder.poll() is None:
            os.kill(feeder.pid, signal.SIGKILL)
            feeder.wait()
    copied, changes = check_sinks(log)
    assert sorted(copied) == list(range(N)), f"{len(copied) - len(set(copied))} doubled, {N - len(set(copied))} lost"
    for window, values in changes.items():
        counts = [n for n, _ in values]
        assert counts == sorted(set(counts)), f"window {window}: a change was emitted twice: {counts}"
    assert {k: v[-1] for k, v in changes.items()} == expected
    assert (refused, taken_over) == (3, 4) and killed >= 2, (refused, taken_over, killed)
    log.close()
