"""A click test runner whose results keep stderr apart on every click the project supports."""

from __future__ import annotations

import inspect

from typer.testing import CliRunner


def cli_runner() -> CliRunner:
    """``result.stderr`` apart from ``result.stdout``: click 8.2+ always keeps it apart; 8.1 (what typer 0.15.4,
    the lowest typer, allows) only when asked with ``mix_stderr=False``, an argument 8.2 removed."""
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # click < 8.2
    return CliRunner()
