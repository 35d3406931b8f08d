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
import uuid

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
        self._token = uuid.uuid4().hex  # this claim, as written in the file (two may share a pid)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        self._stop = threading.Event()
        self._release_lock = threading.Lock()
        self.exclusive = self._try_lock()
        if not self.exclusive:
            owner = self.owner_pid()
            if not take_over:
                os.close(self._fd)
                raise ServiceOwnedError(service_id, root, owner)
            logger.warning("log: taking service %r on %s over from process %s: its persistent queries are fenced "
                           "and stop", service_id, root, owner or "(unknown)")
            self._write_owner()  # tells the owner it was taken over, and a third process who owns the service now
        self._watcher = threading.Thread(target=self._watch, name="headwater-service-lock", daemon=True)
        self._watcher.start()

    def owner_pid(self) -> int | None:
        """The pid the lock file names, if that process still runs."""
        pid = self._named()[0]
        if pid is None:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:  # alive, under another user
            pass
        return pid

    def _named(self) -> tuple[int | None, str | None]:
        """The pid and claim token the lock file names."""
        try:
            with open(self.path, "rb") as handle:
                named = orjson.loads(handle.read() or b"{}")
            pid = int(named.get("pid", 0))
        except (OSError, ValueError, AttributeError, orjson.JSONDecodeError):
            return None, None
        return (pid if pid > 0 else None), named.get("token")

    def _try_lock(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self._write_owner()
        return True

    def _write_owner(self) -> None:
        payload = orjson.dumps({"pid": os.getpid(), "token": self._token, "service": self.service_id})
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, payload, 0)

    def _watch(self) -> None:
        """Get the lock once a taken-over owner lets it go; then watch for a take-over of our own."""
        while not self._stop.wait(RETRY_S):
            if not self.exclusive:
                with self._release_lock:  # never flock a descriptor release() closed
                    if self._fd < 0 or not self._try_lock():
                        continue
                self.exclusive = True
                logger.info("log: service %r: the previous owner let go; this process holds its lock",
                            self.service_id)
                continue
            pid, token = self._named()
            if token is not None and token != self._token:
                logger.warning("log: process %s took service %r over", pid, self.service_id)
                if self.on_taken_over is not None:
                    self.on_taken_over(pid)
                return

    def release(self) -> None:
        # No join: release() may run on the watcher's own callback, or on a query thread it waits for.
        with self._release_lock:
            self._stop.set()
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)  # closing the last descriptor drops the flock
