"""The operator contract: what a query's operator owes the run loop, and what the loop owns.

The loop (``PersistentQuery._run`` in ``engine/query.py``) is the same for every
persistent query: poll -> decode -> operator -> encode -> ONE commit. It owns
polling (and decoding ahead in a thread), the encoder, the processing log, the
commit of output + changelog + processing-log entries + input offsets in one
log transaction, the retry after a failure and the ERROR state. Operators never
commit, never poll and never write to the log themselves (Kafka Streams: the
task commits; a ``Processor`` processes and its ``StateStore`` logs changes).

An operator is batch-at-a-time over Arrow and DuckDB, and says, in its
docstring and in these hooks:

- **reads** — ``_restart_positions()``: the input partitions and where each
  resumes (its committed offsets); ``_prefetcher()`` how they are polled and
  decoded (one source: batch by batch; a join: one consistent cut of all).
- **owns** — the DuckDB tables of its state, created in ``_prepare``; nothing
  else outlives a batch.
- **emits** — ``_compute_item(con, item) -> Checkpoint``: one polled item
  through the operator; output rows are encoded by ``_emit`` (the loop's
  encoder: a row the sink cannot hold goes to the processing log), per-record
  failures are returned as ``ProcessingError`` (never raised).
- **changelogs** — the state rows a batch changed, as records of the
  operator's changelog topic, added to the same ``Checkpoint``.
- **restores** — ``_prepare(con)``: state rebuilt to match the committed
  offsets (from the changelog, or from the input topics that are tables'
  changelogs); called on start and after every failure, before polling again.

A failure that escapes ``_compute_item`` or the commit is not a record's: the
loop puts the query in ERROR with the reason and retries from the committed
offsets after ``_prepare`` again. So an operator must keep per-record failures
inside (see ``engine/isolation.py``), or a bad record would stall its query.
"""

from __future__ import annotations

from typing import Any, Protocol

import duckdb

from headwater.log import TopicPartition


class Operator(Protocol):
    """The hooks of the loop an operator provides (``PersistentQuery`` gives the stateless defaults)."""

    def _restart_positions(self) -> dict[TopicPartition, int]:
        """reads: every input partition and the offset it resumes from."""

    def _prepare(self, con: duckdb.DuckDBPyConnection) -> None:
        """owns + restores: create the state tables and fill them to match the committed offsets."""

    def _compute_item(self, con: duckdb.DuckDBPyConnection, item: Any) -> Any:
        """emits + changelogs: one polled item in, one ``Checkpoint`` (output, changelog, errors, offsets) out."""


def exec_sql(con: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    """Run a statement to completion (DuckDB 2.0 keeps an unfetched result open otherwise)."""
    return con.execute(sql).fetchall()
