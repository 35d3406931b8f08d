"""``headwater sql``: an interactive shell like the ksql CLI, or a script runner with ``-f``.

``headwater sql http://127.0.0.1:8088`` talks to a running server through the
ksqlDB REST API; ``headwater sql --embedded [--log DIR]`` runs a Session in
this process. The prompt is ``ksql>``; a statement may span lines and ends
with ``;``; history is kept in ``~/.headwater/sql_history``. Push queries
stream rows until their LIMIT or Ctrl-C, which ends the query and returns to
the prompt (Ctrl-D or ``exit`` leaves). SET/UNSET and DEFINE/UNDEFINE are kept
by the shell and sent with every statement (as the ksql CLI does); RUN SCRIPT
reads the file here. ``-f script.sql`` runs a file and exits 1 at the first
failing statement, naming its line and column.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from headwater.cli.common import LogUrl, app, console, err_console
from headwater.cli.sql_backend import Backend, EmbeddedBackend, HttpBackend, ShellError
from headwater.cli.sql_render import RowPrinter, render_entity
from headwater.errors import HeadwaterError
from headwater.log import DEFAULT_LOG_URL
from headwater.sql import ast
from headwater.sql.entities import variables_list
from headwater.sql.parser import parse_statement
from headwater.sql.script import StatementText, split_statements, substitute_variables

DEFAULT_SERVER = "http://127.0.0.1:8088"
HISTORY_FILE = Path.home() / ".headwater" / "sql_history"

HELP = """Statements end with ';' and may span lines. Ctrl-C stops a running query; Ctrl-D or 'exit' quits.

  SHOW STREAMS; SHOW TABLES; SHOW TOPICS; SHOW QUERIES; SHOW CONNECTORS;   what exists
  DESCRIBE name; DESCRIBE CONNECTOR name; EXPLAIN query_id;               details
  CREATE STREAM s (col TYPE, ...) WITH (kafka_topic='t', value_format='json');
  CREATE STREAM s2 AS SELECT ... FROM s WHERE ...;                        a persistent query
  CREATE TABLE t AS SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY k;
  SELECT * FROM t WHERE k = 1;                                            pull query: the table now
  SELECT * FROM s EMIT CHANGES LIMIT 10;                                  push query: rows as they come
  PRINT 'topic' FROM BEGINNING LIMIT 5;                                   raw records of a topic
  CREATE SINK CONNECTOR c WITH ('connector.class'='FileStreamSink', ...); connectors
  SET 'auto.offset.reset'='earliest';   queries read topics from the beginning
  RUN SCRIPT 'file.sql'; DEFINE name = 'value'; TERMINATE query_id; DROP STREAM s;
Streams are unbounded sequences of events; tables hold the latest value per key (aggregations make
tables). ksqlDB's syntax reference applies: https://docs.ksqldb.io/en/latest/developer-guide/ksqldb-reference/"""


class Shell:
    """Runs statement texts against a backend and prints what comes back."""

    def __init__(self, backend: Backend, out: Console, err: Console) -> None:
        self.backend = backend
        self.out = out
        self.err = err
        self.properties: dict[str, str] = {}
        self.variables: dict[str, str] = {}

    # -- statements --------------------------------------------------------------------
    def run_text(self, text: str, origin: str | None = None) -> None:
        """Run every statement of ``text``; a failure raises ShellError positioned in ``text``."""
        try:
            pieces = split_statements(text)
        except HeadwaterError as exc:
            raise ShellError(_located(origin, str(exc), 1, 1)) from None
        for piece in pieces:
            try:
                self.run_statement(piece)
            except ShellError as exc:
                raise ShellError(_located(origin, str(exc), piece.line, piece.column)) from None

    def run_statement(self, piece: StatementText) -> None:
        try:
            text = substitute_variables(piece.text, self.variables, piece.line, piece.column)
            statement = parse_statement(text, piece.line, piece.column)
        except HeadwaterError as exc:
            raise ShellError(str(exc)) from None
        # Padding keeps the server's line:column relative to the whole input.
        padded = "\n" * (piece.line - 1) + " " * (piece.column - 1) + piece.text
        if isinstance(statement, ast.SetProperty):
            self.properties[statement.name] = statement.value
            self.out.print(Text(f"Successfully changed local property '{statement.name}' to '{statement.value}'. "
                                "Use the UNSET command to revert your change."))
        elif isinstance(statement, ast.UnsetProperty):
            old = self.properties.pop(statement.name, None)
            self.out.print(Text(f"Successfully unset local property '{statement.name}' (value was '{old}')."))
        elif isinstance(statement, ast.DefineVariable):
            self.variables[statement.name] = statement.value
        elif isinstance(statement, ast.UndefineVariable):
            if self.variables.pop(statement.name, None) is None:
                self.out.print(Text(f"Variable '{statement.name}' is undefined"))
        elif isinstance(statement, ast.Show) and statement.kind is ast.ShowKind.VARIABLES:
            render_entity(self.out, variables_list(text.strip(), self.variables))
        elif isinstance(statement, ast.RunScript):
            self.run_script(Path(statement.path))
        elif isinstance(statement, ast.Query):
            self.run_query(padded)
        elif isinstance(statement, ast.Print):
            self.run_print(padded)
        else:
            for entity in self.backend.execute(padded, self.properties, self.variables):
                render_entity(self.out, entity)

    def run_script(self, path: Path) -> None:
        try:
            content = path.read_text()
        except OSError as exc:
            raise ShellError(f"Failed to read file: {path} ({exc.strerror})") from None
        self.run_text(content, str(path))

    def run_query(self, text: str) -> None:
        stream = self.backend.query(text, self.properties, self.variables)
        printer: RowPrinter | None = None
        try:
            printer = RowPrinter(self.out, stream.columns)
            for row in stream.rows():
                printer.row(row)
            printer.end(stream.final)
        except KeyboardInterrupt:  # Ctrl-C ends the query, not the shell
            if printer is not None:
                printer.end("Query terminated")
            else:
                self.out.print(Text("Query terminated"))
        finally:
            stream.close()

    def run_print(self, text: str) -> None:
        lines = self.backend.print_topic(text, self.variables)
        try:
            for line in lines:
                self.out.print(Text(line), soft_wrap=True)
        except KeyboardInterrupt:
            self.out.print(Text("Topic printing ceased"))
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()

    # -- interactive -------------------------------------------------------------------------
    def repl(self, read_line: Callable[[str], str]) -> None:
        """Read statements until EOF or ``exit``; errors are shown and the shell goes on."""
        buffer = ""
        while True:
            try:
                line = read_line("ksql> " if not buffer else ">")
            except KeyboardInterrupt:
                buffer = ""
                continue
            except EOFError:
                self.out.print("Exiting Headwater SQL.")
                return
            word = line.strip().rstrip(";").strip().lower() if not buffer else ""
            if word in ("exit", "quit"):
                self.out.print("Exiting Headwater SQL.")
                return
            if word in ("help", "?"):
                self.out.print(Text(HELP))
                continue
            buffer += line + "\n"
            state = _completeness(buffer)
            if state == "incomplete":
                continue
            text, buffer = buffer, ""
            if state == "empty":
                continue
            try:
                self.run_text(text)
            except ShellError as exc:
                self.err.print(Text(str(exc), style="red"), soft_wrap=True)
            except KeyboardInterrupt:
                self.out.print(Text("Interrupted"))


def _completeness(buffer: str) -> str:
    """"empty", "incomplete" (no final ``;`` yet, or an open quote or comment) or "complete"."""
    try:
        pieces = split_statements(buffer)
    except HeadwaterError:
        return "incomplete"
    if not pieces:
        return "empty"
    return "complete" if pieces[-1].text.rstrip().endswith(";") else "incomplete"


def _located(origin: str | None, message: str, line: int, column: int) -> str:
    """The message with where it happened; the SQL errors already start with ``line L:C:``."""
    where = "" if message.startswith("line ") else f"line {line}:{column}: "
    return f"{origin}: {where}{message}" if origin else f"{where}{message}"


def _line_reader(out: Console) -> Callable[[str], str]:
    """prompt_toolkit with a history file on a terminal; plain lines from a pipe."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        HISTORY_FILE.parent.mkdir(parents=True, exist_ok=True)
        prompt_session: PromptSession[str] = PromptSession(history=FileHistory(str(HISTORY_FILE)))
        return lambda prompt: prompt_session.prompt(prompt)

    def read_pipe(prompt: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    return read_pipe


@app.command("sql")
def sql(
    server: Annotated[str | None, typer.Argument(
        metavar="[SERVER]", help=f"URL of a running server's ksqlDB REST API (default {DEFAULT_SERVER}).",
        show_default=False)] = None,
    embedded: Annotated[bool, typer.Option("--embedded", help="Run a session in this process instead.")] = False,
    take_over: Annotated[bool, typer.Option(
        "--take-over", help="With --embedded: run the persistent queries here even though another process (a "
        "running `headwater up`) runs them; its queries are fenced and stop.")] = False,
    log_url: LogUrl = DEFAULT_LOG_URL,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Run this script, then exit.",
                                              show_default=False)] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="HEADWATER_API_KEY",
                                                help="The server's API key (admin, or read for queries and "
                                                     "SHOW), if it has any.")] = None,
) -> None:
    """Streaming SQL shell (ksqlDB's dialect): a server over REST, or an embedded session."""
    if embedded and server is not None:
        err_console.print(Text("Error: give a SERVER URL or --embedded, not both.", style="red"))
        raise typer.Exit(2)
    out = console
    try:
        backend: Backend = (EmbeddedBackend(log_url, take_over=take_over) if embedded
                            else HttpBackend(server or DEFAULT_SERVER, api_key))
        where = backend.describe()
    except ShellError as exc:
        err_console.print(Text(f"Error: {exc}", style="red"), soft_wrap=True)
        raise typer.Exit(1) from None
    if isinstance(backend, EmbeddedBackend) and backend.read_only:
        err_console.print(Text(f"Note: {backend.read_only}", style="yellow"), soft_wrap=True)
    shell = Shell(backend, out, err_console)
    try:
        if file is not None:
            try:
                shell.run_script(file)
            except ShellError as exc:
                err_console.print(Text(f"Error: {exc}", style="red"), soft_wrap=True)
                raise typer.Exit(1) from None
            except KeyboardInterrupt:
                raise typer.Exit(130) from None
            return
        out.print(Text(f"Headwater SQL ({where}). Statements end with ';'. 'help' lists what you can "
                       "type; Ctrl-C stops a query, Ctrl-D or 'exit' quits."))
        shell.repl(_line_reader(out))
    finally:
        backend.close()
