"""Wake readers of the embedded log when another thread or process appends.

Writers touch a per-partition ``notify`` file after each committed append; a
reader that has caught up watches that file with Linux inotify and sleeps in
``select`` until it changes or its timeout ends, so there is no busy polling.
Where inotify is unavailable (not Linux), the wait falls back to short sleeps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import select
import time
from collections.abc import Callable, Sequence

logger = logging.getLogger(__name__)

_IN_MODIFY = 0x00000002
_IN_ATTRIB = 0x00000004
_IN_DELETE_SELF = 0x00000400
_IN_CLOEXEC = 0o2000000
_IN_NONBLOCK = 0o4000

_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    _libc.inotify_init1.argtypes = [ctypes.c_int]
    _libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
except (OSError, AttributeError):  # pragma: no cover - non-Linux
    _libc = None


def touch(path: str) -> None:
    """Signal a change of ``path`` to its watchers.

    Never raises: it runs after the data is committed, and a watcher that
    misses a touch (a full disk cannot create the file) still finds the
    data on its next poll.
    """
    try:
        try:
            os.utime(path)
        except FileNotFoundError:
            with open(path, "ab"):
                pass
    except OSError as exc:
        logger.warning("log: could not signal readers through %s: %s", path, exc)


def wait_for_change(paths: Sequence[str], ready: Callable[[], bool], timeout_s: float) -> bool:
    """Wait until ``ready()`` is true, re-checking whenever one of ``paths`` changes.

    The watches are set up before the first check, so a change between the
    check and the sleep is not missed. Returns the last value of ``ready()``.
    """
    deadline = time.monotonic() + timeout_s
    if _libc is None:  # pragma: no cover - non-Linux fallback
        return _poll(ready, deadline)
    fd = _libc.inotify_init1(_IN_CLOEXEC | _IN_NONBLOCK)
    if fd < 0:  # pragma: no cover - out of inotify instances
        logger.warning("inotify_init1 failed (errno %d); falling back to polling", ctypes.get_errno())
        return _poll(ready, deadline)
    try:
        for path in paths:
            if not os.path.exists(path):
                touch(path)
            if _libc.inotify_add_watch(fd, os.fsencode(path), _IN_MODIFY | _IN_ATTRIB | _IN_DELETE_SELF) < 0:
                return ready()  # the partition vanished (topic deleted): let the caller find out
        while True:
            if ready():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([fd], [], [], left)
            if readable:
                try:
                    os.read(fd, 65536)
                except BlockingIOError:
                    pass
    finally:
        os.close(fd)


def _poll(ready: Callable[[], bool], deadline: float) -> bool:  # pragma: no cover
    while not ready():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(0.01, left))
    return True
