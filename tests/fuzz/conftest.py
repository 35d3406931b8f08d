"""The fuzz suites' figures: one JSON line after the run with inputs, crashes, hangs, 5xx and RSS."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fuzz.harness import TALLY, rss_mb


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """FUZZ_TARGET (a job of ``parallel.py``): only that target's test; the other tests run in the job of "sql"."""
    target = os.environ.get("FUZZ_TARGET")
    if not target:
        return
    keep, drop = [], []
    for item in items:
        own = getattr(getattr(item, "function", None), "fuzz_target", None)
        (keep if own == target or (own is None and target == "sql") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    TALLY.rss_before_mb = rss_mb()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Counts the inputs and seconds of each fuzz target apart."""
    target = getattr(getattr(item, "function", None), "fuzz_target", None)
    if target is None:
        return (yield)
    TALLY.target = target
    started, cpu = time.monotonic(), time.process_time()
    try:
        return (yield)
    finally:
        TALLY.seconds[target] = TALLY.seconds.get(target, 0.0) + time.monotonic() - started
        TALLY.cpu_seconds[target] = TALLY.cpu_seconds.get(target, 0.0) + time.process_time() - cpu


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for failure in TALLY.first_failures:
        terminalreporter.write_line(f"first failures: {failure}")
    if TALLY.inputs:
        terminalreporter.write_line(json.dumps({"suite": "fuzz", **TALLY.line(final=True)}))
