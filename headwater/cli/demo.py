"""``headwater demo``: what runs end to end today, on a fresh machine.

Today that is the log: a ``clickstream`` topic filled from the clickstream
generator, described, and sampled with PRINT. The demo grows with the product
(streaming SQL, collector, dashboards).
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from headwater.cli.common import LogUrl, app, console, opened_log
from headwater.log.printing import format_records
from headwater.cli.topics import topics_describe
from headwater.datagen.clickstream import generate
from headwater.log import DEFAULT_LOG_URL

DEMO_TOPIC = "clickstream"
CHUNK = 10_000


@app.command()
def demo(
    records: Annotated[int, typer.Option(min=1, help="Click events to generate.")] = 200_000,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the clickstream topic.")] = 3,
    log_url: LogUrl = DEFAULT_LOG_URL,
) -> None:
    """Fill a clickstream topic with generated click events and show it."""
    console.print(
        "[bold]Headwater demo[/bold] - the log stage: streaming SQL, the collector and dashboards "
        "are being built on it.\n"
    )
    now_ms = time.time_ns() // 1_000_000
    rate = 2000
    table = generate(records, seed=now_ms, users=5000, rate_per_s=rate, start_ms=now_ms - records * 1000 // rate)
    with opened_log(log_url) as log:
        log.create_topic(DEMO_TOPIC, partitions, exist_ok=True)
        started = time.perf_counter()
        with Progress(
            TextColumn("appending click events"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        ) as progress:
            task = progress.add_task("append", total=records)
            for start in range(0, records, CHUNK):
                chunk = table.slice(start, CHUNK)
                log.produce(DEMO_TOPIC, chunk)
                progress.advance(task, chunk.num_rows)
        elapsed = time.perf_counter() - started
        console.print(
            f"Appended {records:,} click events to [bold]{DEMO_TOPIC}[/bold] in {elapsed:.2f} s "
            f"({records / elapsed:,.0f} records/s, durable), keyed by ip over {partitions} partitions.\n"
        )
        first = log.read(DEMO_TOPIC, 0, log.beginning_offset(DEMO_TOPIC, 0), max_records=3)
    topics_describe(DEMO_TOPIC, log_url)
    console.print("\nThe first records of partition 0, as PRINT shows them:")
    typer.echo(format_records(first))
    console.print(
        f"\nData is in {log_url}. Next: [bold]headwater print {DEMO_TOPIC} --from-beginning --limit 10[/bold], "
        f"[bold]headwater topics list[/bold]."
    )
