"""Memory the server gives back: the collector frees a request's events as soon as it is answered, without
waiting for the cyclic GC (which ``headwater up`` makes rare): issue 12 saw RSS grow by about 250 MB per
60,000-event batch. Freed memory goes back to the system under steady load too, from allocators set for it."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import weakref
from pathlib import Path

from headwater.log import open_log
from headwater.server.dedupe import MessageIdIndex
from headwater.server.event_writer import EventWriter, Submission
from headwater.server.memory import ARENA_MAX, MemoryTrimmer


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


def test_memory_is_given_back_while_requests_never_stop() -> None:
    """Under steady load the server is never quiet: freed memory must still go back every ``busy_s``
    (the soak's RSS grew while the trimmer waited for a pause that never came)."""
    released: list[float] = []

    async def steady_requests() -> int:
        trimmer = MemoryTrimmer(idle_s=0.05, busy_s=0.2)
        trimmer.start()
        try:
            started = time.monotonic()
            while time.monotonic() - started < 1.0:
                trimmer.touch()  # a request every 10 ms: never idle for idle_s
                await asyncio.sleep(0.01)
            return trimmer.releases
        finally:
            trimmer.close()

    released.append(asyncio.run(steady_requests()))
    assert released[0] >= 3


def test_a_quiet_server_releases_once_after_a_burst() -> None:
    async def burst() -> tuple[int, int]:
        trimmer = MemoryTrimmer(idle_s=0.05, busy_s=60)
        trimmer.start()
        try:
            trimmer.touch()
            await asyncio.sleep(0.3)
            after_burst = trimmer.releases
            await asyncio.sleep(0.3)  # nothing new: no more releases
            return after_burst, trimmer.releases
        finally:
            trimmer.close()

    assert asyncio.run(burst()) == (1, 1)


def test_headwater_up_sets_its_allocators() -> None:
    """One glibc arena per two threads instead of eight per core, and Arrow's buffers in the heap that
    ``malloc_trim`` trims; what the user set in the environment wins. In a child: the settings are global."""
    code = ("import json, pyarrow as pa; from headwater.server.memory import configure_allocators; "
            "done = configure_allocators(); print(json.dumps([done, pa.default_memory_pool().backend_name]))")
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "ARROW_DEFAULT_MEMORY_POOL")}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    done, backend = json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                              capture_output=True, text=True, timeout=60).stdout)
    assert done == {"malloc_arena_max": ARENA_MAX, "arrow_memory_pool": "system"} and backend == "system"
    env.update(MALLOC_ARENA_MAX="4", ARROW_DEFAULT_MEMORY_POOL="mimalloc")
    done, backend = json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                              capture_output=True, text=True, timeout=60).stdout)
    assert done == {} and backend == "mimalloc"


def test_the_command_line_puts_parquet_snapshots_in_the_trimmed_heap(tmp_path: Path) -> None:
    """Arrow's C++ code (the Parquet reader and writer of state snapshots) ignores ``pa.set_memory_pool``: the
    command line names the system pool before pyarrow loads, so none of it lands in mimalloc's pages."""
    code = ("import sys, headwater.cli, numpy as np, pyarrow as pa, pyarrow.parquet as pq; "
            "pq.write_table(pa.table({'a': np.arange(200_000)}), sys.argv[1]); pq.read_table(sys.argv[1]); "
            "print(pa.mimalloc_memory_pool().max_memory(), pa.system_memory_pool().max_memory())")
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.parquet")], env=env, check=True,
                          capture_output=True, text=True, timeout=60)
    in_mimalloc, in_system = map(int, done.stdout.split())
    assert in_mimalloc == 0 and in_system >= 200_000 * 8
