"""MariaDB/MySQL change data capture: Debezium's MySqlConnector over the binlog in ROW format.

The server must write the binlog with ``binlog_format=ROW``,
``binlog_row_image=FULL`` and ``binlog_row_metadata=FULL``; the task checks
at start and fails with a message naming the missing settings. Full row
metadata puts the column names, signedness, charsets, enum/set values and the
primary key in every table map event, so each row event is read with the
table's shape at that point of the binlog: an ``ALTER TABLE`` is picked up by
the next change without a schema history.

Snapshot (``snapshot.mode`` initial, initial_only; never streams from the
current position): one ``START TRANSACTION WITH CONSISTENT SNAPSHOT``; MariaDB
reports the binlog position of that snapshot (``binlog_snapshot_file/
position``), MySQL's is read under a short ``FLUSH TABLES WITH READ LOCK``.
Streaming starts there. The source offset of a change is the binlog file and
the position where its transaction starts, plus the number of row changes of
the transaction already emitted (``event``), and the GTID: after a restart the
stream re-reads that transaction and skips what the log has, so every change
is in the topic once. A snapshot cut short by a crash is taken again.
"""

from __future__ import annotations

import builtins
import random
import select
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pymysql
import pymysql.cursors
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import GtidEvent, HeartbeatLogEvent, MariadbGtidEvent, QueryEvent, RotateEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, TableMapEvent, UpdateRowsEvent, WriteRowsEvent

from headwater.connect.api import ConfigKey, Connector, ConnectError, RetriableError, SourceTask, Task
from headwater.connect.cdc import metrics
from headwater.connect.cdc.envelope import EnvelopeBuilder, Table, column_filter, config_problems, heartbeat, \
    table_filter
from headwater.connect.cdc.mysnapshot import MySnapshot
from headwater.connect.cdc.mytypes import from_table_map, mysql_column
from headwater.connect.cdc.types import TypeModes
from headwater.connect.data import SourceRecord

SNAPSHOT_MODES = ("initial", "initial_only", "never", "no_data", "when_needed")
REQUIRED = {"log_bin": "1", "binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")


def connection_settings(config: Mapping[str, str]) -> dict[str, Any]:
    return {"host": config.get("database.hostname", "127.0.0.1"), "port": int(config.get("database.port", "3306")),
            "user": config.get("database.user", "root"), "password": config.get("database.password", "") or "",
            "connect_timeout": 10}


def check_binlog(connection: Any) -> None:
    """Fail with a clear message when the server's binlog cannot feed CDC."""
    with connection.cursor() as cur:
        cur.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata")
        row = cur.fetchone()
    have = dict(zip(REQUIRED, (str(v) for v in row), strict=True))
    wrong = [f"{k}={have[k]} (needs {v})" for k, v in REQUIRED.items() if have[k].upper() != v]
    if wrong:
        raise ConnectError("MySQL connector: the server's binlog cannot feed change data capture: "
                           + ", ".join(wrong) + ". Set log_bin, binlog_format=ROW, binlog_row_image=FULL and "
                           "binlog_row_metadata=FULL in the server's configuration (scripts/services.sh does it).")


class MySqlConnector(Connector):
    type = "source"
    version = "2.7.0"

    @classmethod
    def config_def(cls) -> Sequence[ConfigKey]:
        return (
            ConfigKey("topic.prefix", required=True, importance="HIGH",
                      documentation="Prefix of the topic names: <topic.prefix>.<database>.<table>."),
            ConfigKey("database.hostname", required=True, importance="HIGH"),
            ConfigKey("database.port", type="INT", default=3306),
            ConfigKey("database.user", default="root", importance="HIGH"),
            ConfigKey("database.password", type="PASSWORD", importance="HIGH"),
            ConfigKey("database.server.id", type="LONG", documentation="This client's replica server id."),
            ConfigKey("database.include.list"), ConfigKey("database.exclude.list"),
            ConfigKey("table.include.list", documentation="Regular expressions of database.table to capture."),
            ConfigKey("table.exclude.list"),
            ConfigKey("column.exclude.list",
                      documentation="Regular expressions of database.table.column to leave out."),
            ConfigKey("snapshot.mode", default="initial", recommended_values=SNAPSHOT_MODES),
            ConfigKey("tombstones.on.delete", type="BOOLEAN", default=True),
            ConfigKey("decimal.handling.mode", default="precise", recommended_values=("precise", "double", "string")),
            ConfigKey("time.precision.mode", default="adaptive_time_microseconds",
                      recommended_values=("adaptive", "adaptive_time_microseconds", "connect")),
            ConfigKey("binary.handling.mode", default="bytes", recommended_values=("bytes", "base64", "hex")),
            ConfigKey("max.batch.size", type="INT", default=2048),
        )

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> dict[str, list[str]]:
        errors = super().validate(config)
        mode = config.get("snapshot.mode")
        if mode is not None and mode not in SNAPSHOT_MODES:
            errors["snapshot.mode"] = [f"must be one of {', '.join(SNAPSHOT_MODES)}, got {mode!r}"]
        for key, problems in config_problems(
                config, ("database.port", "max.batch.size", "database.server.id"),
                ("table.include.list", "table.exclude.list", "database.include.list", "column.exclude.list")).items():
            errors.setdefault(key, []).extend(problems)
        return errors

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self.config)]  # one binlog, one ordered stream: one task

    def task_class(self) -> builtins.type[Task]:
        return MySqlSourceTask


class MySqlSourceTask(SourceTask):
    def start(self, config: Mapping[str, str], offsets: Any = None) -> None:  # type: ignore[override]
        super().start(config, offsets)
        self.builder = EnvelopeBuilder("mysql", config)
        self.modes = TypeModes.from_config({"time.precision.mode": "adaptive_time_microseconds", **config})
        tables = table_filter(config.get("table.include.list"), config.get("table.exclude.list"))
        databases = table_filter(config.get("database.include.list"), config.get("database.exclude.list"))
        self.accept_table = lambda table_id: (table_id.split(".", 1)[0] not in SYSTEM_SCHEMAS
                                              and databases(table_id.split(".", 1)[0]) and tables(table_id))
        self.accept_column = column_filter(config.get("column.exclude.list"))
        self.max_batch = int(config.get("max.batch.size", "2048"))
        self.name = config.get("name") or self.builder.prefix
        self.partition = {"server": self.builder.prefix}
        self.settings = connection_settings(config)
        self.server_id = int(config.get("database.server.id") or random.randint(5400, 6400))
        stored = dict(offsets.offset(self.partition) or {}) if offsets is not None else {}
        self.tables: dict[int, Table | None] = {}
        self._shapes: dict[tuple[Any, ...], Table] = {}
        self.stream: BinLogStreamReader | None = None
        self.snapshot: MySnapshot | None = None
        self.idle = False
        self._file = ""
        self._txn_pos = 0
        self._txn_open = False
        self._gtid: str | None = None
        self._serial = 0
        self._pending: list[SourceRecord] = []
        try:
            self.control = pymysql.connect(**self.settings, autocommit=True)
            check_binlog(self.control)
        except pymysql.err.OperationalError as exc:
            raise RetriableError(f"MySQL connector: cannot connect: {exc}") from exc
        mode = config.get("snapshot.mode", "initial")
        done = bool(stored) and (not stored.get("snapshot") or stored.get("last_snapshot_record"))
        if done and mode == "initial_only":
            self.idle = True
        elif not done and mode in ("initial", "initial_only", "when_needed"):
            self.snapshot = MySnapshot(self, self.settings)
            self._skip = (self.snapshot.file, self.snapshot.pos, 0)
        elif stored:
            self._skip = (str(stored["file"]), int(stored["pos"]), int(stored.get("event", 0)))
            self._open_stream(*self._skip[:2])
        else:
            with self.control.cursor() as cur:
                cur.execute("SHOW MASTER STATUS")
                file, pos = cur.fetchone()[:2]
            self._skip = (file, int(pos), 0)
            self._open_stream(file, int(pos))
            self._pending.append(heartbeat(self.builder.prefix, self.partition,
                                           {"file": file, "pos": int(pos), "event": 0}))

    # -- the snapshot's callback ---------------------------------------------------------
    def snapshot_finished(self, file: str, pos: int, empty: bool) -> None:
        self.snapshot = None
        if empty:  # no record carried the snapshot's position: a heartbeat stores it
            self._pending.append(heartbeat(self.builder.prefix, self.partition,
                                           {"snapshot": True, "last_snapshot_record": True, "file": file,
                                            "pos": pos, "event": 0}))
        if self.config.get("snapshot.mode") == "initial_only":
            self.idle = True
        else:
            self._open_stream(file, pos)

    def _open_stream(self, file: str, pos: int) -> None:
        self._file = file
        self.stream = BinLogStreamReader(
            connection_settings=dict(self.settings), server_id=self.server_id, blocking=True, resume_stream=True,
            log_file=file, log_pos=pos, slave_heartbeat=1, enable_logging=False,
            only_events=[RotateEvent, MariadbGtidEvent, GtidEvent, QueryEvent, XidEvent, TableMapEvent,
                         WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, HeartbeatLogEvent])

    # -- poll ---------------------------------------------------------------------------
    def poll(self) -> Sequence[SourceRecord]:
        try:
            if self._pending:
                pending, self._pending = self._pending, []
                return pending
            if self.snapshot is not None:
                return self.snapshot.batch(self.max_batch)
            if self.idle or self.stream is None:
                time.sleep(0.5)
                return []
            return self._stream()
        except pymysql.err.OperationalError as exc:
            raise ConnectError(f"MySQL connector: connection lost: {exc}") from exc

    def _stream(self) -> list[SourceRecord]:
        assert self.stream is not None
        records: list[SourceRecord] = []
        deadline = time.monotonic() + 1.0
        while len(records) < self.max_batch and time.monotonic() < deadline:
            event = self.stream.fetchone()
            if event is None or isinstance(event, HeartbeatLogEvent):
                if records:
                    break
                continue
            self._handle(event, records)
            if records and not waiting(self.stream):
                break  # hand over what the server has sent so far rather than wait for the next event
        if records:
            metrics.add("headwater_cdc_events", self.name, "mysql", len(records))
            source = (records[-1].value or {}).get("source") or {}
            if source.get("ts_ms"):
                metrics.set_gauge("headwater_cdc_commit_lag_ms", self.name, "mysql",
                                  max(0.0, time.time() * 1000 - source["ts_ms"]))
        return records

    def _handle(self, event: Any, out: list[SourceRecord]) -> None:
        if isinstance(event, RotateEvent):
            self._file = event.next_binlog
        elif isinstance(event, (MariadbGtidEvent, GtidEvent)):
            self._begin(event)
            self._gtid = str(event.gtid)
        elif isinstance(event, QueryEvent):
            query = event.query.strip().upper() if isinstance(event.query, str) else ""
            if query == "BEGIN":
                if not self._txn_open:
                    self._begin(event)
            else:  # COMMIT of a non-transactional engine's statement, or DDL: the transaction is over
                self._txn_open = False
        elif isinstance(event, XidEvent):
            self._txn_open = False
        elif isinstance(event, TableMapEvent):
            self._table_map(event)
        elif isinstance(event, (WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent)):
            self._rows(event, out)

    def _begin(self, event: Any) -> None:
        self._txn_open = True
        self._txn_pos = int(event.packet.log_pos) - int(event.packet.event_size)
        self._serial = 0
        self._gtid = None

    def _table_map(self, event: TableMapEvent) -> None:
        table_id = f"{event.schema}.{event.table}"
        if not self.accept_table(table_id):
            self.tables[event.table_id] = None
            return
        # Every statement repeats the table map: the same shape gives the same Table (and cached schemas).
        shape = (table_id, bytes(event.null_bitmask), tuple(
            (c.name, c.type, c.is_primary, getattr(c, "unsigned", False), getattr(c, "character_set_name", None),
             getattr(c, "precision", None), getattr(c, "decimals", None), getattr(c, "fsp", None),
             getattr(c, "bits", None)) for c in event.columns))
        known = self._shapes.get(shape)
        if known is None:
            known = self._shapes[shape] = self._new_table(event, table_id)
            if len(self._shapes) > 1000:
                self._shapes.clear()
        self.tables[event.table_id] = known

    def _new_table(self, event: TableMapEvent, table_id: str) -> Table:
        bitmap = event.null_bitmask
        columns = []
        for index, column in enumerate(event.columns):
            if column.name is None or not self.accept_column(f"{table_id}.{column.name}"):
                continue
            nullable = bool(bitmap[index // 8] & (1 << (index % 8)))
            columns.append(mysql_column(from_table_map(column, nullable), self.modes))
        names = {c.name for c in columns}
        key = tuple(c.name for c in event.columns if c.is_primary and c.name in names)
        return Table(event.schema, event.table, tuple(columns), key)

    def _rows(self, event: Any, out: list[SourceRecord]) -> None:
        table = self.tables.get(event.table_id)
        ts_ms = int(event.timestamp) * 1000
        for row_number, row in enumerate(event.rows):
            self._serial += 1
            file, pos, serial = self._skip
            if (self._file, self._txn_pos) == (file, pos) and self._serial <= serial:
                continue  # in the log before a restart
            if table is None:
                continue
            source = self.builder.source(table, ts_ms, server_id=int(event.packet.server_id), gtid=self._gtid,
                                         file=self._file, pos=self._txn_pos, row=row_number)
            offset = {"file": self._file, "pos": self._txn_pos, "event": self._serial, "gtid": self._gtid,
                      "ts_sec": int(event.timestamp), "server_id": int(event.packet.server_id)}
            if isinstance(event, WriteRowsEvent):
                out.extend(self.builder.change(table, "c", None, table.row(row["values"]), source,
                                               self.partition, offset))
            elif isinstance(event, UpdateRowsEvent):
                out.extend(self.builder.change(table, "u", table.row(row["before_values"]),
                                               table.row(row["after_values"]), source, self.partition, offset))
            else:
                out.extend(self.builder.change(table, "d", table.row(row["values"]), None, source,
                                               self.partition, offset))

    def stop(self) -> None:
        metrics.clear(getattr(self, "name", ""), "mysql")
        if self.stream is not None:
            self.stream.close()
        if self.snapshot is not None:
            self.snapshot.close()
        control = getattr(self, "control", None)
        if control is not None:
            try:
                control.close()
            except pymysql.err.Error:
                pass


def waiting(stream: BinLogStreamReader) -> bool:
    """Whether the binlog connection has bytes waiting. mysql-replication offers no such call, so its PyMySQL
    connection's socket is looked at; bytes already in PyMySQL's buffer are read at the next poll."""
    connection = getattr(stream, "_stream_connection", None)
    sock = getattr(connection, "_sock", None)
    if sock is None:
        return True
    return bool(select.select([sock], [], [], 0)[0])
