"""Join steps over table state: stream-table lookups, table-table and foreign-key joins.

A mixin of :class:`headwater.engine.join.JoinOperator`: it keeps the tables ``t<k>`` (a table
source's rows by primary key ``__sk``; upserts replace, tombstones delete) and the results ``r<k>``
of table steps a later step reads as its left side (created by the operator's ``restore``).
A stream-table step looks stream records up in an Arrow snapshot of ``t<k>``; a table step is one
DuckDB join per run of one source.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.operator import exec_sql
from headwater.engine.processing_log import RECORD_PROCESSING_ERROR, ProcessingError
from headwater.log import Fetched
from headwater.sql.join_planner import TABLE_TABLE, JoinPlan, JoinStep


class TableSteps:
    """Table state and the steps over it (needs ``plan``, ``_names``, ``_snapshots`` and ``_left_state``
    from the query)."""

    plan: JoinPlan
    #: Arrow copies of ``t<k>``, dropped when the table changes.
    _snapshots: dict[int, pa.Table]
    #: Step ``k`` -> the state table of its left side (``t0`` or ``r<k-1>``), for table steps.
    _left_state: dict[int, str]

    def _names(self, upto: int, prefix: str = "", start: int = 0) -> str:
        raise NotImplementedError

    def _rebuild_result(self, con: duckdb.DuckDBPyConnection, step: JoinStep) -> None:
        """``r<k>``: the current result of a table step, from the current state of both sides."""
        k = step.right
        left = self._left_state[k]
        if step.kind == TABLE_TABLE:
            on = "l.__sk = r.__sk"
            join = {"INNER": "JOIN", "LEFT": "LEFT JOIN", "RIGHT": "RIGHT JOIN", "FULL": "FULL JOIN"}[step.join_type]
            key = "coalesce(l.__sk, r.__sk)"
        else:
            on = f"r.__sk = ({step.left_key})"
            join = "JOIN" if step.join_type == "INNER" else "LEFT JOIN"
            key = "l.__sk"
        exec_sql(con, f"INSERT INTO r{k} SELECT {self._names(k - 1, 'l.')}, {self._names(k, 'r.', k)}, {key} "
                   f"FROM {left} l {join} t{k} r ON {on}")

    def _apply_table(self, con: duckdb.DuckDBPyConnection, name: str, changes: pa.Table | None, *,
                     upto: int | None = None) -> None:
        """Upsert/delete ``changes`` (``__key``, ``__del``, columns) into state ``name``: last change per key wins."""
        if changes is None or not changes.num_rows:
            return
        if name.startswith("t"):
            self._snapshots.pop(int(name[1:]), None)
        last = upto if upto is not None else int(name[1:])
        first = last if name.startswith("t") else 0
        con.register("__chg", changes)
        try:
            exec_sql(con, f"DELETE FROM {name} USING (SELECT DISTINCT __key FROM __chg) c WHERE {name}.__sk = c.__key")
            seq = "__seq" if "__seq" in changes.column_names else "__offset"
            exec_sql(con, f"INSERT INTO {name} SELECT {self._names(last, '', first)}, __key FROM (SELECT *, row_number() "
                       f"OVER (PARTITION BY __key ORDER BY {seq} DESC) AS __rn FROM __chg WHERE __key IS NOT NULL) "
                       f"WHERE __rn = 1 AND NOT __del")
        finally:
            con.unregister("__chg")

    def _stream_table(self, con: duckdb.DuckDBPyConnection, step: JoinStep, side: str, batch: pa.Table,
                      fetched: Fetched, errors: list[ProcessingError]) -> pa.Table | None:
        """Stream records look their key up in the table state: a hash lookup in Arrow, in record order.

        Records whose join key is null do not join (Kafka Streams skips them); they are logged.
        """
        k = step.right
        if side == "right":
            self._apply_table(con, f"t{k}", batch)
            return None
        state = self._table_snapshot(con, k)
        keys = con.sql(f"SELECT ({step.left_key}) AS __key FROM b").to_arrow_table().column(0)
        keys = keys.cast(state.schema.field("__sk").type)
        nulls = np.asarray(keys.is_null(), dtype=bool)
        if nulls.any():
            for offset in batch.column("__offset").to_numpy()[nulls].tolist():
                errors.append(ProcessingError(RECORD_PROCESSING_ERROR, "Join key is null: record dropped.",
                                              fetched.topic, fetched.partition, offset))
        rows = pc.index_in(keys, value_set=state.column("__sk"))
        keep = ~nulls if step.join_type != "INNER" else ~nulls & np.asarray(rows.is_valid(), dtype=bool)
        if not keep.all():
            mask = pa.array(keep)
            batch, keys, rows = batch.filter(mask), keys.filter(mask), rows.filter(mask)
        right = state.drop_columns(["__sk"]).take(rows)
        left_names = [n for src in self.plan.sources[:k] for n, _ in src.column_sql()]
        columns = {n: batch.column(n) for n in left_names}
        columns.update({n: right.column(n) for n in right.column_names})
        for name in ("__ts", "__offset", "__seq"):
            columns[name] = batch.column(name)
        columns["__key"] = keys
        return pa.table(columns)

    def _table_snapshot(self, con: duckdb.DuckDBPyConnection, k: int) -> pa.Table:
        """The rows of table source ``k`` as Arrow (cached until the table changes)."""
        cached = self._snapshots.get(k)
        if cached is None:
            cached = self._snapshots[k] = con.sql(f"SELECT {self._names(k, '', k)}, __sk FROM t{k}").to_arrow_table()
        return cached

    def _table_step(self, con: duckdb.DuckDBPyConnection, step: JoinStep, side: str, batch: pa.Table) -> pa.Table | None:
        k = step.right
        t = step.join_type
        left_state = self._left_state[k]
        right_ts = f'r."s{k}__rowtime"'
        if side == "left":
            if k == 1:
                self._apply_table(con, "t0", batch)
            # (for k > 1 the previous step keeps r<k-1> up to date)
            if step.kind == TABLE_TABLE:
                on = "r.__sk = b.__key"
                keep = {"INNER": "r.__sk IS NOT NULL", "LEFT": "true", "RIGHT": "r.__sk IS NOT NULL",
                        "FULL": "true"}[t]
                deleted = {"INNER": "b.__del", "LEFT": "b.__del", "RIGHT": "false",
                           "FULL": "b.__del AND r.__sk IS NULL"}[t]
            else:
                on = f"r.__sk = ({step.left_key})"
                keep = "true"
                deleted = "b.__del OR r.__sk IS NULL" if t == "INNER" else "b.__del"
            return con.sql(
                f"SELECT {self._names(k - 1, 'b.')}, {self._names(k, 'r.', k)}, "
                f"greatest(b.__ts, coalesce({right_ts}, b.__ts)) AS __ts, b.__offset, b.__seq, b.__key AS __key, "
                f"({deleted}) AS __del FROM b LEFT JOIN t{k} r ON {on} WHERE {keep} ORDER BY b.__seq"
            ).to_arrow_table()
        self._apply_table(con, f"t{k}", batch)
        left_ts = 'l."s0__rowtime"'
        if step.kind == TABLE_TABLE:
            keep = {"INNER": "l.__sk IS NOT NULL", "LEFT": "l.__sk IS NOT NULL", "RIGHT": "true", "FULL": "true"}[t]
            deleted = {"INNER": "b.__del", "LEFT": "false", "RIGHT": "b.__del",
                       "FULL": "b.__del AND l.__sk IS NULL"}[t]
            return con.sql(
                f"SELECT {self._names(k - 1, 'l.')}, {self._names(k, 'b.', k)}, "
                f"greatest(b.__ts, coalesce({left_ts}, b.__ts)) AS __ts, b.__offset, b.__seq, b.__key AS __key, "
                f"({deleted}) AS __del FROM b LEFT JOIN {left_state} l ON l.__sk = b.__key WHERE {keep} "
                f"ORDER BY b.__seq"
            ).to_arrow_table()
        # Foreign key: a right-side change fans out to every left row that references it.
        deleted = "b.__del" if t == "INNER" else "false"
        return con.sql(
            f"SELECT {self._names(k - 1, 'l.')}, {self._names(k, 'b.', k)}, "
            f"greatest(b.__ts, coalesce({left_ts}, b.__ts)) AS __ts, b.__offset, b.__seq, l.__sk AS __key, "
            f"({deleted}) AS __del FROM b JOIN {left_state} l ON ({step.left_key}) = b.__key "
            f"ORDER BY b.__seq, l.__sk"
        ).to_arrow_table()


__all__ = ["JoinOperator"]


__all__ = ["TableSteps"]
