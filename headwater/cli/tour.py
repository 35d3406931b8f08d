"""``headwater tour``: the streaming SQL in the terminal, no server, in a few seconds.

A ``clickstream`` topic filled from the clickstream generator, then the
clickstream demo's streaming SQL on it (an errors stream and bandwidth per
user per minute, exactly once), answered with a pull query, each step
explained. Run it again and the same queries, replayed from the command log,
take the new clicks. ``headwater demo`` runs the server and every app.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from headwater.cli.common import LogUrl, app, console, fail, opened_log
from headwater.errors import ServiceOwnedError
from headwater.log.printing import format_records
from headwater.cli.topics import topics_describe
from headwater.datagen.clickstream import generate
from headwater.log import DEFAULT_LOG_URL, Log
from headwater.session import Session

DEMO_TOPIC = "clickstream"
CHUNK = 10_000


@app.command()
def tour(
    records: Annotated[int, typer.Option(min=1, help="Click events to generate.")] = 200_000,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the clickstream topic.")] = 3,
    log_url: LogUrl = DEFAULT_LOG_URL,
) -> None:
    """Streaming SQL in the terminal: click events -> durable log -> streams and tables -> a pull query."""
    console.print("[bold]Headwater tour[/bold]: click events -> durable log -> streaming SQL -> tables\n")
    now_ms = time.time_ns() // 1_000_000
    rate = 2000
    table = generate(records, seed=now_ms, users=5000, rate_per_s=rate, start_ms=now_ms - records * 1000 // rate)
    with opened_log(log_url, create=True) as log:
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
        console.print("The first records of partition 0, as PRINT shows them:")
        typer.echo(format_records(first))
        try:
            _streaming_sql(log)
        except ServiceOwnedError as exc:  # a running `headwater up` on the directory runs the queries
            raise fail(f"{exc.root} is in use: {exc.owner} runs its persistent queries. The click events were "
                       "appended; see the queries there (`headwater sql`), or give the tour another --log.") from None
    console.print(
        f"\nData is in {log_url}. Next:\n"
        f"  [bold]headwater print ERRORS --from-beginning --limit 10 --log {log_url}[/bold]   the error clicks\n"
        f"  [bold]headwater up --log {log_url}[/bold]   the server, with the web UI at http://127.0.0.1:8088/\n"
        "  [bold]headwater sql[/bold]   (beside `headwater up`) the SQL shell: try "
        "SELECT * FROM bandwidth_per_min EMIT CHANGES;  ('help' lists more)"
    )


STATEMENTS = f"""
CREATE STREAM IF NOT EXISTS clickstream (_time BIGINT, time VARCHAR, ip VARCHAR, request VARCHAR, status INT,
    userid INT, bytes BIGINT, agent VARCHAR) WITH (kafka_topic='{DEMO_TOPIC}', value_format='json');
CREATE STREAM IF NOT EXISTS errors AS SELECT userid, request, status FROM clickstream WHERE status >= 400;
CREATE TABLE IF NOT EXISTS bandwidth_per_min AS SELECT userid AS k, AS_VALUE(userid) AS userid,
    WINDOWSTART AS event_ts, COUNT(*) AS clicks, SUM(bytes) AS total_bytes
    FROM clickstream WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY userid EMIT CHANGES;
"""


EXPLAINED = """A [bold]stream[/bold] is an unbounded sequence of events over a topic (here: every click).
A [bold]table[/bold] holds the latest value per key, updated as events arrive (here: bytes per user per minute).
[bold]ERRORS[/bold] is a stream derived from CLICKSTREAM: a persistent query writes each click with status >= 400
to its own topic, as it arrives and exactly once. A [bold]pull query[/bold] asks a table for its current rows and
ends, like a database query; a push query (EMIT CHANGES) keeps streaming changes until stopped."""


def _streaming_sql(log: Log) -> None:
    console.print("\n[bold]Streaming SQL[/bold] (ksqlDB's dialect, from the clickstream demo):")
    console.print(EXPLAINED)
    console.print(STATEMENTS.strip(), highlight=False, markup=False)
    started = time.perf_counter()
    with Session(log, properties={"auto.offset.reset": "earliest"}) as session:
        session.execute(STATEMENTS)
        session.wait_until_processed(timeout_s=300)
        elapsed = time.perf_counter() - started
        errors = sum(log.end_offset("ERRORS", p) for p in range(log.describe_topic("ERRORS").partitions))
        rows = session.query("SELECT k, event_ts, clicks, total_bytes FROM bandwidth_per_min;").rows  # type: ignore[union-attr]
    console.print(f"\nProcessed in {elapsed:.2f} s: {errors:,} records in ERRORS, {len(rows):,} rows in "
                  "BANDWIDTH_PER_MIN. Top users by bytes in one minute (a pull query on the table):")
    table = Table("userid", "minute (UTC)", "clicks", "bytes")
    for userid, start, clicks, total in sorted(rows, key=lambda r: -r[3])[:5]:
        minute = time.strftime("%H:%M", time.gmtime(start / 1000))
        table.add_row(str(userid), minute, str(clicks), f"{total:,}")
    console.print(table)
