"""The windows of an aggregation: which windows a record falls in, and when windows close and expire.

Mixed into :class:`~headwater.engine.aggregate.AggregateOperator` (the seam: the operator folds
records into (group, window) state rows; this module decides the windows and their lifetime):

- ``_windowed``: stream time per partition (the running maximum of event time), the windows
  of each record (TUMBLING, HOPPING; a SESSION record opens ``[ts, ts]``), and the (record,
  window) pairs dropped because their window closed (end + grace <= stream time; for sessions
  <), each logged.
- ``_close_windows``: EMIT FINAL, the windows whose end + grace has passed, emitted once.
- ``_expire``: state rows past retention, deleted.

A batch skips scanning the state for due windows when the smallest window end it knows of
(``_earliest_end``) cannot be due yet.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.processing_log import RECORD_PROCESSING_ERROR, ProcessingError
from headwater.engine.state import run
from headwater.sql.aggregate_planner import AggregatePlan


class WindowSteps:
    """Window assignment, closing and expiry over the ``state`` table (see the module docstring)."""

    plan: AggregatePlan
    #: Stream time per input partition.
    stream_time: dict[int, int]
    late_records: int
    #: Smallest window end among open (not emitted) and all state rows, when known.
    _earliest_end: dict[str, int | None]
    _last_changed: pa.Table | None
    #: The state's key columns, comma-separated.
    key: str

    def post(self, con: duckdb.DuckDBPyConnection, states_sql: str, order: str) -> Any: ...

    def _windowed(self, con: duckdb.DuckDBPyConnection, pre: pa.Table, partition: int) -> tuple[pa.Table, list[ProcessingError]]:
        """Assign windows and drop (record, window) pairs whose window closed before the record arrived."""
        ts = pre.column("__ts").to_numpy()
        previous = self.stream_time.get(partition, np.iinfo(np.int64).min)
        stream = np.maximum.accumulate(np.maximum(ts, previous))
        self.stream_time[partition] = int(stream[-1])
        pre = pre.append_column("__st", pa.array(stream))
        window = self.plan.window
        con.register("pre", pre)
        try:
            if window is None:
                return con.sql("SELECT *, 0::BIGINT AS ws, 0::BIGINT AS we FROM pre").to_arrow_table(), []
            size, grace = window.size_ms, window.grace_ms
            if window.kind == "SESSION":
                # A record opens a session [ts, ts]; it is late once ts + grace is behind stream time.
                starts, size = "SELECT *, __ts AS ws FROM pre", 0
            elif window.kind == "TUMBLING":
                starts = f"SELECT *, __ts - (((__ts % {size}) + {size}) % {size}) AS ws FROM pre"
            else:
                adv = window.advance_ms
                count = -(-size // adv)
                last = f"(__ts - (((__ts % {adv}) + {adv}) % {adv}))"
                starts = (
                    f"SELECT * EXCLUDE (__w), __w AS ws FROM (SELECT *, UNNEST([x FOR x IN generate_series("
                    f"{last} - {(count - 1) * adv}, {last}, {adv}) IF x > __ts - {size} AND x >= 0]) AS __w FROM pre)"
                )
            # Kafka Streams drops a time-window record when end + grace <= stream time, a session record
            # only when end + grace < stream time.
            late_op = "<" if window.kind == "SESSION" else "<="
            table = con.sql(f"SELECT *, ws + {size} AS we, ws + {size} + {grace} {late_op} __st AS __late FROM ({starts})"
                            ).to_arrow_table()
        finally:
            con.unregister("pre")
        late = np.asarray(table.column("__late"), dtype=bool)
        errors = []
        if late.any():
            self.late_records += int(late.sum())
            rows = table.filter(pa.array(late)).select(["__offset", "ws", "we"]).to_pylist()
            errors = [
                ProcessingError(RECORD_PROCESSING_ERROR,
                                f"Record dropped: its window [{r['ws']}, {r['we']}) closed (end + grace period "
                                f"{window.grace_ms} ms is before stream time {self.stream_time[partition]}).",
                                self.plan.source.topic, partition, r["__offset"])
                for r in rows
            ]
            table = table.filter(pa.array(~late))
        return table.drop_columns(["__late", "__st"]), errors

    def _now(self) -> int:
        return max(self.stream_time.values()) if self.stream_time else np.iinfo(np.int64).min

    def _earliest(self, con: duckdb.DuckDBPyConnection, which: str) -> int | None:
        """The smallest window end of the state rows (``which`` = 'open' for not yet emitted, or 'all')."""
        where = "WHERE NOT __emitted" if which == "open" else ""
        found = run(con, f"SELECT min(we) FROM state {where}")[0][0]
        return None if found is None else int(found)

    def _may_reach(self, which: str, changed: pa.Table | None, horizon_ms: int) -> bool:
        """Whether some window end + ``horizon_ms`` may be at or behind stream time (cheap, no scan)."""
        earliest = self._earliest_end.get(which)
        if changed is not None and changed.num_rows:
            low = min_window_end(changed, which)
            if low is not None:
                earliest = low if earliest is None else min(earliest, low)
                self._earliest_end[which] = earliest
        return earliest is not None and earliest + horizon_ms <= self._now()

    def _close_windows(self, con: duckdb.DuckDBPyConnection) -> tuple[pa.Table | None, pa.Table | None]:
        """EMIT FINAL: windows whose end + grace has passed, emitted once."""
        assert self.plan.window is not None
        closed = f"NOT __emitted AND we + {self.plan.window.grace_ms} <= {self._now()}"
        if not self._may_reach("open", self._last_changed, self.plan.window.grace_ms):
            return None, None
        self._earliest_end["open"] = None  # recomputed below, after this round of closing
        if not run(con, f"SELECT count(*) FROM state WHERE {closed}")[0][0]:
            self._earliest_end["open"] = self._earliest(con, "open")
            return None, None
        final = self.post(con, f"SELECT * FROM state WHERE {closed}", order="ws, __ts")
        emitted = con.sql(f"SELECT * REPLACE (true AS __emitted) FROM state WHERE {closed}").to_arrow_table()
        run(con, f"UPDATE state SET __emitted = true WHERE {closed}")
        self._earliest_end["open"] = self._earliest(con, "open")
        return final, emitted

    def _expire(self, con: duckdb.DuckDBPyConnection) -> pa.Table | None:
        assert self.plan.window is not None
        gone = f"we + {self.plan.window.retention_ms} <= {self._now()}"
        if not self._may_reach("all", self._last_changed, self.plan.window.retention_ms):
            return None
        deleted = con.sql(f"SELECT {self.key} FROM state WHERE {gone}").to_arrow_table()
        if deleted.num_rows:
            run(con, f"DELETE FROM state WHERE {gone}")
        self._earliest_end["all"] = self._earliest(con, "all")
        return deleted if deleted.num_rows else None


def min_window_end(changed: pa.Table, which: str) -> int | None:
    """The smallest ``we`` of changed rows (only not-emitted ones for 'open')."""
    ends = changed.column("we")
    if which == "open":
        ends = ends.filter(pc.invert(changed.column("__emitted")))
    low = pc.min(ends).as_py()
    return None if low is None else int(low)


__all__ = ["WindowSteps", "min_window_end"]
