"""``headwater produce`` and ``headwater print``: records in and out of a topic.

Record lines are written as plain text, never through rich: a value such as
``[1, 2]`` must not be read as console markup.
"""

from __future__ import annotations

import os
import queue
import stat
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from typing import Annotated

import pyarrow as pa
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from headwater.cli.common import LogUrl, TopicName, app, console, err_console, opened_log
from headwater.errors import HeadwaterError, OffsetOutOfRangeError
from headwater.log import DEFAULT_LOG_URL, Fetched, Log
from headwater.log.base import check_partition
from headwater.log.printing import NO_DATA_FORMAT, detect_format, format_records

#: Lines per append when stdin is not a terminal.
PRODUCE_BATCH_LINES = 10_000
#: How long one partition reader blocks in ``log.read`` before checking for stop.
READ_WAIT_S = 0.25


# -- produce -------------------------------------------------------------------


def _to_batch(lines: list[bytes], separator: bytes | None, first_line: int) -> pa.Table:
    if separator is None:
        return pa.table({"key": pa.nulls(len(lines), pa.binary()), "value": pa.array(lines, pa.binary())})
    keys, values = [], []
    for n, line in enumerate(lines, first_line):
        key, sep, value = line.partition(separator)
        if not sep:
            raise HeadwaterError(f"produce: line {n} has no key separator {separator.decode()!r}: {line[:80]!r}")
        keys.append(key)
        values.append(value)
    return pa.table({"key": pa.array(keys, pa.binary()), "value": pa.array(values, pa.binary())})


def _produce_progress(stdin_size: int | None) -> Progress | None:
    """A progress display on stderr, only when a person is watching it."""
    if not err_console.is_terminal:
        return None
    columns = [SpinnerColumn(), TextColumn("producing"), TextColumn("{task.fields[records]:,} records")]
    if stdin_size is not None:
        columns.append(BarColumn())
    return Progress(*columns, TimeElapsedColumn(), console=err_console, transient=True)


@app.command()
def produce(
    topic: TopicName,
    key_separator: Annotated[
        str | None, typer.Option(help="Split each line at the first SEP into key and value.")
    ] = None,
    partition: Annotated[int | None, typer.Option(help="Append to this partition only.")] = None,
    log_url: LogUrl = DEFAULT_LOG_URL,
) -> None:
    """Write one record per line of stdin to TOPIC."""
    if key_separator == "":
        raise typer.BadParameter("must not be empty", param_hint="'--key-separator'")
    separator = key_separator.encode() if key_separator is not None else None
    stdin = typer.get_binary_stream("stdin")
    interactive = stdin.isatty()
    # A person typing expects each line to be sent when they press enter.
    batch_lines = 1 if interactive else PRODUCE_BATCH_LINES
    try:
        mode = os.fstat(stdin.fileno()).st_mode
        stdin_size = os.fstat(stdin.fileno()).st_size if stat.S_ISREG(mode) else None
    except (OSError, ValueError, AttributeError):  # CliRunner's stdin has no file descriptor
        stdin_size = None
    written = 0
    with opened_log(log_url) as log:
        partitions = log.describe_topic(topic).partitions  # fail before reading stdin
        if partition is not None:
            check_partition(topic, partition, partitions)
        progress = None if interactive else _produce_progress(stdin_size)
        with progress or nullcontext():
            task = progress.add_task("produce", total=stdin_size, records=0) if progress else None
            lines: list[bytes] = []
            read_bytes = 0

            def flush() -> None:
                nonlocal written
                batch = _to_batch(lines, separator, written + 1)
                if partition is None:
                    log.produce(topic, batch)
                else:
                    log.append(topic, partition, batch)
                written += len(lines)
                lines.clear()
                if progress is not None and task is not None:
                    progress.update(task, completed=read_bytes, records=written)

            try:
                for line in stdin:
                    read_bytes += len(line)
                    lines.append(line.rstrip(b"\n").removesuffix(b"\r"))
                    if len(lines) >= batch_lines:
                        flush()
                if lines:
                    flush()
            except KeyboardInterrupt:
                pass  # lines not yet appended are dropped; the count below says what was written
            except HeadwaterError as exc:
                if written:
                    raise HeadwaterError(f"{exc} ({written} records before it were written to {topic})") from exc
                raise
    console.print(f"Produced {written} records to {topic}.", soft_wrap=True)


# -- print ---------------------------------------------------------------------


def _offer(out: queue.Queue[Fetched | BaseException], item: Fetched | BaseException, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            out.put(item, timeout=READ_WAIT_S)
            return
        except queue.Full:
            pass


def _read_partition(
    log: Log,
    topic: str,
    partition: int,
    offset: int,
    out: queue.Queue[Fetched | BaseException],
    stop: threading.Event,
) -> None:
    """Feed one partition's batches into ``out`` until ``stop``; an error is fed too."""
    try:
        while not stop.is_set():
            fetched = log.read(topic, partition, offset, timeout_s=READ_WAIT_S)
            offset = fetched.next_offset
            if len(fetched):
                _offer(out, fetched, stop)
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
        _offer(out, exc, stop)


def tail(log: Log, topic: str, starts: dict[int, int], idle_timeout_s: float | None) -> Iterator[Fetched]:
    """Batches from each partition from its start offset, merged as they arrive.

    One reader thread per partition blocks in ``log.read``, so a record on any
    partition is seen at once, without polling. Ends after ``idle_timeout_s``
    without a new record (never when None).
    """
    out: queue.Queue[Fetched | BaseException] = queue.Queue(maxsize=2 * len(starts))
    stop = threading.Event()
    readers = [
        threading.Thread(target=_read_partition, args=(log, topic, p, o, out, stop), daemon=True)
        for p, o in starts.items()
    ]
    for reader in readers:
        reader.start()
    try:
        deadline = None if idle_timeout_s is None else time.monotonic() + idle_timeout_s
        while True:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return
            try:
                item = out.get(timeout=wait)
            except queue.Empty:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            if idle_timeout_s is not None:
                deadline = time.monotonic() + idle_timeout_s
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=2 * READ_WAIT_S)


def _start_offsets(
    log: Log, topic: str, from_beginning: bool, partition: int | None, offset: int | None
) -> dict[int, int]:
    partitions = log.describe_topic(topic).partitions
    if partition is not None:
        check_partition(topic, partition, partitions)
        if offset is not None:
            begin, end = log.beginning_offset(topic, partition), log.end_offset(topic, partition)
            if not begin <= offset <= end:
                raise OffsetOutOfRangeError(topic, partition, offset, begin, end)
            return {partition: offset}
    chosen = range(partitions) if partition is None else [partition]
    first = log.beginning_offset if from_beginning else log.end_offset
    return {p: first(topic, p) for p in chosen}


@app.command("print")
def print_topic(
    topic: TopicName,
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Start at the first stored record.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after N records.")] = None,
    partition: Annotated[int | None, typer.Option(help="Read only this partition.")] = None,
    offset: Annotated[int | None, typer.Option(help="Start at this offset (needs --partition).")] = None,
    timeout_s: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many seconds without a new record.")
    ] = None,
    log_url: LogUrl = DEFAULT_LOG_URL,
) -> None:
    """Print a topic's records as ksqlDB's PRINT does (with offsets); Ctrl-C stops."""
    if offset is not None and partition is None:
        raise typer.BadParameter("--offset needs --partition", param_hint="'--offset'")
    printed = 0
    with opened_log(log_url) as log:
        starts = _start_offsets(log, topic, from_beginning, partition, offset)
        try:
            for fetched in tail(log, topic, starts, timeout_s):
                if printed == 0:
                    typer.echo(f"Key format: {detect_format(fetched.records.column('key'))}")
                    typer.echo(f"Value format: {detect_format(fetched.records.column('value'))}")
                shown = fetched
                if limit is not None and len(fetched) > limit - printed:
                    shown = replace(fetched, records=fetched.records.slice(0, limit - printed))
                typer.echo(format_records(shown))
                sys.stdout.flush()
                printed += len(shown)
                if limit is not None and printed >= limit:
                    break
        except KeyboardInterrupt:
            pass  # Ctrl-C is how an open-ended PRINT is meant to end
        except BrokenPipeError:  # `headwater print ... | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
    if printed == 0:
        typer.echo(f"Key format: {NO_DATA_FORMAT}")
        typer.echo(f"Value format: {NO_DATA_FORMAT}")


