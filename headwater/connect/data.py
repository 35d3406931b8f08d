"""Connect's data model: schemas and records as they pass between converters, transforms and tasks.

Values are plain Python objects: ``dict`` for a struct or map, ``list`` for an
array, ``int``/``float``/``bool``/``str``/``bytes``/``Decimal``/``datetime``
for primitives and logical types. A schema is optional everywhere (schemaless
JSON has none), as in Kafka Connect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Connect's schema types (org.apache.kafka.connect.data.Schema.Type, lower case as in JSON schemas).
SCHEMA_TYPES = ("int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string", "bytes",
                "array", "map", "struct")


@dataclass(frozen=True)
class Field:
    name: str
    schema: ConnectSchema


@dataclass(frozen=True)
class ConnectSchema:
    type: str
    optional: bool = False
    #: Logical name, e.g. org.apache.kafka.connect.data.Timestamp, or a struct's record name.
    name: str | None = None
    version: int | None = None
    doc: str | None = None
    default: Any = None
    parameters: Mapping[str, str] | None = None
    #: struct
    fields: tuple[Field, ...] = ()
    #: array elements / map values
    value_schema: ConnectSchema | None = None
    #: map keys
    key_schema: ConnectSchema | None = None

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class SinkRecord:
    """A record read from a topic, converted, on its way to a sink task."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: Any
    value: Any
    key_schema: ConnectSchema | None = None
    value_schema: ConnectSchema | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()


@dataclass(frozen=True)
class SourceRecord:
    """A record a source task produced, before conversion and the append to ``topic``."""

    #: Where the task is in its source (e.g. {"filename": ...}) and how far (e.g. {"position": 1234}).
    source_partition: Mapping[str, Any]
    source_offset: Mapping[str, Any]
    topic: str
    value: Any
    key: Any = None
    key_schema: ConnectSchema | None = None
    value_schema: ConnectSchema | None = None
    partition: int | None = None
    timestamp: int | None = None
    headers: tuple[tuple[str, bytes | None], ...] = field(default_factory=tuple)
