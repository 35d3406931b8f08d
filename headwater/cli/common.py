"""What every command module of the CLI shares: the app, consoles, option types, error exit.

Every command that touches the log takes ``--log URL`` and opens it through
:func:`opened_log`, which also turns a :class:`HeadwaterError` into a one-line
``Error: ...`` on stderr and exit code 1. Bad arguments exit with 2 (typer's
default).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.text import Text

from headwater import __version__
from headwater.errors import HeadwaterError
from headwater.log import Log, open_log

#: Help texts are Rich markup (``\[`` for a literal bracket) on every supported typer: typer 0.15.4 (the lowest)
#: left the mode as a placeholder that its help renderer took for "no markup", printing the escapes.
MARKUP: Final = "rich"
app = typer.Typer(name="headwater", help="Real-time event analytics.", no_args_is_help=True, rich_markup_mode=MARKUP)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"headwater {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Real-time event analytics: a durable log, streaming SQL (ksqlDB's dialect), connectors, dashboards."""

topics_app = typer.Typer(help="Create, list, describe and delete topics.", no_args_is_help=True,
                         rich_markup_mode=MARKUP)
app.add_typer(topics_app, name="topics")
log_app = typer.Typer(help="Look after an embedded log directory (find and repair damage).", no_args_is_help=True,
                      rich_markup_mode=MARKUP)
app.add_typer(log_app, name="log")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

TopicName = Annotated[str, typer.Argument(metavar="TOPIC", help="Topic name.", show_default=False)]
LogUrl = Annotated[
    str,
    typer.Option("--log", envvar="HEADWATER_LOG", help="Embedded log directory or kafka://host:port."),
]

def fail(message: str) -> typer.Exit:
    """Print ``Error: message`` in red on one line of stderr; return the exit to raise."""
    err_console.print(Text(f"Error: {message}", style="red"), soft_wrap=True)
    return typer.Exit(1)


def missing_log(url: str) -> str | None:
    """Why ``url`` names no existing log (a mistyped path), or None when it does (or is a Kafka URL)."""
    if url.startswith("kafka://"):
        return None
    path = url.removeprefix("file://")
    if os.path.isdir(os.path.join(path, "topics")):
        return None
    what = "does not exist" if not os.path.exists(path) else "is not a Headwater log directory"
    return (f"no log at {path}: the directory {what}. Check --log (or HEADWATER_LOG); `headwater up --log {path}` "
            "or `headwater topics create TOPIC --log PATH` starts a new one.")


@contextmanager
def opened_log(url: str, *, create: bool = False) -> Iterator[Log]:
    """The log at ``url``; without ``create``, a directory that is not a log yet is refused (no empty log is made)."""
    problem = None if create else missing_log(url)
    if problem is not None:
        raise fail(problem)
    try:
        with open_log(url) as log:
            yield log
    except HeadwaterError as exc:
        raise fail(str(exc)) from None


