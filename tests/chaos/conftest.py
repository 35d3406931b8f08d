"""The chaos suites' figures: each test adds one JSON object, printed alone on a line after the run."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

FIGURES: list[dict[str, Any]] = []


@pytest.fixture
def figures() -> Iterator[list[dict[str, Any]]]:
    """The run's figures; a test's lines are also appended to the file CHAOS_FIGURES names as soon as it ends
    (a long run's figures so far)."""
    before = len(FIGURES)
    yield FIGURES
    if os.environ.get("CHAOS_FIGURES"):
        with open(os.environ["CHAOS_FIGURES"], "a") as out:
            out.writelines(json.dumps(line) + "\n" for line in FIGURES[before:])


def profile_int(name: str, short: int) -> int:
    """A figure of the profile: the short one's, unless the long run (``make chaos``) sets the variable."""
    return int(os.environ.get(name, short))


TOTALS = ("cycles", "inputs", "acknowledged", "lost", "doubled", "5xx", "crashes", "hangs")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per run, then the sums over every run as the last line."""
    for line in FIGURES:
        terminalreporter.write_line(json.dumps(line))
    if FIGURES:
        totals = {key: sum(int(line.get(key, 0)) for line in FIGURES) for key in TOTALS}
        terminalreporter.write_line(json.dumps({"suite": "chaos+outage", **totals}))
