"""Findings of the chaos suite, each reduced to a small deterministic test.

Each is marked ``xfail(strict=True)`` until its fix lands: the fix makes the
test pass, and the strict marker then fails the run so that it gets removed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from headwater.log import open_log
from headwater.server import ServerConfig, create_app

BATCH = {"batch": [{"type": "track", "userId": "u1", "event": "click", "messageId": f"m-{i}"} for i in range(3)]}

# A collector process killed -9 in the middle of its append: the frame of the batch is written and fsynced,
# the index row is not committed yet, so the client gets no answer (and will send the batch again).
KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import orjson
    from starlette.testclient import TestClient
    from headwater.log.embedded import EmbeddedLog
    from headwater.server import ServerConfig, create_app

    write_frame, write_tx = EmbeddedLog._write_frame, EmbeddedLog._write_tx
    armed = []

    def frame_then_arm(self, info, *args, **kwargs):
        result = write_frame(self, info, *args, **kwargs)
        if info.name == "events":
            armed.append(True)
        return result

    def die_before_commit(self, *args, **kwargs):
        if armed:
            os.kill(os.getpid(), signal.SIGKILL)
        return write_tx(self, *args, **kwargs)

    # A collector worker (as `headwater up --workers 2` runs): the survivor owns the SQL service.
    config = ServerConfig(log_url=sys.argv[1], role="collector", primary_url="http://127.0.0.1:9")
    with TestClient(create_app(config), base_url="http://127.0.0.1:8088") as client:
        EmbeddedLog._write_frame, EmbeddedLog._write_tx = frame_then_arm, die_before_commit
        client.post("/v1/batch", content=sys.argv[2])
    """
)


# Finding (chaos, kill -9 of the primary under --workers 2; 3 doubled in 36,480 events): the other live process
# read back other processes' appends before taking the partition lock, then its append recovered the killed writer's
# unindexed frame and wrote the retry after it.
def test_a_retry_after_a_writer_killed_mid_append_is_stored_once(tmp_path: Path) -> None:
    log_url = str(tmp_path / "log")
    with TestClient(create_app(ServerConfig(log_url=log_url)), base_url="http://127.0.0.1:8088") as survivor:  # the other worker, already serving
        killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, log_url, orjson.dumps(BATCH).decode()],
                                capture_output=True, timeout=120)
        assert killed.returncode == -9, killed.stderr.decode()[-2000:]
        # The Segment client got no answer: it sends the same batch again, to the process still serving.
        assert survivor.post("/v1/batch", json=BATCH).status_code == 200
    with open_log(log_url) as log:
        fetched = log.read("events", 0, 0)
        stored = Counter(orjson.loads(v)["messageId"] for v in fetched.records.column("value").to_pylist())
    assert stored == {"m-0": 1, "m-1": 1, "m-2": 1}
