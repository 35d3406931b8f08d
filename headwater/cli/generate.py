"""``headwater generate QUICKSTART``: datagen records straight into the log, with a progress bar.

The same generators as the datagen connector (``headwater.datagen``), without
a connector runtime: values are JSON, keys are encoded as Connect's default
converters for the key's type would (a 4-byte big-endian int for INT keys as
IntegerConverter, 8 bytes for BIGINT as LongConverter, UTF-8 text for strings),
so ksqlDB tables declared with ``KEY_FORMAT='KAFKA'`` read them.
"""

from __future__ import annotations

import struct
import time
from typing import Annotated, Any

import orjson
import pyarrow as pa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from headwater.cli.common import LogUrl, app, console, err_console, fail, opened_log
from headwater.connect.data import ConnectSchema
from headwater.datagen.base import record_rng
from headwater.datagen.quickstarts import QUICKSTARTS, quickstart
from headwater.errors import ConfigError
from headwater.log import DEFAULT_LOG_URL

#: Most records per append; at a low rate, the records due in a tenth of a second.
MAX_CHUNK = 5_000


def encode_key(key: Any, schema: ConnectSchema | None) -> bytes | None:
    """The key bytes Connect's converter for the key's type writes."""
    if key is None:
        return None
    kind = schema.type if schema is not None else None
    if kind in ("int8", "int16", "int32"):
        return struct.pack(">i", key)
    if kind == "int64":
        return struct.pack(">q", key)
    if isinstance(key, str):
        return key.encode()
    return orjson.dumps(key)


def _quickstart_help() -> str:
    return "Quickstart: " + ", ".join(QUICKSTARTS) + "."


@app.command()
def generate(
    name: Annotated[str, typer.Argument(metavar="QUICKSTART", help=_quickstart_help(), show_default=False)],
    rate: Annotated[float, typer.Option(min=0, help="Records per second; 0 = as fast as possible.")] = 0,
    count: Annotated[int, typer.Option(min=1, help="Records to generate.")] = 1000,
    topic: Annotated[str | None, typer.Option(help="Topic to append to (default: the quickstart's name).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed, for the same records on every run.")] = None,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions if the topic is created.")] = 1,
    log_url: LogUrl = DEFAULT_LOG_URL,
) -> None:
    """Append COUNT generated records of QUICKSTART to a topic (created when missing)."""
    try:
        generator = quickstart(name)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    topic = topic or name.strip().lower()
    seed = seed if seed is not None else time.time_ns()
    chunk = MAX_CHUNK if rate == 0 else max(1, min(MAX_CHUNK, int(rate / 10)))
    written = 0
    with opened_log(log_url, create=True) as log:
        log.create_topic(topic, partitions, exist_ok=True)
        started = time.monotonic()
        progress = Progress(
            TextColumn(f"generating {name} into [bold]{topic}[/bold]"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), TimeElapsedColumn(), console=err_console, transient=not err_console.is_terminal,
        )
        try:
            with progress:
                task = progress.add_task("generate", total=count)
                while written < count:
                    n = min(chunk, count - written)
                    if rate:  # wait until these records are due
                        delay = started + written / rate - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                    now_ms = time.time_ns() // 1_000_000
                    keys: list[bytes | None] = []
                    values: list[bytes] = []
                    for iteration in range(written, written + n):
                        value = generator.value(iteration, record_rng(seed, 0, iteration), now_ms)
                        keys.append(encode_key(generator.key(value), generator.key_schema))
                        values.append(orjson.dumps(value))
                    log.produce(topic, pa.table({"key": pa.array(keys, pa.binary()),
                                                 "value": pa.array(values, pa.binary())}))
                    written += n
                    progress.update(task, completed=written)
        except KeyboardInterrupt:
            pass  # the count below says what was written
    elapsed = time.monotonic() - started
    console.print(f"Generated {written} {name} records into {topic} in {elapsed:.2f} s (seed {seed}).",
                  soft_wrap=True)
