"""Column types as Debezium maps them: a database column becomes a Connect schema and a value converter.

``decimal.handling.mode`` (precise | double | string), ``time.precision.mode``
(adaptive | adaptive_time_microseconds | connect) and ``binary.handling.mode``
(bytes | base64 | hex) choose the representation, with Debezium's defaults
(precise, adaptive, bytes). PostgreSQL values arrive as text (pgoutput's text
format; the snapshot casts every column to text so both paths share one
parser); MariaDB/MySQL values arrive as Python objects (PyMySQL and
mysql-replication). The mapping table is in docs/cdc.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from headwater.connect.api import ConnectError
from headwater.connect.data import ConnectSchema, Field

Convert = Callable[[Any], Any]
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
DECIMAL = "org.apache.kafka.connect.data.Decimal"
VARIABLE_SCALE_DECIMAL = "io.debezium.data.VariableScaleDecimal"
_INT32, _INT64 = ConnectSchema("int32"), ConnectSchema("int64")


@dataclass(frozen=True)
class TypeModes:
    decimal: str = "precise"
    time_precision: str = "adaptive"
    binary: str = "bytes"

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> TypeModes:
        modes = cls(config.get("decimal.handling.mode", "precise").lower(),
                    config.get("time.precision.mode", "adaptive").lower(),
                    config.get("binary.handling.mode", "bytes").lower())
        for key, value, allowed in (("decimal.handling.mode", modes.decimal, ("precise", "double", "string")),
                                    ("time.precision.mode", modes.time_precision,
                                     ("adaptive", "adaptive_time_microseconds", "connect")),
                                    ("binary.handling.mode", modes.binary, ("bytes", "base64", "hex"))):
            if value not in allowed:
                raise ConnectError(f"{key} must be one of {', '.join(allowed)}, got {value!r}")
        return modes


@dataclass(frozen=True)
class Column:
    """A column of a captured table: its Debezium schema and how a database value becomes the event's value."""

    name: str
    schema: ConnectSchema
    convert: Convert


def _schema(kind: str, optional: bool, name: str | None = None, params: Mapping[str, str] | None = None,
            version: int | None = None) -> ConnectSchema:
    return ConnectSchema(kind, optional=optional, name=name, parameters=params, version=version)


def _nullable(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


# -- shared representations -------------------------------------------------------------


def decimal_column(name: str, optional: bool, modes: TypeModes, precision: int | None, scale: int | None,
                   parse: Convert) -> Column:
    if modes.decimal == "double":
        return Column(name, _schema("float64", optional), _nullable(lambda v: float(parse(v))))
    if modes.decimal == "string":
        return Column(name, _schema("string", optional), _nullable(lambda v: str(parse(v))))
    if scale is None:  # a numeric without a declared scale: Debezium's variable-scale struct
        schema = ConnectSchema("struct", optional=optional, name=VARIABLE_SCALE_DECIMAL, version=1,
                               doc="Variable scaled decimal",
                               fields=(Field("scale", _INT32), Field("value", ConnectSchema("bytes"))))
        return Column(name, schema, _nullable(lambda v: _variable_scale(parse(v))))
    params = {"scale": str(scale)}
    if precision is not None:
        params["connect.decimal.precision"] = str(precision)
    return Column(name, _schema("bytes", optional, DECIMAL, params, 1),
                  _nullable(lambda v: parse(v).quantize(Decimal(1).scaleb(-scale))))


def _variable_scale(value: Decimal) -> dict[str, Any]:
    sign, digits, exponent = value.as_tuple()
    scale = -int(exponent) if isinstance(exponent, int) and exponent < 0 else 0
    unscaled = int(value.scaleb(scale))
    size = max(1, (unscaled.bit_length() + 8) // 8)
    return {"scale": scale, "value": unscaled.to_bytes(size, "big", signed=True)}


def binary_column(name: str, optional: bool, modes: TypeModes, parse: Convert) -> Column:
    if modes.binary == "base64":
        return Column(name, _schema("string", optional), _nullable(lambda v: base64.b64encode(parse(v)).decode()))
    if modes.binary == "hex":
        return Column(name, _schema("string", optional), _nullable(lambda v: parse(v).hex()))
    return Column(name, _schema("bytes", optional), _nullable(parse))


def timestamp_column(name: str, optional: bool, modes: TypeModes, precision: int, parse: Convert) -> Column:
    """A timestamp without time zone: milliseconds or microseconds since the epoch, as the wall clock reads."""
    if modes.time_precision == "connect":
        return Column(name, _schema("int64", optional, "org.apache.kafka.connect.data.Timestamp", version=1),
                      _nullable(parse))
    if precision <= 3:
        return Column(name, _schema("int64", optional, "io.debezium.time.Timestamp", version=1),
                      _nullable(lambda v: _micros(parse(v)) // 1000))
    return Column(name, _schema("int64", optional, "io.debezium.time.MicroTimestamp", version=1),
                  _nullable(lambda v: _micros(parse(v))))


def _micros(value: dt.datetime) -> int:
    delta = value.replace(tzinfo=None) - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def zoned_timestamp_column(name: str, optional: bool, parse: Convert) -> Column:
    """A timestamp with time zone: an ISO-8601 string in UTC (io.debezium.time.ZonedTimestamp)."""
    return Column(name, _schema("string", optional, "io.debezium.time.ZonedTimestamp", version=1),
                  _nullable(lambda v: zoned(parse(v))))


def zoned(value: dt.datetime) -> str:
    utc = value.astimezone(dt.timezone.utc) if value.tzinfo else value
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def date_column(name: str, optional: bool, modes: TypeModes, parse: Convert) -> Column:
    if modes.time_precision == "connect":
        return Column(name, _schema("int32", optional, "org.apache.kafka.connect.data.Date", version=1),
                      _nullable(parse))
    return Column(name, _schema("int32", optional, "io.debezium.time.Date", version=1),
                  _nullable(lambda v: (parse(v) - EPOCH.date()).days))


def time_column(name: str, optional: bool, modes: TypeModes, precision: int, parse_micros: Convert) -> Column:
    """A time of day; ``parse_micros`` gives microseconds since midnight."""
    if modes.time_precision == "connect":
        return Column(name, _schema("int32", optional, "org.apache.kafka.connect.data.Time", version=1),
                      _nullable(lambda v: int(parse_micros(v)) // 1000))
    if precision <= 3 and modes.time_precision == "adaptive":
        return Column(name, _schema("int32", optional, "io.debezium.time.Time", version=1),
                      _nullable(lambda v: int(parse_micros(v)) // 1000))
    return Column(name, _schema("int64", optional, "io.debezium.time.MicroTime", version=1),
                  _nullable(lambda v: int(parse_micros(v))))


def json_column(name: str, optional: bool) -> Column:
    return Column(name, _schema("string", optional, "io.debezium.data.Json", version=1),
                  _nullable(lambda v: v if isinstance(v, str) else json.dumps(v, separators=(",", ":"),
                                                                                default=str)))


def plain(name: str, kind: str, optional: bool, convert: Convert, logical: str | None = None) -> Column:
    return Column(name, _schema(kind, optional, logical, version=1 if logical else None), _nullable(convert))


def text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (set, frozenset)):
        return ",".join(sorted(value))
    return str(value)
