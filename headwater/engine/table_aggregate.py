"""Aggregating a TABLE: GROUP BY over a changelog, with retraction.

A table's record is a change to the row of its key: an upsert or, with a
null value, a delete. Aggregating a table means every row counts once, in
the group its latest value puts it in. So when a row changes, its *prior*
value leaves its old group (the aggregates' ``undo``) and the new value
joins its new group (``merge``); a delete, or a value that stops matching
WHERE, only leaves. As in ksqlDB (Kafka Streams' table aggregation), each
change that moves a row to another group emits two updates with caching
off: the old group after the retraction, then the new group after the
addition; a change within its group emits one update (Kafka Streams 3.5+
sends it as one record). A group whose rows all left stays, with COUNT 0.

All vectorized per batch, in DuckDB:

1. Changes of the same key within the batch are chained with ``lag``; the
   first change of each key finds its prior contribution in the ``prior``
   state table (key -> group values and aggregate arguments).
2. Each change becomes up to two *events* ordered by ``seq = 2 * offset +
   step``: a retraction (step 0, the prior group and arguments) and an
   addition (step 1).
3. EMIT CHANGES: running partial states of the additions and of the
   retractions (window functions per group ordered by ``seq``), each event
   taking the latest of both with an ASOF join, give the group's state after
   that event: ``undo(merge(stored, added so far), retracted so far)``.
4. The state is updated the same way with the batch's partials; the
   ``prior`` rows of the batch's keys are replaced (or deleted) and go to the
   changelog topic in the same transaction as the state, the output and the
   input offsets, so ``kill -9`` loses and doubles nothing.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.aggregate import AggregateOperator
from headwater.engine.having import FLAGS, drop_flags, gate_having
from headwater.engine.processing_log import RECORD_PROCESSING_ERROR, ProcessingError
from headwater.engine.state import KeyedStore, run
from headwater.log import Fetched

_PRIOR = b"prior"


class TableAggregateOperator(AggregateOperator):
    """GROUP BY over a TABLE source: see the module docstring. owns: ``state`` (as the stream
    aggregation) and ``prior``, each live row's contribution by table key; both are changelogged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keys = [f"k{i}" for i in range(len(self.plan.table_key_types))]
        self._args = [a for names in self.plan.agg_args for a in names]
        #: Each live row's contribution (table key -> group values and aggregate arguments); typed
        #: by the first batch's pre relation.
        self.prior = KeyedStore("prior", "p", self._keys, None)
        self.stores = [self.store, self.prior]
        self._prior_touched: pa.Table | None = None

    # -- state ------------------------------------------------------------------------------
    def _ensure_prior(self, con: duckdb.DuckDBPyConnection, like: pa.Table) -> None:
        """``prior`` takes the column types of the first rows it sees (the pre relation's, or a restored chunk's)."""
        self.prior.define(con, like.select(self._keys + self.groups + self._args))

    def _apply_legacy(self, con: duckdb.DuckDBPyConnection, key: bytes, value: bytes | None,
                      headers: dict[str, bytes]) -> dict[int, int] | None:
        if key != _PRIOR:
            return super()._apply_legacy(con, key, value, headers)
        if value:
            rows = pa.ipc.open_stream(value).read_all()
            self._ensure_prior(con, rows)
            self.prior.put(con, rows)
        if headers.get("deleted") and self.prior.defined(con):
            self.prior.delete(con, pa.ipc.open_stream(headers["deleted"]).read_all())
        return None

    def _touched(self, changed: pa.Table | None, deleted: pa.Table | None) -> list[pa.Table | None]:
        touched, self._prior_touched = self._prior_touched, None
        return [*super()._touched(changed, deleted), touched]

    # -- per batch --------------------------------------------------------------------------
    def _aggregate(
        self, con: duckdb.DuckDBPyConnection, pre: pa.Table, fetched: Fetched, errors: list[ProcessingError]
    ) -> tuple[list[pa.Table], pa.Table | None, pa.Table | None]:
        pre = self._drop_null_groups_of_rows(pre, fetched, errors)
        self._ensure_prior(con, pre)
        con.register("pre", pre)
        try:
            rounds = self._events(con)
            shown: list[pa.Table] = []
            seqs: list[pa.Array] = []
            changed: list[pa.Table] = []
            for k in range(rounds):
                run(con, f"CREATE OR REPLACE TEMP TABLE __evk AS SELECT * FROM __ev WHERE __round = {k}")
                flags = not self.plan.emit_final
                if flags:
                    out, seq = self._running_changes(con)
                    shown.append(out)
                    seqs.append(seq)
                rows = self._merge_events(con, flags)
                drop_flags(con)
                if rows is not None:
                    changed.append(rows)
            self._update_prior(con)
        finally:
            con.unregister("pre")
        for name in ("__chg", "__ev", "__evk"):
            run(con, f"DROP TABLE IF EXISTS {name}")
        outputs = []
        if shown:
            out = pa.concat_tables(shown)
            outputs.append(out.take(pc.sort_indices(pa.chunked_array(seqs))) if len(shown) > 1 else out)
        return outputs, _latest_per_group(changed, self.groups), None

    def _drop_null_groups_of_rows(self, pre: pa.Table, fetched: Fetched, errors: list[ProcessingError]) -> pa.Table:
        """A live row whose group has a null column joins no group (logged, as for a stream): it only leaves its old one."""
        contrib = np.asarray(pre.column("__contrib").fill_null(False), dtype=bool)
        nulls = np.zeros(pre.num_rows, dtype=bool)
        for g in self.groups:
            nulls |= np.asarray(pre.column(g).is_null(), dtype=bool)
        bad = contrib & nulls
        if bad.any():
            for offset in pre.column("__offset").to_numpy()[bad].tolist():
                errors.append(ProcessingError(RECORD_PROCESSING_ERROR,
                                              "Group-by column with null value found: record dropped.",
                                              fetched.topic, fetched.partition, offset))
            contrib &= ~nulls
        return pre.set_column(pre.column_names.index("__contrib"), "__contrib", pa.array(contrib))

    def _events(self, con: duckdb.DuckDBPyConnection) -> int:
        """``__chg``: each change with its prior contribution; ``__ev``: the retraction and addition
        events, with their round. Returns the number of rounds.

        ``undo`` of a list or a set is not commutative with ``merge`` (retracting a value removes
        what an earlier addition put there), so a group's events are applied in rounds, each a run
        of retractions followed by a run of additions: ``merge(undo(state, retracted), added)`` is
        then exact. Most batches need one round; rounds run for all groups at once.
        """
        keys = ", ".join(self._keys)
        cols = self.groups + self._args
        lags = ", ".join(f"lag({c}) OVER kw AS __p_{c}" for c in ["__contrib", *cols])
        on = " AND ".join(f"c.{k} = p.{k}" for k in self._keys)
        prior = ", ".join(
            f"CASE WHEN c.__n = 1 THEN p.{c} ELSE c.__p_{c} END AS __o_{c}" for c in cols
        )
        run(con,
              f"CREATE OR REPLACE TEMP TABLE __chg AS SELECT c.*, CASE WHEN c.__n = 1 THEN p.{self._keys[0]} IS NOT "
              f"NULL ELSE coalesce(c.__p___contrib, false) END AS __had, {prior} FROM (SELECT *, row_number() OVER "
              f"kw AS __n, {lags} FROM pre WINDOW kw AS (PARTITION BY {keys} ORDER BY __offset)) c "
              f"LEFT JOIN prior p ON {on}")
        old = ", ".join(f"__o_{c} AS {c}" for c in cols)
        new = ", ".join(cols)
        groups = ", ".join(self.groups)
        eq = " AND ".join(f"e.{g} = s.{g}" for g in self.groups)
        # A retraction from the group the same change adds to emits nothing (Kafka Streams 3.5+ sends
        # such a change as one record): only the addition after it shows the group's new value.
        same = " AND ".join(["__contrib"] + [f"__o_{g} IS NOT DISTINCT FROM {g}" for g in self.groups])
        # A new round starts at a retraction that follows an addition of the same group. The output
        # timestamp is the newest so far of the group (Kafka Streams: max(record, aggregate)).
        run(con,
              f"CREATE OR REPLACE TEMP TABLE __ev AS SELECT e.* EXCLUDE (__start), "
              f"sum(__start) OVER (PARTITION BY {', '.join('e.' + g for g in self.groups)} ORDER BY e.__offset "
              f"ROWS UNBOUNDED PRECEDING) AS __round, greatest(s.__ts, max(e.__ts) OVER (PARTITION BY "
              f"{', '.join('e.' + g for g in self.groups)} ORDER BY e.__offset ROWS UNBOUNDED PRECEDING)) AS __out_ts "
              f"FROM (SELECT *, CASE WHEN NOT __add AND lag(__add) OVER (PARTITION BY {groups} ORDER BY __offset) "
              f"THEN 1 ELSE 0 END AS __start FROM ("
              f"SELECT {old}, __ts, 2 * __offset AS __offset, false AS __add, {same} AS __same FROM __chg WHERE __had "
              f"UNION ALL SELECT {new}, __ts, 2 * __offset + 1 AS __offset, true AS __add, false AS __same FROM __chg "
              f"WHERE __contrib)) e "
              f"LEFT JOIN state s ON {eq}")
        rounds = run(con, "SELECT max(__round) FROM __ev")[0][0]
        return 0 if rounds is None else int(rounds) + 1

    def _states(self, kind: str, prefix: str) -> list[str]:
        """Each aggregate's ``kind`` templates (partial or running) as columns ``{prefix}_{j}_{m}``."""
        window = f"(PARTITION BY {', '.join(self.groups)} ORDER BY __offset ROWS BETWEEN UNBOUNDED PRECEDING " \
                 "AND CURRENT ROW)"
        out = []
        for j, agg in enumerate(self.plan.aggregates):
            for m, template in enumerate(getattr(agg, kind)):
                out.append(f"{self.render(template, j, w=window)} AS {prefix}_{j}_{m}")
        return out

    def _combined(self, stored: str, added: str, retracted: str) -> list[str]:
        """State columns ``merge(undo(stored, retracted), added)`` (relation aliases of the three states)."""
        out = []
        for j, agg in enumerate(self.plan.aggregates):
            assert agg.undo is not None  # the planner refuses table aggregates without undo
            names = self.state_cols[j]
            args = self.plan.agg_args[j]
            undone = [
                template.format(*args, **{f"o{m}": f"{stored}.{n}" for m, n in enumerate(names)},
                                **{f"n{m}": f"{retracted}_{j}_{m}" for m in range(len(names))}, offset="__offset")
                for template in agg.undo
            ]
            for m, template in enumerate(agg.merge):
                merged = template.format(*args, **{f"o{x}": f"({e})" for x, e in enumerate(undone)},
                                         **{f"n{x}": f"{added}_{j}_{x}" for x in range(len(names))},
                                         offset="__offset")
                out.append(f"{merged} AS {names[m]}")
        return out

    def _running_changes(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, pa.Array]:
        """EMIT CHANGES for this round's events: the group's aggregate after each, and each one's sequence."""
        groups = ", ".join(self.groups)
        eq = " AND ".join(f"e.{g} = {{x}}.{g}" for g in self.groups)
        adds = ", ".join(self._states("running", "ra"))
        rems = ", ".join(self._states("running", "rr"))
        states = self._combined("s", "a.ra", "r.rr")
        results = [f"{self.render(agg.result, j)} AS r{j}" for j, agg in enumerate(self.plan.aggregates)]
        sql = (
            f"SELECT {groups}, ws, we, __ts, __offset, {', '.join(results)} FROM ("
            f"SELECT {', '.join('e.' + g for g in self.groups)}, 0::BIGINT AS ws, 0::BIGINT AS we, "
            f"e.__out_ts AS __ts, e.__offset, e.__same, {', '.join(states)} FROM __evk e "
            f"ASOF LEFT JOIN (SELECT {groups}, __offset, {adds} FROM __evk WHERE __add) a "
            f"ON {eq.format(x='a')} AND e.__offset >= a.__offset "
            f"ASOF LEFT JOIN (SELECT {groups}, __offset, {rems} FROM __evk WHERE NOT __add) r "
            f"ON {eq.format(x='r')} AND e.__offset >= r.__offset "
            f"LEFT JOIN state s ON {eq.format(x='s')}) WHERE NOT __same ORDER BY __offset"
        )
        agg = con.sql(sql).to_arrow_table()
        con.register("agg", agg)
        try:
            out = con.sql(self.plan.post_sql).to_arrow_table()
        finally:
            con.unregister("agg")
        keep = out.append_column("__seq", agg.column("__offset"))
        keep, _ = gate_having(con, keep, agg.select(self.store.keys), "state")
        seq = keep.column("__seq")  # 2 * offset + step: the record each update is for
        return keep.drop_columns(["__seq"]).append_column("__offset", pc.divide(seq, 2)), seq

    def _merge_events(self, con: duckdb.DuckDBPyConnection, flags: bool) -> pa.Table | None:
        """Fold this round's events into the state; return the changed state rows. ``flags``:
        ``__emitted`` takes whether the group's last update qualified HAVING (``having.py``)."""
        groups = ", ".join(self.groups)
        using = f"USING ({groups})"
        adds = ", ".join(self._states("partial", "pa"))
        rems = ", ".join(self._states("partial", "pr"))
        states = self._combined("s", "a.pa", "r.pr")
        eq = " AND ".join(f"x.{g} = s.{g}" for g in self.groups)
        emitted, hv = "false", ""
        if flags:
            emitted = "coalesce(h.__q, s.__emitted, false)"
            hv = f" LEFT JOIN {FLAGS} h ON " + " AND ".join(f"x.{g} = h.{g}" for g in self.groups)
        changed = con.sql(
            f"SELECT {', '.join('x.' + g for g in self.groups)}, 0::BIGINT AS ws, 0::BIGINT AS we, {', '.join(states)}, "
            f"greatest(s.__ts, x.__ts) AS __ts, {emitted} AS __emitted FROM "
            f"(SELECT {groups}, max(__ts) AS __ts FROM __evk GROUP BY {groups}) x "
            f"LEFT JOIN (SELECT {groups}, {adds} FROM __evk WHERE __add GROUP BY {groups}) a {using} "
            f"LEFT JOIN (SELECT {groups}, {rems} FROM __evk WHERE NOT __add GROUP BY {groups}) r {using} "
            f"LEFT JOIN state s ON {eq}{hv}"
        ).to_arrow_table()
        if not changed.num_rows:
            return None
        self.store.put(con, changed)
        return changed

    def _update_prior(self, con: duckdb.DuckDBPyConnection) -> None:
        """The last change of each key decides its prior row: kept when it contributes, deleted otherwise."""
        keys = ", ".join(self._keys)
        cols = ", ".join(self._keys + self.groups + self._args)
        last = f"(SELECT * FROM __chg QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY __offset DESC) = 1)"
        live = con.sql(f"SELECT {cols} FROM {last} WHERE __contrib").to_arrow_table()
        gone = con.sql(f"SELECT {keys} FROM {last} WHERE NOT __contrib").to_arrow_table()
        self.prior.put(con, live)
        self.prior.delete(con, gone)
        self._prior_touched = pa.concat_tables([live.select(self._keys), gone])


def _latest_per_group(changed: list[pa.Table], groups: list[str]) -> pa.Table | None:
    """The changed state rows of all rounds, the last round's row winning for a group changed twice."""
    if not changed:
        return None
    if len(changed) == 1:
        return changed[0]
    rows = pa.concat_tables(changed)
    order = pa.array(np.arange(rows.num_rows))
    last = rows.append_column("__i", order).group_by(groups).aggregate([("__i", "max")]).column("__i_max")
    return rows.take(pc.take(last, pc.sort_indices(last)))
