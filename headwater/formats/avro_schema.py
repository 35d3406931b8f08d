"""ksqlDB's mapping between SQL types and Avro schemas, both ways.

SQL to Avro (what a CSAS/CTAS registers): every column is an optional field
(``["null", T]``, default null); BOOLEAN boolean, INT int, BIGINT long,
DOUBLE double, STRING string, BYTES bytes, DECIMAL(p,s) bytes with the
``decimal`` logical type, DATE int ``date``, TIME int ``time-millis``,
TIMESTAMP long ``timestamp-millis``, ARRAY array, MAP<STRING,V> map, STRUCT
a record named ``<parent>_<FIELD>``. The top record is
``io.confluent.ksql.avro_schemas.KsqlDataSourceSchema`` (``KsqlDataSourceSchema``
for keys' ``KsqlKey``) unless ``VALUE_SCHEMA_FULL_NAME`` says otherwise.

Avro to SQL (schema inference): the same, plus float as DOUBLE, enum and
fixed as STRING/BYTES, ``timestamp-micros`` as TIMESTAMP, unions of null and
one type as that type; field names are upper-cased as ksqlDB does. Other
unions and recursive records cannot be columns (FormatError).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from headwater.errors import FormatError
from headwater.sql.types import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DATE,
    DOUBLE,
    INTEGER,
    STRING,
    TIME,
    TIMESTAMP,
    ArrayType,
    BaseType,
    DecimalType,
    MapType,
    SqlType,
    StructField,
    StructType,
)

DEFAULT_NAMESPACE = "io.confluent.ksql.avro_schemas"
DEFAULT_VALUE_NAME = f"{DEFAULT_NAMESPACE}.KsqlDataSourceSchema"
DEFAULT_KEY_NAME = f"{DEFAULT_NAMESPACE}.KsqlKey"

_PRIMITIVES: dict[BaseType, Any] = {
    BaseType.BOOLEAN: "boolean",
    BaseType.INTEGER: "int",
    BaseType.BIGINT: "long",
    BaseType.DOUBLE: "double",
    BaseType.STRING: "string",
    BaseType.BYTES: "bytes",
    BaseType.DATE: {"type": "int", "logicalType": "date"},
    BaseType.TIME: {"type": "int", "logicalType": "time-millis"},
    BaseType.TIMESTAMP: {"type": "long", "logicalType": "timestamp-millis"},
}


def avro_type(sql_type: SqlType, name: str) -> Any:
    """The Avro type of a SQL type (not nullable); ``name`` names a record made for a STRUCT."""
    base = sql_type.base
    if base in _PRIMITIVES:
        return _PRIMITIVES[base]
    if isinstance(sql_type, DecimalType):
        return {"type": "bytes", "logicalType": "decimal", "precision": sql_type.precision, "scale": sql_type.scale}
    if isinstance(sql_type, ArrayType):
        return {"type": "array", "items": optional(avro_type(sql_type.element, name))}
    if isinstance(sql_type, MapType):
        if sql_type.key.base is not BaseType.STRING:
            raise FormatError(f"Avro maps have STRING keys; cannot map {sql_type.sql()}")
        return {"type": "map", "values": optional(avro_type(sql_type.value, name))}
    if isinstance(sql_type, StructType):
        return record(name, [(f.name, f.type) for f in sql_type.fields])
    raise FormatError(f"The Avro format cannot carry the type {sql_type.sql()}")


def optional(avro: Any) -> Any:
    return ["null", avro]


def record(full_name: str, columns: Sequence[tuple[str, SqlType]]) -> dict[str, Any]:
    """An Avro record of optional fields, one per column; nested records are named ``<name>_<FIELD>``."""
    namespace, _, name = full_name.rpartition(".")
    fields = [{"name": column, "type": optional(avro_type(sql_type, f"{full_name}_{column}")), "default": None}
              for column, sql_type in columns]
    schema: dict[str, Any] = {"type": "record", "name": name, "fields": fields}
    if namespace:
        schema["namespace"] = namespace
    return schema


def writer_schema(columns: Sequence[tuple[str, SqlType]], *, wrapped: bool, full_name: str) -> Any:
    """The schema ksqlDB registers for a key or value with these columns."""
    if not wrapped:
        return optional(avro_type(columns[0][1], full_name))
    return record(full_name, columns)


class _Named:
    def __init__(self) -> None:
        self.types: dict[str, Any] = {}
        self.active: set[str] = set()


def sql_type_of(avro: Any, named: _Named | None = None, namespace: str | None = None) -> SqlType:
    """The SQL type of an Avro type (FormatError if it has none)."""
    named = named or _Named()
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if len(branches) != 1:
            raise FormatError(f"Avro union {avro} has no SQL type: only unions of null and one type do")
        return sql_type_of(branches[0], named, namespace)
    if isinstance(avro, str):
        simple = {"boolean": BOOLEAN, "int": INTEGER, "long": BIGINT, "float": DOUBLE, "double": DOUBLE,
                  "string": STRING, "bytes": BYTES}.get(avro)
        if simple is not None:
            return simple
        found = named.types.get(avro) or named.types.get(f"{namespace}.{avro}")
        if found is None:
            raise FormatError(f"Avro type {avro!r} is unknown")
        return sql_type_of(found, named, namespace)
    if not isinstance(avro, dict):
        raise FormatError(f"Avro type {avro!r} is not valid")
    kind, logical = avro.get("type"), avro.get("logicalType")
    if isinstance(kind, (list, dict)):
        return sql_type_of(kind, named, namespace)
    if logical == "decimal" and kind in ("bytes", "fixed"):
        return DecimalType(int(avro["precision"]), int(avro.get("scale", 0)))
    if logical == "date" and kind == "int":
        return DATE
    if logical == "time-millis" and kind == "int":
        return TIME
    if logical in ("timestamp-millis", "timestamp-micros", "local-timestamp-millis") and kind == "long":
        return TIMESTAMP
    if kind in ("enum", "fixed"):
        full = _full(avro, namespace)
        named.types[full] = avro
        return STRING if kind == "enum" else BYTES
    if kind == "array":
        return ArrayType(sql_type_of(avro["items"], named, namespace))
    if kind == "map":
        return MapType(STRING, sql_type_of(avro["values"], named, namespace))
    if kind in ("record", "error"):
        full = _full(avro, namespace)
        if full in named.active:
            raise FormatError(f"Avro record {full} is recursive: it has no SQL type")
        named.types[full] = avro
        named.active.add(full)
        inner = full.rpartition(".")[0] or None
        fields = tuple(StructField(str(f["name"]).upper(), sql_type_of(f["type"], named, inner))
                       for f in avro.get("fields", ()))
        named.active.discard(full)
        return StructType(fields)
    if isinstance(kind, str):
        return sql_type_of(kind, named, namespace)
    raise FormatError(f"Avro type {avro!r} is not valid")


def _full(avro: dict[str, Any], namespace: str | None) -> str:
    name = str(avro.get("name", ""))
    space = avro.get("namespace", namespace)
    return name if "." in name or not space else f"{space}.{name}"


def columns_of(avro: Any, *, unwrapped_name: str = "ROWVAL") -> list[tuple[str, SqlType]]:
    """The columns a schema gives a stream: a record's fields, or one column for any other type."""
    named = _Named()
    resolved = avro
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        resolved = branches[0] if len(branches) == 1 else avro
    if isinstance(resolved, dict) and resolved.get("type") in ("record", "error"):
        full = _full(resolved, None)
        named.types[full] = resolved
        named.active.add(full)
        inner = full.rpartition(".")[0] or None
        return [(str(f["name"]).upper(), sql_type_of(f["type"], named, inner)) for f in resolved.get("fields", ())]
    return [(unwrapped_name, sql_type_of(avro, named))]
