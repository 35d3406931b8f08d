"""Memory of ``headwater demo`` over time: the server's RSS sampled every 30 s while every app runs.

``python -m bench.demo_memory [--minutes 10] [--interval-s 30]`` starts the demo
on a temporary directory and a free port, samples the resident memory of the
demo process and of its server (``headwater up``, the child that runs the
queries and connectors) every interval, then stops it with SIGINT (Ctrl-C).
Each sample also times pull queries on three of the apps' tables (what a
dashboard asks for): ``pull_ms``, the slowest of the three.
The windows of the apps close within a minute (5 s, 30 s, 60 s; the sessions
after 30 s of inactivity; one-day windows keep two days), so memory should
stop growing after the first minutes: ``memory_slope_mb_per_min`` is the
least-squares slope of the server's RSS over the samples after the warm-up
(``--warmup-minutes``, default a fifth of the run), ``growth_second_half_mb``
its change over the second half. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process in MiB (0 when it is gone): VmRSS, or RssAnon (heap: Python, Arrow,
    DuckDB) and RssFile (mapped files, such as log segments read through mmap: the kernel may drop them)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def stop_orphan(pid: int) -> None:
    """Stop a server the demo left behind (SIGTERM, then SIGKILL after 30 s)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.5)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


#: Tables of three apps, asked as their dashboards ask them.
PULL_QUERIES = ("SELECT * FROM VISIT_LEADERBOARD;", "SELECT * FROM EVENTS_BY_TYPE;", "SELECT * FROM ERRORS_PER_MIN;")


def pull_ms(client: httpx.Client) -> float | None:
    """The slowest of the pull queries, in ms (None while a table is not there yet)."""
    slowest = 0.0
    for sql in PULL_QUERIES:
        started = time.perf_counter()
        try:
            response = client.post("/query", json={"ksql": sql, "streamsProperties": {}})
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        slowest = max(slowest, (time.perf_counter() - started) * 1000)
    return round(slowest, 1)


def slope_mb_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    if len(points) < 2:
        return None
    return round(float(np.polyfit([t / 60 for t, _ in points], [m for _, m in points], 1)[0]), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval-s", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=None, help="default: a fifth of the run")
    args = parser.parse_args()
    warmup = args.warmup_minutes if args.warmup_minutes is not None else args.minutes / 5
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    workdir = tempfile.mkdtemp(prefix="headwater-demo-memory-")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")},
           "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    demo = subprocess.Popen([sys.executable, "-m", "headwater", "demo", "--log", os.path.join(workdir, "data"),
                             "--port", str(port)], cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    samples: list[dict[str, float | None]] = []
    servers: set[int] = set()
    started = time.monotonic()
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        next_sample = started
        while time.monotonic() - started < args.minutes * 60 and demo.poll() is None:
            server = next(iter(children(demo.pid)), None)
            if server:
                servers.add(server)
            sample = {"t_s": round(time.monotonic() - started), "demo_mb": round(rss_mb(demo.pid), 1),
                      "server_mb": round(rss_mb(server), 1) if server else 0.0,
                      "server_anon_mb": round(rss_mb(server, "RssAnon"), 1) if server else 0.0,
                      "server_file_mb": round(rss_mb(server, "RssFile"), 1) if server else 0.0,
                      "pull_ms": pull_ms(client) if server else None}
            samples.append(sample)
            print(json.dumps(sample), flush=True)
            next_sample += args.interval_s
            time.sleep(max(0.0, next_sample - time.monotonic()))
    finally:
        client.close()
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(120)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
        for server in servers:  # the server runs in a session of its own: it outlives a killed demo
            stop_orphan(server)
    half = [s["server_mb"] for s in samples[len(samples) // 2:]]
    anon = [s["server_anon_mb"] for s in samples[len(samples) // 2:]]
    after = [s for s in samples if s["t_s"] >= warmup * 60 and s["server_mb"]]
    pulls = [s["pull_ms"] for s in after if s["pull_ms"] is not None]
    print(json.dumps({
        "minutes": args.minutes, "interval_s": args.interval_s, "samples": len(samples), "warmup_minutes": warmup,
        "memory_slope_mb_per_min": slope_mb_per_min([(s["t_s"], s["server_mb"]) for s in after]),
        "anon_slope_mb_per_min": slope_mb_per_min([(s["t_s"], s["server_anon_mb"]) for s in after]),
        "pull_ms_p50": round(float(np.percentile(pulls, 50)), 1) if pulls else None,
        "pull_ms_max": max(pulls) if pulls else None,
        "server_mb_first": samples[1]["server_mb"] if len(samples) > 1 else None,
        "server_mb_max": max(s["server_mb"] for s in samples) if samples else None,
        "server_mb_last": samples[-1]["server_mb"] if samples else None,
        "growth_second_half_mb": round(half[-1] - half[0], 1) if len(half) > 1 else None,
        "anon_growth_second_half_mb": round(anon[-1] - anon[0], 1) if len(anon) > 1 else None,
        "demo_exit_code": demo.returncode,
    }))


if __name__ == "__main__":
    main()
