"""PostgreSQL change data capture: Debezium's PostgresConnector over pgoutput logical replication.

Start: the publication (``publication.name``) is created when missing
(``publication.autocreate.mode`` all_tables | filtered | disabled). Without a
stored offset and with ``snapshot.mode`` initial, the slot (``slot.name``)
is (re)created with an exported snapshot and every captured table is read in
that snapshot (``op=r``), so snapshot and stream meet exactly at the slot's
consistent point; ``initial_only`` reads the tables in one REPEATABLE READ
transaction and stops; ``never`` streams from the slot (created when missing).

Streaming: pgoutput messages (:mod:`headwater.connect.cdc.pgoutput`) over a
replication connection (psycopg2's LogicalReplicationConnection). The source
offset of each event is the commit LSN of its transaction plus the event's
serial number in the transaction: after a restart the transactions the log
already has (wholly or in part) are skipped to the event, so every change is
in the topic once. The slot's flush position is confirmed to the server only
in ``commit``, after the runtime appended the records and their offsets in
one log transaction; idle, it follows the server's keepalives. A snapshot
interrupted by a crash is started again on a new slot (its ``r`` events may
repeat; streamed events never do).
"""

from __future__ import annotations

import builtins
import json
import re
import select
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from headwater.connect.api import ConfigKey, Connector, ConnectError, RetriableError, SourceTask, Task
from headwater.connect.cdc import metrics
from headwater.connect.cdc.envelope import EnvelopeBuilder, Table, column_filter, config_problems, table_filter
from headwater.connect.cdc.pgoutput import UNCHANGED, Begin, Commit, Delete, Insert, Relation, Truncate, Update, \
    decode, lsn_int, lsn_text
from headwater.connect.cdc.pgsnapshot import Snapshot, catalog_table, captured_tables
from headwater.connect.cdc.types import TypeModes
from headwater.connect.data import SourceRecord

SNAPSHOT_MODES = ("initial", "never", "initial_only", "no_data")
_SLOT_NAME = re.compile(r"[a-z0-9_]{1,63}")
UNAVAILABLE = "__debezium_unavailable_value"
#: The comment on a publication this connector created (``release`` drops only those).
CREATED_BY = "created by Headwater's PostgreSQL connector"


def dsn(config: Mapping[str, str], **extra: str) -> str:
    return psycopg2.extensions.make_dsn(
        host=config.get("database.hostname", "127.0.0.1"), port=config.get("database.port", "5432"),
        user=config.get("database.user", "postgres"), password=config.get("database.password") or None,
        dbname=config.get("database.dbname", "postgres"), connect_timeout="10", **extra)


class PostgresConnector(Connector):
    type = "source"
    version = "2.7.0"

    @classmethod
    def config_def(cls) -> Sequence[ConfigKey]:
        return (
            ConfigKey("topic.prefix", required=True, importance="HIGH",
                      documentation="Prefix of the topic names: <topic.prefix>.<schema>.<table>."),
            ConfigKey("database.hostname", required=True, importance="HIGH"),
            ConfigKey("database.port", type="INT", default=5432),
            ConfigKey("database.user", default="postgres", importance="HIGH"),
            ConfigKey("database.password", type="PASSWORD", importance="HIGH"),
            ConfigKey("database.dbname", required=True, importance="HIGH"),
            ConfigKey("plugin.name", default="pgoutput", recommended_values=("pgoutput",)),
            ConfigKey("slot.name", default="debezium"),
            ConfigKey("publication.name", default="dbz_publication"),
            ConfigKey("publication.autocreate.mode", default="all_tables",
                      recommended_values=("all_tables", "filtered", "disabled")),
            ConfigKey("snapshot.mode", default="initial", recommended_values=SNAPSHOT_MODES),
            ConfigKey("table.include.list", documentation="Regular expressions of schema.table to capture."),
            ConfigKey("table.exclude.list"),
            ConfigKey("column.exclude.list", documentation="Regular expressions of schema.table.column to leave out."),
            ConfigKey("tombstones.on.delete", type="BOOLEAN", default=True),
            ConfigKey("decimal.handling.mode", default="precise", recommended_values=("precise", "double", "string")),
            ConfigKey("time.precision.mode", default="adaptive",
                      recommended_values=("adaptive", "adaptive_time_microseconds", "connect")),
            ConfigKey("binary.handling.mode", default="bytes", recommended_values=("bytes", "base64", "hex")),
            ConfigKey("max.batch.size", type="INT", default=2048),
        )

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> dict[str, list[str]]:
        errors = super().validate(config)
        if config.get("plugin.name", "pgoutput") != "pgoutput":
            errors["plugin.name"] = ["Headwater decodes pgoutput only (PostgreSQL's built-in plugin)"]
        for key, allowed in (("snapshot.mode", SNAPSHOT_MODES),
                             ("publication.autocreate.mode", ("all_tables", "filtered", "disabled"))):
            value = config.get(key)
            if value is not None and value not in allowed:
                errors[key] = [f"must be one of {', '.join(allowed)}, got {value!r}"]
        if not _SLOT_NAME.fullmatch(config.get("slot.name", "debezium")):
            errors["slot.name"] = ["a slot name has 1 to 63 lower-case letters, digits and underscores"]
        for key, problems in config_problems(config, ("database.port", "max.batch.size"),
                                             ("table.include.list", "table.exclude.list", "column.exclude.list")).items():
            errors.setdefault(key, []).extend(problems)
        return errors

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self.config)]  # one slot, one ordered stream: one task

    def task_class(self) -> builtins.type[Task]:
        return PostgresSourceTask


class PostgresSourceTask(SourceTask):
    def start(self, config: Mapping[str, str], offsets: Any = None) -> None:  # type: ignore[override]
        super().start(config, offsets)
        self.builder = EnvelopeBuilder("postgresql", config)
        self.modes = TypeModes.from_config(config)
        self.accept_table = table_filter(config.get("table.include.list"), config.get("table.exclude.list"))
        self.accept_column = column_filter(config.get("column.exclude.list"))
        self.slot = config.get("slot.name", "debezium")
        if not _SLOT_NAME.fullmatch(self.slot):  # it is written into replication commands
            raise ConnectError(f"PostgreSQL connector: invalid slot.name {self.slot!r}")
        self.publication = config.get("publication.name", "dbz_publication")
        self.dbname = config.get("database.dbname", "postgres")
        self.max_batch = int(config.get("max.batch.size", "2048"))
        self.name = config.get("name") or self.builder.prefix
        self.partition = {"server": self.builder.prefix}
        stored = dict(offsets.offset(self.partition) or {}) if offsets is not None else {}
        self.relations: dict[int, tuple[Table, tuple[str, ...]]] = {}
        self.snapshot: Snapshot | None = None
        self.cursor: Any = None
        self.repl: Any = None
        self.idle = False
        self._skip = (0, 0)
        self._txn: Begin | None = None
        self._serial = 0
        self._completed_end = 0
        self._last_commit = 0  # the commit LSN of the last transaction seen: Debezium's sequence[0]
        self._confirmed = 0
        self._outstanding = False
        self._lag_at = 0.0
        try:
            self.sql = psycopg2.connect(dsn(config))
            self.sql.autocommit = True
            self._ensure_publication()
            self._begin(stored)
        except psycopg2.OperationalError as exc:
            raise RetriableError(f"PostgreSQL connector: cannot connect: {exc}".strip()) from exc

    # -- start ------------------------------------------------------------------------
    def _ensure_publication(self) -> None:
        with self.sql.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (self.publication,))
            if cur.fetchone():
                return
            mode = self.config.get("publication.autocreate.mode", "all_tables")
            if mode == "disabled":
                raise ConnectError(f"PostgreSQL connector: publication {self.publication!r} does not exist and "
                                   f"publication.autocreate.mode is disabled")
            name = sql.Identifier(self.publication)
            if mode == "all_tables":
                cur.execute(sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(name))
            else:
                tables = [sql.Identifier(*t.split(".", 1)) for t in captured_tables(self.sql, self.accept_table)]
                if not tables:
                    raise ConnectError("PostgreSQL connector: publication.autocreate.mode=filtered found no table "
                                       "matching table.include.list")
                cur.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(name, sql.SQL(", ").join(tables)))
            cur.execute(sql.SQL("COMMENT ON PUBLICATION {} IS %s").format(name), (CREATED_BY,))

    def _begin(self, stored: Mapping[str, Any]) -> None:
        mode = self.config.get("snapshot.mode", "initial")
        snapshot_done = bool(stored) and (not stored.get("snapshot") or stored.get("last_snapshot_record"))
        if mode == "initial_only":
            if snapshot_done:
                self.idle = True
            else:
                self.snapshot = Snapshot(self, dsn(self.config), None, 0)
            return
        self.repl = psycopg2.connect(dsn(self.config),
                                     connection_factory=psycopg2.extras.LogicalReplicationConnection)
        cursor = self.repl.cursor()
        if not snapshot_done and mode == "initial":
            self._drop_slot()
            cursor.execute(f"CREATE_REPLICATION_SLOT {self.slot} LOGICAL pgoutput EXPORT_SNAPSHOT")
            _name, consistent, exported, _plugin = cursor.fetchone()
            self.snapshot = Snapshot(self, dsn(self.config), exported, lsn_int(consistent))
            self._skip = (lsn_int(consistent), 0)
        else:
            with self.sql.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (self.slot,))
                if cur.fetchone() is None:
                    cursor.execute(f"CREATE_REPLICATION_SLOT {self.slot} LOGICAL pgoutput NOEXPORT_SNAPSHOT")
                    cursor.fetchone()
            self._skip = (int(stored.get("lsn_commit", 0)), int(stored.get("event_serial", 0)))
            self._start_streaming()
            return
        self.cursor = cursor

    def _drop_slot(self) -> None:
        with self.sql.cursor() as cur:
            while_in_use(lambda: cur.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s AND database = current_database()", (self.slot,)))

    def _start_streaming(self) -> None:
        cursor = self.repl.cursor()
        while_in_use(lambda: cursor.start_replication(
            slot_name=self.slot, decode=False, status_interval=10,
            options={"proto_version": "1", "publication_names": self.publication}))
        self.cursor = cursor

    # -- the snapshot's callback ---------------------------------------------------------
    def snapshot_finished(self) -> None:
        self.snapshot = None
        if self.config.get("snapshot.mode") == "initial_only":
            self.idle = True
        else:
            self._start_streaming()

    # -- poll / commit ------------------------------------------------------------------
    def poll(self) -> Sequence[SourceRecord]:
        try:
            if self.snapshot is not None:
                return self.snapshot.batch(self.max_batch)
            if self.idle:
                time.sleep(0.5)
                return []
            return self._stream()
        except psycopg2.OperationalError as exc:
            raise ConnectError(f"PostgreSQL connector: connection lost: {exc}".strip()) from exc

    def _stream(self) -> list[SourceRecord]:
        records: list[SourceRecord] = []
        deadline = time.monotonic() + 1.0
        if not self._outstanding and self._txn is None:
            self._confirm(max(self._completed_end, self.cursor.wal_end or 0))
        while len(records) < self.max_batch:
            message = self.cursor.read_message()
            if message is None:
                remaining = deadline - time.monotonic()
                if records or remaining <= 0:
                    break
                select.select([self.cursor], [], [], min(remaining, 0.5))
                continue
            self._handle(decode(message.payload), message.data_start, records)
        if records:
            self._outstanding = True
            metrics.add("headwater_cdc_events", self.name, "postgresql", len(records))
            value = records[-1].value or {}
            commit_ms = (value.get("source") or {}).get("ts_ms")
            if commit_ms:
                metrics.set_gauge("headwater_cdc_commit_lag_ms", self.name, "postgresql",
                                  max(0.0, time.time() * 1000 - commit_ms))
        self._slot_lag()
        return records

    def commit(self) -> None:
        self._outstanding = False
        if self.snapshot is None and self.cursor is not None and not self.idle:
            self._confirm(self._completed_end)

    def _confirm(self, lsn: int) -> None:
        if lsn > self._confirmed and self.repl is not None:
            self.cursor.send_feedback(flush_lsn=lsn, force=True)
            self._confirmed = lsn

    def _slot_lag(self) -> None:
        if time.monotonic() - self._lag_at < 5.0:
            return
        self._lag_at = time.monotonic()
        with self.sql.cursor() as cur:
            cur.execute("SELECT pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots "
                        "WHERE slot_name = %s", (self.slot,))
            row = cur.fetchone()
        if row and row[0] is not None:
            metrics.set_gauge("headwater_cdc_slot_lag_bytes", self.name, "postgresql", float(row[0]))

    # -- messages -----------------------------------------------------------------------
    def _handle(self, message: Any, lsn: int, out: list[SourceRecord]) -> None:
        if isinstance(message, Begin):
            self._txn, self._serial = message, 0
        elif isinstance(message, Commit):
            self._txn = None
            self._completed_end = max(self._completed_end, message.end_lsn)
            self._last_commit = message.commit_lsn
        elif isinstance(message, Relation):
            self._relation(message)
        elif isinstance(message, (Insert, Update, Delete, Truncate)) and self._txn is not None:
            self._serial += 1
            txn = self._txn
            skip_commit, skip_serial = self._skip
            if txn.final_lsn < skip_commit or (txn.final_lsn == skip_commit and self._serial <= skip_serial):
                return  # already in the log before a restart
            if not isinstance(message, Truncate):  # Debezium skips truncates by default (skipped.operations=t)
                out.extend(self._row_change(message, lsn, txn))

    def _relation(self, message: Relation) -> None:
        table_id = f"{message.namespace}.{message.name}"
        if not self.accept_table(table_id):
            self.relations.pop(message.oid, None)
            return
        columns = [(c.name, c.type_oid, c.typmod) for c in message.columns]
        table = catalog_table(self.sql, message.namespace, message.name, columns, self.modes, self.accept_column)
        if table is not None:
            self.relations[message.oid] = (table, tuple(c.name for c in message.columns))

    def _row_change(self, message: Insert | Update | Delete, lsn: int, txn: Begin) -> list[SourceRecord]:
        found = self.relations.get(message.oid)
        if found is None:
            return []  # a table not captured
        table, names = found

        def row(values: Any, key_only: bool = False) -> dict[str, Any] | None:
            if values is None:
                return None
            raw = dict(zip(names, values, strict=False))
            if key_only:
                raw = {k: v for k, v in raw.items() if k in table.key}
            unchanged = [k for k, v in raw.items() if v is UNCHANGED]
            for k in unchanged:
                raw.pop(k)
            converted = table.row(raw)
            for k in unchanged:
                if k in converted:
                    converted[k] = UNAVAILABLE if table.extra.get("strings", {}).get(k) else None
            return converted

        sequence = json.dumps([str(self._last_commit) if self._last_commit else None, str(lsn)])
        source = self.builder.source(table, txn.commit_ts_us // 1000, db=self.dbname, txId=txn.xid, lsn=lsn,
                                     sequence=sequence)
        offset = {"lsn_commit": txn.final_lsn, "event_serial": self._serial, "lsn": lsn, "txId": txn.xid,
                  "ts_usec": txn.commit_ts_us, "lsn_text": lsn_text(lsn)}
        if isinstance(message, Insert):
            return self.builder.change(table, "c", None, row(message.new), source, self.partition, offset)
        if isinstance(message, Update):
            before = row(message.old, key_only=message.old_kind == "K")
            return self.builder.change(table, "u", before, row(message.new), source, self.partition, offset)
        before = row(message.old, key_only=message.old_kind == "K")
        return self.builder.change(table, "d", before, None, source, self.partition, offset)

    def stop(self) -> None:
        metrics.clear(self.name, "postgresql")
        for connection in (getattr(self, "repl", None), getattr(self, "sql", None)):
            if connection is not None:
                try:
                    connection.close()
                except psycopg2.Error:
                    pass
        if self.snapshot is not None:
            self.snapshot.close()



def release(config: Mapping[str, str]) -> list[str]:
    """Drop what a stopped connector of this config keeps in its database: the replication slot (which holds
    WAL on the server for as long as it exists) and the publication when the connector created it. Returns what
    was dropped; raises psycopg2.Error when the database refuses. After it, the connector starts again on a new
    slot from the current position (changes made in between are not captured)."""
    slot = config.get("slot.name", "debezium")
    publication = config.get("publication.name", "dbz_publication")
    dropped = []
    connection = psycopg2.connect(dsn(config))
    try:
        connection.autocommit = True
        with connection.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND database = current_database()",
                        (slot,))
            if cur.fetchone():
                while_in_use(lambda: cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,)))
                dropped.append(f"replication slot {slot}")
            cur.execute("SELECT obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = %s",
                        (publication,))
            row = cur.fetchone()
            if row is not None and row[0] == CREATED_BY:
                cur.execute(sql.SQL("DROP PUBLICATION {}").format(sql.Identifier(publication)))
                dropped.append(f"publication {publication}")
    finally:
        connection.close()
    return dropped


def while_in_use(action: Callable[[], object], timeout_s: float = 30.0) -> None:
    """Run ``action``, again while the slot is still held by the connection of a process that just died
    (the server ends its walsender a moment after the client is gone)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            action()
            return
        except psycopg2.errors.ObjectInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
