"""The server's allocators: how they are set up, and giving freed memory back to the system.

A 60,000-event batch is parsed into Python objects, serialised and
appended; all of it is freed when the request ends, but the C allocator
keeps the freed pages for reuse, so the process's RSS stays at its peak
(issue 12 measured 948 MB to 1.1 GB, never given back). After the server
has been quiet for ``idle_s`` seconds, :class:`MemoryTrimmer` asks glibc to
return its free pages (``malloc_trim``) and Arrow's pool to release its
unused memory, once per burst; under steady load (a soak, the demo's
generators) it does the same every ``busy_s`` seconds, since the server is
then never quiet. On a system without glibc it only does the latter.

:func:`configure_allocators` (``headwater up`` calls it first) makes the
freed memory returnable at all: every query runs on three threads (poll,
compute, commit), and glibc gives each thread an arena of its own up to
8 per core; DuckDB's and Arrow's buffers freed in one arena are reused by
the threads of that arena only, so the heap grew with the number of arenas
and kept its holes (``MALLOC_ARENA_MAX``). Arrow's default mimalloc pool
kept pages of the short-lived threads' heaps (the prefetch thread a query
starts again at each renewal) that ``release_unused`` does not return; the
system pool puts Arrow's buffers in the same glibc heap that ``malloc_trim``
trims. ``pa.set_memory_pool`` reaches Python's calls only: Arrow's C++ code (the
Parquet reader and writer of state snapshots) takes its pool from
``ARROW_DEFAULT_MEMORY_POOL`` when pyarrow loads, which the command line sets
before importing it (``headwater/cli/__init__.py``).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import time
from collections.abc import Callable

import pyarrow as pa
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

#: glibc arenas of a server process (``mallopt(M_ARENA_MAX)``); glibc's own default is 8 per core.
ARENA_MAX = 2
_M_ARENA_MAX = -8  # from glibc's malloc.h


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc.malloc_trim if libc is not None else None  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def configure_allocators() -> dict[str, object]:
    """Set the allocators of this process for a long-running server (see the module docstring); what was set.

    Settings the user chose in the environment (``MALLOC_ARENA_MAX``, ``ARROW_DEFAULT_MEMORY_POOL``) win.
    Call it before the threads that allocate start: arenas made before stay.
    """
    done: dict[str, object] = {}
    if "MALLOC_ARENA_MAX" not in os.environ:
        name = ctypes.util.find_library("c")
        try:
            mallopt = ctypes.CDLL(name).mallopt if name else None
        except (OSError, AttributeError):
            mallopt = None
        if mallopt is not None and mallopt(_M_ARENA_MAX, ARENA_MAX) == 1:
            done["malloc_arena_max"] = ARENA_MAX
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        pa.set_memory_pool(pa.system_memory_pool())
        done["arrow_memory_pool"] = pa.default_memory_pool().backend_name
    return done


def release_memory() -> None:
    """Return freed heap pages to the system (blocking: a few ms per hundred MB)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    pa.default_memory_pool().release_unused()
    if pa.default_memory_pool().backend_name != "mimalloc":
        try:  # Arrow's C++ code (Parquet snapshots) allocates from its global default, unless the CLI set it
            pa.mimalloc_memory_pool().release_unused()
        except NotImplementedError:
            pass


class MemoryTrimmer:
    """Gives freed memory back: ``idle_s`` after a burst of requests, and every ``busy_s`` while work goes on.

    :meth:`touch` notes a request (on the event loop); :meth:`start` (in the server's lifespan) runs the
    periodic release, which queries and connectors need as much as requests do.
    """

    def __init__(self, idle_s: float = 5.0, busy_s: float = 30.0) -> None:
        self.idle_s = idle_s
        self.busy_s = busy_s
        self.releases = 0
        self._last_request = 0.0
        self._last_release = time.monotonic()
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._periodic: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Called at startup, on the loop."""
        if self._periodic is None:
            self._periodic = asyncio.get_running_loop().create_task(self._every_busy_s())

    def touch(self) -> None:
        self._dirty = True
        self._last_request = time.monotonic()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())

    def close(self) -> None:
        """Called at shutdown, on the loop."""
        for task in (self._task, self._periodic):
            if task is not None:
                task.cancel()
        self._task = self._periodic = None

    async def _watch(self) -> None:
        while self._dirty:
            await asyncio.sleep(self.idle_s)
            if time.monotonic() - self._last_request >= self.idle_s:
                self._dirty = False
                await self._release()

    async def _every_busy_s(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self._last_release + self.busy_s - time.monotonic()))
            if time.monotonic() - self._last_release >= self.busy_s:
                await self._release()

    async def _release(self) -> None:
        self._last_release = time.monotonic()
        try:
            await asyncio.to_thread(release_memory)
            self.releases += 1
        except Exception:  # noqa: BLE001 - trimming is an optimisation; the server goes on
            logger.debug("memory: release failed", exc_info=True)


class NoteActivity:
    """ASGI middleware telling the trimmer about each HTTP request."""

    def __init__(self, app: ASGIApp, trimmer: MemoryTrimmer) -> None:
        self.app = app
        self.trimmer = trimmer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.trimmer.touch()
        await self.app(scope, receive, send)
