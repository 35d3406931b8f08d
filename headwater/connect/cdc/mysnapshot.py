"""The MySQL connector's initial snapshot: every captured table read in one consistent transaction.

``START TRANSACTION WITH CONSISTENT SNAPSHOT`` fixes what the reads see;
MariaDB reports the binlog position of exactly that snapshot in
``binlog_snapshot_file`` / ``binlog_snapshot_position`` (no global lock);
on MySQL the position is read under ``FLUSH TABLES WITH READ LOCK``, released
as soon as the transaction has started, as Debezium does. The session's time
zone is UTC, so TIMESTAMP columns read as the binlog carries them. Rows are
read with an unbuffered cursor, one table after the other; the last record of
the snapshot is marked ``snapshot=last`` and its offset says it is complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pymysql
import pymysql.cursors

from headwater.connect.cdc.envelope import EnvelopeBuilder, Table
from headwater.connect.cdc.mytypes import from_information_schema, mysql_column
from headwater.connect.cdc.types import TypeModes
from headwater.connect.data import SourceRecord

_TABLES = ("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
           "ORDER BY TABLE_SCHEMA, TABLE_NAME")
_COLUMNS = ("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, "
            "DATETIME_PRECISION, COLUMN_KEY FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION")


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class SnapshotOwner(Protocol):
    builder: EnvelopeBuilder
    partition: dict[str, Any]
    modes: TypeModes
    accept_table: Callable[[str], bool]
    accept_column: Callable[[str], bool]

    def snapshot_finished(self, file: str, pos: int, empty: bool) -> None: ...


def describe(connection: Any, schema: str, name: str, modes: TypeModes,
             accept_column: Callable[[str], bool]) -> tuple[Table, list[str]]:
    """The table's shape, and the select expression of each column: a FLOAT is read as DOUBLE, because the
    text protocol rounds it to 6 digits while the binlog has the exact single-precision value."""
    with connection.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute(_COLUMNS, (schema, name))
        rows = cur.fetchall()
    kept = [r for r in rows if accept_column(f"{schema}.{name}.{r['COLUMN_NAME']}")]
    described = [from_information_schema(r) for r in kept]
    columns = tuple(mysql_column(c, modes) for c in described)
    key = tuple(str(r["COLUMN_NAME"]) for r in kept if r["COLUMN_KEY"] == "PRI")
    selects = [f"CAST({quote(c.name)} AS DOUBLE)" if c.kind == "float" else quote(c.name) for c in described]
    return Table(schema, name, columns, key), selects


class MySnapshot:
    def __init__(self, owner: SnapshotOwner, settings: dict[str, Any]) -> None:
        self.owner = owner
        self.connection = pymysql.connect(**settings, autocommit=False, init_command="SET time_zone = '+00:00'")
        with self.connection.cursor() as cur:
            cur.execute("SELECT VERSION()")
            mariadb = "mariadb" in str(cur.fetchone()[0]).lower()
            if mariadb:
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                cur.execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
                status = {str(k).lower(): v for k, v in cur.fetchall()}
                self.file, self.pos = str(status["binlog_snapshot_file"]), int(status["binlog_snapshot_position"])
            else:
                cur.execute("FLUSH TABLES WITH READ LOCK")
                try:
                    cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    cur.execute("SHOW MASTER STATUS")
                    file, pos = cur.fetchone()[:2]
                    self.file, self.pos = str(file), int(pos)
                finally:
                    cur.execute("UNLOCK TABLES")
            cur.execute(_TABLES)
            self.tables = [(s, t) for s, t in cur.fetchall() if owner.accept_table(f"{s}.{t}")]
        self.rows = self._rows()
        self.held: SourceRecord | None = None
        self.first = True

    def _rows(self) -> Iterator[tuple[Table, dict[str, Any]]]:
        for schema, name in self.tables:
            table, selects = describe(self.connection, schema, name, self.owner.modes, self.owner.accept_column)
            if not table.columns:
                continue
            names = [c.name for c in table.columns]
            query = f"SELECT {', '.join(selects)} FROM {quote(schema)}.{quote(name)}"
            with self.connection.cursor(pymysql.cursors.SSCursor) as cur:
                cur.execute(query)
                for values in cur:
                    yield table, dict(zip(names, values, strict=True))

    def _record(self, table: Table, values: dict[str, Any]) -> SourceRecord:
        marker = "first" if self.first else "true"
        self.first = False
        source = self.owner.builder.source(table, int(time.time() * 1000), marker, server_id=0, gtid=None,
                                           file=self.file, pos=self.pos, row=0)
        offset = {"snapshot": True, "last_snapshot_record": False, "file": self.file, "pos": self.pos, "event": 0}
        return self.owner.builder.change(table, "r", None, table.row(values), source, self.owner.partition,
                                         offset)[0]

    def batch(self, size: int) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        for table, values in self.rows:
            if self.held is not None:
                out.append(self.held)
            self.held = self._record(table, values)
            if len(out) >= size:
                return out
        if self.held is not None:  # the snapshot's last row: its offset says the snapshot is complete
            held = self.held
            held.value["source"]["snapshot"] = "last"
            out.append(SourceRecord(held.source_partition, {**held.source_offset, "last_snapshot_record": True},
                                    held.topic, held.value, held.key, held.key_schema, held.value_schema,
                                    held.partition, held.timestamp, held.headers))
            self.held = None
        self.close()
        self.owner.snapshot_finished(self.file, self.pos, empty=self.first)
        return out

    def close(self) -> None:
        try:
            self.connection.close()
        except pymysql.err.Error:
            pass
