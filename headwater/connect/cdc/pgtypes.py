"""PostgreSQL column types (by type OID, from pgoutput's Relation message) as Debezium's PostgreSQL connector maps them.

Values are the type's text output (pgoutput in text mode; the snapshot selects
``column::text``). Types not listed (arrays, ranges, geometric, user-defined
enums and domains...) become strings of their text form; Debezium maps some of
them to richer shapes (documented in docs/cdc.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from headwater.connect.cdc.types import (
    Column,
    TypeModes,
    binary_column,
    date_column,
    decimal_column,
    json_column,
    plain,
    time_column,
    timestamp_column,
    zoned_timestamp_column,
)

BOOL, BYTEA, INT8, INT2, INT4, OID, FLOAT4, FLOAT8 = 16, 17, 20, 21, 23, 26, 700, 701
JSON, JSONB, UUID, NUMERIC, DATE, TIME, TIMESTAMP, TIMESTAMPTZ, TIMETZ = 114, 3802, 2950, 1700, 1082, 1083, 1114, \
    1184, 1266
MONEY = 790


def _float(text: str) -> float:
    return float(text)  # 'NaN', 'Infinity' and '-Infinity' parse as Python's


def _bool(text: str) -> bool:
    return text in ("t", "true")  # pgoutput writes t; the snapshot's bool::text writes true


def _bytea(text: str) -> bytes:
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:])
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")  # bytea_output=escape


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _time_micros(text: str) -> int:
    if text.startswith("24:00"):
        return 86_400_000_000
    value = dt.time.fromisoformat(text)
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def _timetz(text: str) -> str:
    value = dt.datetime.fromisoformat("2000-01-01T" + text)
    utc = value.astimezone(dt.timezone.utc)
    return utc.strftime("%H:%M:%S") + (f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else "") + "Z"


def _precision(typmod: int) -> int:
    return 6 if typmod < 0 else typmod


def postgres_column(name: str, type_oid: int, typmod: int, optional: bool, modes: TypeModes) -> Column:
    """The Debezium column of a PostgreSQL column."""
    simple: dict[int, tuple[str, Callable[[str], object], str | None]] = {
        BOOL: ("boolean", _bool, None), INT2: ("int16", int, None), INT4: ("int32", int, None),
        INT8: ("int64", int, None), OID: ("int64", int, None), FLOAT4: ("float32", _float, None),
        FLOAT8: ("float64", _float, None), UUID: ("string", str, "io.debezium.data.Uuid"),
    }
    if type_oid in simple:
        kind, convert, logical = simple[type_oid]
        return plain(name, kind, optional, convert, logical)
    if type_oid == NUMERIC:
        if typmod < 0:
            return decimal_column(name, optional, modes, None, None, Decimal)
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        return decimal_column(name, optional, modes, precision, scale, Decimal)
    if type_oid == MONEY:
        return decimal_column(name, optional, modes, None, 2,
                              lambda t: Decimal(str(t).replace("$", "").replace(",", "")))
    if type_oid == BYTEA:
        return binary_column(name, optional, modes, _bytea)
    if type_oid in (JSON, JSONB):
        return json_column(name, optional)
    if type_oid == DATE:
        return date_column(name, optional, modes, _date)
    if type_oid == TIMESTAMP:
        return timestamp_column(name, optional, modes, _precision(typmod), _timestamp)
    if type_oid == TIMESTAMPTZ:
        return zoned_timestamp_column(name, optional, _timestamp)
    if type_oid == TIME:
        return time_column(name, optional, modes, _precision(typmod), _time_micros)
    if type_oid == TIMETZ:
        return plain(name, "string", optional, _timetz, "io.debezium.time.ZonedTime")
    return plain(name, "string", optional, str)
