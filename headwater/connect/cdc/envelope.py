"""Debezium's change event envelope: key, value ``{before, after, source, op, ts_ms}``, topic and tombstone.

A :class:`Table` is a captured table's shape (columns with their Debezium
schemas, the primary key); :class:`EnvelopeBuilder` turns one row change into
the records Debezium emits:

- topic ``<topic.prefix>.<schema>.<table>`` (PostgreSQL) or
  ``<topic.prefix>.<database>.<table>`` (MySQL/MariaDB);
- key: a struct of the primary-key columns (schema ``<prefix>.<schema>.<table>.Key``); a table without a
  primary key has a null key, as Debezium gives it (``message.key.columns`` names key columns for such tables);
- value: the envelope, ``op`` c (insert), u (update), d (delete), r (snapshot read); ``source`` as each
  connector's ``SourceInfo`` (connector, name, db, schema/table, lsn or file/pos/gtid, ts_ms, snapshot);
- a delete is followed by a tombstone (same key, null value) unless ``tombstones.on.delete=false``;
- an update that changes the primary key becomes a delete (header ``__debezium.newkey``), its tombstone
  and a create (header ``__debezium.oldkey``), as Debezium does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from headwater.connect.api import ConnectError
from headwater.connect.cdc.types import Column, TypeModes
from headwater.connect.converters import value_to_json
from headwater.connect.data import ConnectSchema, Field, SourceRecord

VERSION = "2.7.0.Final-headwater"
_STRING, _OPT_STRING = ConnectSchema("string"), ConnectSchema("string", optional=True)
_INT64, _OPT_INT64 = ConnectSchema("int64"), ConnectSchema("int64", optional=True)
_OPT_INT32 = ConnectSchema("int32", optional=True)
_SNAPSHOT = ConnectSchema("string", optional=True, name="io.debezium.data.Enum", version=1,
                          parameters={"allowed": "true,first,first_in_data_collection,last_in_data_collection,"
                                                 "last,false,incremental"}, default="false")
_COMMON_SOURCE = (Field("version", _STRING), Field("connector", _STRING), Field("name", _STRING),
                  Field("ts_ms", _INT64), Field("snapshot", _SNAPSHOT), Field("db", _STRING),
                  Field("sequence", _OPT_STRING))
#: The source block of each connector, after the common fields (io.debezium.connector.*.Source).
SOURCE_FIELDS: dict[str, tuple[Field, ...]] = {
    "postgresql": (Field("schema", _STRING), Field("table", _STRING), Field("txId", _OPT_INT64),
                   Field("lsn", _OPT_INT64), Field("xmin", _OPT_INT64)),
    "mysql": (Field("table", _OPT_STRING), Field("server_id", _INT64), Field("gtid", _OPT_STRING),
              Field("file", _STRING), Field("pos", _INT64), Field("row", ConnectSchema("int32")),
              Field("thread", _OPT_INT64), Field("query", _OPT_STRING)),
    "mongodb": (Field("collection", _STRING), Field("ord", ConnectSchema("int32")),
                Field("lsid", _OPT_STRING), Field("txnNumber", _OPT_INT64)),
}
SOURCE_NAMES = {"postgresql": "io.debezium.connector.postgresql.Source",
                "mysql": "io.debezium.connector.mysql.Source", "mongodb": "io.debezium.connector.mongo.Source"}


@dataclass(frozen=True)
class Table:
    """A captured table: ``namespace`` is the schema (PostgreSQL) or the database (MySQL)."""

    namespace: str
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    #: Extra per-table data a connector keeps (e.g. PostgreSQL's relation id).
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.namespace}.{self.name}"

    def row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The event's row struct from database values by column name (absent columns are null)."""
        return {c.name: c.convert(values.get(c.name)) for c in self.columns}


def table_filter(include: str | None, exclude: str | None) -> Callable[[str], bool]:
    """A predicate on ``namespace.table`` from Debezium's comma-separated regular expressions (full match)."""
    inc = [re.compile(p.strip()) for p in (include or "").split(",") if p.strip()]
    exc = [re.compile(p.strip()) for p in (exclude or "").split(",") if p.strip()]

    def accept(table_id: str) -> bool:
        if inc:
            return any(p.fullmatch(table_id) for p in inc)
        return not any(p.fullmatch(table_id) for p in exc)

    return accept


def column_filter(exclude: str | None) -> Callable[[str], bool]:
    """A predicate on ``namespace.table.column`` (``column.exclude.list``): True keeps the column."""
    patterns = [re.compile(p.strip()) for p in (exclude or "").split(",") if p.strip()]
    return lambda column_id: not any(p.fullmatch(column_id) for p in patterns)


def config_problems(config: Mapping[str, str], integer_keys: tuple[str, ...],
                    list_keys: tuple[str, ...]) -> dict[str, list[str]]:
    """The checks every CDC source makes: positive integers, the type modes, the table and column lists."""
    errors: dict[str, list[str]] = {}
    for key in integer_keys:
        value = config.get(key)
        if value is not None and value != "" and not (str(value).isdecimal() and int(value) > 0):
            errors[key] = [f"{key} must be a positive integer, got {value!r}"]
    try:
        TypeModes.from_config(config)
        for key in list_keys:
            table_filter(config.get(key), None)
    except (ConnectError, re.error) as exc:
        errors["config"] = [str(exc)]
    return errors


class EnvelopeBuilder:
    """Builds the records of row changes for one connector instance (``connector`` postgresql, mysql)."""

    def __init__(self, connector: str, config: Mapping[str, str]) -> None:
        self.connector = connector
        self.prefix = config.get("topic.prefix") or config.get("database.server.name") or ""
        if not self.prefix:
            raise ValueError("topic.prefix is required")
        self.tombstones = str(config.get("tombstones.on.delete", "true")).lower() == "true"
        self._schemas: dict[tuple[Any, ...], tuple[ConnectSchema | None, ConnectSchema]] = {}
        self._last: tuple[Table, tuple[ConnectSchema | None, ConnectSchema]] | None = None
        self.source_schema = ConnectSchema("struct", name=SOURCE_NAMES[connector],
                                           fields=_COMMON_SOURCE + SOURCE_FIELDS[connector])

    def topic(self, table: Table) -> str:
        return f"{self.prefix}.{table.namespace}.{table.name}"

    def schemas(self, table: Table) -> tuple[ConnectSchema | None, ConnectSchema]:
        """The key schema (None without a primary key) and the envelope schema of ``table``."""
        if self._last is not None and self._last[0] is table:  # held here, so its id cannot be reused
            return self._last[1]
        cache_key = (table.id, table.key, tuple((c.name, c.schema.type, c.schema.name, c.schema.optional,
                                                  repr(c.schema.parameters), repr(c.schema.fields))
                                                 for c in table.columns))
        found = self._schemas.get(cache_key)
        if found is None:
            base = f"{self.prefix}.{table.id}"
            by_name = {c.name: c for c in table.columns}
            key = ConnectSchema("struct", name=f"{base}.Key",
                                fields=tuple(Field(n, by_name[n].schema) for n in table.key)) if table.key else None
            row = ConnectSchema("struct", optional=True, name=f"{base}.Value",
                                fields=tuple(Field(c.name, c.schema) for c in table.columns))
            value = ConnectSchema("struct", name=f"{base}.Envelope", version=2, fields=(
                Field("before", row), Field("after", row), Field("source", self.source_schema),
                Field("op", _STRING), Field("ts_ms", _OPT_INT64),
                Field("transaction", ConnectSchema("struct", optional=True, name="event.block", version=1, fields=(
                    Field("id", _STRING), Field("total_order", _INT64), Field("data_collection_order", _INT64))))))
            if len(self._schemas) > 1000:
                self._schemas.clear()
            found = self._schemas[cache_key] = (key, value)
        self._last = (table, found)
        return found

    def source(self, table: Table, ts_ms: int, snapshot: str = "false", **extra: Any) -> dict[str, Any]:
        block: dict[str, Any] = {"version": VERSION, "connector": self.connector, "name": self.prefix,
                                 "ts_ms": ts_ms, "snapshot": snapshot, "table": table.name}
        if self.connector == "postgresql":
            block["schema"] = table.namespace
        else:
            block["db"] = table.namespace
        block.update(extra)
        return block

    def change(self, table: Table, op: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
               source: Mapping[str, Any], partition: Mapping[str, Any], offset: Mapping[str, Any],
               timestamp: int | None = None) -> list[SourceRecord]:
        """The records of one change; ``before``/``after`` are event rows (``Table.row``)."""
        key_schema, value_schema = self.schemas(table)
        topic = self.topic(table)
        now = int(time.time() * 1000)

        def key_of(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
            return {n: row.get(n) for n in table.key} if key_schema is not None and row is not None else None

        def record(op_: str, before_: Any, after_: Any, key: Any, headers: tuple[tuple[str, bytes | None], ...] = ()
                   ) -> SourceRecord:
            value = {"before": before_, "after": after_, "source": dict(source), "op": op_, "ts_ms": now,
                     "transaction": None}
            return SourceRecord(partition, offset, topic, value, key, key_schema, value_schema,
                                timestamp=timestamp if timestamp is not None else now, headers=headers)

        def tombstone(key: Any) -> list[SourceRecord]:
            if not self.tombstones:
                return []
            return [SourceRecord(partition, offset, topic, None, key, key_schema, None,
                                 timestamp=timestamp if timestamp is not None else now)]

        if op == "u" and key_schema is not None and before is not None and after is not None:
            old_key, new_key = key_of(before), key_of(after)
            if old_key != new_key:  # a primary-key change: delete + tombstone + create
                new_header = (("__debezium.newkey", self._key_json(key_schema, new_key)),)
                old_header = (("__debezium.oldkey", self._key_json(key_schema, old_key)),)
                return [record("d", before, None, old_key, new_header), *tombstone(old_key),
                        record("c", None, after, new_key, old_header)]
        if op == "d":
            key = key_of(before)
            return [record("d", before, None, key), *tombstone(key)]
        return [record(op, before, after, key_of(after if after is not None else before))]

    @staticmethod
    def _key_json(schema: ConnectSchema, key: Any) -> bytes:
        return orjson.dumps(value_to_json(schema, key))


def heartbeat(prefix: str, partition: Mapping[str, Any], offset: Mapping[str, Any]) -> SourceRecord:
    """A Debezium heartbeat record (topic ``__debezium-heartbeat.<prefix>``): it carries the source offset
    when no change has, so a position taken at start (an empty snapshot, a stream begun at the current
    binlog position) is stored and a restart goes on from there rather than from a newer position."""
    return SourceRecord(partition, offset, f"__debezium-heartbeat.{prefix}", {"ts_ms": int(time.time() * 1000)},
                        {"serverName": prefix}, _HEARTBEAT_KEY, _HEARTBEAT_VALUE)


_HEARTBEAT_KEY = ConnectSchema("struct", name="io.debezium.connector.common.ServerNameKey",
                               fields=(Field("serverName", _STRING),))
_HEARTBEAT_VALUE = ConnectSchema("struct", name="io.debezium.connector.common.Heartbeat",
                                 fields=(Field("ts_ms", _INT64),))

__all__ = ["SOURCE_FIELDS", "EnvelopeBuilder", "Table", "column_filter", "heartbeat", "table_filter"]

