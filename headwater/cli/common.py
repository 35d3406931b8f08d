"""What every command module of the CLI shares: the app, consoles, option types, error exit.

Every command that touches the log takes ``--log URL`` and opens it through
:func:`opened_log`, which also turns a :class:`HeadwaterError` into a one-line
``Error: ...`` on stderr and exit code 1. Bad arguments exit with 2 (typer's
default).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from headwater.errors import HeadwaterError
from headwater.log import Log, open_log

app = typer.Typer(name="headwater", help="Real-time event analytics.", no_args_is_help=True)
topics_app = typer.Typer(help="Create, list, describe and delete topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
log_app = typer.Typer(help="Look after an embedded log directory (find and repair damage).", no_args_is_help=True)
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


@contextmanager
def opened_log(url: str) -> Iterator[Log]:
    try:
        with open_log(url) as log:
            yield log
    except HeadwaterError as exc:
        raise fail(str(exc)) from None


