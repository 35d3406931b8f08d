"""The aggregation operator: GROUP BY with TUMBLING, HOPPING or no window; EMIT CHANGES or FINAL.

State is a DuckDB table with one row per (group, window): the group columns,
``ws``/``we``, the state columns of every aggregate, the newest timestamp and
whether EMIT FINAL has emitted the window. Per input batch, all vectorized:

1. ``pre`` (WHERE, group keys, aggregate arguments) runs over the batch; rows
   with a null group key go to the processing log, as in ksqlDB.
2. Stream time per partition is the running maximum of event time; each
   record gets the windows that hold it, and a (record, window) pair whose
   window closed (end + grace <= stream time) is dropped, counted and logged.
3. EMIT CHANGES: running aggregates per record (window functions ordered by
   offset) merged with the stored state give one update per record.
4. The state is merged with the batch's partial aggregates; EMIT FINAL then
   emits windows that closed, once; windows past retention are deleted.
5. Changed and deleted state rows go to the query's changelog topic in the
   same log transaction as the output and the input offsets.

Windows (step 2, EMIT FINAL's closing and retention of step 4) are decided in
``aggregate_windows.py``, SESSION merging in ``session_merge.py`` /
``session_runs.py``. Persistent outputs carry the headers of the record each
update is for (``record_headers.py``).

The changelog is the truth and DuckDB its cache (``aggregate_state.py``): on
start (and after any failure) the state is rebuilt from the changelog, which
by construction matches the committed input offsets. So after ``kill -9`` at
any moment the query resumes with no lost and no doubled update.
"""

from __future__ import annotations

import threading

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.aggregate_state import AggregateStore, changelog_topic
from headwater.engine.aggregate_windows import WindowSteps
from headwater.engine.changelog import ReadGate, StoreChangelog
from headwater.engine.having import FLAGS, drop_flags, gate_having
from headwater.engine.operator import Step
from headwater.engine.record_headers import with_input_headers
from headwater.engine.processing_log import RECORD_PROCESSING_ERROR, ProcessingError
from headwater.engine.session_merge import merge_sessions, sessions_per_record
from headwater.engine.stateless import SourceOperator, outside_duckdb_range, run_plan
from headwater.engine.state import KeyedStore, run
from headwater.log import Fetched, Log
from headwater.sql.aggregate_planner import AggregatePlan

_W = "(PARTITION BY {groups} ORDER BY __offset ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"


class AggregateOperator(AggregateStore, WindowSteps, SourceOperator[AggregatePlan]):
    """GROUP BY over a stream: see the module docstring.

    reads: one source, batch by batch. owns: ``state``, one row per (group, window) (a
    :class:`KeyedStore`). emits: the aggregate's updates (EMIT CHANGES) or closed windows (EMIT
    FINAL). changelogs: the changed and deleted state rows, by key, to a compacted topic.
    restores: snapshot + changelog tail (``engine/changelog.py``). With ``service_id`` None (a push
    query) the state is transient: empty at start, never logged.
    """

    def __init__(self, plan: AggregatePlan, log: Log, *, group: str | None, offset_reset: str, query_id: str,
                 statement: str = "", service_id: str | None = None) -> None:
        super().__init__(plan, log, group=group, offset_reset=offset_reset)
        self.query_id = query_id
        self.statement = statement
        self.durable = service_id is not None
        self.late_records = 0
        self.stream_time: dict[int, int] = {}
        plan = self.plan
        self.groups = [f"g{i}" for i in range(len(plan.group_types))]
        self.state_cols: list[list[str]] = [
            [f"s{j}_{m}" for m in range(len(agg.state_types))] for j, agg in enumerate(plan.aggregates)
        ]
        self.key = ", ".join(self.groups + ["ws"])
        columns = [(g, t.to_duckdb()) for g, t in zip(self.groups, plan.group_types, strict=True)]
        columns += [("ws", "BIGINT"), ("we", "BIGINT")]
        for agg, names in zip(plan.aggregates, self.state_cols, strict=True):
            columns += list(zip(names, agg.state_types, strict=True))
        columns += [("__ts", "BIGINT"), ("__emitted", "BOOLEAN")]
        #: One row per (group, window): the aggregates' states, the newest timestamp, emitted or not.
        self.store = KeyedStore("state", "s", self.groups + ["ws"], columns)
        self.stores = [self.store]
        self._con: duckdb.DuckDBPyConnection | None = None
        self._gate = ReadGate()
        self._changelog: StoreChangelog | None = None
        self.changelog = changelog_topic(service_id or "", query_id)
        #: Batches computed and committed since the last restore: a snapshot waits until they match.
        self._computed = 0
        self._committed = 0
        self._commits = threading.Condition()
        #: Smallest window end among open (not emitted) and all state rows: lets a batch skip
        #: scanning the state for windows to close or expire when none can be due.
        self._earliest_end: dict[str, int | None] = {"open": None, "all": None}
        self._last_changed: pa.Table | None = None
        #: The batch's changed rows when they are exactly the stored rows of the keys it touched
        #: (one per key, none deleted after): its changelog records are then encoded from them.
        self._state_rows: pa.Table | None = None

    # -- per batch -------------------------------------------------------------------
    def compute(self, con: duckdb.DuckDBPyConnection, fetched: Fetched, src: pa.Table, step: Step) -> None:
        if not self.durable:
            if src.num_rows:  # a push query's aggregation failures are not logged (its decode failures are)
                outputs, _, _ = self.aggregate(con, fetched, src, [])
                step.outputs.extend((out, fetched) for out in outputs if out.num_rows)
            return
        changelog = self._changelog_of()
        if changelog.snapshot_due():
            self._snapshot(con)
        outputs, changed, deleted = self.aggregate(con, fetched, src, step.errors)
        step.outputs.extend((with_input_headers(out, fetched), fetched) for out in outputs if out.num_rows)
        touched = self._touched(changed, deleted)
        rows = [self._state_rows] + [None] * (len(touched) - 1)
        step.changelog.append((self.changelog, 0, changelog.records(con, touched, rows, self.stream_time)))
        with self._commits:
            self._computed += 1

    def _touched(self, changed: pa.Table | None, deleted: pa.Table | None) -> list[pa.Table | None]:
        """The keys of each store a batch changed or deleted (its changelog has one record per key)."""
        keys = [t.select(self.store.keys) for t in (changed, deleted) if t is not None and t.num_rows]
        return [pa.concat_tables(keys) if keys else None]

    def aggregate(
        self, con: duckdb.DuckDBPyConnection, fetched: Fetched, src: pa.Table, errors: list[ProcessingError]
    ) -> tuple[list[pa.Table], pa.Table | None, pa.Table | None]:
        """One decoded batch through the aggregation: (output rows, changed state rows, deleted state keys).

        Output rows are the post-projection relation (``o0``..., ``__having``, ``__ts``); persistent
        queries encode them to the sink, push queries hand them to the client.
        """
        plan = self.plan
        outputs: list[pa.Table] = []
        changed: pa.Table | None = None
        deleted: pa.Table | None = None
        pre = None
        self._state_rows = None
        if src.num_rows:
            pre, run_errors = run_plan(con, plan.pre_sql, src, fetched)
            errors.extend(run_errors)
            if pre is not None:
                pre = outside_duckdb_range(pre, fetched, errors)
        # The batch's state changes are one DuckDB transaction: a pull query (another cursor)
        # sees the state before or after the batch, never half of it.
        run(con, "BEGIN TRANSACTION")
        try:
            if pre is not None and pre.num_rows:
                outputs, changed, deleted = self._aggregate(con, pre, fetched, errors)
            self._last_changed = changed
            if self.plan.window is not None:
                final, emitted = self._close_windows(con) if plan.emit_final else (None, None)
                if final is not None:
                    outputs.append(final)
                    changed = emitted if changed is None else pa.concat_tables([changed, emitted])
                expired = self._expire(con)
                if expired is not None:
                    deleted = expired if deleted is None else pa.concat_tables([deleted, expired])
        except BaseException:
            run(con, "ROLLBACK")
            raise
        run(con, "COMMIT")
        if changed is not self._state_rows or deleted is not None:
            self._state_rows = None
        return outputs, changed, deleted

    def _aggregate(
        self, con: duckdb.DuckDBPyConnection, pre: pa.Table, fetched: Fetched, errors: list[ProcessingError]
    ) -> tuple[list[pa.Table], pa.Table | None, pa.Table | None]:
        """A stream's records (``pre``) into the windows and groups of the state."""
        plan = self.plan
        outputs: list[pa.Table] = []
        changed: pa.Table | None = None
        deleted: pa.Table | None = None
        pre, null_errors = self._drop_null_groups(pre, fetched)
        errors.extend(null_errors)
        if not pre.num_rows:  # every record had a null group key: logged, nothing to aggregate
            return outputs, changed, deleted
        batch, late = self._windowed(con, pre, fetched.partition)
        errors.extend(late)
        if batch.num_rows:
            con.register("b", batch)
            try:
                if plan.window is not None and plan.window.kind == "SESSION" and not plan.emit_final:
                    changes, changed, deleted = sessions_per_record(self, con, batch)
                    outputs.append(changes)
                elif plan.window is not None and plan.window.kind == "SESSION":
                    _, changed, deleted = merge_sessions(self, con)
                else:
                    # The stored rows of the batch's (group, window) keys: read once, by key.
                    ws = pc.min_max(batch.column("ws")).as_py()  # keys stay within the batch's windows
                    within = f"{{t}}.ws BETWEEN {int(ws['min'])} AND {int(ws['max'])}"
                    self.store.get(con, f"SELECT DISTINCT {self.key} FROM b", "__cur", within)
                    if not plan.emit_final:
                        out, keys = self._running(con)
                        outputs.append(gate_having(con, out, keys, "__cur")[0])
                    changed = self._merge(con, within, flags=not plan.emit_final)
                    self._state_rows = changed
                    run(con, "DROP TABLE __cur")
                    drop_flags(con)
            finally:
                con.unregister("b")
        return outputs, changed, deleted

    def _drop_null_groups(self, pre: pa.Table, fetched: Fetched) -> tuple[pa.Table, list[ProcessingError]]:
        nulls = np.zeros(pre.num_rows, dtype=bool)
        for g in self.groups:
            nulls |= np.asarray(pre.column(g).is_null(), dtype=bool)
        if not nulls.any():
            return pre, []
        offsets = pre.column("__offset").to_numpy()[nulls].tolist()
        errors = [ProcessingError(RECORD_PROCESSING_ERROR, "Group-by column with null value found: record dropped.",
                                  fetched.topic, fetched.partition, o) for o in offsets]
        return pre.filter(pa.array(~nulls)), errors

    def render(self, template: str, j: int, **extra: str) -> str:
        args = self.plan.agg_args[j]
        names = self.state_cols[j]
        values = {f"s{m}": n for m, n in enumerate(names)}
        values.update({f"o{m}": f"s.{n}" for m, n in enumerate(names)})
        values.update(extra)
        values.setdefault("offset", "__offset")
        return template.format(*args, **values)

    def _running(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, pa.Table]:
        """One row per (record, window): the aggregate after that record (EMIT CHANGES), and its state key."""
        window = _W.format(groups=self.key)
        running, merged = [], []
        for j, agg in enumerate(self.plan.aggregates):
            for m, template in enumerate(agg.running):
                running.append(f"{self.render(template, j, w=window)} AS r_{j}_{m}")
            for m, template in enumerate(agg.merge):
                merged.append(f"{self.render(template, j, **{f'n{k}': f'r.r_{j}_{k}' for k in range(len(agg.merge))})} "
                              f"AS {self.state_cols[j][m]}")
        on = " AND ".join(f"r.{c} = s.{c}" for c in self.groups + ["ws"])
        groups = ", ".join(f"r.{g}" for g in self.groups)
        # The update's timestamp is the newest of its window so far (Kafka Streams: max(record, aggregate)).
        merged_sql = (
            f"SELECT {groups}, r.ws, r.we, greatest(r.__ts, s.__ts) AS __ts, r.__offset, {', '.join(merged)} FROM "
            f"(SELECT {self.key}, we, max(__ts) OVER {window} AS __ts, __offset, {', '.join(running)} FROM b) r "
            f"LEFT JOIN __cur s ON {on}"
        )
        return self.post_keyed(con, merged_sql, order="__offset, ws", offsets=True)

    def post(self, con: duckdb.DuckDBPyConnection, states_sql: str, order: str) -> pa.Table:
        return self.post_keyed(con, states_sql, order)[0]

    def post_keyed(self, con: duckdb.DuckDBPyConnection, states_sql: str, order: str,
                   offsets: bool = False) -> tuple[pa.Table, pa.Table]:
        """The projected rows of ``states_sql`` in ``order``, and the state key of each; ``offsets``:
        the rows keep the ``__offset`` of ``states_sql`` (the record each update is for)."""
        results = [f"{self.render(agg.result, j)} AS r{j}" for j, agg in enumerate(self.plan.aggregates)]
        extra = ", __offset" if offsets else ""
        agg_sql = (f"SELECT {', '.join(self.groups)}, ws, we, __ts{extra}, {', '.join(results)} FROM ({states_sql}) "
                   f"ORDER BY {order}")
        agg = con.sql(agg_sql).to_arrow_table()
        con.register("agg", agg)
        try:
            out = con.sql(self.plan.post_sql).to_arrow_table()
        finally:
            con.unregister("agg")
        if offsets:
            out = out.append_column("__offset", agg.column("__offset"))
        return out, agg.select(self.store.keys)

    def _merge(self, con: duckdb.DuckDBPyConnection, within: str, flags: bool = False) -> pa.Table:
        """Fold the batch into the state; return the changed state rows. ``flags``: EMIT CHANGES,
        ``__emitted`` takes whether the key's last update qualified HAVING (``having.py``)."""
        partial, merged = [], []
        for j, agg in enumerate(self.plan.aggregates):
            for m, template in enumerate(agg.partial):
                partial.append(f"{self.render(template, j)} AS p_{j}_{m}")
            for m, template in enumerate(agg.merge):
                merged.append(f"{self.render(template, j, **{f'n{k}': f'p.p_{j}_{k}' for k in range(len(agg.merge))})} "
                              f"AS {self.state_cols[j][m]}")
        on = " AND ".join(f"p.{c} = s.{c}" for c in self.groups + ["ws"])
        groups = ", ".join(f"p.{g}" for g in self.groups)
        emitted, hv = "coalesce(s.__emitted, false)", ""
        if flags:
            emitted = "coalesce(h.__q, s.__emitted, false)"
            hv = f" LEFT JOIN {FLAGS} h ON " + " AND ".join(f"p.{c} = h.{c}" for c in self.groups + ["ws"])
        changed = con.sql(
            f"SELECT {groups}, p.ws, p.we, {', '.join(merged)}, greatest(s.__ts, p.__ts) AS __ts, "
            f"{emitted} AS __emitted FROM "
            f"(SELECT {self.key}, min(we) AS we, max(__ts) AS __ts, {', '.join(partial)} FROM b GROUP BY {self.key}) p "
            f"LEFT JOIN __cur s ON {on}{hv}"
        ).to_arrow_table()
        self.store.put(con, changed, within)
        return changed



__all__ = ["AggregateOperator"]
