"""MariaDB/MySQL column types as Debezium's MySQL connector maps them.

A column is described the same way from the snapshot's
``information_schema.COLUMNS`` and from the binlog's table map event (with
``binlog_row_metadata=FULL``: names, signedness, charsets, enum/set values,
primary key; nullability from its null bitmap), so snapshot and stream events
have one shape. Values come from PyMySQL (snapshot, session time zone UTC) and
mysql-replication (binlog); the converters accept both forms (a SET as a
Python set or a comma string, a BIT as bytes or a string of bits, a TIME as a
``timedelta``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pymysqlreplication.constants import FIELD_TYPE

from headwater.connect.cdc.types import (
    Column,
    TypeModes,
    binary_column,
    date_column,
    decimal_column,
    json_column,
    plain,
    text,
    time_column,
    timestamp_column,
    zoned_timestamp_column,
)

BINARY_CHARSET = 63
_INTS = {"tinyint": ("int16", "int16"), "smallint": ("int16", "int32"), "mediumint": ("int32", "int32"),
         "int": ("int32", "int64"), "integer": ("int32", "int64"), "bigint": ("int64", "int64")}
_STRINGS = ("char", "varchar", "tinytext", "text", "mediumtext", "longtext")
_BINARIES = ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry")


@dataclass(frozen=True)
class MyColumn:
    """A column as the database describes it (lower-case type name, as information_schema's DATA_TYPE)."""

    name: str
    kind: str
    nullable: bool = True
    unsigned: bool = False
    precision: int | None = None
    scale: int | None = None
    fsp: int = 0
    bits: int = 1


def from_table_map(column: Any, nullable: bool) -> MyColumn:
    """A binlog table map column (mysql-replication's Column) as a :class:`MyColumn`."""
    code = column.type
    binary = (getattr(column, "character_set_name", None) == "binary"
              or getattr(column, "charset_id", None) == BINARY_CHARSET)
    kind = {FIELD_TYPE.TINY: "tinyint", FIELD_TYPE.SHORT: "smallint", FIELD_TYPE.INT24: "mediumint",
            FIELD_TYPE.LONG: "int", FIELD_TYPE.LONGLONG: "bigint", FIELD_TYPE.FLOAT: "float",
            FIELD_TYPE.DOUBLE: "double", FIELD_TYPE.NEWDECIMAL: "decimal", FIELD_TYPE.DECIMAL: "decimal",
            FIELD_TYPE.DATE: "date", FIELD_TYPE.NEWDATE: "date", FIELD_TYPE.DATETIME: "datetime",
            FIELD_TYPE.DATETIME2: "datetime", FIELD_TYPE.TIMESTAMP: "timestamp", FIELD_TYPE.TIMESTAMP2: "timestamp",
            FIELD_TYPE.TIME: "time", FIELD_TYPE.TIME2: "time", FIELD_TYPE.YEAR: "year", FIELD_TYPE.ENUM: "enum",
            FIELD_TYPE.SET: "set", FIELD_TYPE.BIT: "bit", FIELD_TYPE.JSON: "json",
            FIELD_TYPE.GEOMETRY: "geometry"}.get(code)
    if kind is None:  # VARCHAR, VAR_STRING, STRING, BLOB: text or binary by the column's charset
        kind = ("varbinary" if binary else "varchar") if code != FIELD_TYPE.BLOB else ("blob" if binary else "text")
    return MyColumn(column.name, kind, nullable, bool(getattr(column, "unsigned", False)),
                    getattr(column, "precision", None), getattr(column, "decimals", None),
                    int(getattr(column, "fsp", 0) or 0), int(getattr(column, "bits", 1) or 1))


def from_information_schema(row: dict[str, Any]) -> MyColumn:
    """A row of information_schema.COLUMNS as a :class:`MyColumn`."""
    column_type = str(row["COLUMN_TYPE"]).lower()
    kind = str(row["DATA_TYPE"]).lower()
    bits = int(column_type[4:-1]) if kind == "bit" and column_type.startswith("bit(") else 1
    return MyColumn(str(row["COLUMN_NAME"]), kind, row["IS_NULLABLE"] == "YES", "unsigned" in column_type,
                    row["NUMERIC_PRECISION"], row["NUMERIC_SCALE"], int(row["DATETIME_PRECISION"] or 0), bits)


def _micros_of(value: Any) -> int:
    if isinstance(value, dt.timedelta):
        return (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    if isinstance(value, dt.time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
    raise TypeError(f"not a time: {value!r}")


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _bits(value: Any) -> bytes:
    """Debezium's io.debezium.data.Bits: the bits as little-endian bytes."""
    number = int(value, 2) if isinstance(value, str) else int.from_bytes(bytes(value), "big")
    return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "little")


def _bit_bool(value: Any) -> bool:
    return (value == "1") if isinstance(value, str) else any(bytes(value)) if isinstance(value, bytes) else bool(value)


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _set_text(value: Any) -> str:
    if isinstance(value, (set, frozenset)):
        return ",".join(sorted(value))
    return text(value)


def mysql_column(column: MyColumn, modes: TypeModes) -> Column:
    """The Debezium column of a MariaDB/MySQL column."""
    name, kind, optional = column.name, column.kind, column.nullable
    if kind in _INTS:
        signed, unsigned = _INTS[kind]
        return plain(name, unsigned if column.unsigned else signed, optional, int)
    if kind in ("float", "double", "real"):
        return plain(name, "float64", optional, float)
    if kind in ("decimal", "numeric"):
        return decimal_column(name, optional, modes, column.precision, column.scale or 0, lambda v: Decimal(str(v)))
    if kind == "date":
        return date_column(name, optional, modes, lambda v: v if isinstance(v, dt.date) else dt.date.fromisoformat(v))
    if kind == "datetime":
        return timestamp_column(name, optional, modes, column.fsp, _datetime)
    if kind == "timestamp":
        return zoned_timestamp_column(name, optional, lambda v: _datetime(v).replace(tzinfo=dt.timezone.utc))
    if kind == "time":
        return time_column(name, optional, modes, column.fsp if modes.time_precision == "adaptive" else 6, _micros_of)
    if kind == "year":
        return plain(name, "int32", optional, int, "io.debezium.time.Year")
    if kind == "enum":
        return plain(name, "string", optional, text, "io.debezium.data.Enum")
    if kind == "set":
        return plain(name, "string", optional, _set_text, "io.debezium.data.EnumSet")
    if kind == "bit":
        if column.bits == 1:
            return plain(name, "boolean", optional, _bit_bool)
        return plain(name, "bytes", optional, _bits, "io.debezium.data.Bits")
    if kind == "json":
        return json_column(name, optional)
    if kind in _BINARIES:
        return binary_column(name, optional, modes, _as_bytes)
    return plain(name, "string", optional, text)
