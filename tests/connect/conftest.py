"""Fixtures of the connector tests: a runtime factory on a temporary embedded log."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headwater.connect.runtime import ConnectRuntime
from headwater.log import Log, open_log


@pytest.fixture
def connect_log(tmp_path: Path) -> Iterator[Log]:
    with open_log(os.path.join(tmp_path, "log")) as log:
        yield log


@pytest.fixture
def runtime_factory(connect_log: Log) -> Iterator[Callable[[], ConnectRuntime]]:
    """New runtimes on the same log (a restart of the process is close() + a new one)."""
    made: list[ConnectRuntime] = []

    def make() -> ConnectRuntime:
        runtime = ConnectRuntime(connect_log, worker_id="127.0.0.1:8083")
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def wait_until(check: Callable[[], object], timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
