"""The collector frees a request's events as soon as it is answered, without waiting for the cyclic GC
(which ``headwater up`` makes rare): issue 12 saw RSS grow by about 250 MB per 60,000-event batch."""

from __future__ import annotations

import gc
import time

from headwater.server.event_writer import Submission
from tests.server.conftest import AppFactory


def test_a_batch_is_freed_by_reference_counting(make_client: AppFactory) -> None:
    client = make_client()
    events = [{"type": "track", "userId": f"u{i}", "event": "e", "messageId": f"m-{i}"} for i in range(500)]
    gc.collect()
    gc.disable()
    try:
        assert client.post("/v1/batch", json={"batch": events}).status_code == 200
        alive: list[Submission] = []
        for _ in range(50):  # the writer thread lets go right after it answers
            alive = [o for o in gc.get_objects() if isinstance(o, Submission)]
            if not alive:
                break
            time.sleep(0.05)
        assert alive == [], "a Submission outlived its request (a reference cycle holds its events)"
    finally:
        gc.enable()
