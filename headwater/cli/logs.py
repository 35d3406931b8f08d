"""``headwater log repair``: list the damage of an embedded log and, with ``--yes``, delete it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from headwater.cli.common import LogUrl, console, fail, log_app, opened_log
from headwater.errors import HeadwaterError
from headwater.log import DEFAULT_LOG_URL
from headwater.log.embedded import EmbeddedLog
from headwater.log.repair import DamagedRange, delete_damage, find_damage, rebuild_index


@log_app.command("repair")
def log_repair(
    yes: Annotated[bool, typer.Option("--yes", help="Delete the damaged ranges (readers then skip them).")] = False,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild-index", help="With --yes: also rebuild meta.db from the segment files (the log must not be in "
                                "use), keeping committed group offsets.")] = False,
    log_url: LogUrl = DEFAULT_LOG_URL,
) -> None:
    """Read every partition through and list what is damaged; with --yes, delete it.

    Exit code 0 when the log is (now) clean, 1 when damage is left (run again with --yes).
    """
    if log_url.startswith("kafka://"):
        raise fail("log repair works on an embedded log directory; Kafka's brokers look after their own logs.")
    if rebuild and not yes:
        raise fail("--rebuild-index changes the log: give --yes as well.")
    with opened_log(log_url) as log:
        if not isinstance(log, EmbeddedLog):
            raise fail("log repair works on an embedded log directory.")
        damage = find_damage(log)
        _show(damage)
        if not damage:
            console.print("No damage found.")
        elif not yes:
            console.print(f"{len(damage)} damaged range(s). Run again with --yes to delete them "
                          "(their records are lost; readers skip the gap).", soft_wrap=True)
        else:
            deleted = delete_damage(log, damage)
            console.print(f"Deleted {len(deleted)} damaged range(s).")
    if rebuild:
        try:
            rebuilt = rebuild_index(log_url.removeprefix("file://"))
        except (HeadwaterError, OSError) as exc:
            raise fail(str(exc)) from None
        console.print(f"Rebuilt meta.db from the segment files ({rebuilt.group_offsets} committed group offset(s) "
                      f"kept; the old index is {rebuilt.moved_to}).", soft_wrap=True)
    if damage and not yes:
        raise typer.Exit(1)


def _show(damage: list[DamagedRange]) -> None:
    if not damage:
        return
    table = Table("Topic", "Partition", "Offsets", "Reason")
    table.columns[3].overflow = "fold"
    for d in damage:
        table.add_row(d.topic, str(d.partition), f"{d.first}..{d.last}", d.reason)
    console.print(table)
