"""A real ``headwater up`` process on a free 127.0.0.1 port, for tests that need one (restart, kill -9)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``headwater up`` with the given arguments; ``start``/``kill``/``stop`` by its own pid."""

    def __init__(self, log_dir: Path, *args: str, port: int | None = None,
                 env: dict[str, str] | None = None, ca_file: str | None = None) -> None:
        """``ca_file``: the server serves HTTPS (``--tls-cert``) with a certificate this file verifies."""
        self.log_dir = log_dir
        self.extra_env = env or {}
        self.args = args
        self.port = port or free_port()
        self.verify: str | bool = ca_file or True
        self.url = f"{'https' if ca_file else 'http'}://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        #: What the process printed, once it has stopped.
        self.output: str | None = None

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.extra_env}
        cmd = [sys.executable, "-m", "headwater.cli", "up", "--log", str(self.log_dir), "--port", str(self.port),
               "--log-level", "warning", *self.args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"headwater up exited with {self.proc.returncode}: {out}")
            try:
                if httpx.get(self.url + "/healthcheck", timeout=1.0, verify=self.verify).text == "Alive":
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"headwater up did not answer within {timeout_s} s")

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if self.proc is not None and self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM, then wait for a graceful exit (kill -9 after the timeout); the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stdout and not self.proc.stdout.closed:
            self.output = self.proc.stdout.read().decode(errors="replace")
            self.proc.stdout.close()
        return self.proc.returncode
