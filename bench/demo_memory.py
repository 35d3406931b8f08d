"""Memory of ``headwater demo`` over time: the server's RSS sampled every 30 s while every app runs.

``python -m bench.demo_memory [--minutes 10] [--interval-s 30]`` starts the demo
on a temporary directory and a free port, samples the resident memory of the
demo process and of its server (``headwater up``, the child that runs the
queries and connectors) every interval, then stops it with SIGINT (Ctrl-C).
The windows of the apps close within a minute (5 s, 30 s, 60 s; the sessions
after 30 s of inactivity; one-day windows keep two days), so memory should
stop growing after the first minutes: ``growth_second_half_mb`` is the
server's RSS change over the second half of the run. Last line: one JSON object.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval-s", type=float, default=30.0)
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    workdir = tempfile.mkdtemp(prefix="headwater-demo-memory-")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}, "PYTHONPATH": str(ROOT)}
    demo = subprocess.Popen([sys.executable, "-m", "headwater", "demo", "--log", os.path.join(workdir, "data"),
                             "--port", str(port)], cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    try:
        while time.monotonic() - started < args.minutes * 60 and demo.poll() is None:
            server = next(iter(children(demo.pid)), None)
            sample = {"t_s": round(time.monotonic() - started), "demo_mb": round(rss_mb(demo.pid), 1),
                      "server_mb": round(rss_mb(server), 1) if server else 0.0,
                      "server_anon_mb": round(rss_mb(server, "RssAnon"), 1) if server else 0.0,
                      "server_file_mb": round(rss_mb(server, "RssFile"), 1) if server else 0.0}
            samples.append(sample)
            print(json.dumps(sample), flush=True)
            time.sleep(args.interval_s)
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(120)
        except subprocess.TimeoutExpired:
            demo.kill()
    half = [s["server_mb"] for s in samples[len(samples) // 2:]]
    anon = [s["server_anon_mb"] for s in samples[len(samples) // 2:]]
    print(json.dumps({
        "minutes": args.minutes, "interval_s": args.interval_s, "samples": len(samples),
        "server_mb_first": samples[1]["server_mb"] if len(samples) > 1 else None,
        "server_mb_max": max(s["server_mb"] for s in samples) if samples else None,
        "server_mb_last": samples[-1]["server_mb"] if samples else None,
        "growth_second_half_mb": round(half[-1] - half[0], 1) if len(half) > 1 else None,
        "anon_growth_second_half_mb": round(anon[-1] - anon[0], 1) if len(anon) > 1 else None,
        "demo_exit_code": demo.returncode,
    }))


if __name__ == "__main__":
    main()
