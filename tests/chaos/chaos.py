"""The chaos run: Segment batches posted under load while a driver ``kill -9``s the server's processes.

The load generator posts ``/v1/batch`` as Segment's libraries do: a batch that
got no answer (connection refused or reset, a timeout) or a 5xx is sent again
with the same messageIds until it is answered 200; only a 200 acknowledges.
The driver kills at random moments (some soon after a start, while the queries
replay) the primary, a collector worker or every process at once, and starts
``headwater up`` again. At the end the server runs undisturbed until the table
and the JDBC sink converge, then the log is read directly: every acknowledged
event must be in ``events`` exactly once, every click exactly once in the CSAS
topic, and the table (pull query) and the database equal a reference computed
once in DuckDB from the acknowledged inputs.
"""

from __future__ import annotations

import collections
import itertools
import random
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pyarrow as pa

from headwater.log import open_log
from tests.chaos.pipeline import (WINDOW_MS, WRITE_KEY, Server, ServerCrashed, ServerHung, database_state, statements,
                                  table_state)

T0 = 1_700_000_000_000
USERS = [f"user{i}" for i in range(7)]
REQUEST_TIMEOUT_S = 30.0


@dataclass
class Figures:
    cycles: int = 0
    inputs: int = 0
    acknowledged: int = 0
    lost: int = 0
    doubled: int = 0
    #: Doubles whose batch was sent again after getting no answer (the finding of test_regressions.py).
    doubled_retries: int = 0
    server_errors: int = 0
    crashes: int = 0
    hangs: int = 0
    csas_lost: int = 0
    csas_doubled: int = 0
    table_mismatches: int = 0
    sink_mismatches: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def line(self) -> dict[str, Any]:
        out = asdict(self)
        out["5xx"] = out.pop("server_errors")
        keys = ("cycles", "inputs", "acknowledged", "lost", "doubled", "5xx", "crashes", "hangs", "doubled_retries",
                "csas_lost", "csas_doubled", "table_mismatches", "sink_mismatches", "seconds", "notes")
        return {k: out[k] for k in keys}


class LoadGenerator:
    """``threads`` Segment clients posting batches of 1-40 track events, retrying unanswered ones unchanged."""

    def __init__(self, url: str, seed: int, threads: int = 2) -> None:
        self.url = url
        self.rng = random.Random(seed)
        self.seq = itertools.count()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sent: dict[str, dict[str, Any]] = {}
        self.acked: set[str] = set()
        self.server_errors = 0
        self.hangs = 0
        self.refusals: list[str] = []
        #: messageId -> what each attempt of its batch met (seconds since start, outcome): why a double happened.
        self.attempts: dict[str, list[tuple[float, str]]] = {}
        self.t0 = time.monotonic()
        self.threads = [threading.Thread(target=self._run, name=f"segment-client-{i}", daemon=True)
                        for i in range(threads)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, timeout_s: float = 120.0) -> None:
        """Stop making batches; the ones in flight are retried until answered (or the timeout)."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout_s)

    def _batch(self) -> list[dict[str, Any]]:
        with self.lock:
            size = self.rng.randint(1, 40)
            events = []
            for _ in range(size):
                seq = next(self.seq)
                event = {"type": "track", "userId": self.rng.choice(USERS),
                         "event": "click" if self.rng.random() < 0.8 else "view", "messageId": f"chaos-{seq}",
                         "properties": {"ts": T0 + seq * 7, "n": self.rng.randint(1, 1000)}}
                self.sent[event["messageId"]] = event
                events.append(event)
            return events

    def _run(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=2.0), auth=(WRITE_KEY, "")) as client:
            while not self.stopping.is_set():
                batch = self._batch()
                body = orjson.dumps({"batch": batch, "sentAt": "2023-11-14T22:13:20.000Z"})
                attempts: list[tuple[float, str]] = []
                with self.lock:
                    for event in batch:
                        self.attempts[event["messageId"]] = attempts
                if self._post(client, body, attempts):
                    with self.lock:
                        self.acked.update(e["messageId"] for e in batch)

    def _post(self, client: httpx.Client, body: bytes, attempts: list[tuple[float, str]]) -> bool:
        """POST until a 200 (True); False on a 4xx or when stopped for long."""
        give_up = None
        while True:
            if self.stopping.is_set():
                give_up = give_up or time.monotonic() + 100
                if time.monotonic() > give_up:
                    return False
            try:
                response = client.post(self.url + "/v1/batch", content=body,
                                        headers={"Content-Type": "application/json"})
            except httpx.TimeoutException:
                attempts.append((round(time.monotonic() - self.t0, 2), "timeout"))
                with self.lock:
                    self.hangs += 1
                continue
            except httpx.TransportError as exc:  # the server is down or was killed mid-request: send it again
                attempts.append((round(time.monotonic() - self.t0, 2), type(exc).__name__))
                time.sleep(0.05)
                continue
            attempts.append((round(time.monotonic() - self.t0, 2), str(response.status_code)))
            if response.status_code == 200:
                return True
            if response.status_code >= 500:
                with self.lock:
                    self.server_errors += 1
                time.sleep(0.1)
                continue
            with self.lock:
                self.refusals.append(f"{response.status_code} {response.text[:200]}")
            return False


def reference(events: list[dict[str, Any]]) -> tuple[collections.Counter[str],
                                                    dict[tuple[str, int], tuple[int, int]]]:
    """The clicks' messageIds (with their count) and the windowed table, computed once in DuckDB from ``events``."""
    inputs = pa.table({"mid": [e["messageId"] for e in events], "uid": [e["userId"] for e in events],
                       "event": [e["event"] for e in events], "ts": [e["properties"]["ts"] for e in events],
                       "n": [e["properties"]["n"] for e in events]})
    con = duckdb.connect()
    con.register("inputs", inputs)
    clicks = collections.Counter({mid: int(n) for mid, n in con.execute(
        "SELECT mid, count(*) FROM inputs WHERE event = 'click' GROUP BY mid").fetchall()})
    table = {(uid, int(ws)): (int(c), int(total)) for uid, ws, c, total in con.execute(
        f"SELECT uid, ts - ts % {WINDOW_MS}, count(*), sum(n) FROM inputs WHERE event = 'click' GROUP BY ALL"
    ).fetchall()}
    con.close()
    return clicks, table


def topic_values(log_dir: Path, topic: str) -> list[dict[str, Any]]:
    values = []
    with open_log(str(log_dir)) as log:
        for partition in range(log.describe_topic(topic).partitions):
            offset = log.beginning_offset(topic, partition)
            while offset < log.end_offset(topic, partition):
                fetched = log.read(topic, partition, offset)
                values.extend(orjson.loads(v) for v in fetched.records.column("value").to_pylist())
                offset = fetched.next_offset
    return values


def mismatches(got: dict[Any, Any] | None, want: dict[Any, Any]) -> int:
    got = got or {}
    return sum(1 for k in want.keys() | got.keys() if got.get(k) != want.get(k))


def run(work: Path, db_url: str, cycles: int, seed: int, workers: int = 2) -> Figures:
    rng = random.Random(seed)
    figures = Figures()
    started = time.monotonic()
    server = Server(work, workers)
    server.start()
    server.ksql(statements(db_url))
    load = LoadGenerator(server.url, seed)
    load.start()
    kills: list[str] = []
    try:
        for _ in range(cycles):
            # Some kills land while the queries replay after a start, most under steady load.
            pause = rng.uniform(0.05, 0.6) if rng.random() < 0.3 else rng.uniform(0.5, 2.0)
            deadline = time.monotonic() + pause
            while time.monotonic() < deadline and server.alive():
                time.sleep(0.05)
            if not server.alive():
                figures.crashes += 1
                figures.notes.append(f"server exited on its own: {server.output()[-500:]}")
            else:
                victim = rng.choice(["primary", "collector", "all"]) if workers > 1 else "all"
                try:
                    kills.append(f"{time.monotonic() - load.t0:.2f} kill {victim}")
                    server.kill(victim)
                except ServerHung as exc:
                    figures.hangs += 1
                    figures.notes.append(str(exc))
            figures.cycles += 1
            _restart(server, figures)
            kills.append(f"{time.monotonic() - load.t0:.2f} serving again")
    finally:
        load.stop()
    figures.inputs = len(load.sent)
    figures.acknowledged = len(load.acked)
    figures.server_errors = load.server_errors
    figures.hangs += load.hangs
    figures.notes.extend(load.refusals[:5])
    stored = collections.Counter(v["messageId"] for v in topic_values(server.log_dir, "events"))
    figures.lost = sum(1 for m in load.acked if m not in stored)
    doubled = [m for m, count in stored.items() if count > 1]
    figures.doubled = len(doubled)
    figures.doubled_retries = sum(1 for m in doubled if any(o not in ("200", "timeout") for _, o in load.attempts[m]))
    if doubled:
        figures.notes.extend(f"doubled {m}: {load.attempts.get(m)}" for m in doubled[:3])
        figures.notes.extend(kills)
    # The queries are judged on what the log holds, each acknowledged event as often as it is stored, so that a
    # double of the collector (counted above) is not counted again as the engine's.
    expected = [load.sent[m] for m in sorted(load.acked) for _ in range(max(1, stored[m]))]
    clicks, table = reference(expected)
    try:
        # Converged, or no change for 20 s (a wrong end state stays wrong), or 180 s.
        deadline = time.monotonic() + 180
        got_table, got_db = table_state(server), database_state(db_url)
        changed = time.monotonic()
        while time.monotonic() < min(deadline, changed + 20) and not (got_table == table and got_db == table):
            time.sleep(0.5)
            now = table_state(server), database_state(db_url)
            if now != (got_table, got_db):
                changed = time.monotonic()
            got_table, got_db = now
        figures.table_mismatches = mismatches(got_table, table)
        figures.sink_mismatches = mismatches(got_db, table)
    finally:
        server.stop()
    csas = collections.Counter(v["MID"] for v in topic_values(server.log_dir, "chaos_clicks"))
    figures.csas_lost = sum(1 for m in clicks if m not in csas)
    figures.csas_doubled = sum(1 for m, n in csas.items() if n > clicks[m])
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


def _restart(server: Server, figures: Figures) -> None:
    for _attempt in range(3):
        try:
            server.start()
            return
        except ServerCrashed as exc:
            figures.crashes += 1
            figures.notes.append(str(exc)[-500:])
        except ServerHung as exc:
            figures.hangs += 1
            figures.notes.append(str(exc))
            server.kill("all")
    raise ServerCrashed("headwater up could not be started again three times in a row")
