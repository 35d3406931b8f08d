"""Live rates for the UI: records per second over the last minute, of topics, partitions and queries.

The log and the queries keep counters that only grow (a partition's end
offset, a query's records in and out). :class:`LiveRates` samples them into a
:class:`RateWindow` (a short history of timestamped samples), from a
background thread every few seconds once someone asked for a rate, and on
demand when the latest sample is older than a second; the rate of a counter
is its growth between the oldest and the newest sample of the window, over
the time between them. Nothing on the hot path pays for it: the thread only
runs after the first request of the topic browser or the flow view.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping

from headwater.errors import HeadwaterError
from headwater.log import Log
from headwater.session import Session

logger = logging.getLogger(__name__)

#: Rates are averaged over this many seconds (the last minute, as Control Center shows them).
WINDOW_S = 60.0
#: The background thread samples this often.
SAMPLE_EVERY_S = 5.0
#: An on-demand sample is taken when the newest is older than this.
FRESH_S = 1.0


def partition_counter(topic: str, partition: int) -> str:
    return f"p\x00{topic}\x00{partition}"


def query_counter(query_id: str, direction: str) -> str:
    """``direction`` is ``in`` or ``out``."""
    return f"q\x00{query_id}\x00{direction}"


class RateWindow:
    """Timestamped samples of growing counters; rates over the samples of the last ``window_s`` seconds."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, dict[str, int]]] = deque()
        self._lock = threading.Lock()

    def observe(self, counters: Mapping[str, int], now: float | None = None) -> None:
        at = time.monotonic() if now is None else now
        with self._lock:
            self._samples.append((at, dict(counters)))
            # Keep one sample at or before the window's start, so a rate spans the whole window.
            while len(self._samples) > 2 and self._samples[1][0] <= at - self.window_s:
                self._samples.popleft()

    def newest_age(self, now: float | None = None) -> float | None:
        at = time.monotonic() if now is None else now
        with self._lock:
            return at - self._samples[-1][0] if self._samples else None

    def rates(self) -> dict[str, float]:
        """Records per second of every counter in the newest sample (0.0 for one seen only once)."""
        with self._lock:
            samples = list(self._samples)
        if not samples:
            return {}
        newest_at, newest = samples[-1]
        out: dict[str, float] = {}
        for name, value in newest.items():
            start = next(((t, s[name]) for t, s in samples if name in s), None)
            if start is None or newest_at - start[0] <= 0:
                out[name] = 0.0
                continue
            # A counter that went down (a topic deleted and made again) restarts from zero.
            out[name] = max(0, value - start[1]) / (newest_at - start[0])
        return out


class LiveRates:
    """Samples the log's end offsets and the session's query counters into a :class:`RateWindow`."""

    def __init__(self, log: Log, session: Session | None, window_s: float = WINDOW_S,
                 every_s: float = SAMPLE_EVERY_S) -> None:
        self.log = log
        self.session = session
        self.window = RateWindow(window_s)
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._sample_lock = threading.Lock()

    def counters(self) -> dict[str, int]:
        out: dict[str, int] = {}
        try:
            for topic in self.log.list_topics():
                for p in range(self.log.describe_topic(topic).partitions):
                    out[partition_counter(topic, p)] = self.log.end_offset(topic, p)
        except HeadwaterError as exc:  # a topic deleted while we looked: keep what we have
            logger.debug("rates: the log changed during a sample: %s", exc)
        if self.session is not None:
            for query_id, query in list(self.session.queries.items()):
                out[query_counter(query_id, "in")] = query.stats.records_in
                out[query_counter(query_id, "out")] = query.stats.records_out
        return out

    def sample(self) -> None:
        with self._sample_lock:
            self.window.observe(self.counters())

    def rates(self) -> dict[str, float]:
        """Current rates; samples now if the newest sample is stale, and starts the sampling thread."""
        self._ensure_thread()
        age = self.window.newest_age()
        if age is None or age > FRESH_S:
            self.sample()
        return self.window.rates()

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._loop, name="headwater-ui-rates", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a failed sample is retried at the next tick
                logger.debug("rates: sample failed", exc_info=True)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def topic_rate(rates: Mapping[str, float], topic: str, partitions: int) -> float:
    return sum(rates.get(partition_counter(topic, p), 0.0) for p in range(partitions))
