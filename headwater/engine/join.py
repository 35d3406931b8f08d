"""The join operator: stream-table, stream-stream, table-table and foreign-key joins, N-way.

A :class:`JoinOperator` reads the topics of all its sources. Records are taken
in the order a Kafka Streams task takes them (:func:`join_sources.runs`) and
cut into runs of one source; a run goes through the plan's steps as one
DuckDB query per step, never a Python loop per record. Each step's state
lives in DuckDB:

- ``t<k>``: a table source's rows by primary key (``__sk``); upserts replace,
  tombstones delete. A stream-table step looks stream records up in it, as of
  the record (table records that come first in the order are applied first).
- ``r<k>``: the materialized result of a table-table or foreign-key step, when
  a later step needs it as its left side.
- ``lb<k>``/``rb<k>``: the two sides of a stream-stream step, buffered for
  WITHIN + GRACE PERIOD, with whether each record found a match and whether
  its null-padded result was emitted (LEFT/RIGHT/FULL emit it once the
  window closes without a match, as Kafka Streams 3.1+ / ksqlDB 0.29+ do).

State is a function of the committed input offsets. Output and the offsets of
every input partition commit in one log transaction; on start (and after a
failure) the state is rebuilt by reading each table source's topic up to its
committed offset (the source topic is the table's changelog, as in ksqlDB)
and replaying the stream-stream sides' retained records. So after ``kill -9``
the query resumes with no lost and no doubled output.

The parts: polling one consistent cut (``join_poll.py``), the table state and the steps over it
(``join_tables.TableSteps``), the stream-stream steps (``stream_join.StreamStreamSteps``), the
order records are taken in (``join_sources.py``); this module holds the operator: its state's
lifecycle (restore) and one round (repartition, hold back, join, project).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.codec import SourceDecoder
from headwater.engine.join_poll import merge_held, poll_fetcher
from headwater.engine.join_sources import JoinDecoder, Piece, runs
from headwater.engine.join_tables import TableSteps
from headwater.engine.operator import Operator, Step, exec_sql
from headwater.engine.processing_log import ProcessingError
from headwater.engine.record_headers import with_input_headers
from headwater.engine.repartition import Repartitioner, repartition_topic
from headwater.engine.stateless import run_plan, start_positions
from headwater.engine.stream_join import StreamStreamSteps
from headwater.log import Fetched, Log, TopicPartition
from headwater.sql.catalog import Namespace
from headwater.sql.join_planner import FOREIGN_KEY, STREAM_STREAM, STREAM_TABLE, TABLE_TABLE, JoinPlan, JoinStep
from headwater.sql.planner import ROWOFFSET, ROWPARTITION, ROWTIME

logger = logging.getLogger(__name__)


class JoinOperator(TableSteps, StreamStreamSteps, Operator[JoinPlan]):
    """A join (CSAS / CTAS, or a push query's): see the module docstring.

    reads: every source's topic (or its repartition topic), one consistent cut per poll. owns: the
    tables ``t<k>``, results ``r<k>`` and stream-stream buffers ``lb<k>``/``rb<k>``. emits: the joined
    rows through the projection. changelogs: nothing but the records it repartitions (the source
    topics are the tables' changelogs). restores: by reading the inputs up to the committed offsets.
    """

    def __init__(self, plan: JoinPlan, log: Log, *, group: str | None, offset_reset: str, query_id: str,
                 service_id: str) -> None:
        super().__init__(plan, log, group=group, offset_reset=offset_reset)
        self.query_id = query_id
        self._repartitioners = self._plan_repartitions(service_id)
        self._decoder = JoinDecoder(
            plan.sources, {i: r.topic for i, r in self._repartitioners.items()},
            {i for i, r in self._repartitioners.items() if r.carry_key})
        #: Records written to each repartition partition and not read back yet: FIFO of [count, min timestamp].
        self._in_flight: dict[TopicPartition, list[list[int]]] = {}
        #: Records held back until the repartitioned records before them are read back (see _compute_items).
        self._held: list[Piece] = []
        self._tables_first = [s.source.is_table for s in plan.sources]
        self._con: duckdb.DuckDBPyConnection | None = None
        self.stream_time: dict[int, int] = {}
        self.late_records = 0
        self._gseq = 0
        # Which steps need their left side materialized (a table result feeding a table step).
        self._left_state = {
            s.right: ("t0" if s.right == 1 else f"r{s.right - 1}")
            for s in plan.steps if s.kind in (TABLE_TABLE, FOREIGN_KEY)
        }

    def _plan_repartitions(self, service_id: str) -> dict[int, Repartitioner]:
        """A repartitioner for each stream source joined on something other than its record key."""
        out: dict[int, Repartitioner] = {}
        sources = self.plan.sources
        for step in self.plan.steps:
            sides = []
            if step.repartition_left:
                sides.append((0, step.left_key, "Join-left", sources[step.right].source.partitions))
            if step.repartition_right:
                name = "Join-right" if step.right == 1 else f"Join{step.right}-right"
                sides.append((step.right, step.right_key, name, sources[0].source.partitions))
            for i, key_sql, name, partitions in sides:
                if sources[i].source.partitions == 1 and partitions == 1:
                    # One partition on both sides: every key is already co-located, on Kafka as here, so
                    # the round trip through a repartition topic would change nothing but the cost.
                    continue
                used = tuple(c for c in sources[i].inputs if f'"{c.alias}"' in key_sql)
                decoder = SourceDecoder(sources[i].source, used)
                topic = repartition_topic(service_id, self.query_id, name)
                carry_key = any(c.column.namespace is Namespace.KEY for c in sources[i].inputs)
                out[i] = Repartitioner(decoder, key_sql, step.key_type, topic, partitions, carry_key=carry_key)
        return out

    # -- columns -------------------------------------------------------------------------
    def _names(self, upto: int, prefix: str = "", start: int = 0) -> str:
        cols = [n for s in self.plan.sources[start: upto + 1] for n, _ in s.column_sql()]
        return ", ".join(f'{prefix}"{n}"' for n in cols)

    # -- lifecycle -----------------------------------------------------------------------
    def begin(self) -> None:
        for r in self._repartitioners.values():
            self.log.create_topic(r.topic, r.partitions, exist_ok=True)

    def positions(self) -> dict[TopicPartition, int]:
        positions: dict[TopicPartition, int] = {}
        for topic in self._decoder.topics:
            # A repartition topic is read from its beginning: this query wrote everything in it.
            internal = topic in self._decoder.repartitioned.values()
            reset = "earliest" if internal else self.offset_reset
            positions.update(start_positions(self.log, topic, self.group, reset))
        return positions

    def fetcher(self, positions: dict[TopicPartition, int], timeout_s: float) -> Callable[[], list[Any]]:
        return poll_fetcher(self.log, positions, self._decoder.decode, self.poll_bytes, timeout_s)

    # -- state ---------------------------------------------------------------------------
    def restore(self, con: duckdb.DuckDBPyConnection, positions: dict[TopicPartition, int]) -> None:
        """Create the state tables and rebuild them from the inputs up to the committed offsets."""
        self._con = con
        self.stream_time = {}
        self._held = []
        self._in_flight = {}
        self._snapshots: dict[int, pa.Table] = {}
        for s in self.plan.sources:
            if s.source.is_table:
                self._create(con, f"t{s.index}", s.index, s.index, key=True)
        for step in self.plan.steps:
            k = step.right
            if step.kind == STREAM_STREAM:
                extra = ["__ts BIGINT", "__jk " + step.key_type.to_duckdb(), "__g BIGINT", "__matched BOOLEAN",
                         "__emitted BOOLEAN"]
                self._create(con, f"lb{k}", 0, k - 1, extra=extra)
                self._create(con, f"rb{k}", k, k, extra=extra)
            if f"r{k}" in self._left_state.values():
                key_type = (self.plan.sources[0].source.key_columns[0].type if step.kind == FOREIGN_KEY
                            else step.key_type).to_duckdb()
                self._create(con, f"r{k}", 0, k, extra=[f"__sk {key_type}"])
        self._restore(con, positions)

    def _create(self, con: duckdb.DuckDBPyConnection, name: str, first: int, last: int, *, key: bool = False,
                extra: list[str] | None = None) -> None:
        cols = [f'"{n}" {t}' for s in self.plan.sources[first: last + 1] for n, t in s.column_sql()]
        if key:
            cols.append(f"__sk {self.plan.sources[first].state_key_type().to_duckdb()}")
        cols.extend(extra or [])
        exec_sql(con, f"DROP TABLE IF EXISTS {name}")
        exec_sql(con, f"CREATE TABLE {name} ({', '.join(cols)})")

    def _restore(self, con: duckdb.DuckDBPyConnection, positions: dict[TopicPartition, int]) -> None:
        """Table sources up to their committed offsets; then derived table results; then stream-stream buffers."""
        decoder = self._decoder
        replay: list[Piece] = []
        for s in self.plan.sources:
            stream_side = any(st.kind == STREAM_STREAM and (st.right == s.index or s.index == 0)
                              for st in self.plan.steps)
            if not s.source.is_table and not stream_side:
                continue
            for tp, end in positions.items():
                if tp.topic != decoder.input_topic(s.index):
                    continue
                offset = self.log.beginning_offset(*tp)
                if not s.source.is_table:
                    offset = self._replay_start(tp, offset, end)
                while offset < end:
                    fetched = self.log.read(tp.topic, tp.partition, offset, max_records=100_000)
                    if not len(fetched):
                        break
                    if fetched.next_offset > end:
                        keep = int(np.searchsorted(fetched.records.column("offset").to_numpy(), end))
                        fetched = Fetched(fetched.topic, fetched.partition, fetched.records.slice(0, keep), end,
                                          fetched.high_watermark)
                    table, _ = decoder.decode_source(s.index, fetched)
                    if s.source.is_table:
                        self._apply_table(con, f"t{s.index}", table)
                    else:
                        replay.append(Piece(s.index, fetched, table))
                    offset = fetched.next_offset
        for tp, start in positions.items():
            if tp.topic in decoder.repartitioned.values():
                offset, end = start, self.log.end_offset(*tp)
                while offset < end:
                    fetched = self.log.read(tp.topic, tp.partition, offset, max_records=100_000)
                    if not len(fetched):
                        break
                    ts = int(pc.min(fetched.records.column("timestamp")).as_py())
                    self._in_flight.setdefault(tp, []).append([len(fetched), ts])
                    offset = fetched.next_offset
        for step in self.plan.steps:
            if f"r{step.right}" in self._left_state.values():
                self._rebuild_result(con, step)
        if replay:
            # Stream-stream buffers: run the retained records through the joins again, output discarded.
            for source, records, fetched in runs(replay, self._tables_first):
                self._through_steps(con, source, records, fetched, [])

    def _replay_start(self, tp: TopicPartition, beginning: int, end: int) -> int:
        """Where replaying a stream side may start: records older than every stream-stream window
        (before + after + grace, counted back from the last committed record's time, with the same
        again for disorder) can no longer join nor be emitted."""
        if end <= beginning:
            return beginning
        last = self.log.read(tp.topic, tp.partition, end - 1, max_records=1)
        if not len(last):
            return beginning
        reach = max((st.before_ms + st.after_ms + st.grace_ms for st in self.plan.steps if st.kind == STREAM_STREAM),
                    default=0)
        horizon = int(last.records.column("timestamp")[0].as_py()) - 2 * reach
        found = self.log.offset_for_time(tp.topic, tp.partition, horizon)
        return beginning if found is None else max(beginning, min(found, end))

    # -- per round ------------------------------------------------------------------------
    def process(self, con: duckdb.DuckDBPyConnection, polled: tuple[list[Any], dict[TopicPartition, int]]) -> Step:
        """One round: repartition what needs it, then join everything whose turn has come.

        Records of a repartitioned stream come back through the repartition
        topic in a later round. Until they do, records of the other inputs
        with a later (or equal) timestamp are held back, so every stream record
        still meets the table as of its own time. The same holds for records
        of a partition this poll did not read to its end (``lagging``: the
        timestamp of its next record).
        """
        items, lagging = polled
        pieces: list[Piece] = []
        errors: list[ProcessingError] = []
        offsets: dict[TopicPartition, int] = {}
        appends: list[tuple[str, int, pa.Table]] = []
        to_repartition: dict[int, list[Fetched]] = {}
        records_in = 0
        for fetched, (decoded, decode_errors) in items:
            errors.extend(decode_errors)
            tp = TopicPartition(fetched.topic, fetched.partition)
            offsets[tp] = fetched.next_offset
            records_in += len(fetched)
            for piece in decoded:
                if piece.table is None:
                    to_repartition.setdefault(piece.source, []).append(piece.fetched)
                else:
                    pieces.append(piece)
        for source, batches in to_repartition.items():
            appends.extend(self._repartition(con, source, batches, errors))
        for fetched, _ in items:
            if fetched.topic in self._decoder.repartitioned.values():
                self._read_back(TopicPartition(fetched.topic, fetched.partition), len(fetched))
        pieces = merge_held(self._held, pieces)
        barrier = min([b for b in (self._barrier(), *lagging.values()) if b is not None], default=None)
        pieces, self._held = self._split_at(pieces, barrier)
        for piece in pieces:  # records held in an earlier round and done now move their partition on
            tp = TopicPartition(piece.fetched.topic, piece.fetched.partition)
            offsets[tp] = max(offsets.get(tp, 0), piece.fetched.next_offset)
        for piece in self._held:  # not done: commit only up to the first held record
            assert piece.table is not None
            tp = TopicPartition(piece.fetched.topic, piece.fetched.partition)
            offsets[tp] = int(piece.table.column("__offset")[0].as_py())
        outputs: list[tuple[pa.Table, Fetched]] = []
        for source, batch, fetched in runs(pieces, self._tables_first):
            result = self._through_steps(con, source, batch, fetched, errors)
            if result is not None and result.num_rows:
                outputs.append((result, fetched))
        step = Step(changelog=appends, errors=errors, offsets=offsets, records_in=records_in)
        for result, fetched in outputs:
            projected, run_errors = run_plan(con, self.plan.strict_sql or self.plan.sql, result, fetched,
                                             lenient_sql=self.plan.sql)
            errors.extend(run_errors)
            if projected is not None and projected.num_rows:
                step.outputs.append((with_input_headers(projected, fetched), fetched))
        return step

    def _repartition(self, con: duckdb.DuckDBPyConnection, index: int, batches: list[Fetched],
                     errors: list[ProcessingError]) -> list[tuple[str, int, pa.Table]]:
        source = self.plan.sources[index]
        rename = {ROWTIME: source.meta(ROWTIME), ROWPARTITION: source.meta(ROWPARTITION),
                  ROWOFFSET: source.meta(ROWOFFSET)}
        rename.pop(ROWOFFSET)  # the repartitioner needs ``__offset`` itself
        appends, errs = self._repartitioners[index].repartition(con, batches, rename)
        errors.extend(errs)
        for topic, partition, table in appends:
            ts = int(pc.min(table.column("timestamp")).as_py())
            self._in_flight.setdefault(TopicPartition(topic, partition), []).append([table.num_rows, ts])
        return appends

    def _read_back(self, tp: TopicPartition, count: int) -> None:
        """``count`` records of repartition partition ``tp`` were read back: they are no longer in flight."""
        queue = self._in_flight.get(tp, [])
        while count and queue:
            taken = min(count, queue[0][0])
            queue[0][0] -= taken
            count -= taken
            if not queue[0][0]:
                queue.pop(0)

    def _barrier(self) -> int | None:
        """The smallest timestamp of the records still in flight through a repartition topic."""
        return min((entry[1] for queue in self._in_flight.values() for entry in queue), default=None)

    def _split_at(self, pieces: list[Piece], barrier: int | None) -> tuple[list[Piece], list[Piece]]:
        """Pieces cut where their effective time reaches ``barrier``: (to process now, held back)."""
        if barrier is None:
            return pieces, []
        now, held = [], []
        for piece in pieces:
            assert piece.table is not None
            if not piece.table.num_rows:
                now.append(piece)
                continue
            ts = np.maximum.accumulate(piece.table.column("__ts").to_numpy(zero_copy_only=False))
            cut = int(np.searchsorted(ts, barrier, side="left"))
            if cut:
                now.append(Piece(piece.source, piece.fetched, piece.table.slice(0, cut)))
            if cut < piece.table.num_rows:
                held.append(Piece(piece.source, piece.fetched, piece.table.slice(cut)))
        return now, held

    def _through_steps(self, con: duckdb.DuckDBPyConnection, source: int, batch: pa.Table, fetched: Fetched,
                       errors: list[ProcessingError]) -> pa.Table | None:
        """Run a batch of source ``source`` through the steps from where it enters; the joined result or None."""
        batch = batch.append_column("__seq", pa.array(np.arange(batch.num_rows, dtype=np.int64)))
        rel: pa.Table | None = batch
        side = "left" if source == 0 else "right"
        first = max(source, 1)
        for step in self.plan.steps[first - 1:]:
            assert rel is not None
            rel = self._step(con, step, side, rel, fetched, errors)
            if rel is None or not rel.num_rows:
                return None
            side = "left"
        return rel

    def _step(self, con: duckdb.DuckDBPyConnection, step: JoinStep, side: str, batch: pa.Table, fetched: Fetched,
              errors: list[ProcessingError]) -> pa.Table | None:
        k = step.right
        con.register("b", batch)
        try:
            if step.kind == STREAM_TABLE:
                result = self._stream_table(con, step, side, batch, fetched, errors)
            elif step.kind == STREAM_STREAM:
                result = self._stream_stream(con, step, side, batch, fetched, errors)
            else:
                result = self._table_step(con, step, side, batch)
        finally:
            con.unregister("b")
        if result is not None and f"r{k}" in self._left_state.values():
            self._apply_table(con, f"r{k}", result, upto=k)
        return result
