"""Producer epochs of the embedded log: one writer per transactional id, as Kafka fences producers.

The metadata database keeps, per transactional id, the epoch of its newest
writer. ``init_transactions`` bumps it in a write transaction of its own;
every transaction of a writer checks it inside the very SQLite transaction
that indexes its batches and commits its offsets. SQLite serializes write
transactions across processes, so once a bump has committed no transaction
of an older epoch can commit: a fenced writer's frames stay unindexed (and,
flagged transactional, are never recovered), and its offsets are not stored.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

from headwater.errors import ProducerFencedError

SCHEMA = """
CREATE TABLE IF NOT EXISTS producer_epochs (
    transactional_id TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    initialized_ms INTEGER NOT NULL
) WITHOUT ROWID
"""


def bump(db: sqlite3.Connection, transactional_id: str) -> int:
    """Start a new writer of the id (inside a write transaction); its epoch."""
    row = db.execute(
        "INSERT INTO producer_epochs VALUES (?, 0, ?, ?) ON CONFLICT (transactional_id) DO UPDATE SET "
        "epoch = epoch + 1, pid = excluded.pid, initialized_ms = excluded.initialized_ms RETURNING epoch",
        (transactional_id, os.getpid(), time.time_ns() // 1_000_000),
    ).fetchone()
    return int(row[0])


def check(db: sqlite3.Connection, transactional_id: str, epoch: int) -> None:
    """Raise ProducerFencedError unless ``epoch`` is the id's newest (inside the committing transaction)."""
    row = db.execute(
        "SELECT epoch, pid FROM producer_epochs WHERE transactional_id = ?", (transactional_id,)
    ).fetchone()
    if row is None or int(row[0]) != epoch:
        newest, pid = (int(row[0]), int(row[1])) if row else (None, 0)
        raise ProducerFencedError(
            transactional_id,
            f"its epoch is {epoch}, a newer writer initialised epoch {newest} (process {pid}); "
            "nothing of this transaction was committed",
        )


class Writers:
    """The epochs of this log instance's writers, and which of them were fenced."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._epochs: dict[str, int] = {}
        self._fenced: dict[str, ProducerFencedError] = {}

    def started(self, transactional_id: str, epoch: int) -> None:
        with self._lock:
            self._epochs[transactional_id] = epoch
            self._fenced.pop(transactional_id, None)

    def epoch(self, transactional_id: str) -> int | None:
        """The writer's epoch; None if it was never initialised. Raises if it was fenced."""
        with self._lock:
            fenced = self._fenced.get(transactional_id)
            if fenced is not None:
                raise ProducerFencedError(transactional_id, "an earlier transaction found a newer writer; "
                                          "call init_transactions to take the id back")
            return self._epochs.get(transactional_id)

    def fence(self, error: ProducerFencedError) -> None:
        with self._lock:
            self._epochs.pop(error.transactional_id, None)
            self._fenced[error.transactional_id] = error
