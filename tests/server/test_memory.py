"""The collector frees a request's events as soon as it is answered, without waiting for the cyclic GC
(which ``headwater up`` makes rare): issue 12 saw RSS grow by about 250 MB per 60,000-event batch."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from pathlib import Path

from headwater.log import open_log
from headwater.server.dedupe import MessageIdIndex
from headwater.server.event_writer import EventWriter, Submission


def test_a_submission_is_freed_by_reference_counting(tmp_path: Path) -> None:
    with open_log(str(tmp_path / "log")) as log:
        log.create_topic("events", 1)
        log.create_topic("events_dlq", 1)
        writer = EventWriter(log, "events", "events_dlq",
                             MessageIdIndex(log, "events", window_s=60, max_ids=1000))

        async def submit() -> weakref.ref[Submission]:
            submission = Submission()
            for i in range(500):
                submission.add((f"m-{i}", b"k", b"v"))
            done = await writer.submit(submission)
            assert done.accepted == 500
            ref = weakref.ref(submission)
            del submission, done
            return ref

        gc.collect()
        gc.disable()
        try:
            ref = asyncio.run(submit())
            for _ in range(50):  # the writer thread lets go right after it answers
                if ref() is None:
                    break
                time.sleep(0.05)
            assert ref() is None, "a Submission outlived its request (a reference cycle holds its events)"
        finally:
            gc.enable()
            writer.close()
