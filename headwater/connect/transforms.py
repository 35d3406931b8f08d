"""Single message transforms (SMTs) and predicates, as Kafka Connect's ``transforms=a,b`` chain.

A transform takes a record (SinkRecord or SourceRecord: both carry topic, key,
value, schemas, timestamp, headers) and returns a new one, or None to drop it.
Values are schemaless dicts or structs with a ConnectSchema; when a schema is
present the transforms keep it in step with the value, as Connect does.
Transforms are named by their Java class names (``org.apache.kafka.connect.
transforms.InsertField$Value``) or by the simple name (``InsertField$Value``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from headwater.connect.api import ConnectError
from headwater.connect.converters import DATE, TIME, TIMESTAMP
from headwater.connect.data import ConnectSchema, Field, SinkRecord, SourceRecord

R = TypeVar("R", SinkRecord, SourceRecord)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class TransformError(ConnectError):
    """A transform could not handle a record (goes to the dead-letter topic under errors.tolerance=all)."""


class Predicate(ABC):
    def configure(self, config: Mapping[str, str]) -> None:
        self.config = dict(config)

    @abstractmethod
    def test(self, record: SinkRecord | SourceRecord) -> bool: ...


class TopicNameMatches(Predicate):
    def configure(self, config: Mapping[str, str]) -> None:
        super().configure(config)
        if not config.get("pattern"):
            raise ConnectError("TopicNameMatches: missing required configuration \"pattern\"")
        self.pattern = re.compile(config["pattern"])

    def test(self, record: SinkRecord | SourceRecord) -> bool:
        return record.topic is not None and self.pattern.fullmatch(record.topic) is not None


class HasHeaderKey(Predicate):
    def test(self, record: SinkRecord | SourceRecord) -> bool:
        return any(k == self.config.get("name") for k, _ in record.headers)


class RecordIsTombstone(Predicate):
    def test(self, record: SinkRecord | SourceRecord) -> bool:
        return record.value is None


class Transformation(ABC):
    #: For the $Key / $Value pairs: which side of the record the transform works on.
    is_key = False

    def configure(self, config: Mapping[str, str]) -> None:
        self.config = dict(config)

    @abstractmethod
    def apply(self, record: R) -> R | None: ...

    # -- helpers for the $Key / $Value pairs
    def _side(self, record: SinkRecord | SourceRecord) -> tuple[ConnectSchema | None, Any]:
        return (record.key_schema, record.key) if self.is_key else (record.value_schema, record.value)

    def _with(self, record: R, schema: ConnectSchema | None, value: Any) -> R:
        if self.is_key:
            return dataclasses.replace(record, key_schema=schema, key=value)
        return dataclasses.replace(record, value_schema=schema, value=value)

    def _struct(self, value: Any, purpose: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise TransformError(f"Only Struct objects supported for [{purpose}], found: "
                                 f"{type(value).__name__ if value is not None else 'null'}")
        return value


def split_list(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _struct_schema(base: ConnectSchema, fields: list[Field]) -> ConnectSchema:
    return dataclasses.replace(base, fields=tuple(fields))


class InsertField(Transformation):
    """Adds topic, partition, offset, timestamp and a static field (``name!`` required, ``name?`` optional)."""

    def configure(self, config: Mapping[str, str]) -> None:
        super().configure(config)
        self.fields = {k: config[k].rstrip("!?") for k in ("topic.field", "partition.field", "offset.field",
                                                            "timestamp.field", "static.field") if config.get(k)}
        self.static_value = config.get("static.value")

    def apply(self, record: R) -> R | None:
        side = self._side(record)
        schema: ConnectSchema | None = side[0]
        if side[1] is None:  # tombstones pass through, as in Connect
            return record
        out = dict(self._struct(side[1], "field insertion"))
        extra: list[tuple[str, Any, ConnectSchema]] = []
        for key, name in self.fields.items():
            if key == "topic.field":
                extra.append((name, record.topic, ConnectSchema("string", optional=True)))
            elif key == "partition.field":
                extra.append((name, getattr(record, "partition", None), ConnectSchema("int32", optional=True)))
            elif key == "offset.field":
                if not isinstance(record, SinkRecord):
                    raise TransformError("InsertField: offset.field is only supported for sink connectors")
                extra.append((name, record.offset, ConnectSchema("int64", optional=True)))
            elif key == "timestamp.field":
                ts = None if record.timestamp is None else _EPOCH + dt.timedelta(milliseconds=record.timestamp)
                extra.append((name, ts if schema is not None else record.timestamp,
                              ConnectSchema("int64", optional=True, name=TIMESTAMP, version=1)))
            else:
                extra.append((name, self.static_value, ConnectSchema("string", optional=True)))
        for name, field_value, _ in extra:
            out[name] = field_value
        return self._with(record, _appended(schema, extra), out)


def _appended(schema: ConnectSchema | None, extra: list[tuple[str, Any, ConnectSchema]]) -> ConnectSchema | None:
    if schema is None:
        return None
    return _struct_schema(schema, [*schema.fields, *(Field(name, s) for name, _, s in extra)])


class ReplaceField(Transformation):
    """``include`` / ``exclude`` (and the old ``whitelist`` / ``blacklist``) and ``renames=old:new,...``."""

    def configure(self, config: Mapping[str, str]) -> None:
        super().configure(config)
        self.include = set(split_list(config.get("include") or config.get("whitelist")))
        self.exclude = set(split_list(config.get("exclude") or config.get("blacklist")))
        self.renames: dict[str, str] = {}
        for pair in split_list(config.get("renames")):
            old, sep, new = pair.partition(":")
            if not sep or not old or not new:
                raise ConnectError(f"ReplaceField: invalid rename mapping {pair!r}: expected old:new")
            self.renames[old] = new

    def _keep(self, name: str) -> bool:
        return name not in self.exclude and (not self.include or name in self.include)

    def apply(self, record: R) -> R | None:
        schema, value = self._side(record)
        if value is None:
            return record
        struct = self._struct(value, "field replacement")
        out = {self.renames.get(k, k): v for k, v in struct.items() if self._keep(k)}
        if schema is not None:
            schema = _struct_schema(schema, [Field(self.renames.get(f.name, f.name), f.schema)
                                             for f in schema.fields if self._keep(f.name)])
        return self._with(record, schema, out)


class ValueToKey(Transformation):
    """The key becomes a struct of the listed value fields."""

    def configure(self, config: Mapping[str, str]) -> None:
        super().configure(config)
        self.fields = split_list(config.get("fields"))
        if not self.fields:
            raise ConnectError("ValueToKey: missing required configuration \"fields\"")

    def apply(self, record: R) -> R | None:
        value = self._struct(record.value, "copying fields from value to key")
        missing = [f for f in self.fields if f not in value]
        if missing and record.value_schema is not None:
            raise TransformError(f"ValueToKey: field {missing[0]} not found in the value")
        key = {f: value.get(f) for f in self.fields}
        key_schema = None
        if record.value_schema is not None:
            key_schema = ConnectSchema("struct", fields=tuple(
                Field(f, record.value_schema.field(f).schema) for f in self.fields))  # type: ignore[union-attr]
        return dataclasses.replace(record, key=key, key_schema=key_schema)


class ExtractField(Transformation):
    """Replaces the key or value with one of its fields (``field``)."""

    def configure(self, config: Mapping[str, str]) -> None:
        super().configure(config)
        self.field = config.get("field") or ""
        if not self.field:
            raise ConnectError("ExtractField: missing required configuration \"field\"")

    def apply(self, record: R) -> R | None:
        schema, value = self._side(record)
        if value is None:
            return record
        struct = self._struct(value, "field extraction")
        field_schema = None
        if schema is not None:
            found = schema.field(self.field)
            if found is None:
                raise TransformError(f"ExtractField: unknown field: {self.field}")
            field_schema = found.schema
        return self._with(record, field_schema, struct.get(self.field))


def java_date_format(pattern: str) -> str:
    """A SimpleDateFormat pattern as a Python strftime format (the common letters)."""
    table = {"yyyy": "%Y", "yy": "%y", "MMMM": "%B", "MMM": "%b", "MM": "%m", "dd": "%d", "HH": "%H",
             "hh": "%I", "mm": "%M", "ss": "%S", "SSS": "%f", "a": "%p", "EEE": "%a", "EEEE": "%A",
             "Z": "%z", "XXX": "%:z", "X": "%z", "z": "%Z", "D": "%j"}
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[i + 1:end].replace("%", "%%") or "'")
            i = end + 1
            continue
        if ch.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == ch:
                j += 1
            run = pattern[i:j]
            if run not in table:
                raise ConnectError(f"TimestampConverter: unsupported date pattern letters {run!r} in {pattern!r}")
            out.append(table[run])
            i = j
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


class TimestampConverter(Transformation):
    """Converts a timestamp field (or the whole key/value) between string, unix, Date, Time and Timestamp."""

    TARGETS = ("string", "unix", "Date", "Time", "Timestamp")

    def configure(self, config: Mapping[str, str]) -> None:
        super().configure(config)
        self.field = config.get("field") or ""
        self.target = config.get("target.type") or ""
        if self.target not in self.TARGETS:
            raise ConnectError(f"TimestampConverter: target.type must be one of {', '.join(self.TARGETS)}, "
                               f"got {self.target!r}")
        self.format = java_date_format(config["format"]) if config.get("format") else None
        if self.target == "string" and self.format is None:
            raise ConnectError("TimestampConverter requires format option to be specified when using string timestamps")
        self.precision = config.get("unix.precision", "milliseconds")
        self.scale = {"seconds": 1, "milliseconds": 1_000, "microseconds": 1_000_000,
                      "nanoseconds": 1_000_000_000}[self.precision]

    def _to_datetime(self, value: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
        if isinstance(value, bool):
            raise TransformError(f"TimestampConverter: cannot convert a boolean ({value}) to a timestamp")
        if isinstance(value, (int, float)):
            return _EPOCH + dt.timedelta(microseconds=value * 1_000_000 / self.scale)
        if isinstance(value, str):
            if self.format is None:
                raise TransformError("TimestampConverter requires format option to be specified "
                                     "when using string timestamps")
            try:
                parsed = dt.datetime.strptime(value, self.format)
            except ValueError as exc:
                raise TransformError(f"TimestampConverter: could not parse timestamp {value!r}: {exc}") from None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
        raise TransformError(f"TimestampConverter: cannot convert {type(value).__name__} to a timestamp")

    def _convert(self, value: Any) -> tuple[Any, ConnectSchema]:
        when = self._to_datetime(value)
        if self.target == "string":
            text = when.strftime(self.format or "")
            if "%f" in (self.format or ""):  # SSS is milliseconds, strftime's %f microseconds
                text = text.replace(when.strftime("%f"), when.strftime("%f")[:3], 1)
            return text, ConnectSchema("string", optional=True)
        if self.target == "unix":
            delta = when - _EPOCH
            micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
            return micros * self.scale // 1_000_000, ConnectSchema("int64", optional=True)
        if self.target == "Date":
            return when.date(), ConnectSchema("int32", optional=True, name=DATE, version=1)
        if self.target == "Time":
            return when.time(), ConnectSchema("int32", optional=True, name=TIME, version=1)
        return when, ConnectSchema("int64", optional=True, name=TIMESTAMP, version=1)

    def apply(self, record: R) -> R | None:
        schema, value = self._side(record)
        if value is None:
            return record
        if not self.field:
            converted, new_schema = self._convert(value)
            return self._with(record, new_schema if schema is not None else None, converted)
        struct = dict(self._struct(value, "converting timestamp formats"))
        if struct.get(self.field) is None:
            return record
        struct[self.field], field_schema = self._convert(struct[self.field])
        if schema is not None:
            schema = _struct_schema(schema, [Field(f.name, field_schema) if f.name == self.field else f
                                             for f in schema.fields])
        return self._with(record, schema, struct)


class Filter(Transformation):
    """Drops every record it sees; used with a predicate (``transforms.x.predicate``) to drop some."""

    def apply(self, record: R) -> R | None:
        return None


class NullFilter(Transformation):
    """io.confluent.transforms.NullFilter: drops tombstones (records with a null value)."""

    def apply(self, record: R) -> R | None:
        return None if record.value is None else record


def _key(cls: type[Transformation]) -> type[Transformation]:
    return type(cls.__name__ + "Key", (cls,), {"is_key": True})


TRANSFORMS: dict[str, Callable[[], Transformation]] = {
    "org.apache.kafka.connect.transforms.InsertField$Value": InsertField,
    "org.apache.kafka.connect.transforms.InsertField$Key": _key(InsertField),
    "org.apache.kafka.connect.transforms.ReplaceField$Value": ReplaceField,
    "org.apache.kafka.connect.transforms.ReplaceField$Key": _key(ReplaceField),
    "org.apache.kafka.connect.transforms.ValueToKey": ValueToKey,
    "org.apache.kafka.connect.transforms.ExtractField$Value": ExtractField,
    "org.apache.kafka.connect.transforms.ExtractField$Key": _key(ExtractField),
    "org.apache.kafka.connect.transforms.TimestampConverter$Value": TimestampConverter,
    "org.apache.kafka.connect.transforms.TimestampConverter$Key": _key(TimestampConverter),
    "org.apache.kafka.connect.transforms.Filter": Filter,
    "io.confluent.transforms.NullFilter": NullFilter,
}

PREDICATES: dict[str, type[Predicate]] = {
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches": TopicNameMatches,
    "org.apache.kafka.connect.transforms.predicates.HasHeaderKey": HasHeaderKey,
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone": RecordIsTombstone,
}
