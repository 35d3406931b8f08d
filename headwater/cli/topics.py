"""``headwater topics create|list|describe|delete``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from headwater.cli.common import LogUrl, TopicName, console, opened_log, topics_app
from headwater.log import DEFAULT_LOG_URL
from headwater.log.base import TOPIC_CONFIG_DEFAULTS


# -- topics --------------------------------------------------------------------


def _parse_configs(pairs: list[str]) -> dict[str, str]:
    configs: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="'--config'")
        configs[key.strip()] = value.strip()
    return configs


@topics_app.command("create")
def topics_create(
    name: TopicName,
    partitions: Annotated[int, typer.Option(help="Number of partitions.")] = 1,
    config: Annotated[list[str] | None, typer.Option("--config", help="Topic config key=value (repeatable).")] = None,
    if_not_exists: Annotated[
        bool, typer.Option("--if-not-exists", help="Succeed if the topic already exists.")
    ] = False,
    log_url: LogUrl = DEFAULT_LOG_URL,
) -> None:
    """Create a topic."""
    configs = _parse_configs(config or [])
    with opened_log(log_url, create=True) as log:
        existed = if_not_exists and name in log.list_topics()
        info = log.create_topic(name, partitions, configs, exist_ok=if_not_exists)
    if existed:
        console.print(f"Topic {name} already exists ({info.partitions} partitions).", soft_wrap=True)
    else:
        console.print(f"Created topic {name} ({info.partitions} partitions).", soft_wrap=True)


@topics_app.command("list")
def topics_list(log_url: LogUrl = DEFAULT_LOG_URL) -> None:
    """List topics with their partition and record counts."""
    table = Table("Topic", "Partitions", "Records")
    table.columns[0].overflow = "fold"
    for column in table.columns[1:]:
        column.justify = "right"
    with opened_log(log_url) as log:
        names = log.list_topics()
        for name in names:
            partitions = log.describe_topic(name).partitions
            records = sum(log.end_offset(name, p) - log.beginning_offset(name, p) for p in range(partitions))
            table.add_row(name, str(partitions), str(records))
    console.print(table if names else "No topics.")


@topics_app.command("describe")
def topics_describe(name: TopicName, log_url: LogUrl = DEFAULT_LOG_URL) -> None:
    """Show a topic's partitions with their offsets, and its configs."""
    offsets = Table("Partition", "Beginning offset", "End offset", "Records")
    for column in offsets.columns:
        column.justify = "right"
    with opened_log(log_url) as log:
        info = log.describe_topic(name)
        total = 0
        for p in range(info.partitions):
            begin, end = log.beginning_offset(name, p), log.end_offset(name, p)
            total += end - begin
            offsets.add_row(str(p), str(begin), str(end), str(end - begin))
    configs = Table("Config", "Value", "Source")
    for key in sorted(TOPIC_CONFIG_DEFAULTS):
        configs.add_row(key, info.setting(key), "topic" if key in info.config else "default")
    console.print(f"Topic: {name}  Partitions: {info.partitions}  Records: {total}", soft_wrap=True)
    console.print(offsets)
    console.print(configs)


@topics_app.command("delete")
def topics_delete(name: TopicName, log_url: LogUrl = DEFAULT_LOG_URL) -> None:
    """Delete a topic and its records."""
    with opened_log(log_url) as log:
        log.delete_topic(name)
    console.print(f"Deleted topic {name}.", soft_wrap=True)


