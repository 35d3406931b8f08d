"""ksqlDB's SQL types, with their display names and their Arrow and DuckDB forms.

A type is a frozen value: two equal types compare and hash equal. Three renderings:

- :meth:`SqlType.sql` is the canonical SQL text ksqlDB prints in schemas
  (``STRING``, ``INTEGER``, ``STRUCT<`A` INTEGER>``); the parser reads it back.
- :meth:`SqlType.display` is what ``DESCRIBE`` shows in the CLI
  (``VARCHAR(STRING)``, ``STRUCT<A INTEGER, B VARCHAR(STRING)>``).
- :meth:`SqlType.to_arrow` / :meth:`SqlType.to_duckdb` are the physical types
  records take in Arrow batches and in DuckDB.

Time types follow ksqlDB: ``TIMESTAMP`` is milliseconds since the epoch with no
zone, ``TIME`` milliseconds of the day, ``DATE`` days since the epoch.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import pyarrow as pa

from headwater.errors import SqlError


class BaseType(enum.Enum):
    """The kinds of type; the value is the canonical SQL name."""

    BOOLEAN = "BOOLEAN"
    INTEGER = "INTEGER"
    BIGINT = "BIGINT"
    DOUBLE = "DOUBLE"
    DECIMAL = "DECIMAL"
    STRING = "STRING"
    BYTES = "BYTES"
    DATE = "DATE"
    TIME = "TIME"
    TIMESTAMP = "TIMESTAMP"
    ARRAY = "ARRAY"
    MAP = "MAP"
    STRUCT = "STRUCT"
    CUSTOM = "CUSTOM"


_PLAIN_FIELD = re.compile(r"[A-Z_][A-Z0-9_@]*\Z")


def _quote_field(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True, slots=True)
class SqlType:
    """Base of every SQL type."""

    @property
    def base(self) -> BaseType:
        raise NotImplementedError

    def sql(self) -> str:
        """Canonical ksqlDB SQL text of the type."""
        raise NotImplementedError

    def display(self) -> str:
        """The type as ksqlDB's DESCRIBE shows it."""
        return self.sql()

    def to_arrow(self) -> pa.DataType:
        raise NotImplementedError

    def to_duckdb(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.sql()

    @property
    def is_numeric(self) -> bool:
        return self.base in (BaseType.INTEGER, BaseType.BIGINT, BaseType.DOUBLE, BaseType.DECIMAL)

    @property
    def is_primitive(self) -> bool:
        return self.base not in (BaseType.ARRAY, BaseType.MAP, BaseType.STRUCT, BaseType.CUSTOM)


_ARROW_PRIMITIVES: dict[BaseType, pa.DataType] = {
    BaseType.BOOLEAN: pa.bool_(),
    BaseType.INTEGER: pa.int32(),
    BaseType.BIGINT: pa.int64(),
    BaseType.DOUBLE: pa.float64(),
    BaseType.STRING: pa.string(),
    BaseType.BYTES: pa.binary(),
    BaseType.DATE: pa.date32(),
    BaseType.TIME: pa.time32("ms"),
    BaseType.TIMESTAMP: pa.timestamp("ms"),
}

_DUCKDB_PRIMITIVES: dict[BaseType, str] = {
    BaseType.BOOLEAN: "BOOLEAN",
    BaseType.INTEGER: "INTEGER",
    BaseType.BIGINT: "BIGINT",
    BaseType.DOUBLE: "DOUBLE",
    BaseType.STRING: "VARCHAR",
    BaseType.BYTES: "BLOB",
    BaseType.DATE: "DATE",
    BaseType.TIME: "TIME",
    BaseType.TIMESTAMP: "TIMESTAMP_MS",
}


@dataclass(frozen=True, slots=True)
class PrimitiveType(SqlType):
    """BOOLEAN, INTEGER, BIGINT, DOUBLE, STRING, BYTES, DATE, TIME or TIMESTAMP."""

    kind: BaseType

    def __post_init__(self) -> None:
        if self.kind not in _ARROW_PRIMITIVES:
            raise SqlError(f"sql: {self.kind.value} is not a primitive type")

    @property
    def base(self) -> BaseType:
        return self.kind

    def sql(self) -> str:
        return self.kind.value

    def display(self) -> str:
        return "VARCHAR(STRING)" if self.kind is BaseType.STRING else self.kind.value

    def to_arrow(self) -> pa.DataType:
        return _ARROW_PRIMITIVES[self.kind]

    def to_duckdb(self) -> str:
        return _DUCKDB_PRIMITIVES[self.kind]


@dataclass(frozen=True, slots=True)
class DecimalType(SqlType):
    """DECIMAL(precision, scale): precision >= 1, 0 <= scale <= precision."""

    precision: int
    scale: int

    def __post_init__(self) -> None:
        problem = decimal_problem(self.precision, self.scale)
        if problem:
            raise SqlError(f"sql: {problem}")

    @property
    def base(self) -> BaseType:
        return BaseType.DECIMAL

    def sql(self) -> str:
        return f"DECIMAL({self.precision}, {self.scale})"

    def to_arrow(self) -> pa.DataType:
        if self.precision <= 38:
            return pa.decimal128(self.precision, self.scale)
        return pa.decimal256(self.precision, self.scale)

    def to_duckdb(self) -> str:
        return f"DECIMAL({self.precision}, {self.scale})"


def epoch_millis_sql(timestamp_sql: str) -> str:
    """DuckDB SQL for the epoch milliseconds of a TIMESTAMP value.

    The cast first is needed: DuckDB 2.0's ``epoch_ms`` over ``TIMESTAMP_MS`` (our TIMESTAMP) fails with
    "Unimplemented type for cast (INT64 -> INT64)"; widening milliseconds to microseconds is exact.
    """
    return f"epoch_ms(CAST({timestamp_sql} AS TIMESTAMP))"


def decimal_problem(precision: int, scale: int) -> str | None:
    """What is wrong with DECIMAL(precision, scale), in ksqlDB's words, or None."""
    if precision < 1:
        return f"DECIMAL precision must be >= 1: DECIMAL({precision}, {scale})"
    if scale < 0:
        return f"DECIMAL scale must be non-negative: DECIMAL({precision}, {scale})"
    if scale > precision:
        return f"DECIMAL precision must be >= scale: DECIMAL({precision}, {scale})"
    return None


@dataclass(frozen=True, slots=True)
class ArrayType(SqlType):
    """ARRAY<element>; subscripts are 1-based."""

    element: SqlType

    @property
    def base(self) -> BaseType:
        return BaseType.ARRAY

    def sql(self) -> str:
        return f"ARRAY<{self.element.sql()}>"

    def display(self) -> str:
        return f"ARRAY<{self.element.display()}>"

    def to_arrow(self) -> pa.DataType:
        return pa.list_(self.element.to_arrow())

    def to_duckdb(self) -> str:
        return f"{self.element.to_duckdb()}[]"


@dataclass(frozen=True, slots=True)
class MapType(SqlType):
    """MAP<key, value>."""

    key: SqlType
    value: SqlType

    @property
    def base(self) -> BaseType:
        return BaseType.MAP

    def sql(self) -> str:
        return f"MAP<{self.key.sql()}, {self.value.sql()}>"

    def display(self) -> str:
        return f"MAP<{self.key.display()}, {self.value.display()}>"

    def to_arrow(self) -> pa.DataType:
        return pa.map_(self.key.to_arrow(), self.value.to_arrow())

    def to_duckdb(self) -> str:
        return f"MAP({self.key.to_duckdb()}, {self.value.to_duckdb()})"


@dataclass(frozen=True, slots=True)
class StructField:
    """One field of a STRUCT; the name is as normalized by the parser (upper-cased unless quoted)."""

    name: str
    type: SqlType


@dataclass(frozen=True, slots=True)
class StructType(SqlType):
    """STRUCT<name type, ...>; field order is significant."""

    fields: tuple[StructField, ...]

    @property
    def base(self) -> BaseType:
        return BaseType.STRUCT

    def field(self, name: str) -> StructField | None:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        return None

    def sql(self) -> str:
        inner = ", ".join(f"{_quote_field(f.name)} {f.type.sql()}" for f in self.fields)
        return f"STRUCT<{inner}>"

    def display(self) -> str:
        inner = ", ".join(
            f"{f.name if _PLAIN_FIELD.match(f.name) else _quote_field(f.name)} {f.type.display()}"
            for f in self.fields
        )
        return f"STRUCT<{inner}>"

    def to_arrow(self) -> pa.DataType:
        return pa.struct([pa.field(f.name, f.type.to_arrow()) for f in self.fields])

    def to_duckdb(self) -> str:
        inner = ", ".join('"' + f.name.replace('"', '""') + '" ' + f.type.to_duckdb() for f in self.fields)
        return f"STRUCT({inner})"


@dataclass(frozen=True, slots=True)
class CustomType(SqlType):
    """A type named by CREATE TYPE, not yet resolved by the catalog."""

    name: str

    @property
    def base(self) -> BaseType:
        return BaseType.CUSTOM

    def sql(self) -> str:
        return self.name if _PLAIN_FIELD.match(self.name) else _quote_field(self.name)

    def to_arrow(self) -> pa.DataType:
        raise SqlError(f"sql: type {self.name} must be resolved before it has an Arrow form")

    def to_duckdb(self) -> str:
        raise SqlError(f"sql: type {self.name} must be resolved before it has a DuckDB form")


BOOLEAN = PrimitiveType(BaseType.BOOLEAN)
INTEGER = PrimitiveType(BaseType.INTEGER)
BIGINT = PrimitiveType(BaseType.BIGINT)
DOUBLE = PrimitiveType(BaseType.DOUBLE)
STRING = PrimitiveType(BaseType.STRING)
BYTES = PrimitiveType(BaseType.BYTES)
DATE = PrimitiveType(BaseType.DATE)
TIME = PrimitiveType(BaseType.TIME)
TIMESTAMP = PrimitiveType(BaseType.TIMESTAMP)

#: Type names the parser knows, with their synonyms (VARCHAR = STRING, INT = INTEGER).
PRIMITIVE_NAMES: dict[str, PrimitiveType] = {
    "BOOLEAN": BOOLEAN,
    "INT": INTEGER,
    "INTEGER": INTEGER,
    "BIGINT": BIGINT,
    "DOUBLE": DOUBLE,
    "VARCHAR": STRING,
    "STRING": STRING,
    "BYTES": BYTES,
    "DATE": DATE,
    "TIME": TIME,
    "TIMESTAMP": TIMESTAMP,
}


def from_arrow(arrow_type: pa.DataType) -> SqlType:
    """The SQL type of an Arrow type (the inverse of :meth:`SqlType.to_arrow`, widened where needed)."""
    if pa.types.is_boolean(arrow_type):
        return BOOLEAN
    if pa.types.is_int8(arrow_type) or pa.types.is_int16(arrow_type) or pa.types.is_int32(arrow_type):
        return INTEGER
    if pa.types.is_integer(arrow_type):
        return BIGINT
    if pa.types.is_floating(arrow_type):
        return DOUBLE
    if pa.types.is_decimal(arrow_type):
        return DecimalType(arrow_type.precision, arrow_type.scale)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return STRING
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type) or pa.types.is_fixed_size_binary(
        arrow_type
    ):
        return BYTES
    if pa.types.is_date(arrow_type):
        return DATE
    if pa.types.is_time(arrow_type):
        return TIME
    if pa.types.is_timestamp(arrow_type):
        return TIMESTAMP
    if pa.types.is_map(arrow_type):
        return MapType(from_arrow(arrow_type.key_type), from_arrow(arrow_type.item_type))
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        return ArrayType(from_arrow(arrow_type.value_type))
    if pa.types.is_struct(arrow_type):
        return StructType(tuple(StructField(f.name, from_arrow(f.type)) for f in arrow_type))
    raise SqlError(f"sql: no SQL type for Arrow type {arrow_type}")
