"""Where the S3 sink puts a record: Confluent's partitioners and timestamp extractors.

- ``DefaultPartitioner``: ``partition=<kafka partition>``;
- ``FieldPartitioner``: ``<field>=<value>/...`` for ``partition.field.name`` (comma-separated; nested with dots);
- ``TimeBasedPartitioner`` (and ``HourlyPartitioner``, ``DailyPartitioner``): the record's time floored to
  ``partition.duration.ms``, written with ``path.format`` (Joda-Time patterns: ``'year'=YYYY/'month'=MM/...``)
  in ``timezone`` (default UTC). The time comes from ``timestamp.extractor``: ``Record`` (the Kafka timestamp),
  ``RecordField`` (``timestamp.field``: epoch ms, an ISO-8601 string, or a datetime) or ``Wallclock``.

Record and RecordField make the layout a function of the records, so a replay after a crash writes the
same objects; Wallclock does not (as in Confluent's sink, where it breaks exactly-once too).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from headwater.connect.api import ConnectError
from headwater.connect.data import SinkRecord

_JODA = re.compile(r"'([^']*)'|(Y+|y+|M+|d+|H+|h+|m+|s+|S+|E+|a|Z+)|([^'YyMdHhmsSEaZ]+)")
_UNITS = {"Y": "%Y", "y": "%Y", "d": "%d", "H": "%H", "h": "%I", "m": "%M", "s": "%S", "a": "%p", "Z": "%z"}
_PACKAGE = "io.confluent.connect.storage.partitioner."
PARTITIONERS = ("DefaultPartitioner", "FieldPartitioner", "TimeBasedPartitioner", "HourlyPartitioner",
                "DailyPartitioner")


def joda_format(pattern: str, when: dt.datetime) -> str:
    """``when`` formatted with a Joda-Time pattern (quoted text kept as is)."""
    out: list[str] = []
    for quoted, token, text in _JODA.findall(pattern):
        if text:
            out.append(text)
        elif token:
            letter = token[0]
            if letter == "M":
                out.append(when.strftime("%B" if len(token) >= 4 else "%b" if len(token) == 3 else "%m")
                           if len(token) >= 2 else str(when.month))
            elif letter in ("Y", "y") and len(token) == 2:
                out.append(when.strftime("%y"))
            elif letter == "S":
                out.append(f"{when.microsecond // 1000:03d}"[: len(token)])
            elif letter == "E":
                out.append(when.strftime("%A" if len(token) >= 4 else "%a"))
            elif len(token) == 1 and letter in "dHhms":
                out.append(str(int(when.strftime(_UNITS[letter]))))
            else:
                out.append(when.strftime(_UNITS[letter]))
        else:
            out.append(quoted if quoted else "'")
    return "".join(out)


def field_value(value: Any, path: str) -> Any:
    """``value``'s field at a dotted path (None when absent)."""
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _millis(found: Any, what: str) -> int:
    if isinstance(found, bool) or found is None:
        raise ConnectError(f"S3 sink: {what} is {found!r}, not a timestamp")
    if isinstance(found, (int, float)):
        return int(found)
    if isinstance(found, dt.datetime):
        return int((found if found.tzinfo else found.replace(tzinfo=dt.timezone.utc)).timestamp() * 1000)
    if isinstance(found, str):
        try:
            parsed = dt.datetime.fromisoformat(found.replace("Z", "+00:00"))
        except ValueError:
            raise ConnectError(f"S3 sink: {what} {found!r} is not an ISO-8601 timestamp") from None
        return _millis(parsed, what)
    raise ConnectError(f"S3 sink: {what} of type {type(found).__name__} is not a timestamp")


class Partitioner:
    """``encode(record)`` -> the encoded partition (a relative path) of a record."""

    def __init__(self, config: Mapping[str, str]) -> None:
        name = config.get("partitioner.class", _PACKAGE + "DefaultPartitioner").removeprefix(_PACKAGE)
        name = name.removeprefix("io.confluent.connect.s3.partitioner.")  # older releases' package
        if name not in PARTITIONERS:
            raise ConnectError(f"S3 sink: partitioner.class {config.get('partitioner.class')!r} is not one of "
                               f"{', '.join(PARTITIONERS)}")
        self.kind = name
        self.delim = config.get("directory.delim", "/")
        self.fields = [f.strip() for f in config.get("partition.field.name", "").split(",") if f.strip()]
        if name == "FieldPartitioner" and not self.fields:
            raise ConnectError("S3 sink: FieldPartitioner needs partition.field.name")
        self.path_format = config.get("path.format", "")
        self.duration_ms = int(config.get("partition.duration.ms", "-1") or -1)
        if name == "HourlyPartitioner":
            self.path_format, self.duration_ms = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", 3_600_000
        elif name == "DailyPartitioner":
            self.path_format, self.duration_ms = "'year'=YYYY/'month'=MM/'day'=dd", 86_400_000
        if name == "TimeBasedPartitioner" and (not self.path_format or self.duration_ms <= 0):
            raise ConnectError("S3 sink: TimeBasedPartitioner needs path.format and a positive partition.duration.ms")
        try:
            self.zone = zoneinfo.ZoneInfo(config.get("timezone") or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConnectError(f"S3 sink: unknown timezone {config.get('timezone')!r}") from None
        self.timestamp = timestamp_extractor(config)

    @property
    def time_based(self) -> bool:
        return self.kind in ("TimeBasedPartitioner", "HourlyPartitioner", "DailyPartitioner")

    def encode(self, record: SinkRecord) -> str:
        if self.kind == "DefaultPartitioner":
            return f"partition={record.partition}"
        if self.kind == "FieldPartitioner":
            parts = []
            for name in self.fields:
                found = field_value(record.value, name)
                if found is None and not isinstance(record.value, Mapping):
                    raise ConnectError(f"S3 sink: FieldPartitioner needs a struct or map value; got "
                                       f"{type(record.value).__name__}")
                parts.append(f"{name}={found}")
            return self.delim.join(parts)
        millis = self.timestamp(record)
        floored = millis - millis % self.duration_ms
        when = dt.datetime.fromtimestamp(floored / 1000, tz=dt.timezone.utc).astimezone(self.zone)
        return joda_format(self.path_format, when).replace("/", self.delim)


def timestamp_extractor(config: Mapping[str, str]) -> Callable[[SinkRecord], int]:
    """The record's time in epoch ms, as ``timestamp.extractor`` says."""
    kind = config.get("timestamp.extractor", "Wallclock")
    if kind == "Record":
        def record_time(record: SinkRecord) -> int:
            if record.timestamp is None:
                raise ConnectError(f"S3 sink: record {record.topic}-{record.partition}@{record.offset} has no "
                                   "timestamp (timestamp.extractor=Record)")
            return int(record.timestamp)

        return record_time
    if kind == "RecordField":
        field = config.get("timestamp.field", "timestamp")
        return lambda record: _millis(field_value(record.value, field), f"timestamp.field {field!r}")
    if kind == "Wallclock":
        return lambda record: int(time.time() * 1000)
    raise ConnectError(f"S3 sink: timestamp.extractor {kind!r} is not Record, RecordField or Wallclock")
