"""`headwater up --workers 2`: one primary and one collector worker on the same port act as one server."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from headwater.log import open_log
from tests.server.server_process import ServerProcess


def test_two_processes_share_the_port_dedupe_and_metrics(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "log", "--workers", "2", "--write-key", "k")
    try:
        server.start()
        assert server.proc is not None
        roles = []
        for _ in range(100):  # the collector worker starts once the primary answers
            roles = [c.cmdline()[c.cmdline().index("--role") + 1] for c in psutil.Process(server.proc.pid).children()
                     if "--role" in c.cmdline()]
            if len(roles) == 2:
                break
            psutil.wait_procs([], timeout=0.1)
        assert sorted(roles) == ["collector", "primary"]
        ids = [str(uuid.uuid4()) for _ in range(40)]
        # New connections each time: the kernel spreads them over both processes.
        for i, message_id in enumerate(ids):
            body = {"userId": f"u{i}", "event": "E", "messageId": message_id}
            assert httpx.post(server.url + "/v1/track", json=body, auth=("k", "")).status_code == 200
        for i, message_id in enumerate(ids):  # re-sent: de-duplicated whichever process gets it
            body = {"userId": f"u{i}", "event": "E", "messageId": message_id}
            assert httpx.post(server.url + "/v1/track", json=body, auth=("k", "")).status_code == 200
        # Topic API and /metrics are served by the primary, through either process.
        for _ in range(6):
            listed = httpx.get(server.url + "/topics").json()["topics"]
            assert {"name": "events", "partitions": 1} in listed
        totals = []
        for _ in range(4):
            families = text_string_to_metric_families(httpx.get(server.url + "/metrics").text)
            totals.append(sum(s.value for f in families for s in f.samples
                              if s.name == "headwater_collector_requests_total" and s.labels["outcome"] == "ok"))
        assert totals == [80.0] * 4  # the sum over both processes, wherever the scrape lands
    finally:
        assert server.stop() in (0, -15)
    assert not [c for c in psutil.process_iter(["cmdline"]) if str(server.port) in " ".join(c.info["cmdline"] or [])]
    with open_log(str(tmp_path / "log")) as log:
        assert log.end_offset("events", 0) == 40


def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "log", "--workers", "2")
    children: list[psutil.Process] = []
    try:
        server.start()
        assert server.proc is not None
        for _ in range(100):
            children = [c for c in psutil.Process(server.proc.pid).children() if "--role" in c.cmdline()]
            if len(children) == 2:
                break
            psutil.wait_procs([], timeout=0.1)
        assert len(children) == 2
        server.kill()  # kill -9 of the supervisor: no code of it runs
        gone, alive = psutil.wait_procs(children, timeout=20)
        assert not alive
    finally:
        server.stop()
        for child in children:  # if the test failed: stop what it started, by pid
            if child.is_running():
                child.kill()
