"""Polling and decoding ahead of a query's thread: decoding needs no state, so it overlaps the compute."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class Prefetcher:
    """Polls and decodes ahead of a query's thread (``fetch`` returns the next decoded items, in order);
    hands them over one by one. An idle fetch (no items) hands over None, so the query can finish its
    last commit. An exception is handed over too: the query thread raises it and retries."""

    def __init__(self, name: str, fetch: Callable[[], list[Any]], timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._fetch = fetch
        self._items: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"decode-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                items = self._fetch()
                if not items:
                    self._put(None)
                for item in items:
                    self._put(item)
        except BaseException as exc:  # handed to the query thread, which retries
            self._put(_Raised(exc))

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self) -> Any:
        try:
            item = self._items.get(timeout=self._timeout_s)
        except queue.Empty:
            return None
        if isinstance(item, _Raised):
            raise item.exc
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@dataclass(frozen=True)
class _Raised:
    exc: BaseException
