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
from collections.abc import Callable, Sequence
from typing import Any

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


Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def check(query: Query, transactional_id: str, epoch: int) -> None:
    """Raise ProducerFencedError unless ``epoch`` is the id's newest; in the committing transaction to count."""
    rows = query("SELECT epoch, pid FROM producer_epochs WHERE transactional_id = ?", (transactional_id,))
    if not rows or int(rows[0][0]) != epoch:
        newest, pid = (int(rows[0][0]), int(rows[0][1])) if rows else (None, 0)
        raise ProducerFencedError(
            transactional_id,
            f"its epoch is {epoch}, a newer writer initialised epoch {newest} (process {pid}); "
            "nothing of this transaction was committed",
        )


class Writers:
    """The epochs of one log instance's writers, and which of them were fenced."""

    def __init__(self, init: Callable[[str], None]) -> None:
        self._init = init
        self._lock = threading.Lock()
        self._epochs: dict[str, int] = {}
        self._fenced: dict[str, ProducerFencedError] = {}

    def started(self, transactional_id: str, epoch: int) -> None:
        with self._lock:
            self._epochs[transactional_id] = epoch
            self._fenced.pop(transactional_id, None)

    def epoch(self, transactional_id: str) -> int:
        """The writer's epoch, initialised on first use (as Kafka's first transaction does). Raises if fenced."""
        while True:
            with self._lock:
                if transactional_id in self._fenced:
                    raise ProducerFencedError(transactional_id, "an earlier transaction found a newer writer; "
                                              "call init_transactions to take the id back")
                epoch = self._epochs.get(transactional_id)
            if epoch is not None:
                return epoch
            self._init(transactional_id)

    def fence(self, error: ProducerFencedError) -> None:
        with self._lock:
            self._epochs.pop(error.transactional_id, None)
            self._fenced[error.transactional_id] = error
