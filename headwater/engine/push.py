"""Push queries: a transient ``SELECT ... EMIT CHANGES`` whose rows go to a client, on THE run loop.

A push query runs the same loop and the same operators as a persistent query
(stateless, aggregate, table aggregate, join), with three differences of
policy: rows go to the caller instead of a sink topic; a "commit" only moves
the positions on (nothing is durable: no transaction holds a push query's
output) and writes the processing-log entries, best effort; a failure that is
no record's ends the query with the error, handed to the reader.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.operator import Operator, Plan
from headwater.engine.processing_log import ProcessingError
from headwater.engine.query import Checkpoint, RunLoop
from headwater.errors import ProducerFencedError
from headwater.log import Fetched, Log

logger = logging.getLogger(__name__)


class RowStream:
    """The reading side of a push query: rows a worker thread puts on ``_rows``, None at the end."""

    _rows: queue.Queue[list[object] | BaseException | None]

    def rows(self, timeout_s: float | None = None) -> Iterator[list[object]]:
        """Rows as they arrive; ends at LIMIT, on close, or after ``timeout_s`` without a row."""
        while True:
            try:
                item = self._rows.get(timeout=timeout_s)
            except queue.Empty:
                return
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def __iter__(self) -> Iterator[list[object]]:
        return self.rows()


class PushQuery(RunLoop, RowStream):
    """A transient SELECT ... EMIT CHANGES: rows go to the caller until LIMIT or close.

    State (an aggregation's, a join's) starts empty at the chosen offsets (``auto.offset.reset``)
    and lives as long as the query. Rows whose ``__having`` is false (a table's deleted row, a
    group failing HAVING) are not shown.
    """

    def __init__(self, query_id: str, operator: Operator[Plan], log: Log, *,
                 on_close: Callable[[PushQuery], None] | None = None,
                 processing_log_topic: str | None = None) -> None:
        super().__init__(query_id, operator, log, group="", processing_log_topic=processing_log_topic)
        self.columns = [o.name for o in self.plan.outputs]
        self.types = [o.type for o in self.plan.outputs]
        self.limit = self.plan.limit
        self._rows: queue.Queue[list[object] | BaseException | None] = queue.Queue(maxsize=100_000)
        self._sent = 0
        self._on_close = on_close
        self._begin()
        self._thread = threading.Thread(target=self._run, name=f"push-{query_id}", daemon=True)
        self._thread.start()

    def _emit(self, projected: pa.Table, fetched: Fetched, appends: list[tuple[str, int, pa.Table]],
              errors: list[ProcessingError]) -> int:
        """The rows to show go to the reader, up to LIMIT."""
        if "__having" in projected.column_names:
            projected = projected.filter(pc.fill_null(projected.column("__having"), False))
        names = [f"o{i}" for i in range(len(self.columns))]
        for row in projected.select(names).to_pylist():
            if self.limit is not None and self._sent >= self.limit:
                break
            self._put([row[name] for name in names])
            self._sent += 1
        if self.limit is not None and self._sent >= self.limit:
            self._stop.set()
        return 0

    def _commit(self, checkpoint: Checkpoint) -> None:
        """The positions move on; the records this query could not process go to the processing log
        (best effort: no transaction holds a push query's output)."""
        self.committed_positions.update(checkpoint.offsets)
        if not checkpoint.appends:
            return
        try:
            for topic, partition, table in checkpoint.appends:
                self.log.append(topic, partition, table)
        except Exception:  # noqa: BLE001 - a push query shows rows even when the log cannot take entries
            logger.warning("push query %s: %d processing-log entries not written", self.id, checkpoint.failed,
                           exc_info=True)

    def _retry(self, exc: Exception, backoff: float) -> bool:
        self._put(exc)  # handed to the reader; the query ends
        return False

    def fenced(self, error: ProducerFencedError) -> None:
        self._put(error)

    def _ended(self) -> None:
        self._put(None)

    def _put(self, item: list[object] | BaseException | None) -> None:
        while True:
            try:
                self._rows.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._stop.is_set():  # nobody reads any more
                    return

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._on_close is not None:
            self._on_close(self)
