"""Which process runs a service's persistent queries on an embedded data directory.

One claim per (directory, service id): an exclusive ``flock`` on
``<root>/services/<hash of the service id>.lock``. The kernel drops it when
the owner exits, however it exits (``kill -9`` included), so a stale claim
never blocks a restart. The file holds the owner's pid, for the message a
second process gets.

The lock is the user-facing half of single ownership; the other half is in
the log itself: every persistent query is a transactional writer, and a
writer that another process initialised after it is fenced (see epochs.py).
So a take-over needs no cooperation from the old owner: the new one claims
with ``take_over``, initialises the queries' writers (fencing the old
owner's), and holds the lock as soon as the old owner lets it go.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading

import orjson

from headwater.errors import ServiceOwnedError
from headwater.log.base import ServiceClaim

logger = logging.getLogger(__name__)

#: How often a process that took a service over tries for the lock its old owner still holds.
RETRY_S = 0.5


class ServiceLock(ServiceClaim):
    """The flock of one service on one data directory, held by this process."""

    def __init__(self, root: str, service_id: str, *, take_over: bool = False) -> None:
        directory = os.path.join(root, "services")
        os.makedirs(directory, exist_ok=True)
        # A hash, not the id itself: a service id is user input and must not shape a path.
        name = hashlib.sha256(service_id.encode()).hexdigest()[:32]
        self.path = os.path.join(directory, f"{name}.lock")
        self.service_id = service_id
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._stop = threading.Event()
        self._release_lock = threading.Lock()
        self._waiter: threading.Thread | None = None
        self.exclusive = self._try_lock()
        if self.exclusive:
            return
        owner = self.owner_pid()
        if not take_over:
            os.close(self._fd)
            raise ServiceOwnedError(service_id, root, owner)
        logger.warning("log: taking service %r on %s over from process %s: its persistent queries are fenced "
                       "and stop at their next commit", service_id, root, owner or "(unknown)")
        self._write_owner()  # so a third process is told who owns the service now
        self._waiter = threading.Thread(target=self._wait, name="headwater-service-lock", daemon=True)
        self._waiter.start()

    def owner_pid(self) -> int | None:
        """The pid the lock file names, if that process still runs."""
        try:
            with open(self.path, "rb") as handle:
                pid = int(orjson.loads(handle.read() or b"{}").get("pid", 0))
        except (OSError, ValueError, orjson.JSONDecodeError):
            return None
        if pid <= 0:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:  # alive, under another user
            pass
        return pid

    def _try_lock(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._write_owner()
        return True

    def _write_owner(self) -> None:
        payload = orjson.dumps({"pid": os.getpid(), "service": self.service_id})
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, payload, 0)

    def _wait(self) -> None:
        """After a take-over: hold the lock once the old owner exits or lets it go."""
        while not self._stop.wait(RETRY_S):
            if self._try_lock():
                self.exclusive = True
                logger.info("log: service %r: the previous owner let go; this process holds its lock",
                            self.service_id)
                return

    def release(self) -> None:
        self._stop.set()
        if self._waiter is not None and self._waiter is not threading.current_thread():
            self._waiter.join()
        with self._release_lock:
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)  # closing the last descriptor drops the flock
