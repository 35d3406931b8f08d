"""Keyed state stores: DuckDB tables read and written by key, logged to a compacted changelog.

The contract of a :class:`KeyedStore` (one per kind of state row of an operator):

- ``create(con)``: an empty table ``name`` in the operator's DuckDB (on start, before restore).
- ``get(con, keys_sql, into)``: the stored rows of the keys a batch touches, as temp table ``into``;
  a semi join, so DuckDB prunes row groups by the keys' min/max: a batch costs what it touches.
- ``put(con, rows)`` / ``delete(con, keys)``: upsert whole rows / remove keys. Called inside the
  batch's DuckDB transaction (the operator's ``process``), so a reader on another cursor (a pull
  query) sees the state before or after a batch, never half of it.
- ``changes(con, touched)``: the changelog records of a batch, one per touched key: the row the
  store holds now or a tombstone. Keys are ``<tag>|<key columns>``, so the changelog topic
  compacts to the state's size. Columns are packed by numpy when all are fixed width
  (``engine/row_codec.py``), else JSON (exact for every DuckDB type the aggregates use).
- ``restore(con, records)``: apply changelog records (the newest per key wins).
- ``dump(cursor, path)`` / ``load(con, path)``: a local Parquet snapshot of the table.

:class:`Snapshots` keeps, under the data directory, each query's latest snapshot with the
changelog offset it covers; a restore loads it and replays only the changelog tail.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from headwater.engine.row_codec import FixedRowCodec
from headwater.errors import SqlError
from headwater.log.diskio import fsync_path

logger = logging.getLogger(__name__)

#: Rows per Arrow batch when a snapshot streams a store to Parquet.
_SNAPSHOT_BATCH_ROWS = 65_536

#: Changelog keys of an operator's metadata (not rows of a store).
META_STREAM_TIME = b"meta|stream_time"
META_CREATED = b"meta|created"
#: Clears every store: written before a full dump of the state (migration from the old format).
META_RESET = b"meta|reset"


class StoreNotReadyError(SqlError):
    """A pull query asked a table whose state is still being restored."""


def run(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    """Run a statement to completion (DuckDB 2.0 keeps an unfetched result open otherwise)."""
    return con.execute(sql).fetchall()


class KeyedStore:
    """Rows keyed by ``keys`` in DuckDB table ``name``; see the module docstring for the contract.

    ``columns`` are (name, DuckDB type) of every column, keys included; None when the types are
    only known from the first batch (``define`` then creates the table, and changelog rows that
    arrived before wait in ``<name>__pending``).
    """

    def __init__(self, name: str, tag: str, keys: Sequence[str], columns: Sequence[tuple[str, str]] | None) -> None:
        self.name = name
        self.tag = tag
        self.keys = list(keys)
        self.columns = list(columns) if columns is not None else None
        self._pending = f"{name}__pending"
        self._values: list[str] | None = None
        self._prefix = f"{tag}|".encode()
        #: All columns fixed width: keys and values packed by numpy (engine/row_codec.py), else JSON.
        self._key_codec = self._value_codec = None
        if self.columns is not None:
            types = dict(self.columns)
            values = [n for n, _ in self.columns if n not in self.keys]
            key_codec = FixedRowCodec.for_types(self.keys, [types[k] for k in self.keys])
            value_codec = FixedRowCodec.for_types(values, [types[v] for v in values])
            if key_codec is not None and value_codec is not None:
                self._key_codec, self._value_codec = key_codec, value_codec

    # -- lifecycle ------------------------------------------------------------------------------
    def create(self, con: duckdb.DuckDBPyConnection) -> None:
        run(con, f"DROP TABLE IF EXISTS {self.name}")
        run(con, f"DROP TABLE IF EXISTS {self._pending}")
        if self.columns is not None:
            run(con, f"CREATE TABLE {self.name} ({', '.join(f'{n} {t}' for n, t in self.columns)})")

    def defined(self, con: duckdb.DuckDBPyConnection) -> bool:
        return bool(run(con, f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{self.name}' "
                             "AND database_name = current_database() AND NOT temporary")[0][0])

    def define(self, con: duckdb.DuckDBPyConnection, like: pa.Table) -> None:
        """Create the table with the types of ``like``'s columns (a store created without types)."""
        if self.defined(con):
            return
        con.register("__like", like)
        try:
            names = [n for n, _ in self.columns] if self.columns else like.column_names
            run(con, f"CREATE TABLE {self.name} AS SELECT {', '.join(names)} FROM __like LIMIT 0")
        finally:
            con.unregister("__like")
        if self._has_pending(con):
            self._apply(con, f"SELECT * FROM {self._pending}")
            run(con, f"DROP TABLE {self._pending}")

    # -- per batch ------------------------------------------------------------------------------
    def get(self, con: duckdb.DuckDBPyConnection, keys_sql: str, into: str, within: str = "") -> None:
        """The stored rows of the keys ``keys_sql`` selects, into temp table ``into``. ``within``: a
        condition on the stored rows every one of those keys meets (a constant range the scan can
        prune row groups by: the cost then follows the keys' range, not the store's size)."""
        on = " AND ".join(f"s.{k} = k.{k}" for k in self.keys)
        where = f" WHERE {within.format(t='s')}" if within else ""
        run(con, f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT s.* FROM {self.name} s "
                 f"SEMI JOIN ({keys_sql}) k ON {on}{where}")

    def put(self, con: duckdb.DuckDBPyConnection, rows: pa.Table, within: str = "") -> None:
        """Upsert ``rows`` by key (``within``: as for ``get``, met by every stored row they replace)."""
        if not rows.num_rows:
            return
        con.register("__put", rows)
        try:
            on = " AND ".join(f"{self.name}.{k} = __put.{k}" for k in self.keys)
            if within:
                on += f" AND {within.format(t=self.name)}"
            run(con, f"DELETE FROM {self.name} USING __put WHERE {on}")
            run(con, f"INSERT INTO {self.name} SELECT * FROM __put")
        finally:
            con.unregister("__put")

    def delete(self, con: duckdb.DuckDBPyConnection, keys: pa.Table) -> None:
        if not keys.num_rows:
            return
        con.register("__del", keys)
        try:
            on = " AND ".join(f"{self.name}.{k} = __del.{k}" for k in self.keys)
            run(con, f"DELETE FROM {self.name} USING __del WHERE {on}")
        finally:
            con.unregister("__del")

    def changes(self, con: duckdb.DuckDBPyConnection, touched: pa.Table | None,
                rows: pa.Table | None = None) -> pa.Table | None:
        """One changelog record (key, value) per distinct key of ``touched``: its row now, or a tombstone.

        ``rows``, when the caller has them, ARE the rows the store now holds for ``touched``'s keys,
        one per key (no lookup then). A value holds the row's columns other than the key's.
        """
        if touched is None or not touched.num_rows:
            return None
        if self._key_codec is not None and self._value_codec is not None:
            return self._packed_changes(con, touched, rows)
        values = self._value_columns(con)
        key_json = ", ".join(f"'{k}': t.{k}" for k in self.keys)
        if rows is not None:
            value_json = ", ".join(f"'{c}': t.{c}" for c in values)
            con.register("__rows", rows)
            try:
                return con.sql(f"SELECT encode('{self.tag}|' || to_json({{{key_json}}})::VARCHAR) AS key, "
                               f"encode(to_json({{{value_json}}})::VARCHAR) AS value FROM __rows t").to_arrow_table()
            finally:
                con.unregister("__rows")
        keys = ", ".join(self.keys)
        on = " AND ".join(f"s.{k} = t.{k}" for k in self.keys)
        value_json = ", ".join(f"'{c}': s.{c}" for c in values)
        con.register("__touched", touched.select(self.keys))
        try:
            return con.sql(
                f"SELECT encode('{self.tag}|' || to_json({{{key_json}}})::VARCHAR) AS key, "
                f"CASE WHEN s.{self.keys[0]} IS NULL THEN NULL ELSE encode(to_json({{{value_json}}})::VARCHAR) END "
                f"AS value FROM (SELECT DISTINCT {keys} FROM __touched) t LEFT JOIN {self.name} s ON {on}"
            ).to_arrow_table()
        finally:
            con.unregister("__touched")

    def _packed_changes(self, con: duckdb.DuckDBPyConnection, touched: pa.Table, rows: pa.Table | None) -> pa.Table:
        assert self._key_codec is not None and self._value_codec is not None  # the caller checked
        gone = None
        if rows is None:
            keys = ", ".join(self.keys)
            on = " AND ".join(f"s.{k} = t.{k}" for k in self.keys)
            values = ", ".join(f"s.{c}" for c in self._value_codec.names)
            con.register("__touched", touched.select(self.keys))
            try:
                rows = con.sql(f"SELECT t.*, {values}, s.{self.keys[0]} IS NULL AS __gone FROM "
                               f"(SELECT DISTINCT {keys} FROM __touched) t LEFT JOIN {self.name} s ON {on}"
                               ).to_arrow_table()
            finally:
                con.unregister("__touched")
            gone = rows.column("__gone")
        packed = self._value_codec.encode(rows)
        if gone is not None:
            packed = pc.if_else(gone, pa.scalar(None, pa.binary()), packed)
        return pa.table({"key": self._key_codec.encode(rows, self._prefix), "value": packed})

    def _types(self, con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
        found = run(con, f"SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = '{self.name}' "
                         "AND database_name = current_database() ORDER BY column_index")
        return [(str(n), str(t)) for n, t in found]

    def _value_columns(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        if self._values is None:  # fixed once the table exists
            self._values = [n for n, _ in (self.columns or self._types(con)) if n not in self.keys]
        return self._values

    # -- restore --------------------------------------------------------------------------------
    def restore(self, con: duckdb.DuckDBPyConnection, records: pa.Table) -> None:
        """Apply changelog records (``key``, ``value``, ``offset``) of this store, newest per key winning."""
        keys = records.column("key")
        mine = pc.equal(pc.binary_slice(keys, 0, len(self._prefix)), pa.scalar(self._prefix, pa.binary()))
        records = records.filter(pc.fill_null(mine, False)).select(["key", "value", "offset"])
        if not records.num_rows:
            return
        con.register("__records", records)
        try:
            latest = ("SELECT key, value FROM __records "
                      "QUALIFY row_number() OVER (PARTITION BY key ORDER BY \"offset\" DESC) = 1")
            if self._key_codec is not None and self._value_codec is not None:
                self._apply_packed(con, con.sql(latest).to_arrow_table())
            elif self.defined(con):
                self._apply(con, latest)
            else:  # no types yet: keep the newest records until ``define``
                if not self._has_pending(con):
                    run(con, f"CREATE TABLE {self._pending} (key BLOB, value BLOB)")
                run(con, f"DELETE FROM {self._pending} WHERE key IN (SELECT key FROM ({latest}))")
                run(con, f"INSERT INTO {self._pending} {latest}")
        finally:
            con.unregister("__records")

    def _apply_packed(self, con: duckdb.DuckDBPyConnection, latest: pa.Table) -> None:
        assert self._key_codec is not None and self._value_codec is not None  # the caller checked
        keys = self._key_codec.decode(latest.column("key"), skip=len(self._prefix))
        live = pc.is_valid(latest.column("value"))
        rows = self._value_codec.decode(latest.column("value").filter(live))
        for name in self.keys:
            rows = rows.append_column(name, keys.column(name).filter(live))
        self.delete(con, keys)
        con.register("__rows", rows)
        try:
            run(con, f"INSERT INTO {self.name} BY NAME SELECT * FROM __rows")
        finally:
            con.unregister("__rows")

    def _apply(self, con: duckdb.DuckDBPyConnection, latest_sql: str) -> None:
        types = self._types(con)
        key_struct = ", ".join(f'"{n}" {t}' for n, t in types if n in self.keys)
        value_struct = ", ".join(f'"{n}" {t}' for n, t in types if n not in self.keys)
        skip = len(self.tag) + 2  # 1-based, after "<tag>|"
        on = " AND ".join(f"{self.name}.{k} IS NOT DISTINCT FROM __k.{k}" for k in self.keys)
        run(con, f"CREATE OR REPLACE TEMP TABLE __latest AS SELECT substr(decode(key), {skip})::JSON::STRUCT("
                 f"{key_struct}) AS k, value FROM ({latest_sql})")
        try:
            run(con, f"DELETE FROM {self.name} USING (SELECT unnest(k) FROM __latest) __k WHERE {on}")
            run(con, f"INSERT INTO {self.name} BY NAME SELECT unnest(k), unnest(decode(value)::JSON::STRUCT("
                     f"{value_struct})) FROM __latest WHERE value IS NOT NULL")
        finally:
            run(con, "DROP TABLE IF EXISTS __latest")

    def _has_pending(self, con: duckdb.DuckDBPyConnection) -> bool:
        return bool(run(con, f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{self._pending}'")[0][0])

    # -- snapshots ------------------------------------------------------------------------------
    def dump(self, cursor: duckdb.DuckDBPyConnection, path: str) -> bool:
        """Write the table to Parquet at ``path``; False when the store has no table yet.

        pyarrow writes the file: the engine's DuckDB connections can touch no file (formats/duck.py).
        """
        if not self.defined(cursor):
            return False
        reader = cursor.sql(f"SELECT * FROM {self.name}").fetch_arrow_reader(_SNAPSHOT_BATCH_ROWS)
        with pq.ParquetWriter(path, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
        return True

    def load(self, con: duckdb.DuckDBPyConnection, path: str) -> None:
        con.register("__snapshot", pq.read_table(path))
        try:
            if self.columns is None:
                run(con, f"DROP TABLE IF EXISTS {self.name}")
                run(con, f"CREATE TABLE {self.name} AS SELECT * FROM __snapshot")
            else:
                run(con, f"INSERT INTO {self.name} SELECT * FROM __snapshot")
        finally:
            con.unregister("__snapshot")


@dataclass(frozen=True)
class Snapshot:
    """A loaded snapshot: the changelog offset it covers and the stream times at that point."""

    offset: int
    stream_time: dict[int, int]


class Snapshots:
    """The local snapshots of one query's stores, in ``directory``; written off the hot path.

    ``meta.json`` names the files and the changelog offset they cover, and is replaced
    atomically after the files are durable, so a crash leaves the previous snapshot whole.
    ``identity`` ties a snapshot to one changelog (its ``meta|created`` record): a changelog
    deleted and made again never meets an older snapshot.
    """

    def __init__(self, directory: str, stores: Sequence[KeyedStore], fingerprint: str) -> None:
        self.directory = directory
        self.stores = list(stores)
        self.fingerprint = fingerprint
        self._thread: threading.Thread | None = None
        self.written = 0

    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout_s: float = 30.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def write(self, con: duckdb.DuckDBPyConnection, offset: int, identity: str, stream_time: dict[int, int],
              background: bool = True) -> None:
        """Snapshot the stores as they are NOW (committed), covering changelog offsets below ``offset``.

        The cursor's transaction pins the state at this call; the files are written by a thread.
        """
        cursor = con.cursor()
        run(cursor, "BEGIN TRANSACTION")
        for store in self.stores:  # starts the read transaction on the database now, not later
            if store.defined(cursor):
                run(cursor, f"SELECT count(*) FROM {store.name} LIMIT 0")
        meta = {"offset": offset, "identity": identity, "fingerprint": self.fingerprint,
                "stream_time": {str(k): v for k, v in stream_time.items()}, "written_at": time.time()}
        self._thread = threading.Thread(target=self._write, args=(cursor, meta), name="snapshot", daemon=True)
        self._thread.start()
        if not background:
            self._thread.join()

    def _write(self, cursor: duckdb.DuckDBPyConnection, meta: dict[str, object]) -> None:
        started = time.perf_counter()
        try:
            os.makedirs(self.directory, exist_ok=True)
            files = {}
            for store in self.stores:
                name = f"{store.name}-{meta['offset']}.parquet"
                path = os.path.join(self.directory, name)
                if store.dump(cursor, path + ".tmp"):
                    fsync_path(path + ".tmp")
                    os.replace(path + ".tmp", path)
                    files[store.name] = name
            meta["files"] = files
            tmp = os.path.join(self.directory, "meta.json.tmp")
            with open(tmp, "w", encoding="utf-8") as out:
                json.dump(meta, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, os.path.join(self.directory, "meta.json"))
            fsync_path(self.directory)
            for old in os.listdir(self.directory):  # files of older snapshots
                if old.endswith(".parquet") and old not in files.values() or old.endswith(".tmp"):
                    os.remove(os.path.join(self.directory, old))
            self.written += 1
            logger.debug("snapshot of %s at changelog offset %s in %.2f s", self.directory, meta["offset"],
                         time.perf_counter() - started)
        except (OSError, duckdb.Error):
            logger.exception("could not write the snapshot in %s; the changelog still has everything",
                             self.directory)
        finally:
            cursor.close()

    def load(self, con: duckdb.DuckDBPyConnection, identity: str | None, changelog_end: int,
             max_age_s: float | None) -> Snapshot | None:
        """Load the latest snapshot into the (empty) stores if it belongs to this changelog; else None."""
        try:
            with open(os.path.join(self.directory, "meta.json"), encoding="utf-8") as src:
                meta = json.load(src)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            logger.warning("snapshot in %s is unreadable; restoring from the changelog", self.directory)
            return None
        offset = int(meta.get("offset", -1))
        reason = None
        if meta.get("identity") != identity or meta.get("fingerprint") != self.fingerprint:
            reason = "it belongs to another changelog or query"
        elif offset > changelog_end:
            reason = f"it covers offset {offset}, past the changelog's end {changelog_end}"
        elif max_age_s is not None and time.time() - float(meta.get("written_at", 0)) > max_age_s:
            reason = "it is older than the changelog keeps tombstones (delete.retention.ms)"
        if reason is not None:
            logger.info("not using the snapshot in %s: %s; restoring from the changelog", self.directory, reason)
            return None
        files = meta.get("files", {})
        try:
            for store in self.stores:
                if store.name in files:
                    store.load(con, os.path.join(self.directory, files[store.name]))
        except duckdb.Error:
            logger.warning("snapshot in %s is damaged; restoring from the changelog", self.directory, exc_info=True)
            for store in self.stores:
                store.create(con)
            return None
        return Snapshot(offset, {int(k): int(v) for k, v in meta.get("stream_time", {}).items()})
