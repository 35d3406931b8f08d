"""FileStreamSink and FileStreamSource, as Apache Kafka's file connectors.

The sink appends one line per record to ``file`` (standard output when
unset). A string value is written as it is (one with a line break is refused:
it would read back as several records); a struct, map or array as
compact JSON (timestamps in ISO 8601) (Connect would write Java's ``toString``, which no reader wants);
a tombstone as ``null``. ``flush`` fsyncs, so a committed offset means the
lines are on disk.

The source tails ``file``: each new line (without its terminator) becomes a
record of ``topic`` with a string value; the source offset is the byte
position after the line (``{"position": n}`` under the partition
``{"filename": path}``), so a restart resumes after the last appended line.
A partial last line waits until its newline arrives. A file that shrinks
(truncated or replaced) is read again from its start.
"""

from __future__ import annotations

import builtins
import datetime as dt
import os
import sys
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import IO, Any

import orjson

from headwater.connect.api import ConfigKey, ConnectError, RecordFailure, RetriableError, SinkTask, SourceTask, Task
from headwater.connect.api import Connector as _Connector
from headwater.connect.converters import value_to_json
from headwater.connect.data import ConnectSchema, SinkRecord, SourceRecord

_STRING = ConnectSchema("string", optional=False)


def render_line(value: Any) -> str:
    """The text of one record in the file."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return orjson.dumps(value, default=_json_default).decode()


def _json_default(value: Any) -> Any:
    """What orjson cannot write itself: bytes as base64 and decimals as numbers, as Connect's JSON does."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value_to_json(None, bytes(value))
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


class FileStreamSinkConnector(_Connector):
    type = "sink"

    @classmethod
    def config_def(cls) -> Sequence[ConfigKey]:
        return (ConfigKey("file", documentation="Destination filename. If not specified, the standard output "
                                                "will be used", importance="HIGH"),)

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        # One writer per file: more tasks would interleave partial lines.
        return [{"file": self.config.get("file", "")}]

    def task_class(self) -> builtins.type[Task]:
        return FileStreamSinkTask


class FileStreamSinkTask(SinkTask):
    """Opens the file on first write: a missing directory (a mount not there yet) is a RetriableError,
    so errors.retry.timeout decides how long the task waits for it."""

    def start(self, config: Mapping[str, str]) -> None:
        super().start(config)
        self._path = config.get("file", "")
        self._out: IO[str] | None = None if self._path else sys.stdout
        self._owned = bool(self._path)

    def _file(self) -> IO[str]:
        if self._out is None:
            try:
                self._out = open(self._path, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()
            except OSError as exc:
                raise RetriableError(f"FileStreamSink: cannot open {self._path}: {exc.strerror}") from exc
        return self._out

    def put(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure]:
        failures: list[RecordFailure] = []
        lines: list[str] = []
        for record in records:
            try:
                line = render_line(record.value)
                if "\n" in line or "\r" in line:
                    raise ValueError("the value contains a line break, which would split the record over "
                                     "several lines")
                lines.append(line + "\n")
            except (TypeError, ValueError, orjson.JSONEncodeError) as exc:
                failures.append(RecordFailure(record, ConnectError(
                    f"FileStreamSink: cannot write the value of {record.topic}[{record.partition}]@"
                    f"{record.offset} as a line: {exc}")))
        out = self._file()
        try:
            out.write("".join(lines))
        except OSError as exc:
            raise RetriableError(f"FileStreamSink: cannot write to {self._path}: {exc.strerror}") from exc
        return failures

    def flush(self) -> None:
        out = self._file()
        try:
            out.flush()
            if self._owned:
                os.fsync(out.fileno())
        except OSError as exc:
            raise RetriableError(f"FileStreamSink: cannot flush {self._path}: {exc.strerror}") from exc

    def stop(self) -> None:
        if self._owned and self._out is not None:
            self._out.close()


class FileStreamSourceConnector(_Connector):
    type = "source"

    @classmethod
    def config_def(cls) -> Sequence[ConfigKey]:
        return (ConfigKey("file", documentation="Source filename. If not specified, the standard input will be "
                                                "used", importance="HIGH"),
                ConfigKey("topic", required=True, documentation="The topic to publish data to", importance="HIGH"),
                ConfigKey("batch.size", type="INT", default=2000,
                          documentation="The maximum number of records the source task can read from the file "
                                        "each time it is polled", importance="LOW"))

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> dict[str, list[str]]:
        errors = super().validate(config)
        if "," in config.get("topic", ""):
            errors["topic"] = ["'topic' in FileStreamSourceConnector configuration requires definition of a "
                               "single topic"]
        if not config.get("file"):
            errors["file"] = ["Headwater's FileStreamSource reads a file: set \"file\" (standard input is not "
                              "supported)"]
        return errors

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [{k: self.config[k] for k in ("file", "topic", "batch.size") if k in self.config}]

    def task_class(self) -> builtins.type[Task]:
        return FileStreamSourceTask


class FileStreamSourceTask(SourceTask):
    def start(self, config: Mapping[str, str], offsets: Any = None) -> None:  # type: ignore[override]
        super().start(config, offsets)
        self.path = config["file"]
        self.topic = config["topic"]
        self.batch_size = int(config.get("batch.size", "2000"))
        self.partition = {"filename": self.path}
        stored = offsets.offset(self.partition) if offsets is not None else None
        self.position = int(stored["position"]) if stored else 0

    def poll(self) -> Sequence[SourceRecord]:
        deadline = time.monotonic() + 1.0
        while True:
            records = self._read()
            if records or time.monotonic() >= deadline:
                return records
            time.sleep(0.05)

    def _read(self) -> list[SourceRecord]:
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return []  # not there yet (or rotated away): wait for it
        if size < self.position:
            self.position = 0  # truncated or replaced
        if size == self.position:
            return []
        records: list[SourceRecord] = []
        with open(self.path, "rb") as handle:
            handle.seek(self.position)
            position = self.position
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # a partial line: wait for the rest
                position += len(raw)
                line = raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")
                records.append(SourceRecord(self.partition, {"position": position}, self.topic, line,
                                            value_schema=_STRING))
                if len(records) >= self.batch_size:
                    break
        self.position = position
        return records
