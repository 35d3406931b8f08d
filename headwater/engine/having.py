"""HAVING on an aggregation's updates, as ksqlDB applies it (a Kafka Streams KTable filter).

An update whose group satisfies HAVING is emitted; one that does not becomes a
tombstone only when the group's last emitted update qualified (the sink holds a
row to delete). A group that never qualified, or whose tombstone went out
already, emits nothing. Whether a group's last update qualified is kept in the
state row's ``__emitted`` column (EMIT CHANGES never uses it otherwise), so it
is changelogged and restored with the aggregate.

All vectorized: one DuckDB query over the batch's updates, in emission order.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from headwater.engine.state import run

#: The per-key flags a gate returns: the key columns and ``__q`` (the last update qualified).
FLAGS = "__hv"


def gate_having(con: duckdb.DuckDBPyConnection, out: pa.Table, keys: pa.Table, stored: str) -> tuple[pa.Table, pa.Table]:
    """Keep the updates of ``out`` ksqlDB emits; return them and each key's new flag.

    ``keys`` holds the state key columns of each row of ``out`` (same order, the emission
    order); ``stored`` names a relation of state rows (key columns and ``__emitted``) holding
    each key's flag before this batch. The flags are also left in the temp table ``__hv``.
    """
    names = keys.column_names
    qualified = np.asarray(out.column("__having").fill_null(False), dtype=bool)
    rows = keys.append_column("__i", pa.array(np.arange(out.num_rows, dtype=np.int64))).append_column(
        "__q", pa.array(qualified))
    part = ", ".join(f"h.{k}" for k in names)
    on = " AND ".join(f"h.{k} IS NOT DISTINCT FROM s.{k}" for k in names)
    con.register("__having_rows", rows)
    try:
        prev = con.sql(
            f"SELECT h.__i, coalesce(lag(h.__q) OVER (PARTITION BY {part} ORDER BY h.__i), s.__emitted, false) AS __p "
            f"FROM __having_rows h LEFT JOIN {stored} s ON {on} ORDER BY h.__i").to_arrow_table()
        run(con, f"CREATE OR REPLACE TEMP TABLE {FLAGS} AS SELECT {', '.join(names)}, __q FROM __having_rows "
                 f"QUALIFY row_number() OVER (PARTITION BY {', '.join(names)} ORDER BY __i DESC) = 1")
        flags = con.sql(f"SELECT * FROM {FLAGS}").to_arrow_table()
    finally:
        con.unregister("__having_rows")
    keep = qualified | np.asarray(prev.column("__p"), dtype=bool)
    return (out if keep.all() else out.filter(pa.array(keep))), flags


def drop_flags(con: duckdb.DuckDBPyConnection) -> None:
    run(con, f"DROP TABLE IF EXISTS {FLAGS}")


__all__ = ["FLAGS", "drop_flags", "gate_having"]
