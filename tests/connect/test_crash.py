"""kill -9 of the process running a source connector neither loses nor doubles records.

Each poll's records and their source offsets are one log transaction, so
whatever moment the kill hits, the restarted connector continues exactly after
the last committed line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from headwater.log import open_log
from tests.connect.conftest import wait_until

WORKER = """
import sys, time
from headwater.log import open_log
from headwater.connect.runtime import ConnectRuntime
log = open_log(sys.argv[1])
runtime = ConnectRuntime(log)
if "tail" not in runtime.names():
    runtime.create("tail", {"connector.class": "FileStreamSource", "file": sys.argv[2], "topic": "lines",
                            "batch.size": "20",
                            "value.converter": "org.apache.kafka.connect.storage.StringConverter"})
print("ready", flush=True)
time.sleep(600)
"""


def start(log_dir: Path, source: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(log_dir), str(source)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def count(log_dir: Path) -> int:
    with open_log(str(log_dir)) as log:
        return log.end_offset("lines", 0) if "lines" in log.list_topics() else 0


def test_source_connector_survives_kill_9_without_loss_or_duplicates(tmp_path: Path) -> None:
    log_dir, source = tmp_path / "log", tmp_path / "app.log"
    total, chunk = 6000, 200
    source.write_text("")
    written = 0

    def write_chunk() -> None:
        nonlocal written
        with source.open("a") as handle:
            handle.write("".join(f"line {i}\n" for i in range(written, written + chunk)))
        written += chunk

    proc = start(log_dir, source)
    try:
        # The file grows while the worker tails it, so the kill lands mid-stream however fast it runs.
        while written < total // 2:
            write_chunk()
            time.sleep(0.01)
        wait_until(lambda: count(log_dir) > 0, timeout_s=30, what="some lines appended")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        while written < total:
            write_chunk()
        proc = start(log_dir, source)
        wait_until(lambda: count(log_dir) >= total, timeout_s=60, what="all lines after the restart")
        time.sleep(1.2)  # a doubled tail would show up within a poll
    finally:
        proc.kill()
        proc.wait(10)
    with open_log(str(log_dir)) as log:
        values, position = [], 0
        while position < log.end_offset("lines", 0):
            fetched = log.read("lines", 0, position)
            values += fetched.records.column("value").to_pylist()
            position = fetched.next_offset
    assert [v.decode() for v in values] == [f"line {i}" for i in range(total)]
