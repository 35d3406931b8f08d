"""The fuzz suites' figures: one JSON line after the run with inputs, crashes, hangs, 5xx and RSS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fuzz.harness import TALLY, rss_mb


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    TALLY.rss_before_mb = rss_mb()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for failure in TALLY.first_failures:
        terminalreporter.write_line(f"first failures: {failure}")
    if TALLY.inputs:
        terminalreporter.write_line(json.dumps({"suite": "fuzz", **TALLY.line()}))
