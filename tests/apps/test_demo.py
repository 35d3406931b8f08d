"""``headwater demo`` end to end: the server and every app start, each app's tables fill, Ctrl-C stops it all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg2
import pytest

from headwater.log import open_log

ROOT = Path(__file__).resolve().parents[2]
#: One table per app that must have rows once its generators run.
FILLED = {"website": "VISIT_LEADERBOARD", "auditlog": "AUDIT_STATS", "clickstream": "EVENTS_PER_MIN",
          "collector": "EVENTS_BY_TYPE"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rows(url: str, table: str) -> int:
    try:
        response = httpx.post(f"{url}/query", timeout=10, json={"ksql": f"SELECT * FROM {table};"},
                              headers={"Content-Type": "application/vnd.ksql.v1+json"})
    except httpx.HTTPError:
        return 0
    return sum(1 for item in response.json() if "row" in item) if response.status_code == 200 else 0


@pytest.mark.slow  # about a minute: the server, four apps and their generators
def test_demo_starts_every_app_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}, "PYTHONPATH": str(ROOT)}
    demo = subprocess.Popen([sys.executable, "-m", "headwater", "demo", "--log", str(tmp_path / "data"), "--port",
                             str(port), "--seconds", "300", "--traffic-interval-s", "0.5"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            # started as a script's background job is: SIGINT ignored, Ctrl-C must still stop it
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 180
        waiting = dict(FILLED)
        while waiting and time.monotonic() < deadline and demo.poll() is None:
            waiting = {app: table for app, table in waiting.items() if _rows(url, table) == 0}
            time.sleep(1)
        assert not waiting, f"no rows in {waiting}"
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        output, _ = demo.communicate(timeout=90)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 0, output
    for name in FILLED:
        assert f"/ui/dashboards/{'clickstream-app' if name == 'clickstream' else name}" in output
    assert "A pull query" in output and f"headwater sql {url}" in output and "Demo stopped." in output
    with socket.socket() as sock:  # the server is gone: its port is free again
        sock.bind(("127.0.0.1", port))


@pytest.mark.slow  # about a minute
def test_demo_once_stops_when_every_app_has_data(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "headwater", "demo", "--once", "--log", str(tmp_path / "data"),
                           "--port", str(_free_port()), "--seconds", "240"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0 and "Every app has data." in done.stdout, done.stdout + done.stderr


def _demo_slot() -> list[str]:
    """The cdc app's replication slot, when it exists (the demo's PostgreSQL database is ``postgres``)."""
    with psycopg2.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5") as conn, \
            conn.cursor() as cur:
        cur.execute("SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'headwater_maf'")
        rows = [r[0] for r in cur.fetchall()]
    conn.close()
    return rows


@pytest.mark.slow  # about two minutes: two demos
def test_a_stopped_demo_drops_its_slot_and_a_restarted_one_streams_again(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}, "PYTHONPATH": str(ROOT)}
    data = tmp_path / "data"
    topic = "postgres.maf.tv_series_ids"

    def demo(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "headwater", "demo", "--log", str(data), "--port",
                               str(_free_port()), *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=400)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    first = demo("--once", "--seconds", "240")
    if "cdc: Database changes" not in first:
        pytest.skip("the demo did not start the cdc app (MariaDB or PostgreSQL does not answer)")
    assert "replication slot headwater_maf dropped" in first and _demo_slot() == []
    with open_log(str(data)) as log:
        before = log.end_offset(topic, 0)
    second = demo("--seconds", "20")  # the producers write every 2 s: the new slot streams their changes
    assert "replication slot headwater_maf dropped" in second and _demo_slot() == []
    with open_log(str(data)) as log:
        assert log.end_offset(topic, 0) > before
