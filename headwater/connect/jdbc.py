"""The JDBC sink: topics into MariaDB/MySQL, PostgreSQL or SQLite tables, Confluent's JdbcSinkConnector's counterpart.

Config keys are Confluent's: ``connection.url`` (a JDBC URL or a SQLAlchemy
URL), ``connection.user``, ``connection.password``, ``table.name.format``
(``${topic}``), ``insert.mode`` (insert, upsert, update), ``pk.mode`` (none,
kafka, record_key, record_value), ``pk.fields``, ``fields.whitelist``,
``auto.create``, ``auto.evolve``, ``batch.size``, ``delete.enabled``.

One ``put`` is one database transaction. Records are written in order, in
statements of at most ``batch.size`` rows, each inside a savepoint: when the
database refuses a statement for a row's content (a value the column type
refuses, a NOT NULL column left empty), the statement is rolled back to its
savepoint and replayed row by row, so the refused records come back as
``RecordFailure`` with the database's message (the runtime sends them to the
dead-letter topic or fails the task) and the others are written. A lost
connection, a lock timeout or a deadlock rolls the whole put back and raises
``RetriableError``: the runtime retries the same records.

Upserts (``INSERT ... ON DUPLICATE KEY UPDATE`` on MariaDB, ``ON CONFLICT DO
UPDATE`` on PostgreSQL and SQLite) make a replay after a crash harmless: the
runtime re-puts the records after the last committed offset and the rows end
the same.

Tables are created (``auto.create``) and widened with nullable columns
(``auto.evolve``) before the data transaction, because MariaDB commits
implicitly around DDL. Column types: ``headwater.connect.jdbc_dialect``.
Tombstones (null values) delete the row by key with ``delete.enabled`` (which
needs ``pk.mode=record_key``) and are skipped otherwise, as there is no row to
write.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Literal

import sqlalchemy as sa

from headwater.connect.api import ConfigKey, Connector, ConnectError, RecordFailure, RetriableError, SinkTask, Task
from headwater.connect.data import ConnectSchema, SinkRecord
from headwater.connect.jdbc_dialect import (
    column_value,
    create_engine,
    database_message,
    infer_type,
    is_transient,
    key_length,
    sql_type,
    sqlalchemy_url,
    upsert,
)
from headwater.errors import ConfigError

log = logging.getLogger(__name__)

InsertMode = Literal["insert", "upsert", "update"]
PkMode = Literal["none", "kafka", "record_key", "record_value"]
KAFKA_PK_FIELDS = ("__connect_topic", "__connect_partition", "__connect_offset")
KAFKA_PK_SCHEMAS = (ConnectSchema("string"), ConnectSchema("int32"), ConnectSchema("int64"))


def _list(raw: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (raw or "").split(",") if p.strip())


def _bool(config: Mapping[str, str], key: str) -> bool:
    raw = str(config.get(key, "false")).strip().lower()
    if raw not in ("true", "false"):
        raise ConfigError(f"jdbc sink: {key} must be true or false, got {config.get(key)!r}")
    return raw == "true"


@dataclass(frozen=True)
class JdbcSinkConfig:
    """A validated JDBC sink config."""

    url: sa.URL
    table_name_format: str
    insert_mode: InsertMode
    pk_mode: PkMode
    pk_fields: tuple[str, ...]
    fields_whitelist: tuple[str, ...]
    auto_create: bool
    auto_evolve: bool
    batch_size: int
    delete_enabled: bool

    @classmethod
    def parse(cls, config: Mapping[str, str]) -> JdbcSinkConfig:
        if not config.get("connection.url"):
            raise ConfigError('jdbc sink: Missing required configuration "connection.url" which has no default value.')
        insert_mode = str(config.get("insert.mode", "insert")).strip().lower()
        if insert_mode not in ("insert", "upsert", "update"):
            raise ConfigError(f"jdbc sink: insert.mode must be insert, upsert or update, got {insert_mode!r}")
        pk_mode = str(config.get("pk.mode", "none")).strip().lower()
        if pk_mode not in ("none", "kafka", "record_key", "record_value"):
            raise ConfigError(f"jdbc sink: pk.mode must be none, kafka, record_key or record_value, got {pk_mode!r}")
        pk_fields = _list(config.get("pk.fields"))
        if insert_mode != "insert" and pk_mode == "none":
            raise ConfigError(f"jdbc sink: insert.mode={insert_mode} needs a primary key: set pk.mode")
        if pk_mode == "kafka" and pk_fields and len(pk_fields) != 3:
            raise ConfigError("jdbc sink: pk.mode=kafka takes three pk.fields (topic, partition, offset), "
                              f"got {len(pk_fields)}")
        delete_enabled = _bool(config, "delete.enabled")
        if delete_enabled and pk_mode != "record_key":
            raise ConfigError("jdbc sink: delete.enabled=true requires pk.mode=record_key")
        try:
            batch_size = int(config.get("batch.size", 3000))
        except ValueError:
            raise ConfigError(f"jdbc sink: batch.size must be an integer, got {config.get('batch.size')!r}") from None
        if batch_size < 1:
            raise ConfigError(f"jdbc sink: batch.size must be at least 1, got {batch_size}")
        return cls(
            url=sqlalchemy_url(config["connection.url"], config.get("connection.user"),
                               config.get("connection.password")),
            table_name_format=config.get("table.name.format") or "${topic}",
            insert_mode=insert_mode,  # type: ignore[arg-type]
            pk_mode=pk_mode,  # type: ignore[arg-type]
            pk_fields=KAFKA_PK_FIELDS if pk_mode == "kafka" and not pk_fields else pk_fields,
            fields_whitelist=_list(config.get("fields.whitelist")),
            auto_create=_bool(config, "auto.create"),
            auto_evolve=_bool(config, "auto.evolve"),
            batch_size=batch_size,
            delete_enabled=delete_enabled,
        )


class JdbcSinkConnector(Connector):
    """Writes topics to database tables (see the module docstring)."""

    type = "sink"

    @classmethod
    def config_def(cls) -> Sequence[ConfigKey]:
        return (
            ConfigKey("connection.url", required=True, importance="HIGH",
                      documentation="jdbc:mysql://, jdbc:mariadb://, jdbc:postgresql://, jdbc:sqlite: or a SQLAlchemy URL."),
            ConfigKey("connection.user", importance="HIGH"),
            ConfigKey("connection.password", "PASSWORD", importance="HIGH"),
            ConfigKey("table.name.format", default="${topic}", documentation="Table name; ${topic} is replaced."),
            ConfigKey("insert.mode", default="insert", recommended_values=("insert", "upsert", "update")),
            ConfigKey("pk.mode", default="none", recommended_values=("none", "kafka", "record_key", "record_value")),
            ConfigKey("pk.fields", "LIST", default=""),
            ConfigKey("fields.whitelist", "LIST", default=""),
            ConfigKey("auto.create", "BOOLEAN", default=False),
            ConfigKey("auto.evolve", "BOOLEAN", default=False),
            ConfigKey("batch.size", "INT", default=3000, documentation="Rows per statement."),
            ConfigKey("delete.enabled", "BOOLEAN", default=False,
                      documentation="Delete the row on a tombstone (needs pk.mode=record_key)."),
        )

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> dict[str, list[str]]:
        errors = super().validate(config)
        if not errors:
            try:
                JdbcSinkConfig.parse(config)
            except ConfigError as exc:
                message = str(exc)
                # The key the message is about is the first one it names.
                named = [k.name for k in cls.config_def() if k.name in message]
                key = min(named, key=message.find) if named else "connection.url"
                errors.setdefault(key, []).append(message)
        return errors

    def start(self, config: Mapping[str, str]) -> None:
        try:
            JdbcSinkConfig.parse(config)
        except ConfigError as exc:
            raise ConnectError(str(exc)) from None
        super().start(config)

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self.config) for _ in range(max(1, max_tasks))]

    def task_class(self) -> builtins.type[Task]:
        return JdbcSinkTask


class RecordError(ConnectError):
    """A record the sink cannot turn into a row."""


@dataclass
class Row:
    """One record's statement: the table, what to do, and the column values with their schemas."""

    record: SinkRecord
    table: str
    op: Literal["insert", "upsert", "update", "delete"]
    key_columns: tuple[str, ...]
    values: dict[str, Any]
    #: Column -> Connect schema (None: schemaless, inferred from the values).
    schemas: dict[str, ConnectSchema | None] = field(default_factory=dict)

    def where(self) -> str:
        r = self.record
        return f"{r.topic}[{r.partition}]@{r.offset}"


class JdbcSinkTask(SinkTask):
    """Writes one put per transaction (see the module docstring)."""

    def start(self, config: Mapping[str, str]) -> None:
        super().start(config)
        try:
            self.settings = JdbcSinkConfig.parse(config)
            self.engine = create_engine(self.settings.url)
        except (ConfigError, sa.exc.ArgumentError, ImportError) as exc:
            raise ConnectError(f"jdbc sink: {exc}") from None
        self.dialect = self.engine.dialect.name
        self._tables: dict[str, sa.Table] = {}

    def stop(self) -> None:
        self.engine.dispose()

    # -- records to rows -------------------------------------------------------

    def _row(self, record: SinkRecord) -> Row | None:
        s = self.settings
        table = s.table_name_format.replace("${topic}", record.topic)
        if record.value is None:
            if not s.delete_enabled:
                return None  # a tombstone without delete.enabled has nothing to write
            keys, schemas = self._key_columns(record, {})
            return Row(record, table, "delete", tuple(keys), keys, schemas)
        if not isinstance(record.value, Mapping):
            raise RecordError(f"jdbc sink: the value at {record.topic}[{record.partition}]@{record.offset} is "
                              f"{type(record.value).__name__}, expected a struct or a map")
        value_fields = {k: v for k, v in record.value.items() if not s.fields_whitelist or k in s.fields_whitelist}
        value_schemas: dict[str, ConnectSchema | None] = {}
        for name in value_fields:
            f = record.value_schema.field(name) if record.value_schema is not None else None
            value_schemas[name] = f.schema if f is not None else None
        keys, schemas = self._key_columns(record, value_fields)
        values = {**value_fields, **keys}
        return Row(record, table, s.insert_mode, tuple(keys), values, {**value_schemas, **schemas})

    def _key_columns(
        self, record: SinkRecord, value: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, ConnectSchema | None]]:
        s = self.settings
        where = f"{record.topic}[{record.partition}]@{record.offset}"
        if s.pk_mode == "none":
            return {}, {}
        if s.pk_mode == "kafka":
            names = s.pk_fields
            return (dict(zip(names, (record.topic, record.partition, record.offset))),
                    dict(zip(names, KAFKA_PK_SCHEMAS)))
        if s.pk_mode == "record_value":
            names = s.pk_fields or tuple(value)
            missing = [n for n in names if value.get(n) is None]
            if missing:
                raise RecordError(f"jdbc sink: the value at {where} has no primary key field(s) {', '.join(missing)}")
            return {n: value[n] for n in names}, {}
        key = record.key
        if key is None:
            raise RecordError(f"jdbc sink: the record at {where} has a null key, pk.mode=record_key needs one")
        if isinstance(key, Mapping):
            names = s.pk_fields or tuple(key)
            missing = [n for n in names if key.get(n) is None]
            if missing:
                raise RecordError(f"jdbc sink: the key at {where} has no primary key field(s) {', '.join(missing)}")
            schemas: dict[str, ConnectSchema | None] = {}
            for n in names:
                f = record.key_schema.field(n) if record.key_schema is not None else None
                schemas[n] = f.schema if f is not None else None
            return {n: key[n] for n in names}, schemas
        if len(s.pk_fields) != 1:
            raise ConnectError("jdbc sink: the record key is a primitive, so pk.fields must name exactly one "
                               f"column for it with pk.mode=record_key, got {list(s.pk_fields)}")
        return {s.pk_fields[0]: key}, {s.pk_fields[0]: record.key_schema}

    # -- tables ------------------------------------------------------------------

    def _reflect(self, name: str) -> sa.Table | None:
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(name):
                return None
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        self._tables[name] = table
        return table

    @staticmethod
    def _column(table: sa.Table, name: str) -> str | None:
        """The table's column for a field: exact, else case-insensitive (PostgreSQL folds unquoted names)."""
        if name in table.c:
            return name
        return next((c.name for c in table.c if c.name.lower() == name.lower()), None)

    def _column_types(self, rows: list[Row], names: list[str]) -> dict[str, tuple[sa.types.TypeEngine[Any], bool]]:
        """Type and nullability of each column, from the schemas or inferred from the values."""
        result = {}
        key_columns = {c for r in rows for c in r.key_columns}
        chars = key_length(len(key_columns))  # several string keys share one index (MariaDB: 3072 bytes)
        for name in names:
            key = name in key_columns
            schema = next((r.schemas.get(name) for r in rows if r.schemas.get(name) is not None), None)
            if schema is not None:
                result[name] = (sql_type(schema, key, chars), schema.optional and not key)
            else:
                sql, _inferred = infer_type((r.values.get(name) for r in rows), key, chars)
                result[name] = (sql, not key)
        return result

    def _create_table(self, name: str, rows: list[Row], needed: list[str]) -> sa.Table:
        keys = list(dict.fromkeys(c for r in rows for c in r.key_columns))
        types = self._column_types(rows, needed)
        table = sa.Table(name, sa.MetaData(), *(
            sa.Column(c, types[c][0], primary_key=c in keys, nullable=types[c][1] and c not in keys,
                      autoincrement=False)
            for c in needed))
        try:
            with self.engine.begin() as conn:
                table.create(conn)
            log.info("jdbc sink: created table %s (%s)", name, ", ".join(needed))
        except sa.exc.DBAPIError:
            if self._reflect(name) is None:  # not created by another task at the same moment
                raise
        created = self._reflect(name)
        assert created is not None  # it was just created
        return created

    def _add_columns(self, table: sa.Table, rows: list[Row], missing: list[str]) -> sa.Table:
        """ALTER TABLE ADD COLUMN for the missing fields that may be null (the others cannot be added)."""
        types = self._column_types(rows, missing)
        addable = [c for c in missing if types[c][1]]
        if not addable:
            return table
        try:
            with self.engine.begin() as conn:
                quoted = conn.dialect.identifier_preparer.quote(table.name)
                for c in addable:
                    column = sa.schema.CreateColumn(sa.Column(c, types[c][0], nullable=True)).compile(
                        dialect=conn.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {quoted} ADD COLUMN {column}")
            log.info("jdbc sink: added columns %s to %s", ", ".join(addable), table.name)
        except sa.exc.DBAPIError:
            fresh = self._reflect(table.name)  # another task may have added them first
            if fresh is None or any(self._column(fresh, c) is None for c in addable):
                raise
        evolved = self._reflect(table.name)
        return evolved if evolved is not None else table

    def _prepare_tables(self, rows: list[Row], failures: list[RecordFailure]) -> list[Row]:
        """Create and evolve tables; return the rows that can be written (the others join ``failures``)."""
        s = self.settings
        writable: list[Row] = []
        by_table: dict[str, list[Row]] = {}
        for row in rows:
            by_table.setdefault(row.table, []).append(row)
        for name, table_rows in by_table.items():
            needed = list(dict.fromkeys(c for r in table_rows for c in r.values))
            table = self._tables.get(name)
            if table is None:
                table = self._reflect(name)
            if table is None:
                writes = [r for r in table_rows if r.op != "delete"]
                if not writes:
                    continue  # tombstones for a table not created yet: no row to delete
                if not s.auto_create:
                    raise ConnectError(f"jdbc sink: table {name!r} does not exist and auto.create is false")
                table = self._create_table(name, writes, list(dict.fromkeys(c for r in writes for c in r.values)))
            missing = [c for c in needed if self._column(table, c) is None]
            if missing:
                fresh = self._reflect(name)  # another writer may have added them
                table = fresh if fresh is not None else table
                missing = [c for c in needed if self._column(table, c) is None]
            if missing and s.auto_evolve:
                table = self._add_columns(table, table_rows, missing)
            for row in table_rows:
                absent = [c for c in row.values if self._column(table, c) is None]
                if absent:
                    why = ("they are not optional, so auto.evolve cannot add them" if s.auto_evolve
                           else "auto.evolve is false")
                    failures.append(RecordFailure(row.record, RecordError(
                        f"jdbc sink: table {name} has no column(s) {', '.join(absent)} for the record at "
                        f"{row.where()} and {why}")))
                else:
                    writable.append(row)
        return writable

    # -- writing -----------------------------------------------------------------

    def _statement(self, table: sa.Table, op: str, keys: list[str], columns: list[str]) -> Any:
        if op == "insert":
            return sa.insert(table)
        if op == "upsert":
            return upsert(table, keys, columns, self.dialect)
        where = sa.and_(*(table.c[k] == sa.bindparam(f"k{i}") for i, k in enumerate(keys)))
        if op == "delete":
            return sa.delete(table).where(where)
        others = [c for c in columns if c not in keys]
        return sa.update(table).where(where).values({c: sa.bindparam(f"v{i}") for i, c in enumerate(others)})

    def _params(self, table: sa.Table, row: Row, op: str, keys: list[str], columns: list[str]) -> dict[str, Any]:
        values = {self._column(table, c) or c: column_value(v, row.schemas.get(c)) for c, v in row.values.items()}
        if op in ("insert", "upsert"):
            return values
        params = {f"k{i}": values[k] for i, k in enumerate(keys)}
        if op == "update":
            params.update({f"v{i}": values[c] for i, c in enumerate(c for c in columns if c not in keys)})
        return params

    def _write(self, conn: sa.Connection, rows: list[Row]) -> list[RecordFailure]:
        first = rows[0]
        table = self._tables[first.table]
        keys = [self._column(table, k) or k for k in first.key_columns]
        columns = [self._column(table, c) or c for c in first.values]
        stmt = self._statement(table, first.op, keys, columns)
        params = [self._params(table, r, first.op, keys, columns) for r in rows]
        try:
            with conn.begin_nested():
                conn.execute(stmt, params)
            return []
        except sa.exc.DBAPIError as exc:
            if is_transient(exc):
                raise
        # Something in this statement was refused: find which rows, one savepoint each.
        failures = []
        for row, row_params in zip(rows, params):
            try:
                with conn.begin_nested():
                    conn.execute(stmt, [row_params])
            except sa.exc.DBAPIError as exc:
                if is_transient(exc):
                    raise
                failures.append(RecordFailure(row.record, RecordError(
                    f"jdbc sink: {first.table} refused the record at {row.where()}: {database_message(exc)}")))
        return failures

    def put(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure]:
        failures: list[RecordFailure] = []
        rows: list[Row] = []
        for record in records:
            try:
                row = self._row(record)
            except RecordError as exc:
                failures.append(RecordFailure(record, exc))
                continue
            if row is not None:
                rows.append(row)
        if not rows:
            return failures
        try:
            with self.engine.connect():
                pass
        except sa.exc.DBAPIError as exc:
            raise RetriableError(f"jdbc sink: cannot connect to {self.settings.url.render_as_string()}: "
                                 f"{database_message(exc)}") from exc
        try:
            rows = self._prepare_tables(rows, failures)
            with self.engine.connect() as conn, conn.begin():
                # Consecutive rows of one table, operation and column set share statements.
                def shape(r: Row) -> tuple[str, str, tuple[str, ...]]:
                    return r.table, r.op, tuple(r.values)

                for _, group in groupby(rows, key=shape):
                    same = list(group)
                    for start in range(0, len(same), self.settings.batch_size):
                        failures += self._write(conn, same[start:start + self.settings.batch_size])
        except sa.exc.DBAPIError as exc:
            message = f"jdbc sink: {database_message(exc)}"
            if is_transient(exc):
                raise RetriableError(message) from exc
            raise ConnectError(message) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise ConnectError(f"jdbc sink: {exc}") from exc
        # Failures in the order of the records, as the runtime reports them.
        position = {id(r): n for n, r in enumerate(records)}
        return sorted(failures, key=lambda f: position.get(id(f.record), 0))
