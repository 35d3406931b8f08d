"""Soak: the clickstream demo's statements under a steady rate of clicks for a long time; memory and latency.

A real ``headwater up`` runs the clickstream demo's whole statements.sql (3
sources, 11 persistent queries: joins, tumbling, hopping and session windows).
Users and codes come from ``headwater generate``; clicks from the clickstream
generator are posted to the topic API every second at ``--rate`` per second,
stamped with the current time, so windows open and close as in production.

Sampled each minute: the server's RSS (every 10 s, the last sample of the
minute reported), the rows and DuckDB memory its aggregations' state holds
(/metrics), and the end-to-end latency of each second's batch, from its
POST until the join's output (USER_CLICKSTREAM, one row per click) holds it.
The last line is one JSON object: RSS per minute, the memory slope after the
warm-up (least squares over the samples, MB per minute), the slope of the
state's rows and of the heap beside the state (the seed's statements name no
RETENTION, so their windows are kept a day, as ksqlDB keeps them: the state
grows all day by design), latency p50/p99 per minute, and a ceiling measured
in the same run: DuckDB computing the per-minute counts of every click in one
batch query.

    python -m bench.soak --minutes 60 --rate 100
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import numpy as np
import psutil
import pyarrow as pa
from prometheus_client.parser import text_string_to_metric_families

from headwater.datagen.clickstream import generate

ROOT = Path(__file__).resolve().parents[1]
STATEMENTS = ROOT / "tests" / "sql" / "data" / "clickstream_statements.sql"
OUTPUT = "USER_CLICKSTREAM"
USERS = 100
#: Seconds between two RSS samples (the slope is fitted to all of them after the warm-up).
SAMPLE_S = 10
logger = logging.getLogger("bench.soak")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(log_dir: Path, port: int, out: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    for quickstart, count in (("clickstream_codes", 50), ("clickstream_users", USERS)):
        subprocess.run([sys.executable, "-m", "headwater.cli", "generate", quickstart, "--count", str(count),
                        "--log", str(log_dir), "--seed", "3"], check=True, capture_output=True, env=env, timeout=300)
    with open(out, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "headwater.cli", "up", "--log", str(log_dir), "--port",
                                 str(port), "--log-level", "warning", "--ksql-property",
                                 "auto.offset.reset=earliest"], env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"headwater up exited with {proc.returncode}: {out.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).text == "Alive":
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("headwater up did not answer within 120 s")


def rss_mb(proc: subprocess.Popen[bytes]) -> float:
    process = psutil.Process(proc.pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def anon_mb(proc: subprocess.Popen[bytes]) -> float:
    """RssAnon of the server and its children in MiB: the heap (Python, Arrow, DuckDB), without the log
    segments mapped from the page cache (RssFile, which the kernel may drop)."""
    total = 0.0
    for pid in [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


class LatencyProbe(threading.Thread):
    """Polls the output topic's end offsets; a batch's latency ends when the output holds all its clicks."""

    def __init__(self, url: str) -> None:
        super().__init__(name="latency-probe", daemon=True)
        self.url = url
        self.pending: list[tuple[float, int, int]] = []  # (sent at, clicks up to this batch, minute)
        self.latencies: dict[int, list[float]] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def sent(self, at: float, cumulative: int, minute: int) -> None:
        with self.lock:
            self.pending.append((at, cumulative, minute))

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stopping.is_set():
                try:
                    described = client.get(f"{self.url}/topics/{OUTPUT}")
                except httpx.HTTPError:
                    self.stopping.wait(0.05)
                    continue
                if described.status_code == 200:
                    out = sum(p["end_offset"] for p in described.json()["partitions"])
                    now = time.monotonic()
                    with self.lock:
                        while self.pending and self.pending[0][1] <= out:
                            at, _, minute = self.pending.pop(0)
                            self.latencies.setdefault(minute, []).append((now - at) * 1000)
                self.stopping.wait(0.05)


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 2:
        return 0.0
    minutes = np.array([t / 60 for t, _ in samples])
    mb = np.array([m for _, m in samples])
    return float(np.polyfit(minutes, mb, 1)[0])


@dataclass(frozen=True)
class Sample:
    """One sample: seconds since the start, the server's RSS and RssAnon (MiB), and what its queries' state
    holds by /metrics: rows (``headwater_query_state_rows``) and MiB of DuckDB memory (``_state_bytes``)."""

    t: float
    rss: float
    anon: float
    state_rows: int
    state_mb: float


def take_sample(t: float, proc: subprocess.Popen[bytes], url: str) -> Sample:
    rows, held = 0.0, 0.0
    try:
        text = httpx.get(f"{url}/metrics", timeout=10).text
    except httpx.HTTPError:
        text = ""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "headwater_query_state_rows":
                rows += sample.value
            elif sample.name == "headwater_query_state_bytes":
                held += sample.value
    return Sample(t, rss_mb(proc), anon_mb(proc), int(rows), held / 2**20)


def ceiling(values: list[bytes]) -> dict[str, float]:
    """DuckDB counting the same clicks per user per minute in one batch query."""
    table = pa.table({"value": pa.array([v.decode() for v in values])})
    con = duckdb.connect()
    con.register("clicks", table)
    started = time.perf_counter()
    con.execute("SELECT json_extract(value, '$.userid')::INT AS u, json_extract(value, '$._time')::BIGINT // 60000 "
                "AS m, count(*) FROM clicks GROUP BY ALL").fetchall()
    seconds = time.perf_counter() - started
    con.close()
    return {"duckdb_batch_s": round(seconds, 3), "duckdb_records_per_s": round(len(values) / max(seconds, 1e-9))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=100, help="clicks per second")
    parser.add_argument("--warmup-minutes", type=float, default=None, help="default: a sixth of the run, >= 1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    warmup = args.warmup_minutes if args.warmup_minutes is not None else max(1.0, args.minutes / 6)
    work = Path(tempfile.mkdtemp(prefix="headwater-soak-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(work / "log", port, work / "server.out")
    probe = LatencyProbe(url)
    samples: list[Sample] = []
    per_minute: list[dict[str, float]] = []
    sent_values: list[bytes] = []
    try:
        httpx.post(f"{url}/topics", json={"name": "clickstream", "partitions": 1}).raise_for_status()
        response = httpx.post(f"{url}/ksql", json={"ksql": STATEMENTS.read_text()}, timeout=120)
        if response.status_code != 200:
            raise RuntimeError(f"the clickstream statements were refused: {response.text[:1000]}")
        probe.start()
        started = time.monotonic()
        next_tick, next_sample, sent, second = started, started, 0, 0
        with httpx.Client(timeout=60) as client:
            while (now := time.monotonic()) < started + args.minutes * 60:
                if now >= next_sample:
                    samples.append(take_sample(now - started, proc, url))
                    next_sample += SAMPLE_S
                    minute = int((now - started) // 60)
                    if minute > len(per_minute):  # a wall-clock minute ended: its figures
                        per_minute.append(summary(len(per_minute), samples, probe))
                        logger.info("minute %d: %s", len(per_minute), json.dumps(per_minute[-1]))
                if now < next_tick:
                    time.sleep(max(0.0, min(next_tick, next_sample) - now))
                    continue
                batch = generate(args.rate, seed=second, users=USERS, rate_per_s=args.rate,
                                 start_ms=time.time_ns() // 1_000_000, disorder_ms=0)
                values = batch.column("value").to_pylist()
                records = [{"key": k.decode(), "value": v.decode(), "timestamp": ts} for ts, k, v in
                           zip(batch.column("timestamp").to_pylist(), batch.column("key").to_pylist(), values,
                               strict=True)]
                at = time.monotonic()
                client.post(f"{url}/topics/clickstream/messages", json={"records": records}).raise_for_status()
                sent += len(records)
                sent_values.extend(values)
                probe.sent(at, sent, int((at - started) // 60))
                second += 1
                next_tick += 1
        samples.append(take_sample(time.monotonic() - started, proc, url))
        probe_deadline = time.monotonic() + 60
        while probe.pending and time.monotonic() < probe_deadline:
            time.sleep(0.2)
        while len(per_minute) < math.ceil(args.minutes):
            per_minute.append(summary(len(per_minute), samples, probe))
            logger.info("minute %d: %s", len(per_minute), json.dumps(per_minute[-1]))
    finally:
        probe.stopping.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    after_warmup = [(x.t, x.rss) for x in samples if x.t >= warmup * 60]
    anon_after_warmup = [(x.t, x.anon) for x in samples if x.t >= warmup * 60]
    # what grows beside the state the windows keep (the seed's statements keep a day of windows, as ksqlDB)
    beside_state = [(x.t, x.anon - x.state_mb) for x in samples if x.t >= warmup * 60]
    state_rows = [(x.t, float(x.state_rows)) for x in samples if x.t >= warmup * 60]
    all_latencies = [v for values in probe.latencies.values() for v in values]
    print(json.dumps({
        "minutes": args.minutes, "rate_per_s": args.rate, "inputs": sent, "outputs_pending": len(probe.pending),
        "warmup_minutes": warmup, "sample_s": SAMPLE_S,
        "memory_slope_mb_per_min": round(slope_mb_per_min(after_warmup), 3),
        "anon_slope_mb_per_min": round(slope_mb_per_min(anon_after_warmup), 3),
        "state_rows_per_min": round(slope_mb_per_min(state_rows)),
        "state_mb_last": round(samples[-1].state_mb, 1),
        "anon_beside_state_slope_mb_per_min": round(slope_mb_per_min(beside_state), 3),
        "rss_mb_after_warmup_min": round(min(m for _, m in after_warmup), 1) if after_warmup else None,
        "rss_mb_after_warmup_max": round(max(m for _, m in after_warmup), 1) if after_warmup else None,
        "rss_mb_first": round(samples[0].rss, 1), "rss_mb_last": round(samples[-1].rss, 1),
        "latency_ms_p50": round(float(np.percentile(all_latencies, 50)), 1) if all_latencies else None,
        "latency_ms_p99": round(float(np.percentile(all_latencies, 99)), 1) if all_latencies else None,
        # recomputed now that every batch's latency is known (the log lines had those seen by then)
        "per_minute": [summary(m, samples, probe) for m in range(len(per_minute))], **ceiling(sent_values),
    }))


def summary(minute: int, samples: list[Sample], probe: LatencyProbe) -> dict[str, float]:
    """Minute ``minute`` (0-based): the last RSS sample taken in it, the latencies of the batches sent in it."""
    with probe.lock:
        latencies = list(probe.latencies.get(minute, []))
    inside = [s for s in samples if s.t < (minute + 1) * 60] or samples
    return {"minute": minute + 1, "rss_mb": round(inside[-1].rss, 1), "anon_mb": round(inside[-1].anon, 1),
            "state_rows": inside[-1].state_rows, "state_mb": round(inside[-1].state_mb, 1),
            "p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else -1.0,
            "p99_ms": round(float(np.percentile(latencies, 99)), 1) if latencies else -1.0}


if __name__ == "__main__":
    main()
