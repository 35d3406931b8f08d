"""Checked file and SQLite I/O of the embedded log, and a bound on its open files.

Every write either stores all its bytes or raises: a short write is retried
from where it stopped, and a failure of the disk (full, over quota, an I/O
error, remounted read-only) becomes :class:`LogFullError` or
:class:`LogUnavailableError`, errors a caller can retry later. The caller
then cuts what it wrote back off, so nothing half-written is ever indexed.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import pyarrow as pa

from headwater.errors import LogFullError, LogUnavailableError

logger = logging.getLogger(__name__)

#: errno values that mean "no room": free space (or raise the quota) and retry.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

_SQLITE_FULL = 13
_SQLITE_IOERR = 10


def disk_error(exc: OSError, what: str) -> LogFullError | LogUnavailableError:
    """The log's error for a failed file operation while storing data (nothing of it was stored)."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno in FULL_ERRNOS:
        return LogFullError(f"log unavailable: the disk is full ({reason}) while {what}; "
                            "nothing was stored, free space and retry")
    return LogUnavailableError(f"log unavailable: {reason} while {what}; nothing was stored")


def sqlite_error(exc: sqlite3.Error, what: str) -> sqlite3.Error | LogFullError | LogUnavailableError:
    """The log's error for a failed SQLite statement (the error itself unless the disk is at fault)."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == _SQLITE_FULL:
        return LogFullError(f"log unavailable: the disk is full (metadata database: {exc}) while {what}; "
                            "nothing was stored, free space and retry")
    if code == _SQLITE_IOERR:
        return LogUnavailableError(f"log unavailable: I/O error in the metadata database ({exc}) while {what}")
    return exc


def write_all(fd: int, chunks: Sequence[bytes | pa.Buffer], position: int) -> int:
    """Write every byte of ``chunks`` at ``position``; returns the bytes written.

    ``pwritev`` may write less than asked (a disk filling up, a signal): the
    rest is written again from where it stopped. A write that makes no
    progress raises ENOSPC, as the kernel would on the next try.
    """
    views = [view for view in (memoryview(chunk).cast("B") for chunk in chunks) if len(view)]
    total = sum(len(v) for v in views)
    done = 0
    while views:
        written = os.pwritev(fd, views, position + done)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done += written
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]
    return total


def cut_back(fd: int, length: int, path: str) -> None:
    """Truncate a file back to ``length`` after a failed write (best effort: recovery cuts it later)."""
    try:
        os.ftruncate(fd, length)
        os.fdatasync(fd)
    except OSError as exc:
        # The torn frame stays until the next appender's tail recovery cuts it off.
        logger.warning("log: could not cut %s back to %d bytes after a failed write: %s", path, length, exc)


K = TypeVar("K")
V = TypeVar("V")


class OpenFiles(Generic[K, V]):
    """At most about ``capacity`` open handles; the least recently used idle one is closed first.

    A partition that is not being written holds no file descriptor, so the
    number of partitions is not bounded by ``ulimit -n``. A handle is pinned
    between :meth:`acquire` and :meth:`release` and never closed while pinned
    (the cache may then briefly hold more than ``capacity``).
    """

    def __init__(self, capacity: int, close: Callable[[V], None]) -> None:
        self.capacity = capacity
        self._close = close
        self._items: OrderedDict[K, V] = OrderedDict()
        self._pins: dict[K, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: K, make: Callable[[], V]) -> V:
        """The handle of ``key`` (made if needed), pinned until :meth:`release`."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = make()
            else:
                self._items.move_to_end(key)
            self._pins[key] = self._pins.get(key, 0) + 1
            self._evict()
            return item

    def release(self, key: K) -> None:
        with self._lock:
            left = self._pins.get(key, 0) - 1
            if left > 0:
                self._pins[key] = left
            else:
                self._pins.pop(key, None)
                self._evict()

    def discard(self, key: K) -> None:
        """Forget and close ``key``'s handle (its partition is gone); waits for no one."""
        with self._lock:
            item = self._items.pop(key, None)
            self._pins.pop(key, None)
        if item is not None:
            self._close(item)

    def clear(self) -> None:
        with self._lock:
            items = list(self._items.values())
            self._items.clear()
            self._pins.clear()
        for item in items:
            self._close(item)

    def __len__(self) -> int:
        return len(self._items)

    def _evict(self) -> None:
        excess = len(self._items) - self.capacity
        for key in list(self._items):
            if excess <= 0:
                break
            if key not in self._pins:
                self._close(self._items.pop(key))
                excess -= 1


class Appender:
    """Per-partition writer state of this process: a thread lock, the flock fd, the open segment."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self.lock = threading.Lock()
        self.lock_fd = os.open(os.path.join(directory, "append.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        self.segment: str | None = None
        self.segment_fd = -1

    def open_segment(self, name: str) -> tuple[int, bool]:
        """The fd of segment ``name``, and whether the file was just created."""
        if self.segment != name:
            self.close_segment()
            path = os.path.join(self.directory, name)
            created = not os.path.exists(path)
            self.segment_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            self.segment = name
            return self.segment_fd, created
        return self.segment_fd, False

    def close_segment(self) -> None:
        if self.segment_fd >= 0:
            os.close(self.segment_fd)
        self.segment, self.segment_fd = None, -1

    def cut_back(self, position: int) -> None:
        """Remove what a failed append wrote to the open segment from ``position`` on."""
        if self.segment is None:
            return
        path = os.path.join(self.directory, self.segment)
        cut_back(self.segment_fd, position, path)
        if position == 0:
            # A segment created by the failed append: remove it, so the next roll creates it
            # again (and fsyncs the directory entry then).
            self.close_segment()
            try:
                os.unlink(path)
            except OSError as exc:
                logger.warning("log: could not remove the empty segment %s: %s", path, exc)

    def close(self) -> None:
        self.close_segment()
        os.close(self.lock_fd)


def fsync_path(path: str) -> None:
    """fsync a file or a directory by its path (a directory: so a rename or a new file in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
