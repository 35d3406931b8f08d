"""Collector load: POST /v1/batch (100 events each) and single /v1/track requests against `headwater up`.

The server runs as a subprocess on 127.0.0.1 (a free port) with its own
temporary embedded log; the load comes from one asyncio client (aiohttp,
keep-alive connections) on the same machine, so client and server share the
cores. Every event has its own messageId (none is de-duplicated away), and a
200 means the append is durable. Each phase is bounded in requests and time.

Usage: python -m bench.collector_load [--batches N] [--singles N] [--concurrency N] [--seconds S] [--workers N]
The last line printed is one JSON object:
{"batch_events_per_s", "single_requests_per_s", "p50_ms", "p99_ms", ...}
(p50/p99: latency of the batch requests; single_p50_ms/single_p99_ms: of the single ones.)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import psutil
import numpy as np
import orjson

WRITE_KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def track(i: int, user: int) -> dict[str, object]:
    return {
        "type": "track", "messageId": str(uuid.uuid4()), "userId": f"user-{user}", "event": "Product Viewed",
        "timestamp": "2026-11-22T09:00:00.000Z",
        "properties": {"product_id": f"p-{i % 977}", "price": (i % 100) + 0.99, "currency": "USD"},
        "context": {"library": {"name": "bench", "version": "1"}, "ip": "127.0.0.1"},
    }


async def run_phase(url: str, bodies: list[bytes], concurrency: int, seconds: float) -> tuple[int, float, list[float]]:
    """Post the bodies with ``concurrency`` keep-alive connections; (requests done, elapsed s, latencies s)."""
    auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    latencies: list[float] = []
    next_index = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal next_index
            while next_index < len(bodies) and time.perf_counter() < deadline:
                body = bodies[next_index]
                next_index += 1
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"{url}: HTTP {resp.status}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies), elapsed, latencies


def start_server(root: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "headwater.cli", "up", "--log", root, "--port", str(port),
           "--write-key", WRITE_KEY, "--log-level", "warning"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            if workers == 1:
                return proc
            # The supervisor starts the collector workers once the primary answers: wait for them too.
            servers = [c for c in psutil.Process(proc.pid).children() if "--role" in c.cmdline()]
            if len(servers) == workers:
                time.sleep(3)  # let the last ones finish their start (imports, de-dupe rebuild)
                return proc
            time.sleep(0.2)
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the server exited on start") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start within 60 s")


def _cpu(processes: list[psutil.Process]) -> float:
    """CPU seconds (user + system) used so far by the server's processes."""
    total = 0.0
    for p in processes:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=6000, help="batch requests (100 events each) at most")
    parser.add_argument("--singles", type=int, default=30000, help="single /v1/track requests at most")
    parser.add_argument("--concurrency", type=int, default=64, help="keep-alive connections")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit of each phase")
    # Two server processes by default, so the server can use both cores of the reference machine.
    parser.add_argument("--workers", type=int, default=2, help="server processes (headwater up --workers)")
    args = parser.parse_args()

    n = 0
    batch_bodies = []
    for b in range(args.batches):
        events = [track(n + i, (b * 7 + i) % 5000) for i in range(100)]
        n += 100
        batch_bodies.append(orjson.dumps({"batch": events, "sentAt": "2026-11-22T09:00:01.000Z"}))
    single_bodies = [orjson.dumps(track(i, i % 5000)) for i in range(args.singles)]

    root = tempfile.mkdtemp(prefix="hw-bench-collector-")
    port = free_port()
    proc = start_server(root, port, args.workers)
    try:
        base = f"http://127.0.0.1:{port}"
        # Warm up (imports, first appends) outside the timed phases.
        asyncio.run(run_phase(base + "/v1/batch", batch_bodies[:20], 4, 10))
        server = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        cpu_before, client_before = _cpu(server), time.process_time()
        done_b, secs_b, lat_b = asyncio.run(run_phase(base + "/v1/batch", batch_bodies[20:], args.concurrency,
                                                      args.seconds))
        server_cpu_b, client_cpu_b = _cpu(server) - cpu_before, time.process_time() - client_before
        done_s, secs_s, lat_s = asyncio.run(run_phase(base + "/v1/track", single_bodies, args.concurrency,
                                                      args.seconds))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
    lb, ls = np.array(lat_b) * 1000, np.array(lat_s) * 1000
    result = {
        "batch_events_per_s": round(done_b * 100 / secs_b),
        "single_requests_per_s": round(done_s / secs_s),
        "p50_ms": round(float(np.percentile(lb, 50)), 2),
        "p99_ms": round(float(np.percentile(lb, 99)), 2),
        "single_p50_ms": round(float(np.percentile(ls, 50)), 2),
        "single_p99_ms": round(float(np.percentile(ls, 99)), 2),
        "batch_server_cpu_per_s": round(server_cpu_b / secs_b, 2),
        "batch_client_cpu_per_s": round(client_cpu_b / secs_b, 2),
        "batch_requests": done_b,
        "single_requests": done_s,
        "concurrency": args.concurrency,
        "workers": args.workers,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
