"""Push queries over joins: ``SELECT ... FROM a JOIN b ... EMIT CHANGES`` from ``Session.query``."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.join import JoinQuery, upto
from headwater.engine.join_sources import JoinDecoder
from headwater.engine.processing_log import ProcessingError
from headwater.engine.query import Checkpoint, RowStream, start_positions
from headwater.engine.repartition import Repartitioner
from headwater.log import Fetched, TopicPartition
from headwater.sql.ast import SourceKind
from headwater.sql.catalog import Column, DataSource
from headwater.sql.join_planner import JoinPlan


class JoinPushQuery(JoinQuery, RowStream):
    """A transient ``SELECT ... FROM a JOIN b ... EMIT CHANGES``: joined rows go to the caller.

    The same operator as a persistent join, without a sink or committed
    offsets: state starts empty at the chosen offsets (``auto.offset.reset``),
    and no repartition topic is needed, as one thread reads every partition.
    A table result's deletions are not shown (ksqlDB shows rows).
    """

    def __init__(self, query_id: str, plan: JoinPlan, log: Any, *, offset_reset: str, service_id: str,
                 on_close: Callable[[JoinPushQuery], None] | None = None) -> None:
        sink = DataSource(name=query_id, kind=SourceKind.STREAM, topic=query_id,
                          columns=tuple(Column(o.name, o.type, o.namespace) for o in plan.outputs))
        super().__init__(query_id, "", plan, sink, log, group="", service_id=service_id, offset_reset=offset_reset)
        self.columns = [o.name for o in plan.outputs]
        self.types = [o.type for o in plan.outputs]
        self.limit = plan.limit
        self._rows: queue.Queue[list[object] | BaseException | None] = queue.Queue(maxsize=100_000)
        self._sent = 0
        self._on_close = on_close
        self.start()

    def _plan_repartitions(self, service_id: str) -> dict[int, Repartitioner]:
        return {}

    def _restart_positions(self) -> dict[TopicPartition, int]:
        positions: dict[TopicPartition, int] = {}
        for topic in self._decoder.topics:  # type: ignore[attr-defined]
            positions.update(start_positions(self.log, topic, None, self.offset_reset))
        return positions

    def start(self) -> None:
        self.positions = self._restart_positions()
        self.committed_positions = dict(self.positions)
        self._thread = threading.Thread(target=self._run, name=f"push-{self.id}", daemon=True)
        self._thread.start()

    def _restore(self, con: duckdb.DuckDBPyConnection) -> None:
        """A push query starts with empty state at its start offsets; table rows before them are read once."""
        decoder: JoinDecoder = self._decoder  # type: ignore[assignment]
        for s in self.plan.sources:
            if not s.source.is_table:
                continue
            for tp, end in self.positions.items():
                offset = self.log.beginning_offset(*tp) if tp.topic == s.source.topic else end
                while offset < end:
                    fetched = upto(self.log.read(tp.topic, tp.partition, offset, max_records=100_000), {tp: end})
                    if fetched is None or not len(fetched):
                        break
                    self._apply_table(con, f"t{s.index}", decoder.decode_source(s.index, fetched)[0])
                    offset = fetched.next_offset

    def _emit(self, projected: pa.Table, fetched: Fetched, appends: list[tuple[str, int, pa.Table]],
              errors: list[ProcessingError]) -> int:
        if "__having" in projected.column_names:
            projected = projected.filter(pc.fill_null(projected.column("__having"), False))
        names = [f"o{i}" for i in range(len(self.columns))]
        for row in projected.select(names).to_pylist():
            if self.limit is not None and self._sent >= self.limit:
                self._stop.set()
                break
            self._put([row[name] for name in names])
            self._sent += 1
        if self.limit is not None and self._sent >= self.limit:
            self._stop.set()
            self._put(None)
        return 0

    def _commit(self, checkpoint: Checkpoint) -> None:
        self.committed_positions.update(checkpoint.offsets)

    def _put(self, item: list[object] | BaseException | None) -> None:
        while True:
            try:
                self._rows.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._stop.is_set():  # nobody reads any more
                    return

    def close(self) -> None:
        self.stop(timeout_s=5)
        self._put(None)
        if self._on_close is not None:
            self._on_close(self)


__all__ = ["JoinPushQuery"]
