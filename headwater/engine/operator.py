"""The operator contract: what a query's operator owes the run loop, and what the loop owns.

The loop (``RunLoop._run`` in ``engine/query.py``) is the same for every query, persistent or push:
poll -> decode -> operator -> encode -> ONE commit. It owns polling (and decoding ahead in a thread),
the sink (a topic's encoder, or a push query's client), the processing log, the checkpoint (output +
changelog + processing-log entries + input offsets in one log transaction), the retry after a failure
and the ERROR state. Operators never commit, never poll and never write to the log themselves (Kafka
Streams: the task commits; a ``Processor`` processes and its ``StateStore`` logs changes).

An :class:`Operator` is an object, batch-at-a-time over Arrow and DuckDB:

- **reads** -- ``positions()``: the input partitions and where each resumes (the committed offsets,
  or ``auto.offset.reset``); ``fetcher()``: how they are polled and decoded (one source: batch by
  batch; a join: one consistent cut of all).
- **owns** -- its state store(s): DuckDB tables created in ``restore``; nothing else outlives a batch.
- **emits** -- ``process(con, item) -> Step``: one polled item through the operator; the step's
  ``outputs`` are projected rows (``o0``..., ``__having``, ``__ts``...) the loop encodes to the sink
  (a row the sink cannot hold goes to the processing log); per-record failures are returned as
  ``ProcessingError`` in ``errors`` (never raised).
- **changelogs** -- the state rows a step changed, as records of the operator's changelog (or
  repartition) topics, in ``Step.changelog``: committed in the same transaction as the output.
- **restores** -- ``restore(con, positions)``: state rebuilt to match the committed offsets (from
  the changelog, or from the input topics that are tables' changelogs); called on start and after
  every failure, before polling again. ``committed(step)`` tells the operator a step is durable.

A failure that escapes ``process`` is not a record's: the loop puts the query in ERROR with the
reason and retries from the committed offsets after ``restore`` again. So an operator must keep
per-record failures inside (see ``engine/isolation.py``), or a bad record would stall its query.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import duckdb
import pyarrow as pa

from headwater.engine.processing_log import ProcessingError
from headwater.log import Fetched, Log, TopicPartition
from headwater.sql.aggregate_planner import AggregatePlan
from headwater.sql.join_planner import JoinPlan
from headwater.sql.planner import SelectPlan

#: Every plan an operator runs: a stateless SELECT, an aggregation, a join.
Plan = SelectPlan | AggregatePlan | JoinPlan
#: The plan type of one operator class (covariant: an ``Operator[JoinPlan]`` is an ``Operator[Plan]``).
PlanT = TypeVar("PlanT", bound=Plan, covariant=True)

#: Bytes read per batch: stateless work is linear, so batches stay small and zero-copy.
MAX_POLL_BYTES = 4 * 1024 * 1024
MAX_POLL_RECORDS = 200_000


@dataclass
class Step:
    """What one polled item gave: projected output rows (each with the batch it came from), changelog
    appends, per-record failures, and the input offsets the step covers."""

    outputs: list[tuple[pa.Table, Fetched]] = field(default_factory=list)
    changelog: list[tuple[str, int, pa.Table]] = field(default_factory=list)
    errors: list[ProcessingError] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    records_in: int = 0


class Operator(ABC, Generic[PlanT]):
    """One query's computation (see the module docstring): reads, owns, emits, changelogs, restores.

    ``PlanT``: the plan type the operator class runs (``SelectPlan``, ``AggregatePlan``, ``JoinPlan``).
    """

    #: Bytes read per poll of one partition.
    poll_bytes = MAX_POLL_BYTES
    #: Records dropped because their window had closed (``/metrics``).
    late_records = 0

    def __init__(self, plan: PlanT, log: Log, *, group: str | None, offset_reset: str) -> None:
        self.plan: PlanT = plan
        self.log = log
        self.group = group
        self.offset_reset = offset_reset

    # -- reads ---------------------------------------------------------------------------
    def begin(self) -> None:
        """Before the first ``positions()``: create the topics the operator writes besides the sink."""

    @abstractmethod
    def positions(self) -> dict[TopicPartition, int]:
        """Every input partition and the offset it resumes from."""

    @abstractmethod
    def fetcher(self, positions: dict[TopicPartition, int], timeout_s: float) -> Callable[[], list[Any]]:
        """One poll (waiting up to ``timeout_s``) from ``positions`` on, moved along as items come;
        decoded: the items for ``process``."""

    # -- owns + restores -------------------------------------------------------------------
    def restore(self, con: duckdb.DuckDBPyConnection, positions: dict[TopicPartition, int]) -> None:
        """Create the state store(s) and fill them to match ``positions`` (stateless: nothing)."""

    @property
    def ready(self) -> bool:
        """Restored (a pull query may read the state)."""
        return True

    def state_rows(self) -> int | None:
        """Rows its state holds now (``/metrics``); None when it keeps no table state or is restoring."""
        return None

    def state_bytes(self) -> int | None:
        """Memory its state's DuckDB holds now (``/metrics``); None when it keeps no table state or is restoring."""
        return None

    # -- emits + changelogs ----------------------------------------------------------------
    @abstractmethod
    def process(self, con: duckdb.DuckDBPyConnection, item: Any) -> Step:
        """One polled item in; output rows, changelog appends, failures and offsets out."""

    def committed(self, step: Step) -> None:
        """``step`` is durable (the loop's commit landed)."""

    def finish(self, con: duckdb.DuckDBPyConnection) -> None:
        """On stop, after the last commit landed and before ``con`` closes."""


def exec_sql(con: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    """Run a statement to completion (DuckDB 2.0 keeps an unfetched result open otherwise)."""
    return con.execute(sql).fetchall()
