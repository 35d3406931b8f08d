"""Stream-stream join steps: both sides buffered in DuckDB for WITHIN + GRACE PERIOD.

A mixin of :class:`headwater.engine.join.JoinOperator`: it owns the buffers
``lb<k>``/``rb<k>`` (created by the operator's ``restore``) and the stream time
of each stream-stream step. See :meth:`StreamStreamSteps._stream_stream`.
"""

from __future__ import annotations


import duckdb
import numpy as np
import pyarrow as pa

from headwater.engine.operator import exec_sql
from headwater.engine.processing_log import RECORD_PROCESSING_ERROR, ProcessingError
from headwater.log import Fetched
from headwater.sql.join_planner import JoinPlan, JoinStep


class StreamStreamSteps:
    """Stream-stream steps of a join query (needs ``plan``, ``stream_time``, ``late_records``, ``_gseq``,
    ``_names`` from the query)."""

    plan: JoinPlan
    stream_time: dict[int, int]
    late_records: int
    _gseq: int

    def _names(self, upto: int, prefix: str = "", start: int = 0) -> str:
        raise NotImplementedError

    def _stream_stream(self, con: duckdb.DuckDBPyConnection, step: JoinStep, side: str, batch: pa.Table,
                       fetched: Fetched, errors: list[ProcessingError]) -> pa.Table | None:
        """One side's batch against the other side's buffer; null-padded rows for windows that closed.

        A record of the left side matches right records with timestamps in
        [ts - before, ts + after] (the right side: [ts - after, ts + before]).
        Stream time is shared by both sides. A record that is unmatched when
        stream time passes ts + after (left; before for right) + grace is
        emitted null-padded, at the first later record that advances stream
        time, ahead of that record's own results. A record whose window had
        already closed on arrival is late: dropped and logged.

        Without a GRACE PERIOD (``step.eager``) ksqlDB keeps Kafka Streams' old
        outer-join behaviour: an unmatched record is null-padded at once, and
        joined again if a match arrives later.
        """
        k = step.right
        left = side == "left"
        own, other = (f"lb{k}", f"rb{k}") if left else (f"rb{k}", f"lb{k}")
        lo, hi = (step.before_ms, step.after_ms) if left else (step.after_ms, step.before_ms)
        own_outer = step.left_outer if left else step.right_outer
        other_outer = step.right_outer if left else step.left_outer
        other_look = step.before_ms if left else step.after_ms  # the other side's look-back: its ``hi``
        key_sql = step.left_key if left else step.right_key
        grace = step.grace_ms

        ts = np.asarray(batch.column("__ts").to_numpy(zero_copy_only=False), dtype=np.int64)
        n = len(ts)
        previous = self.stream_time.get(k, np.iinfo(np.int64).min)
        st_after = np.maximum.accumulate(np.maximum(ts, previous))
        st_before = np.concatenate([[previous], st_after[:-1]])
        late = ts + hi + grace < st_before
        advancing = ts >= st_before
        self.stream_time[k] = int(st_after[-1]) if n else previous
        if late.any():
            self.late_records += int(late.sum())
            for offset in batch.column("__offset").to_numpy()[late].tolist():
                errors.append(ProcessingError(
                    RECORD_PROCESSING_ERROR,
                    f"Record dropped: its join window closed (timestamp + {hi} ms + grace period {grace} ms is "
                    f"before stream time).", fetched.topic, fetched.partition, offset))
        keys = con.sql(f"SELECT ({key_sql}) AS __jk FROM b").to_arrow_table().column("__jk")
        null_keys = np.asarray(keys.is_null(), dtype=bool) & ~late
        for offset in batch.column("__offset").to_numpy()[null_keys].tolist():
            errors.append(ProcessingError(RECORD_PROCESSING_ERROR, "Join key is null: record dropped.",
                                          fetched.topic, fetched.partition, offset))
        usable = ~late & ~null_keys
        gseq = np.arange(self._gseq, self._gseq + n, dtype=np.int64)
        self._gseq += n
        rows = batch.append_column("__jk", keys).append_column("__g", pa.array(gseq)).append_column(
            "__pos", pa.array(np.arange(n, dtype=np.int64))).filter(pa.array(usable))
        con.register("nb", rows)
        try:
            own_cols = self._names(k - 1) if left else self._names(k, "", k)
            other_cols = self._names(k, "o.", k) if left else self._names(k - 1, "o.")
            own_q = self._names(k - 1, "n.") if left else self._names(k, "n.", k)
            matches = con.sql(
                f"SELECT n.__pos, n.__g, o.__g AS __og, o.__ts AS __ots, greatest(n.__ts, o.__ts) AS __ts, "
                f"n.__offset, n.__jk AS __key, {own_q}, {other_cols} FROM nb n JOIN {other} o ON o.__jk = n.__jk "
                f"AND o.__ts BETWEEN n.__ts - {lo} AND n.__ts + {hi}"
            ).to_arrow_table()
            matched_pos = set(matches.column("__pos").to_pylist()) if matches.num_rows else set()
            adv_pos = np.nonzero(advancing & ~late)[0]
            adv_st = st_after[adv_pos]

            def emission_position(close: np.ndarray) -> np.ndarray:
                """Index of the first advancing record whose stream time passes ``close`` (n when none)."""
                if not len(adv_pos):
                    return np.full(len(close), n, dtype=np.int64)
                found = np.searchsorted(adv_st, close, side="right")
                return np.where(found < len(adv_pos), adv_pos[np.minimum(found, len(adv_pos) - 1)], n)

            padded: list[pa.Table] = []  # null-padded rows with (__pos, __phase) ordering
            own_emitted_g: list[int] = []
            other_emitted_g: list[int] = []
            other_first_match: dict[int, int] = {}
            if matches.num_rows:
                for g, pos in zip(matches.column("__og").to_pylist(), matches.column("__pos").to_pylist(),
                                  strict=True):
                    if g not in other_first_match or pos < other_first_match[g]:
                        other_first_match[g] = pos
            if other_outer:
                pending = con.sql(f"SELECT __g, __ts FROM {other} WHERE NOT __matched AND NOT __emitted"
                                  ).to_arrow_table()
                if pending.num_rows:
                    g = pending.column("__g").to_numpy()
                    q = emission_position(pending.column("__ts").to_numpy() + other_look + grace)
                    first = np.array([other_first_match.get(int(x), n + 1) for x in g])
                    emit = (q < n) & (q < first)
                    if emit.any():
                        other_emitted_g = g[emit].tolist()
                        padded.append(self._padded(con, other, not left, k, dict(zip(g[emit].tolist(),
                                                                                      q[emit].tolist(), strict=True))))
            if own_outer:
                unmatched = [p for p in range(n) if usable[p] and p not in matched_pos]
                pending_own = con.sql(f"SELECT __g, __ts FROM {own} WHERE NOT __matched AND NOT __emitted"
                                      ).to_arrow_table()
                at: dict[int, int] = {}
                if pending_own.num_rows:
                    g = pending_own.column("__g").to_numpy()
                    q = emission_position(pending_own.column("__ts").to_numpy() + hi + grace)
                    for x, y in zip(g.tolist(), q.tolist(), strict=True):
                        if y < n:
                            at[x] = y
                if at:
                    own_emitted_g.extend(at)
                    padded.append(self._padded(con, own, left, k, at))
                now_at: dict[int, int] = {}
                for p in unmatched:
                    if step.eager or ts[p] + hi < st_after[p]:
                        now_at[int(gseq[p])] = -p - 1  # immediately, after the record's own (empty) results
                    else:
                        later = adv_pos[(adv_pos > p) & (adv_st > ts[p] + hi + grace)]
                        if len(later):
                            now_at[int(gseq[p])] = int(later[0])
                if now_at:
                    own_emitted_g.extend(now_at)
                    padded.append(self._padded(con, "nb", left, k, now_at))
            # The batch joins the buffer; flags of both buffers follow what happened.
            exec_sql(con, f"INSERT INTO {own} SELECT {own_cols}, __ts, __jk, __g, false, false FROM nb")
            if matched_pos:
                con.register("__mp", pa.table({"p": pa.array(sorted(matched_pos), pa.int64())}))
                exec_sql(con, f"UPDATE {own} SET __matched = true WHERE __g IN (SELECT {self._gseq - n} + p FROM __mp)")
                con.unregister("__mp")
            if other_first_match:
                con.register("__om", pa.table({"g": pa.array(list(other_first_match), pa.int64())}))
                exec_sql(con, f"UPDATE {other} SET __matched = true WHERE __g IN (SELECT g FROM __om)")
                con.unregister("__om")
            for table, emitted in ((other, other_emitted_g), (own, own_emitted_g)):
                if emitted:
                    con.register("__em", pa.table({"g": pa.array(emitted, pa.int64())}))
                    exec_sql(con, f"UPDATE {table} SET __emitted = true WHERE __g IN (SELECT g FROM __em)")
                    con.unregister("__em")
            horizon = self.stream_time[k] - (step.before_ms + step.after_ms + grace)
            for table, outer in (("lb" + str(k), step.left_outer), ("rb" + str(k), step.right_outer)):
                settled = "" if not outer else " AND (__matched OR __emitted)"
                exec_sql(con, f"DELETE FROM {table} WHERE __ts < {horizon}{settled}")
            # Joined rows at (pos, 1); null-padded rows at (q, 0) before, or (p, 2) right after, a record.
            parts = []
            all_left, all_right = self._names(k - 1), self._names(k, "", k)
            if matches.num_rows:
                con.register("__mt", matches)
                parts.append(con.sql(
                    f"SELECT {all_left}, {all_right}, __ts, __offset, __key, __pos AS __p, 1 AS __phase, "
                    f"__ots AS __o1, __og AS __o2 FROM __mt").to_arrow_table())
                con.unregister("__mt")
            parts.extend(padded)
        finally:
            con.unregister("nb")
        if not parts:
            return None
        out = pa.concat_tables([p.select(parts[0].column_names).cast(parts[0].schema) for p in parts])
        con.register("__out", out)
        try:
            result = con.sql(
                f"SELECT * EXCLUDE (__p, __phase, __o1, __o2), (row_number() OVER (ORDER BY __p, __phase, __o1, __o2)"
                f" - 1)::BIGINT AS __seq FROM __out ORDER BY __p, __phase, __o1, __o2").to_arrow_table()
        finally:
            con.unregister("__out")
        return result

    def _padded(self, con: duckdb.DuckDBPyConnection, table: str, is_left: bool, k: int, at: dict[int, int]
                ) -> pa.Table:
        """Null-padded results of the records ``at`` (buffer id -> position) of ``table``.

        A negative position -p-1 means right after record p; others, right before record p.
        """
        con.register("__at", pa.table({"g": pa.array(list(at), pa.int64()), "q": pa.array(list(at.values()),
                                                                                          pa.int64())}))
        try:
            present = self._names(k - 1, "x.") if is_left else self._names(k, "x.", k)
            absent = self._null_names(k, not is_left)
            cols = f"{present}, {absent}" if is_left else f"{absent}, {present}"
            return con.sql(
                f"SELECT {cols}, x.__ts, {-1 if table != 'nb' else 'x.__offset'}::BIGINT AS __offset, x.__jk AS __key, "
                f"CASE WHEN a.q < 0 THEN -a.q - 1 ELSE a.q END::BIGINT AS __p, "
                f"CASE WHEN a.q < 0 THEN 2 ELSE 0 END AS __phase, x.__ts AS __o1, x.__g AS __o2 "
                f"FROM {table} x JOIN __at a ON a.g = x.__g"
            ).to_arrow_table()
        finally:
            con.unregister("__at")

    def _null_names(self, k: int, left: bool) -> str:
        cols = [(n, t) for s in (self.plan.sources[:k] if left else [self.plan.sources[k]]) for n, t in s.column_sql()]
        return ", ".join(f'NULL::{t} AS "{n}"' for n, t in cols)


__all__ = ["StreamStreamSteps"]
