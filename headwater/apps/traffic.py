"""Segment traffic for the collector app: what analytics.js / analytics-go would send, over real HTTP.

``SegmentTraffic(url, write_key).start()`` posts a ``/v1/batch`` of a few
events (page views, tracks such as seed 004's ``Download``, identifies) every
``interval_s`` from a thread, as a fleet of clients would, until ``stop()``.
Users and event names follow a fixed, skewed population so the dashboard's
"by type" and "by user" panels have a shape. A refused or failed post is
counted, never raised: the demo goes on and says how many were refused.
"""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

TRACKS = [("Download", {"application": "Segment Desktop", "version": "1.1.0", "platform": "osx"}),
          ("Product Viewed", {"sku": "A-1"}), ("Added To Cart", {"sku": "A-1"}), ("Order Completed", {"total": 42})]
TRACK_WEIGHTS = [4, 8, 3, 1]
PAGES = ["Home", "Pricing", "Docs", "Cart"]


class SegmentTraffic:
    """A thread posting Segment batches to a collector."""

    def __init__(self, url: str, write_key: str | None = None, interval_s: float = 1.0, events_per_batch: int = 5,
                 users: int = 25, seed: int = 4) -> None:
        self.url = url.rstrip("/")
        self.auth = (write_key, "") if write_key else None
        self.interval_s = interval_s
        self.events_per_batch = events_per_batch
        self.rng = random.Random(seed)
        self.users = [f"user-{n:03d}" for n in range(users)]
        self.user_weights = [1.0 / (n + 1) for n in range(users)]
        self.sent = 0
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headwater-segment-traffic", daemon=True)

    def event(self) -> dict[str, Any]:
        rng = self.rng
        user = rng.choices(self.users, self.user_weights)[0]
        base: dict[str, Any] = {"messageId": str(uuid.UUID(int=rng.getrandbits(128))),
                                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds")}
        kind = rng.choices(["track", "page", "identify"], [6, 3, 1])[0]
        if kind == "page" and rng.random() < 0.3:  # a visitor not signed in
            return {**base, "type": "page", "anonymousId": f"anon-{rng.randrange(50)}", "name": rng.choice(PAGES)}
        if kind == "page":
            return {**base, "type": "page", "userId": user, "name": rng.choice(PAGES)}
        if kind == "identify":
            return {**base, "type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}}
        name, properties = rng.choices(TRACKS, TRACK_WEIGHTS)[0]
        return {**base, "type": "track", "userId": user, "event": name, "properties": properties}

    def post_batch(self, client: httpx.Client) -> None:
        body = {"batch": [self.event() for _ in range(self.events_per_batch)],
                "sentAt": datetime.now(UTC).isoformat(timespec="milliseconds")}
        try:
            response = client.post("/v1/batch", json=body, auth=self.auth)
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            self.sent += self.events_per_batch
        else:
            self.refused += self.events_per_batch

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                self.post_batch(client)
                self._stop.wait(self.interval_s)

    def start(self) -> SegmentTraffic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(15)
