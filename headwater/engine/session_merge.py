"""SESSION windows in the aggregation operator: merging a batch's records with the stored sessions.

``merge_sessions`` merges the records of ``b`` with the stored sessions they touch (gap inclusive),
per batch; ``sessions_per_record`` gives EMIT CHANGES per record, as Kafka Streams with caching off:
the keys whose records form runs in one pass (``engine/session_runs.py``), the rest in rounds.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from headwater.engine.session_runs import SessionAggregation, session_having, session_runs
from headwater.engine.state import run


def sessions_per_record(
    op: SessionAggregation, con: duckdb.DuckDBPyConnection, batch: pa.Table
) -> tuple[pa.Table, pa.Table | None, pa.Table | None]:
    """SESSION with EMIT CHANGES, as Kafka Streams with caching off: each record emits a
    tombstone for every session it merged away, then its merged session.

    A record can only change the sessions of its own key, so the batch runs in rounds: round
    k merges the k-th record of every key at once (vectorized across keys), and the outputs
    are put back in offset order. A batch needs as many rounds as it has records of its
    busiest key.
    """
    outputs: list[pa.Table] = []
    seqs: list[np.ndarray] = []
    changed: list[pa.Table] = []
    replaced: list[pa.Table] = []
    # Most keys' records extend or follow their sessions: one pass (engine/session_runs.py).
    fast, fast_seq, touched, rest = session_runs(op, con)
    if fast is not None and fast_seq is not None and touched is not None:
        outputs.append(fast)
        seqs.append(fast_seq)
        changed.append(touched)
    con.register("__rest", rest)
    ranked = con.sql(f"SELECT *, row_number() OVER (PARTITION BY {', '.join(op.groups)} ORDER BY __offset) "
                     "AS __rank FROM __rest").to_arrow_table()
    con.unregister("__rest")
    rank = ranked.column("__rank").to_numpy()
    ranked = ranked.drop_columns(["__rank"])
    con.unregister("b")
    try:
        for k in range(1, int(rank.max(initial=0)) + 1):
            con.register("b", ranked.filter(pa.array(rank == k)))
            try:
                out, rows, gone, seq = merge_sessions(op, con, with_seq=True)
            finally:
                con.unregister("b")
            outputs.append(out)
            seqs.append(seq)
            changed.append(rows)
            if gone is not None:
                replaced.append(gone)
    finally:
        con.register("b", batch)
    out = pa.concat_tables(outputs)
    order = np.argsort(np.concatenate(seqs), kind="stable")
    # For the changelog: of every state key a round touched, the row the state holds now, or
    # its deletion (a session created in one round may be absorbed in a later one).
    con.register("__touched", pa.concat_tables([t.select(op.groups + ["ws"]) for t in changed + replaced]))
    try:
        on = " AND ".join(f"s.{c} = t.{c}" for c in op.groups + ["ws"])
        run(con, "CREATE OR REPLACE TEMP TABLE __tk AS SELECT DISTINCT * FROM __touched")
        rows = con.sql(f"SELECT s.* FROM state s SEMI JOIN __tk t ON {on}").to_arrow_table()
        gone = con.sql(f"SELECT t.* FROM __tk t ANTI JOIN state s ON {on}").to_arrow_table()
    finally:
        con.unregister("__touched")
    return out.take(pa.array(order)), rows, gone if gone.num_rows else None

def merge_sessions(op: SessionAggregation, con: duckdb.DuckDBPyConnection, with_seq: bool = False) -> Any:
    """Merge the batch's records with the stored sessions they touch (gap inclusive).

    Returns the output changes (a tombstone for every stored session that
    was absorbed, then the new session), the new state rows, and the keys
    of the absorbed sessions. Updates are per batch, not per record.
    """
    gap = op.plan.window.gap_ms  # type: ignore[union-attr]
    groups = ", ".join(op.groups)
    on_groups = " AND ".join(f"s.{g} = k.{g}" for g in op.groups)
    # Stored sessions that may merge: same key, within gap of the batch's records of that key.
    run(con, 
        f"CREATE OR REPLACE TEMP TABLE __old AS SELECT s.* FROM state s JOIN "
        f"(SELECT {groups}, min(__ts) AS lo, max(__ts) AS hi FROM b GROUP BY {groups}) k ON {on_groups} "
        f"WHERE s.we >= k.lo - {gap} AND s.ws <= k.hi + {gap}"
    )
    # Intervals: stored sessions and records; a new session starts after a gap larger than `gap`.
    run(con, 
        f"CREATE OR REPLACE TEMP TABLE __iv AS SELECT *, sum(CASE WHEN prev_end IS NULL OR ws > prev_end + {gap} "
        f"THEN 1 ELSE 0 END) OVER (PARTITION BY {groups} ORDER BY ws, we, src, __offset ROWS UNBOUNDED PRECEDING) "
        f"AS sid FROM (SELECT *, max(we) OVER (PARTITION BY {groups} ORDER BY ws, we, src, __offset ROWS BETWEEN "
        f"UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end FROM ("
        f"SELECT {groups}, ws, we, 0 AS src, -1 AS __offset FROM __old UNION ALL "
        f"SELECT {groups}, __ts AS ws, __ts AS we, 1 AS src, __offset FROM b))"
    )
    run(con, f"CREATE OR REPLACE TEMP TABLE __bs AS SELECT b.*, iv.sid FROM b JOIN __iv iv USING ({groups}, __offset)")
    run(con, f"CREATE OR REPLACE TEMP TABLE __os AS SELECT o.*, iv.sid, row_number() OVER (PARTITION BY "
                f"{', '.join('o.' + g for g in op.groups)}, iv.sid ORDER BY o.ws) AS k FROM __old o JOIN __iv iv "
                f"ON {' AND '.join(f'o.{g} = iv.{g}' for g in op.groups)} AND o.ws = iv.ws AND o.we = iv.we "
                f"AND iv.src = 0")
    partial, state_names = [], []
    for j, agg in enumerate(op.plan.aggregates):
        for m, template in enumerate(agg.partial):
            partial.append(f"{op.render(template, j)} AS {op.state_cols[j][m]}")
            state_names.append(op.state_cols[j][m])
    merged = con.sql(
        f"SELECT {groups}, sid, min(__ts) AS ws, max(__ts) AS we, {', '.join(partial)}, max(__ts) AS __ts "
        f"FROM __bs GROUP BY {groups}, sid"
    ).to_arrow_table()
    rounds = run(con, "SELECT coalesce(max(k), 0) FROM __os")[0][0]
    for k in range(1, int(rounds) + 1):
        con.register("__m", merged)
        merges = []
        for j, agg in enumerate(op.plan.aggregates):
            news = {f"n{x}": f"m.{op.state_cols[j][x]}" for x in range(len(agg.merge))}
            for m, template in enumerate(agg.merge):
                merges.append(f"CASE WHEN s.ws IS NULL THEN m.{op.state_cols[j][m]} ELSE "
                              f"{op.render(template, j, **news)} END AS {op.state_cols[j][m]}")
        on = " AND ".join(f"m.{g} = s.{g}" for g in op.groups + ["sid"])
        merged = con.sql(
            f"SELECT {', '.join('m.' + g for g in op.groups)}, m.sid, least(m.ws, coalesce(s.ws, m.ws)) AS ws, "
            f"greatest(m.we, coalesce(s.we, m.we)) AS we, {', '.join(merges)}, greatest(m.__ts, s.__ts) AS __ts "
            f"FROM __m m LEFT JOIN (SELECT * FROM __os WHERE k = {k}) s ON {on}"
        ).to_arrow_table()
        con.unregister("__m")
    con.register("__m", merged)
    changed = con.sql(f"SELECT {groups}, ws, we, {', '.join(state_names)}, __ts, false AS __emitted FROM __m"
                      ).to_arrow_table()
    # Absorbed sessions' keys, except one the merged session took over (same start): a restore
    # applies upserts before deletions.
    on_m = " AND ".join(f"o.{c} = m.{c}" for c in op.groups + ["ws"])
    replaced = con.sql(f"SELECT {', '.join('o.' + c for c in op.groups + ['ws'])} FROM __os o "
                       f"ANTI JOIN __m m ON {on_m}").to_arrow_table()
    seq = None
    if with_seq:  # one record per key in ``b``: each output row takes its record's offset
        on_b = " AND ".join(f"x.{g} = b.{g}" for g in op.groups)
        both = (f"SELECT * FROM (SELECT x.*, b.__offset AS __seq, 0 AS __kind FROM __os x JOIN b ON {on_b} "
                f"UNION ALL BY NAME SELECT x.*, b.__offset AS __seq, 1 AS __kind FROM __m x JOIN b ON {on_b})")
        order = "__seq, __kind, ws"
        run(con, f"CREATE OR REPLACE TEMP TABLE __both AS {both} ORDER BY {order}")
        ordered = con.sql(f"SELECT __seq, __kind FROM __both ORDER BY {order}").fetchnumpy()
        seq, kinds = np.asarray(ordered["__seq"], dtype=np.int64), np.asarray(ordered["__kind"])
        out, seq = session_having(op.post(con, "SELECT * FROM __both", order=order), kinds, seq)
        con.unregister("__m")
        run(con, f"DELETE FROM state WHERE ({op.key}) IN (SELECT ({op.key}) FROM __os)")
        op.store.put(con, changed)
        return out, changed, replaced if replaced.num_rows else None, seq
    tombstones = op.post(con, "SELECT * FROM __os", order="ws")
    updates = op.post(con, "SELECT * FROM __m", order="ws")
    con.unregister("__m")
    run(con, f"DELETE FROM state WHERE ({op.key}) IN (SELECT ({op.key}) FROM __os)")
    op.store.put(con, changed)
    if tombstones.num_rows:
        tombstones = tombstones.set_column(tombstones.column_names.index("__having"), "__having",
                                           pa.array([False] * tombstones.num_rows))
        updates = pa.concat_tables([tombstones, updates])
    return updates, changed, replaced if replaced.num_rows else None
