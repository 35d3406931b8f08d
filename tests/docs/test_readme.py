"""Every README example runs as written, from a fresh directory, twice in a row (so they are re-runnable).

Python blocks run in this process. ``bash`` blocks run with ``bash -e`` in
the directory, with a ``headwater`` command of this checkout first on PATH, in
README order, as a newcomer copies them: ``bash needs-server`` blocks talk to
the README's first server command (``headwater up --write-key my-key
--connect-allow-host 127.0.0.1``), which the test runs in the same
directory; ``bash starts-server`` blocks start each line and wait until it
answers /healthcheck, then stop it. Ports of the README
(8088, 9000, 9092) become free ones. ``sh`` blocks (``make demo``) are not run
here. Nothing may be left in the repository by any of it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TEXT = README.read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)
SHELL_BLOCKS = re.findall(r"```bash( [a-z-]+)?\n(.*?)```", TEXT, flags=re.S)
BLOCK_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))])
def test_readme_python_block_runs_twice(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(README), "exec"), {})  # noqa: S102 - the README is ours
        for expected in re.findall(r"# (\[\[.*\]\]|\[.*\])\s*$", block, flags=re.M):
            assert expected in out.getvalue()
    assert os.listdir(tmp_path) == []  # temporary directories, nothing left where the user stands


def _shim(directory: Path) -> dict[str, str]:
    """An environment whose ``headwater``, ``python`` and ``pip`` are this checkout's."""
    bin_dir = directory / ".bin"
    bin_dir.mkdir()
    for name, command in (("headwater", "-m headwater"), ("python", ""), ("pip", "-m pip")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" {command} "$@"\n')
        script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PYTHONPATH=str(ROOT), COLUMNS="120")
    return env


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"no server on port {port} after {timeout_s} s")


def _stop(proc: subprocess.Popen[bytes], group: bool = False) -> None:
    """SIGTERM (to the process group of a ``bash -c`` line), then wait; kill after 30 s."""
    if proc.poll() is None:
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.kill()
            proc.wait()


def _run_block(kind: str, block: str, cwd: Path, env: dict[str, str]) -> None:
    if kind == "starts-server":
        for n, line in enumerate(block.splitlines()):
            command = line.split("#", 1)[0].strip()
            if not command:
                continue
            port = _free_port()
            command = re.sub(r"HEADWATER_PORT=\d+", f"HEADWATER_PORT={port}", command)
            where = cwd / f"server-{n}"
            where.mkdir(exist_ok=True)
            proc = subprocess.Popen(["bash", "-c", command], cwd=where, env={**env, "HEADWATER_PORT": str(port)},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                _wait_healthy(port, proc)
            finally:
                _stop(proc, group=True)
        return
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=BLOCK_TIMEOUT_S)
    assert done.returncode == 0, f"README block failed ({done.returncode}):\n{block}\n{done.stdout}\n{done.stderr}"
    assert "Error" not in done.stderr and "error_code" not in done.stdout, f"{block}\n{done.stdout}\n{done.stderr}"


@pytest.mark.slow  # about two minutes here: three servers started and stopped twice, a Kafka broker twice
def test_readme_shell_blocks_run_twice(tmp_path: Path) -> None:
    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    env = _shim(tmp_path)
    port, broker_port = _free_port(), _free_port()
    blocks = [(kind.strip(), body.replace("8088", str(port)).replace("9092", str(broker_port)))
              for kind, body in SHELL_BLOCKS]
    first = next(body for kind, body in SHELL_BLOCKS if kind.strip() == "starts-server").splitlines()[0]
    command = first.split("#", 1)[0].split()  # the README's first server, as the reader starts it
    assert command[:2] == ["headwater", "up"], first
    server = subprocess.Popen([sys.executable, "-m", "headwater", *command[1:], "--port", str(port)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(port, server)
        for _ in range(2):
            for kind, body in blocks:
                _run_block(kind, body, tmp_path, env)
        stream = httpx.post(f"http://127.0.0.1:{port}/query-stream", timeout=30, json={
            "sql": "SELECT * FROM errors EMIT CHANGES LIMIT 3;", "properties": {"auto.offset.reset": "earliest"}})
        assert stream.status_code == 200 and len(stream.text.strip().splitlines()) == 4  # header + 3 rows, ended
        assert (tmp_path / "headwater-data" / "connect-files" / "output.txt").exists()
    finally:
        _stop(server)
    after = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    assert after == before  # nothing written in the repository


def test_read_only_commands_refuse_a_missing_log(tmp_path: Path) -> None:
    env = _shim(tmp_path)
    for command in ("topics list", "topics describe t", "print t"):
        done = subprocess.run(["bash", "-c", f"headwater {command} --log ./mistyped"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and "no log at ./mistyped" in done.stderr
    assert not (tmp_path / "mistyped").exists()
    version = subprocess.run(["bash", "-c", "headwater --version"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=60)
    assert version.stdout.startswith("headwater ")
    helped = subprocess.run(["bash", "-c", "headwater up --help"], cwd=tmp_path, env={**env, "COLUMNS": "300"},
                            capture_output=True, text=True, timeout=60)
    assert "pip install 'headwater[http2]'" in helped.stdout
