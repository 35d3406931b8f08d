"""Memory of a ``headwater up`` process under the load that grew it in issue 12, and after it goes idle.

Phases: started (idle), after ROUNDS batches of 60,000 small events each (fresh messageIds, so the
de-duplication index grows), after ROUNDS 3 MB events (refused as too large, kept in the dead-letter
topic), then after IDLE_S seconds of idleness. The last line is one JSON object of RSS figures (MB),
with the ceiling the de-duplication index is allowed (``--dedupe-max-ids``) for comparison.

    python -m bench.server_memory            # ROUNDS=10 IDLE_S=15 by default
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import httpx
import psutil

ROUNDS = int(os.environ.get("ROUNDS", "10"))
IDLE_S = float(os.environ.get("IDLE_S", "15"))
BATCH = 60_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(proc: psutil.Process) -> float:
    return round(proc.memory_info().rss / 1e6, 1)


def batch_body(round_no: int) -> bytes:
    events = [{"type": "track", "userId": f"u{i % 500}", "event": "Viewed", "messageId": str(uuid.uuid4()),
               "properties": {"page": f"/p/{i % 97}", "n": i, "round": round_no}} for i in range(BATCH)]
    return json.dumps({"batch": events}).encode()


def main() -> None:
    data = tempfile.mkdtemp(prefix="headwater-mem-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "headwater.cli", "up", "--log", f"{data}/log", "--port",
                               str(port), "--log-level", "warning", "--max-body-bytes", str(32 * 1024 * 1024)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    figures: dict[str, object] = {"rounds": ROUNDS, "batch_events": BATCH}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        proc = psutil.Process(server.pid)
        figures["rss_started_mb"] = rss_mb(proc)
        with httpx.Client(timeout=120) as client:
            peak = 0.0
            for r in range(ROUNDS):
                answer = client.post(f"{url}/v1/batch", content=batch_body(r),
                                     headers={"Content-Type": "application/json"})
                assert answer.status_code == 200, answer.text[:200]
                peak = max(peak, rss_mb(proc))
            figures["rss_after_batches_mb"] = rss_mb(proc)
            big = json.dumps({"userId": "u", "event": "big", "properties": {"blob": "x" * 3_000_000}}).encode()
            for _ in range(ROUNDS):
                answer = client.post(f"{url}/v1/track", content=big, headers={"Content-Type": "application/json"})
                assert answer.status_code == 400, answer.text[:200]
                peak = max(peak, rss_mb(proc))
            figures["rss_after_big_events_mb"] = rss_mb(proc)
            figures["rss_peak_mb"] = peak
        time.sleep(IDLE_S)
        figures["rss_idle_mb"] = rss_mb(proc)
        figures["idle_s"] = IDLE_S
        figures["message_ids_held"] = ROUNDS * BATCH
        figures["idle_over_started"] = round(float(figures["rss_idle_mb"]) / float(figures["rss_started_mb"]), 2)
    finally:
        server.terminate()
        server.wait(30)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
