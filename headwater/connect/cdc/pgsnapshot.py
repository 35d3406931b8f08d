"""The PostgreSQL connector's catalog look-ups and its initial snapshot.

The snapshot reads every captured table inside one REPEATABLE READ
transaction that imports the snapshot the replication slot exported when it
was created (``SET TRANSACTION SNAPSHOT``), so the rows read are exactly the
database at the slot's consistent point, and streaming from the slot goes on
from there. Columns are selected as ``column::text``: the same text form
pgoutput streams, parsed by the same converters. Each batch holds back one
row, so the snapshot's very last record is marked ``snapshot=last`` and its
offset says the snapshot is complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import psycopg2
from psycopg2 import sql

from headwater.connect.cdc.envelope import EnvelopeBuilder, Table, heartbeat
from headwater.connect.cdc.pgtypes import postgres_column
from headwater.connect.cdc.types import TypeModes
from headwater.connect.data import SourceRecord

_COLUMNS = """
SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull,
       CASE WHEN a.attnum = ANY(i.indkey)
            THEN array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) + 1
            ELSE 0 END AS key_position
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
ORDER BY 1, 2
"""


def captured_tables(connection: Any, accept: Callable[[str], bool]) -> list[str]:
    """``schema.table`` of the ordinary and partitioned tables the filters accept."""
    with connection.cursor() as cur:
        cur.execute(_TABLES)
        return [f"{schema}.{name}" for schema, name in cur.fetchall() if accept(f"{schema}.{name}")]


def catalog_table(connection: Any, schema: str, name: str, columns: Sequence[tuple[str, int, int]] | None,
                  modes: TypeModes, accept_column: Callable[[str], bool]) -> Table | None:
    """The table's Debezium shape: ``columns`` (name, type oid, typmod) as pgoutput announced them, or the
    catalog's; nullability and the primary key from the catalog."""
    with connection.cursor() as cur:
        cur.execute(_COLUMNS, (schema, name))
        catalog = cur.fetchall()
    if not catalog and columns is None:
        return None
    not_null = {row[0]: bool(row[3]) for row in catalog}
    key_positions = {row[0]: row[4] for row in catalog if row[4]}
    announced = columns if columns is not None else [(row[0], row[1], row[2]) for row in catalog]
    kept = [c for c in announced if accept_column(f"{schema}.{name}.{c[0]}")]
    made = tuple(postgres_column(n, oid, typmod, not not_null.get(n, False), modes) for n, oid, typmod in kept)
    key = tuple(sorted((n for n in key_positions if any(c.name == n for c in made)), key=key_positions.__getitem__))
    strings = {c.name: True for c in made if c.schema.type == "string"}
    return Table(schema, name, made, key, {"strings": strings})


class SnapshotOwner(Protocol):
    builder: EnvelopeBuilder
    partition: dict[str, Any]
    dbname: str
    modes: TypeModes

    def accept_table(self, table_id: str) -> bool: ...

    def accept_column(self, column_id: str) -> bool: ...

    def snapshot_finished(self) -> None: ...


class Snapshot:
    """Reads the captured tables in batches; ``exported`` is the slot's snapshot name (None: a fresh one)."""

    def __init__(self, owner: SnapshotOwner, dsn: str, exported: str | None, consistent_lsn: int) -> None:
        self.owner = owner
        self.lsn = consistent_lsn
        self.connection = psycopg2.connect(dsn)
        with self.connection.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            if exported is not None:
                cur.execute("SET TRANSACTION SNAPSHOT %s", (exported,))
        self.tables = captured_tables(self.connection, owner.accept_table)
        self.rows = self._rows()
        self.held: SourceRecord | None = None
        self.first = True

    def _rows(self) -> Iterator[tuple[Table, dict[str, str | None]]]:
        for number, table_id in enumerate(self.tables):
            schema, _, name = table_id.partition(".")
            table = catalog_table(self.connection, schema, name, None, self.owner.modes, self.owner.accept_column)
            if table is None or not table.columns:
                continue
            names = [c.name for c in table.columns]
            query = sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(n)) for n in names),
                sql.Identifier(schema, name))
            with self.connection.cursor(name=f"headwater_snapshot_{number}") as cur:
                cur.itersize = 2000
                cur.execute(query)
                for values in cur:
                    yield table, dict(zip(names, values, strict=True))

    def _record(self, table: Table, values: dict[str, str | None], last: bool) -> SourceRecord:
        marker = "last" if last else ("first" if self.first else "true")
        self.first = False
        source = self.owner.builder.source(table, _now_ms(), marker, db=self.owner.dbname, lsn=self.lsn)
        offset = {"snapshot": True, "last_snapshot_record": last, "lsn_commit": self.lsn, "event_serial": 0,
                  "lsn": self.lsn}
        return self.owner.builder.change(table, "r", None, table.row(values), source, self.owner.partition,
                                         offset)[0]

    def batch(self, size: int) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        for table, values in self.rows:
            if self.held is not None:
                out.append(self.held)
            self.held = self._record(table, values, last=False)
            if len(out) >= size:
                return out
        if self.held is not None:  # the snapshot's last row: mark it so its offset says "complete"
            value = self.held.value
            value["source"]["snapshot"] = "last"
            out.append(_with_offset(self.held, {**self.held.source_offset, "last_snapshot_record": True}))
            self.held = None
        self.close()
        self.owner.snapshot_finished()
        if self.first:  # no row at all: a heartbeat stores that the snapshot is complete
            out.append(heartbeat(self.owner.builder.prefix, self.owner.partition,
                                 {"snapshot": True, "last_snapshot_record": True, "lsn_commit": self.lsn,
                                  "event_serial": 0, "lsn": self.lsn}))
        return out

    def close(self) -> None:
        try:
            self.connection.close()
        except psycopg2.Error:
            pass


def _with_offset(record: SourceRecord, offset: dict[str, Any]) -> SourceRecord:
    return SourceRecord(record.source_partition, offset, record.topic, record.value, record.key, record.key_schema,
                        record.value_schema, record.partition, record.timestamp, record.headers)


def _now_ms() -> int:
    return int(time.time() * 1000)
