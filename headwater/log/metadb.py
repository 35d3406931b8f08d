"""meta.db, the embedded log's index in SQLite (WAL): opened, checked, rebuilt when damaged, written safely.

Commits are fsynced (``synchronous=FULL``) so that an acknowledged
transaction, offset commit or topic survives a power cut. The one exception
is the index row of a plain append (``write_tx(from_frames=True)``): its
frame is fsynced and describes itself, so tail recovery derives the row again
if a power cut takes the commit. The WAL is one sequential file: the next
fsynced commit, of any process, makes every earlier commit durable too.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from headwater.errors import CorruptLogError, LogClosedError
from headwater.log.base import TopicInfo
from headwater.log.diskio import sqlite_error
from headwater.log.rebuild import rebuild_index, salvage_group_offsets

logger = logging.getLogger(__name__)

_SQLITE_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class TopicRow:
    """A topic as the index holds it."""

    id: int
    name: str
    partitions: int
    config: dict[str, str]

    def info(self) -> TopicInfo:
        return TopicInfo(self.name, self.partitions, dict(self.config))

    def setting(self, key: str) -> str:
        return self.info().setting(key)


@dataclass(frozen=True)
class BatchRow:
    """The index row of one stored batch (one frame)."""

    base_offset: int
    last_offset: int
    count: int
    max_ts: int
    segment: str
    position: int
    size: int


class MetaDb:
    """The one SQLite connection of an EmbeddedLog, shared by its threads."""

    def __init__(self, root: str, schema: str) -> None:
        self.root = root
        self._schema = schema
        self._lock = threading.RLock()
        self.closed = False
        self._sync_mode = "FULL"
        self._db = self._open()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            os.path.join(self.root, "meta.db"), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("BEGIN IMMEDIATE")
        for statement in self._schema.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("COMMIT")
        # Read every table through, so a damaged file shows itself now rather than mid-append.
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()  # noqa: S608 - names from sqlite_master
        return db

    def _open(self) -> sqlite3.Connection:
        """Open meta.db; rebuild it from the segment files when it is missing or damaged.

        Holds ``meta.lock`` so that processes opening the directory together
        rebuild it once.
        """
        path = os.path.join(self.root, "meta.db")
        lock_fd = os.open(os.path.join(self.root, "meta.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            missing = not os.path.exists(path)
            offsets: list[tuple[Any, ...]] = []
            try:
                db = self._connect()
            except sqlite3.DatabaseError as exc:
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _SQLITE_DAMAGED:
                    raise
                aside = f"{path}.damaged-{now_ms()}"
                logger.error(
                    "log: the index %s is damaged (%s); moving it to %s and rebuilding it from the segment files",
                    path, exc, aside,
                )
                offsets = salvage_group_offsets(path)
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(path + suffix):
                        os.replace(path + suffix, aside + suffix)
                missing = True
                db = self._connect()
            if missing and any(os.scandir(os.path.join(self.root, "topics"))):
                if not offsets:
                    logger.error("log: %s was missing: rebuilding it from the segment files", path)
                summary = rebuild_index(self.root, db, offsets)
                logger.error(
                    "log: rebuilt %s from the segment files: %d topic(s), %d batch(es), %d record(s); "
                    "%d committed group offset(s) kept (the others are lost: their consumers restart "
                    "from auto.offset.reset)",
                    path, summary.topics, summary.batches, summary.records, summary.group_offsets,
                )
            return db
        finally:
            os.close(lock_fd)

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.closed:
            raise LogClosedError(f"log: {self.root} is closed")
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._damaged(exc) from exc

    @contextmanager
    def write_tx(self, what: str = "updating the index", *, from_frames: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction; a full or failing disk raises LogFullError / LogUnavailableError.

        ``from_frames``: the rows written are derivable from fsynced frames, so
        the commit need not be fsynced (see the module docstring).
        """
        with self._lock:
            if self.closed:
                raise LogClosedError(f"log: {self.root} is closed")
            db = self._db
            try:
                mode = "NORMAL" if from_frames else "FULL"
                if mode != self._sync_mode:
                    db.execute(f"PRAGMA synchronous={mode}")  # noqa: S608 - one of two fixed words
                    self._sync_mode = mode
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        try:
                            db.execute("ROLLBACK")
                        except sqlite3.Error as exc:
                            logger.warning("log: rollback failed after an error while %s: %s", what, exc)
                    raise
            except sqlite3.Error as exc:
                mapped = sqlite_error(exc, what)
                if mapped is exc:
                    raise self._damaged(exc) from exc
                raise mapped from exc

    def _damaged(self, exc: sqlite3.Error) -> sqlite3.Error | CorruptLogError:
        """CorruptLogError for a damaged meta.db found while running (the error itself otherwise)."""
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _SQLITE_DAMAGED:
            return exc
        logger.error("log: the index %s/meta.db is damaged: %s", self.root, exc)
        return CorruptLogError(
            f"log: the index {self.root}/meta.db is damaged ({exc}); restart to rebuild it from the segment files"
        )

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                self._db.close()
