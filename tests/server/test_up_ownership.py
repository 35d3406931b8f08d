"""`headwater up` and `headwater sql --embedded` on one data directory: refused, or taking over; never doubled.

A second `headwater up` on the directory is refused too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from headwater.log.embedded import EmbeddedLog
from tests.engine.owner_process import STATEMENTS, check_sinks, click, reference
from tests.server.server_process import ROOT, ServerProcess

SQL = [sys.executable, "-c", "from headwater.cli import app; app(prog_name='headwater')", "sql"]


def ksql(server: ServerProcess, text: str, **properties: str) -> list[dict[str, object]]:
    answer = httpx.post(server.url + "/ksql", json={"ksql": text, "streamsProperties": properties}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def query_states(server: ServerProcess) -> list[str]:
    return [str(q["state"]) for q in ksql(server, "SHOW QUERIES;")[0]["queries"]]  # type: ignore[union-attr]


def until(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_sql_embedded_next_to_up_is_refused_or_takes_over_and_never_doubles(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = EmbeddedLog(str(data))
    log.create_topic("clicks", 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    sent = 0

    def send(n: int) -> None:
        nonlocal sent
        log.append("clicks", 0, [click(i) for i in range(sent, sent + n)])
        sent += n

    def copied() -> int:
        return len(check_sinks(log)[0])

    server = ServerProcess(data).start()
    shell: subprocess.Popen[str] | None = None
    try:
        assert server.proc is not None
        ksql(server, STATEMENTS, **{"auto.offset.reset": "earliest"})
        send(2000)
        until(lambda: copied() >= 2000, "the server's queries")

        # The README's mistake: a shell on the server's directory. It opens read-only and says where to go:
        # reading works, a statement that would start a query is refused, and nothing reaches the command log.
        script = tmp_path / "show.sql"
        script.write_text("SHOW QUERIES;\nSELECT * FROM per_min WHERE userid = 3;\n")
        looked = subprocess.run([*SQL, "--embedded", "--log", str(data), "-f", str(script)], env=env,
                                capture_output=True, text=True, timeout=60)
        assert looked.returncode == 0, looked.stderr
        message = " ".join(looked.stderr.split())
        assert f"process {server.proc.pid} runs the persistent queries" in message, message
        assert "read-only" in message and "headwater sql [SERVER]" in message and "--take-over" in message, message
        assert "CTAS_PER_MIN" in looked.stdout and "| 3 " in looked.stdout.replace("|3 ", "| 3 "), looked.stdout
        script.write_text("CREATE STREAM big AS SELECT * FROM clicks WHERE bytes > 500 EMIT CHANGES;\n")
        refused = subprocess.run([*SQL, "--embedded", "--log", str(data), "-f", str(script)], env=env,
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "read-only" in refused.stderr, refused.stderr
        assert len(query_states(server)) == 2
        # So is a second server on the directory.
        with pytest.raises(RuntimeError, match=rf"exited with 1: .*owned by process {server.proc.pid}"):
            ServerProcess(data).start()
        send(1000)
        until(lambda: copied() >= 3000, "the server, still the owner")
        assert query_states(server) == ["RUNNING", "RUNNING"]

        # Taking over: the shell runs the queries, the server's are fenced at their next commit and stop.
        shell = subprocess.Popen([*SQL, "--embedded", "--take-over", "--log", str(data)], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while query_states(server) != ["ERROR", "ERROR"]:
            assert shell.poll() is None, shell.stderr.read() if shell.stderr else ""
            assert time.monotonic() < deadline, "the server's queries were never fenced"
            send(100)
            time.sleep(0.3)
        send(1000)
        until(lambda: copied() >= sent, "the shell's queries")
        assert query_states(server) == ["ERROR", "ERROR"]  # stopped for good: no retry, no output

        # kill -9 of the shell while records arrive, then the server comes back and resumes.
        send(500)
        os.kill(shell.pid, signal.SIGKILL)
        shell.wait()
        send(500)
        server.stop()
        server = ServerProcess(data).start()
        until(lambda: copied() >= sent, "the restarted server")
        assert query_states(server) == ["RUNNING", "RUNNING"]

        # Once more, with kill -9 of the server while the shell takes over.
        shell = subprocess.Popen([*SQL, "--embedded", "--take-over", "--log", str(data)], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        send(700)
        server.kill()
        send(700)
        expected = reference(sent)
        until(lambda: copied() >= sent and {k: v[-1] for k, v in check_sinks(log)[1].items()} == expected,
              "the shell after the server's kill -9", timeout_s=120)
    finally:
        if shell is not None and shell.poll() is None:
            os.kill(shell.pid, signal.SIGKILL)
            shell.wait()
        server.kill()
        server.stop()
    copied_seqs, changes = check_sinks(log)
    assert sorted(copied_seqs) == list(range(sent)), f"{len(copied_seqs) - len(set(copied_seqs))} doubled"
    for window, values in changes.items():
        counts = [n for n, _ in values]
        assert counts == sorted(set(counts)), f"window {window}: a change was emitted twice: {counts}"
    assert {k: v[-1] for k, v in changes.items()} == reference(sent)
    log.close()
