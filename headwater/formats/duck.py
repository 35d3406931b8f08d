"""Every DuckDB connection the engine opens, and the helpers the formats share.

:func:`connect` is the one place a DuckDB database is opened: the engine's
SQL is compiled from what users type, so each connection is sealed before it
runs any of it. External access is off (no file, URL or ATTACH; Arrow tables
registered from Python still scan), extensions are neither installed nor
loaded on demand, and the configuration is then locked so no statement can
turn either back on. Whatever needs a setting (the session time zone) is
done by the ``setup`` callback, before the lock.

The formats share one in-memory database per process; each call takes its
own cursor, so formats are safe to call from several threads. Inputs are
split into record batches of :data:`CHUNK_ROWS` so DuckDB scans them on all
its threads (one big batch is scanned by one thread); DuckDB keeps row order
(``preserve_insertion_order`` is on by default).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ROWS = 16_384

#: Settings every connection starts with; ``lock_configuration`` follows the setup.
SEALED: dict[str, str | bool | int] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
}

_lock = threading.Lock()
_database: duckdb.DuckDBPyConnection | None = None


def connect(setup: Callable[[duckdb.DuckDBPyConnection], None] | None = None, *,
            threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB database that can touch no file, network or extension.

    ``setup`` runs first (it may change settings, create macros, register
    functions); then the configuration is locked for good.
    """
    config = dict(SEALED)
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(":memory:", config=config)
    try:
        if setup is not None:
            setup(con)
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def cursor() -> duckdb.DuckDBPyConnection:
    """A new cursor on the formats' shared in-memory DuckDB database."""
    global _database
    with _lock:
        if _database is None:
            _database = connect(threads=1)
        return _database.cursor()


def refusal(sql: str, values: list[object]) -> str | None:
    """Why DuckDB refuses ``sql`` with the parameters ``values`` (its first line), or None if it runs.

    The planner probes literal arguments with it (a regular expression, a JSON
    path) that DuckDB would refuse for every batch, to refuse them up front.
    """
    con = cursor()
    try:
        con.execute(sql, values).fetchall()
    except duckdb.Error as exc:
        return str(exc).split("\n")[0].split("Error: ", 1)[-1]
    finally:
        con.close()
    return None


def run(sql: str, **tables: pa.Table) -> pa.Table:
    """Run ``sql`` over the Arrow ``tables`` (registered under their keyword names)."""
    con = cursor()
    try:
        for name, table in tables.items():
            con.register(name, table)
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def chunked(table: pa.Table) -> pa.Table:
    """``table`` as record batches of at most :data:`CHUNK_ROWS` rows (no copy)."""
    if table.num_rows <= CHUNK_ROWS:
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=CHUNK_ROWS), schema=table.schema)


def identifier(name: str) -> str:
    """``name`` as a quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def single(column: pa.ChunkedArray) -> pa.Array:
    """One array from a chunked column (copies only when there are several chunks)."""
    if column.num_chunks == 1:
        return column.chunk(0)
    if column.num_chunks == 0:
        return pa.array([], column.type)
    return column.combine_chunks()


def utf8(data: pa.BinaryArray) -> tuple[pa.StringArray, np.ndarray]:
    """``data`` as UTF-8 strings (no copy), with rows that are not valid UTF-8 nulled; and their positions."""
    try:
        return data.cast(pa.string()), np.empty(0, np.int64)
    except pa.ArrowInvalid:
        pass
    values = data.to_pylist()
    bad = []
    for i, value in enumerate(values):
        if value is not None:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(i)
    bad_rows = np.array(bad, np.int64)
    mask = np.zeros(len(data), bool)
    mask[bad_rows] = True
    cleaned = pc.if_else(pa.array(mask), pa.scalar(None, pa.binary()), data)
    return cleaned.cast(pa.string()), bad_rows
