"""Giving memory back to the system once a burst of requests is over.

A 60,000-event batch is parsed into Python objects, serialised and
appended; all of it is freed when the request ends, but the C allocator
keeps the freed pages for reuse, so the process's RSS stays at its peak
(issue 12 measured 948 MB to 1.1 GB, never given back). After the server
has been quiet for ``idle_s`` seconds, :class:`MemoryTrimmer` asks glibc to
return its free pages (``malloc_trim``) and Arrow's pool to release its
unused memory, once per burst. On a system without glibc it only does the
latter.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

import pyarrow as pa
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc.malloc_trim if libc is not None else None  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


def release_memory() -> None:
    """Return freed heap pages to the system (blocking: a few ms per hundred MB)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    pa.default_memory_pool().release_unused()


class MemoryTrimmer:
    """Noted activity (:meth:`touch`, on the event loop) and the task that trims once it stops."""

    def __init__(self, idle_s: float = 5.0) -> None:
        self.idle_s = idle_s
        self._last_request = 0.0
        self._dirty = False
        self._task: asyncio.Task[None] | None = None

    def touch(self) -> None:
        self._dirty = True
        self._last_request = time.monotonic()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())

    def close(self) -> None:
        """Called at shutdown, on the loop."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _watch(self) -> None:
        while self._dirty:
            await asyncio.sleep(self.idle_s)
            if time.monotonic() - self._last_request >= self.idle_s:
                self._dirty = False
                try:
                    await asyncio.to_thread(release_memory)
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
