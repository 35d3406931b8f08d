"""``make fuzz``: FUZZ_JOBS pytest processes over tests/fuzz, each with its share of FUZZ_INPUTS, one JSON line.

Each job is a whole fuzz run of its own (its own in-process server, its own
hypothesis seeds) on FUZZ_INPUTS / FUZZ_JOBS inputs, split over the targets as
``harness.WEIGHTS`` says. A job's output goes to ``<FUZZ_LOG_DIR>/job-<n>.log``
and its figures so far to ``job-<n>.progress`` every minute; the last line
printed is the sum of the jobs' figures (memory per job). Exits non-zero when a
job failed.

    FUZZ_INPUTS=1000000 FUZZ_JOBS=2 python -m tests.fuzz.parallel [pytest options]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SUMMED = ("inputs", "crashes", "hangs", "5xx", "known_5xx")


def figures_line(output: str) -> dict[str, Any] | None:
    """The fuzz figures a job printed last (None if it printed none)."""
    found = None
    for line in output.splitlines():
        if line.startswith('{"suite": "fuzz"'):
            found = json.loads(line)
    return found


def combine(lines: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    """The jobs' figures summed; per target the inputs and CPU seconds summed; RSS per job."""
    total: dict[str, Any] = {"suite": "fuzz", "jobs": len(lines), **{k: sum(line[k] for line in lines) for k in SUMMED}}
    for key in ("per_target", "cpu_seconds"):
        merged: dict[str, float] = {}
        for line in lines:
            for target, value in line.get(key, {}).items():
                merged[target] = round(merged.get(target, 0) + value, 1)
        total[key] = merged
    total["rss_before_mb"] = [line["rss_before_mb"] for line in lines]
    total["rss_after_mb"] = [line["rss_after_mb"] for line in lines]
    total["wall_s"] = round(wall_s, 1)
    return total


def main(argv: list[str]) -> int:
    inputs = int(os.environ.get("FUZZ_INPUTS", "1000000"))
    jobs = max(1, int(os.environ.get("FUZZ_JOBS", "2")))
    log_dir = Path(os.environ.get("FUZZ_LOG_DIR") or tempfile.mkdtemp(prefix="headwater-fuzz-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    running = []
    for job in range(jobs):
        share = inputs // jobs + (1 if job < inputs % jobs else 0)
        env = {**os.environ, "FUZZ_INPUTS": str(share), "FUZZ_JOB": str(job),
               "FUZZ_PROGRESS": str(log_dir / f"job-{job}.progress")}
        out = open(log_dir / f"job-{job}.log", "w")  # noqa: SIM115 - the child writes to it until it ends
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={log_dir / f'tmp-{job}'}",
               *argv, str(ROOT / "tests" / "fuzz")]
        running.append((subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT), out))
    print(f"fuzz: {jobs} job(s) of about {inputs // jobs} inputs; output and progress in {log_dir}", flush=True)
    codes = []
    for proc, out in running:
        codes.append(proc.wait())
        out.close()
    lines = []
    for job in range(jobs):
        output = (log_dir / f"job-{job}.log").read_text(errors="replace")
        line = figures_line(output)
        if line is None or codes[job] != 0:
            print(f"--- job {job} (exit {codes[job]}), last lines:\n" + "\n".join(output.splitlines()[-40:]))
        if line is not None:
            lines.append(line)
    if lines:
        print(json.dumps(combine(lines, time.monotonic() - started)))
    return 0 if lines and len(lines) == jobs and not any(codes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
