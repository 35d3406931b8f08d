"""Records as ksqlDB's PRINT shows them: detected formats, then one line per record.

``rowtime: 2026/11/22 06:31:47.123 Z, key: k, value: v, partition: 0, offset: 12``
(ksqlDB's layout plus the offset). Used by ``headwater print`` and by PRINT
statements; built with Arrow string functions, no Python loop per record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.log.base import Fetched, Log, TopicPartition

#: ksqlDB prints this as the format when PRINT ended without seeing a record.
NO_DATA_FORMAT = "¯\\_(ツ)_/¯ - no data processed"


def detect_format(column: pa.Array) -> str:
    """JSON when every non-null sample parses as a JSON object or array, else KAFKA_STRING."""
    samples = [v for v in column.slice(0, 100).to_pylist() if v is not None]
    if not samples:
        return "KAFKA_STRING"
    for raw in samples:
        try:
            if not isinstance(json.loads(raw), (dict, list)):
                return "KAFKA_STRING"
        except ValueError:
            return "KAFKA_STRING"
    return "JSON"


def _texts(column: pa.Array) -> pa.Array:
    """Keys or values as text, ``<null>`` for null; bytes that are not UTF-8 are escaped."""
    try:
        text = column.cast(pa.string())
    except pa.ArrowInvalid:
        text = pa.array(
            [None if v is None else v.decode("utf-8", errors="backslashreplace") for v in column.to_pylist()],
            pa.string(),
        )
    return pc.fill_null(text, "<null>")


def format_records(fetched: Fetched) -> str:
    """ksqlDB PRINT lines plus the offset, newline-separated, built without a per-record loop.

    ``rowtime: 2026/11/22 06:31:47.123 Z, key: k, value: v, partition: 0, offset: 12``
    """
    batch = fetched.records
    rowtimes = pc.strftime(batch.column("timestamp").cast(pa.timestamp("ms")), format="%Y/%m/%d %H:%M:%S", locale="C")
    lines = pc.binary_join_element_wise(
        "rowtime: ",
        rowtimes,
        " Z, key: ",
        _texts(batch.column("key")),
        ", value: ",
        _texts(batch.column("value")),
        f", partition: {fetched.partition}, offset: ",
        batch.column("offset").cast(pa.string()),
        "",  # the separator
    )
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines), "\n")
    return str(joined[0].as_py())


def print_lines(
    log: Log,
    topic: str,
    *,
    from_beginning: bool = False,
    interval: int = 1,
    limit: int | None = None,
    idle_timeout_s: float | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[str]:
    """PRINT: the detected formats, then every ``interval``-th record, until ``limit`` or idle.

    Without ``from_beginning`` only records appended from now on are shown, as in ksqlDB.
    ``should_stop`` is asked between polls (every 0.5 s at most), so a server can end a PRINT
    whose client went away without waiting for the next record.
    """
    partitions = log.describe_topic(topic).partitions
    start = log.beginning_offset if from_beginning else log.end_offset
    positions = {TopicPartition(topic, p): start(topic, p) for p in range(partitions)}
    seen = shown = 0
    deadline = None if idle_timeout_s is None else time.monotonic() + idle_timeout_s
    while limit is None or shown < limit:
        if should_stop is not None and should_stop():
            return
        wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
        if wait <= 0:
            break
        batches = log.poll(positions, timeout_s=wait)
        for fetched in batches:
            positions[TopicPartition(topic, fetched.partition)] = fetched.next_offset
            records = fetched.records
            if not records.num_rows:
                continue
            if seen == 0:
                yield f"Key format: {detect_format(records.column('key'))}"
                yield f"Value format: {detect_format(records.column('value'))}"
            picks = np.nonzero((seen + np.arange(records.num_rows)) % max(interval, 1) == 0)[0]
            seen += records.num_rows
            if limit is not None:
                picks = picks[: limit - shown]
            if len(picks):
                shown += len(picks)
                chosen = replace(fetched, records=records.take(pa.array(picks)))
                yield from format_records(chosen).split("\n")
            if deadline is not None:
                deadline = time.monotonic() + (idle_timeout_s or 0)
    if seen == 0:
        yield f"Key format: {NO_DATA_FORMAT}"
        yield f"Value format: {NO_DATA_FORMAT}"
