"""The catalog: the streams and tables a session knows, with their columns, topics and formats.

A :class:`DataSource` is declaration only (frozen, no I/O). The catalog is
rebuilt on start by replaying the command log, so it is never stored on its own.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from headwater.errors import SqlSemanticError
from headwater.sql.ast import SourceKind
from headwater.sql.custom_types import TypeRegistry
from headwater.sql.expressions import NO_POSITION, Position
from headwater.sql.types import SqlType



class Namespace(enum.Enum):
    """Where a column's data lives in a record."""

    KEY = "KEY"
    VALUE = "VALUE"
    HEADERS = "HEADERS"  # all headers, ARRAY<STRUCT<KEY STRING, VALUE BYTES>>
    HEADER = "HEADER"  # one header's last value, BYTES


@dataclass(frozen=True)
class Column:
    name: str
    type: SqlType
    namespace: Namespace = Namespace.VALUE
    header_key: str | None = None


@dataclass(frozen=True)
class WindowInfo:
    """The window of a windowed table's key: kind TUMBLING, HOPPING or SESSION, size in ms."""

    kind: str
    size_ms: int | None = None


@dataclass(frozen=True)
class DataSource:
    """A stream or table: columns, topic, formats, event time."""

    name: str
    kind: SourceKind
    columns: tuple[Column, ...]
    topic: str
    key_format: str = "KAFKA"
    value_format: str = "JSON"
    value_delimiter: str | None = None
    wrap_single_value: bool | None = None
    timestamp: str | None = None
    timestamp_format: str | None = None
    window: WindowInfo | None = None
    sql: str = ""
    is_source: bool = False
    partitions: int = 1
    properties: dict[str, object] = field(default_factory=dict, compare=False)
    #: The schema registry of the session (a ``headwater.registry.SchemaRegistry``) for formats that use one.
    schema_registry: object = field(default=None, compare=False, repr=False)

    @property
    def key_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.namespace is Namespace.KEY)

    @property
    def value_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.namespace is Namespace.VALUE)

    @property
    def header_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.namespace in (Namespace.HEADERS, Namespace.HEADER))

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name:
                return c
        return None

    @property
    def is_table(self) -> bool:
        return self.kind is SourceKind.TABLE


class Catalog:
    """Named streams and tables. Names are as ksqlDB resolves them (unquoted names upper-cased)."""

    def __init__(self) -> None:
        self._sources: dict[str, DataSource] = {}
        #: The types of CREATE TYPE.
        self.types = TypeRegistry()

    def __contains__(self, name: str) -> bool:
        return name in self._sources

    def __iter__(self) -> Iterator[DataSource]:
        return iter(sorted(self._sources.values(), key=lambda s: s.name))

    def get(self, name: str, pos: Position = NO_POSITION) -> DataSource:
        source = self._sources.get(name)
        if source is None:
            raise SqlSemanticError(f"{name} does not exist.", pos)
        return source

    def find(self, name: str) -> DataSource | None:
        return self._sources.get(name)

    def put(self, source: DataSource) -> None:
        self._sources[source.name] = source

    def remove(self, name: str) -> DataSource:
        return self._sources.pop(name)

    def by_topic(self, topic: str) -> list[DataSource]:
        return [s for s in self._sources.values() if s.topic == topic]
