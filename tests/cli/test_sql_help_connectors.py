"""``help`` in ``headwater sql``, and CONNECTOR statements printed as tables (not raw JSON)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from headwater.cli.sql import Shell
from headwater.cli.sql_backend import EmbeddedBackend


def test_help_and_connector_statements_as_tables(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    backend = EmbeddedBackend(str(tmp_path / "log"))
    shell = Shell(backend, Console(file=out, width=160), Console(file=err, width=160))
    lines: Iterator[str] = iter([
        "help",
        f"CREATE SINK CONNECTOR sink1 WITH ('connector.class'='FileStreamSink', 'topics'='t', "
        f"'file'='{tmp_path}/out.txt');",
        "SHOW CONNECTORS;",
        "DESCRIBE CONNECTOR sink1;",
        "DROP CONNECTOR sink1;",
        "DROP CONNECTOR IF EXISTS sink1;",
    ])

    def read(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    try:
        shell.repl(read)
    finally:
        backend.close()
    text = out.getvalue()
    assert err.getvalue() == ""
    assert "SHOW STREAMS;" in text and "pull query" in text  # the help
    assert "Created connector SINK1" in text
    assert "Connector Name" in text and "FileStreamSinkConnector" in text and "RUNNING" in text
    assert "Related Topics" in text and "Task ID" in text
    assert 'Dropped connector "SINK1"' in text and "does not exist" in text
    assert '"@type"' not in text  # never the raw JSON
