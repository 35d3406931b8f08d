"""``make fuzz``: one pytest process per fuzz target, all at once, each with its share of FUZZ_INPUTS; one JSON line.

Each job runs one target's test (FUZZ_TARGET) with its share of FUZZ_INPUTS
(``harness.WEIGHTS``), on a server of its own for the HTTP targets: every
target advances from the start (the figures so far cover them all), and the
memory a target leaves behind is its own. The regression tests run in the
"sql" job. A job's output goes to ``<FUZZ_LOG_DIR>/<target>.log``
and its figures so far to ``<target>.progress`` every minute; the last line
printed is the sum of the jobs' figures (memory per target). Exits non-zero when a
job failed.

    FUZZ_INPUTS=1000000 python -m tests.fuzz.parallel [pytest options]
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

from tests.fuzz.harness import WEIGHTS

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
    """The jobs' figures summed; inputs, seconds, CPU seconds and RSS per target."""
    total: dict[str, Any] = {"suite": "fuzz", "jobs": len(lines), **{k: sum(line[k] for line in lines) for k in SUMMED}}
    for key in ("per_target", "seconds", "cpu_seconds"):
        merged: dict[str, float] = {}
        for line in lines:
            for target, value in line.get(key, {}).items():
                merged[target] = round(merged.get(target, 0) + value, 1)
        total[key] = merged
    for key in ("rss_before_mb", "rss_after_mb", "rss_trimmed_mb"):  # per target: each job is a process of its own
        total[key] = {target: line.get(key) for line in lines for target in line.get("per_target", {})}
    total["wall_s"] = round(wall_s, 1)
    return total


def main(argv: list[str]) -> int:
    inputs = int(os.environ.get("FUZZ_INPUTS", "1000000"))
    jobs = list(WEIGHTS)
    log_dir = Path(os.environ.get("FUZZ_LOG_DIR") or tempfile.mkdtemp(prefix="headwater-fuzz-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    running = []
    for job in jobs:
        env = {**os.environ, "FUZZ_INPUTS": str(inputs), "FUZZ_TARGET": job,
               "FUZZ_PROGRESS": str(log_dir / f"{job}.progress")}
        out = open(log_dir / f"{job}.log", "w")  # noqa: SIM115 - the child writes to it until it ends
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={log_dir / f'tmp-{job}'}",
               *argv, str(ROOT / "tests" / "fuzz")]
        running.append((subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT), out))
    print(f"fuzz: {len(jobs)} jobs (one per target) of {inputs} inputs; output and progress in {log_dir}", flush=True)
    codes = []
    for proc, out in running:
        codes.append(proc.wait())
        out.close()
    lines = []
    for job, code in zip(jobs, codes):
        output = (log_dir / f"{job}.log").read_text(errors="replace")
        line = figures_line(output)
        if line is None or code != 0:
            print(f"--- job {job} (exit {code}), last lines:\n" + "\n".join(output.splitlines()[-40:]))
        if line is not None:
            lines.append(line)
    if lines:
        print(json.dumps(combine(lines, time.monotonic() - started)))
    return 0 if len(lines) == len(jobs) and not any(codes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
