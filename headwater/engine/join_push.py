"""The join operator of a push query: ``SELECT ... FROM a JOIN b ... EMIT CHANGES`` from ``Session.query``."""

from __future__ import annotations

import duckdb

from headwater.engine.join import JoinOperator
from headwater.engine.join_poll import upto
from headwater.engine.repartition import Repartitioner
from headwater.engine.stateless import start_positions
from headwater.log import Log, TopicPartition
from headwater.sql.join_planner import JoinPlan


class JoinPushOperator(JoinOperator):
    """The same operator as a persistent join, without committed offsets: state starts empty at the
    chosen offsets (``auto.offset.reset``), table rows before them are read once, and no repartition
    topic is needed, as one thread reads every partition. A table result's deletions are not shown
    (ksqlDB shows rows)."""

    def __init__(self, plan: JoinPlan, log: Log, *, offset_reset: str, query_id: str, service_id: str) -> None:
        super().__init__(plan, log, group=None, offset_reset=offset_reset, query_id=query_id, service_id=service_id)

    def _plan_repartitions(self, service_id: str) -> dict[int, Repartitioner]:
        return {}

    def positions(self) -> dict[TopicPartition, int]:
        positions: dict[TopicPartition, int] = {}
        for topic in self._decoder.topics:
            positions.update(start_positions(self.log, topic, None, self.offset_reset))
        return positions

    def _restore(self, con: duckdb.DuckDBPyConnection, positions: dict[TopicPartition, int]) -> None:
        """A push query starts with empty state at its start offsets; table rows before them are read once."""
        decoder = self._decoder
        for s in self.plan.sources:
            if not s.source.is_table:
                continue
            for tp, end in positions.items():
                offset = self.log.beginning_offset(*tp) if tp.topic == s.source.topic else end
                while offset < end:
                    fetched = upto(self.log.read(tp.topic, tp.partition, offset, max_records=100_000), {tp: end})
                    if fetched is None or not len(fetched):
                        break
                    self._apply_table(con, f"t{s.index}", decoder.decode_source(s.index, fetched)[0])
                    offset = fetched.next_offset


__all__ = ["JoinPushOperator"]
