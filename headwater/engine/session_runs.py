"""SESSION windows per record, the common case in one pass: a key's records that form *runs*.

With caching off, Kafka Streams emits for every record a tombstone for each
session the record merged with, then the merged session. In general that is
sequential (a late record may bridge two sessions), so the operator applies a
batch in rounds (``AggregateOperator._sessions_per_record``). But for most keys
the batch's records simply extend the key's newest stored session or start
new ones after it: each record lies within the gap of the session being built
(possibly a little before its start, a little disorder), and a record more
than the gap after everything seen starts the next session. Then the session
a record belongs to is a *segment* of the key's records (a running sum of
"starts a session" flags), its window after the record is the running min/max
of the segment, and its aggregate the running aggregate of the segment merged
with the stored session it extends: window functions, one pass for all keys.

A key qualifies when the segments stay apart by more than the gap once the
batch is in (and the first one stays clear of the older stored sessions);
otherwise its records go to the rounds.
"""

from __future__ import annotations

from typing import Protocol

import duckdb
import numpy as np
import pyarrow as pa

from headwater.engine.state import KeyedStore, run
from headwater.sql.aggregate_planner import AggregatePlan


class SessionAggregation(Protocol):
    """What the session-run pass needs of the aggregation operator (``engine/aggregate.py``)."""

    plan: AggregatePlan
    groups: list[str]
    #: The state's key columns, comma-separated (the groups and ``ws``).
    key: str
    state_cols: list[list[str]]
    store: KeyedStore

    def render(self, template: str, j: int, **extra: str) -> str: ...

    def post(self, con: duckdb.DuckDBPyConnection, states_sql: str, order: str) -> pa.Table: ...


def session_having(out: pa.Table, kinds: np.ndarray, seq: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """The session changes ksqlDB's HAVING (a KTable filter sending old values) lets through.

    ``out`` holds, per change, the projection of a replaced session version (kind 0, its
    tombstone) or of a new one (kind 1), with ``__having`` evaluated on that version. A tombstone
    goes out only if the replaced version qualified (the sink holds its row), an update only if
    the new version qualifies; a failing new version emits nothing (its old value is null).
    Returns the kept rows, ``__having`` false on tombstones, with their record offsets in
    ``__offset``, and their offsets (``seq``).
    """
    keep = np.asarray(out.column("__having").fill_null(False), dtype=bool)
    out = out.set_column(out.column_names.index("__having"), "__having", pa.array(kinds == 1))
    out = out.append_column("__offset", pa.array(seq, pa.int64()))
    if keep.all():
        return out, seq
    return out.filter(pa.array(keep)), seq[keep]


def session_runs(
    query: SessionAggregation, con: duckdb.DuckDBPyConnection
) -> tuple[pa.Table | None, np.ndarray | None, pa.Table | None, pa.Table]:
    """Apply the records of ``b`` whose keys qualify; update the state.

    Returns (output rows in order, each row's record offset, the state keys
    touched, the records of ``b`` left for the rounds).
    """
    gap = query.plan.window.gap_ms  # type: ignore[union-attr]
    groups = query.groups
    g = ", ".join(groups)
    eq = " AND ".join(f"b.{c} = l.{c}" for c in groups)
    seg_w = f"(PARTITION BY {g}, __seg ORDER BY __offset ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    # The newest stored session of each key of the batch, and the end of the one before it.
    run(con,
          f"CREATE OR REPLACE TEMP TABLE __last AS SELECT * FROM (SELECT s.*, lag(s.we) OVER (PARTITION BY "
          f"{', '.join('s.' + c for c in groups)} ORDER BY s.ws) AS __p_end FROM state s SEMI JOIN "
          f"(SELECT DISTINCT {g} FROM b) k ON {' AND '.join(f's.{c} = k.{c}' for c in groups)}) "
          f"QUALIFY row_number() OVER (PARTITION BY {g} ORDER BY ws DESC) = 1")
    # Segments: a record more than the gap after everything before it (the stored session included) starts one;
    # segment 0 extends the stored session.
    run(con,
          f"CREATE OR REPLACE TEMP TABLE __fr AS SELECT *, sum(CASE WHEN __new THEN 1 ELSE 0 END) OVER (PARTITION BY "
          f"{g} ORDER BY __offset ROWS UNBOUNDED PRECEDING) AS __seg FROM (SELECT b.*, l.ws AS __l_ws, "
          f"l.we AS __l_we, l.__p_end, CASE WHEN __pmax IS NULL THEN l.we IS NULL OR b.__ts > l.we + {gap} ELSE "
          f"b.__ts > greatest(__pmax, l.we) + {gap} END AS __new FROM (SELECT *, max(__ts) OVER (PARTITION BY {g} "
          f"ORDER BY __offset ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS __pmax FROM b) b "
          f"LEFT JOIN __last l ON {eq})")
    # Per record: the segment's window before and after it (segment 0 starts as the stored session).
    run(con,
          f"CREATE OR REPLACE TEMP TABLE __fw AS SELECT *, lag(__cur_ws) OVER k AS __lag_ws, lag(__cur_we) OVER k "
          f"AS __lag_we FROM (SELECT *, least(min(__ts) OVER {seg_w}, CASE WHEN __seg = 0 THEN __l_ws END) AS "
          f"__cur_ws, greatest(max(__ts) OVER {seg_w}, CASE WHEN __seg = 0 THEN __l_we END) AS __cur_we "
          f"FROM __fr) WINDOW k AS (PARTITION BY {g}, __seg ORDER BY __offset)")
    # A key qualifies when no record fell more than the gap before its segment's window, and the
    # segments' final windows stay more than the gap apart (the first one from the older sessions).
    run(con,
          f"CREATE OR REPLACE TEMP TABLE __bad AS SELECT DISTINCT {g} FROM (SELECT {g}, __seg, lo, hi, "
          f"lag(hi) OVER (PARTITION BY {g} ORDER BY __seg) AS prev_hi, first_low, __p_end, __l_we FROM ("
          f"SELECT {g}, __seg, min(__cur_ws) AS lo, max(__cur_we) AS hi, bool_or(NOT __new AND __ts < "
          f"coalesce(__lag_ws, __l_ws) - {gap}) AS first_low, any_value(__p_end) AS __p_end, "
          f"any_value(__l_we) AS __l_we FROM __fw GROUP BY {g}, __seg)) WHERE first_low "
          f"OR lo <= coalesce(prev_hi, CASE WHEN __seg = 0 THEN __p_end ELSE __l_we END) + {gap}")
    eq_bad = " AND ".join(f"x.{c} = y.{c}" for c in groups)
    rest = con.sql(f"SELECT * FROM b x SEMI JOIN __bad y ON {eq_bad}").to_arrow_table()
    run(con, f"DELETE FROM __fw x WHERE EXISTS (SELECT 1 FROM __bad y WHERE {eq_bad})")
    if not run(con, "SELECT count(*) FROM __fw")[0][0]:
        return None, None, None, rest

    running, merged_running, partials, merged_partials = [], [], [], []
    for j, agg in enumerate(query.plan.aggregates):
        names = query.state_cols[j]
        running += [f"{query.render(t, j, w=seg_w)} AS __r_{j}_{m}" for m, t in enumerate(agg.running)]
        partials += [f"{query.render(t, j)} AS __p_{j}_{m}" for m, t in enumerate(agg.partial)]
        merged_running += [
            f"{query.render(t, j, **{f'n{x}': f'r.__r_{j}_{x}' for x in range(len(names))})} AS {names[m]}"
            for m, t in enumerate(agg.merge)]
        merged_partials += [
            f"{query.render(t, j, **{f'n{x}': f'r.__p_{j}_{x}' for x in range(len(names))})} AS {names[m]}"
            for m, t in enumerate(agg.merge)]
    on_l = " AND ".join(f"r.{c} = s.{c}" for c in groups)
    rg = ", ".join(f"r.{c}" for c in groups)
    # The stored session (alias s) merges into segment 0 only.
    stored = f"LEFT JOIN (SELECT * FROM __last) s ON {on_l} AND r.__seg = 0"
    # Each record's session version, with the state of the version it replaced: the one the record
    # before it in the segment left (``__lg_``), or the stored session (``__st_``, segment 0).
    state_names = [n for names in query.state_cols for n in names]
    lags = ", ".join(f"lag({n}) OVER (PARTITION BY {g}, __seg ORDER BY __seq) AS __lg_{n}" for n in state_names)
    run(con,
          f"CREATE OR REPLACE TEMP TABLE __upd AS SELECT *, {lags} FROM (SELECT {rg}, r.__cur_ws AS ws, "
          f"r.__cur_we AS we, {', '.join(merged_running)}, r.__cur_we AS __ts, r.__offset AS __seq, r.__lag_ws, "
          f"r.__lag_we, r.__seg, r.__l_ws, r.__l_we, {', '.join(f's.{n} AS __st_{n}' for n in state_names)} "
          f"FROM (SELECT *, {', '.join(running)} FROM __fw) r {stored})")
    # Output: a tombstone for the session version the record replaced (timestamped with that
    # version's end, as Kafka Streams forwards every session change), then the new version.
    replaced = ", ".join(f"CASE WHEN __lag_ws IS NOT NULL THEN __lg_{n} ELSE __st_{n} END AS {n}" for n in state_names)
    both = (f"SELECT * FROM (SELECT * EXCLUDE (ws, we, __ts, {', '.join(state_names)}), coalesce(__lag_ws, __l_ws) "
            f"AS ws, coalesce(__lag_we, __l_we) AS we, coalesce(__lag_we, __l_we) AS __ts, {replaced}, 0 AS __kind "
            f"FROM __upd WHERE __lag_ws IS NOT NULL OR __seg = 0 UNION ALL BY NAME SELECT *, 1 AS __kind FROM __upd)")
    order = "__seq, __kind"
    run(con, f"CREATE OR REPLACE TEMP TABLE __both AS {both} ORDER BY {order}")
    ordered = con.sql(f"SELECT __seq, __kind FROM __both ORDER BY {order}").fetchnumpy()
    seq, kinds = np.asarray(ordered["__seq"], dtype=np.int64), np.asarray(ordered["__kind"])
    out, seq = session_having(query.post(con, "SELECT * FROM __both", order=order), kinds, seq)
    # State: each segment's final session; the stored session it extended goes if its start moved.
    changed = con.sql(
        f"SELECT {rg}, r.ws, r.we, {', '.join(merged_partials)}, r.we AS __ts, false AS __emitted FROM "
        f"(SELECT {g}, __seg, min(__cur_ws) AS ws, max(__cur_we) AS we, {', '.join(partials)} FROM __fw "
        f"GROUP BY {g}, __seg) r {stored}"
    ).to_arrow_table()
    moved = con.sql(f"SELECT DISTINCT {g}, __l_ws AS ws FROM __upd WHERE __seg = 0").to_arrow_table()
    con.register("__moved", moved)
    run(con, f"DELETE FROM state WHERE ({g}, ws) IN (SELECT ({g}, ws) FROM __moved)")
    con.unregister("__moved")
    query.store.put(con, changed.select([*groups, "ws", "we", *state_names, "__ts", "__emitted"]))
    touched = pa.concat_tables([changed.select([*groups, "ws"]), moved.select([*groups, "ws"])])
    for name in ("__last", "__fr", "__fw", "__bad", "__upd", "__both"):
        run(con, f"DROP TABLE IF EXISTS {name}")
    return out, seq, touched, rest
