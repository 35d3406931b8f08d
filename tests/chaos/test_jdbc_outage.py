"""A JDBC sink's PostgreSQL stopped for a while and started again (issue 12, item 6) while records keep coming.

The database is a private cluster (``pgcluster.py``), never the shared one. Two
sinks read the same topic into two tables, as Kafka Connect users configure them:

- ``errors.retry.timeout=-1``: the task retries the same records until the
  database is back, then the backlog drains by itself;
- the default (no retry): the task fails with the database's error in its
  status trace; once the database is back the operator restarts the failed
  task through the Connect REST API, and the backlog drains.

Both end with every produced record in their table exactly once. The outage
lasts OUTAGE_S seconds: 10 in ``make test``, 60 in ``make chaos``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chaos.conftest import profile_int
from tests.chaos.pgcluster import PrivatePostgres, postgres_bin
from tests.chaos.pipeline import Server

DATABASE = "outage"
RETRYING, FAILING = "sink_retrying", "sink_failing"


@dataclass
class Outage:
    produced: list[int]
    rows: dict[str, Counter[int]]
    #: (seconds since the database stopped, connector, connector state, task state, task trace) while it was down.
    during: list[tuple[float, str, str, str, str]] = field(default_factory=list)
    after: dict[str, Any] = field(default_factory=dict)
    restarted: int = 0
    outage_s: float = 0.0
    drain_s: float = 0.0


def sink_config(name: str, db_url: str, **extra: str) -> dict[str, str]:
    return {"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "tasks.max": "1",
            "topics": "readings", "connection.url": db_url, "table.name.format": name, "auto.create": "true",
            "insert.mode": "insert", "pk.mode": "none",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false", **extra}


def status(url: str, name: str) -> tuple[str, str, str]:
    body = httpx.get(f"{url}/connectors/{name}/status", timeout=10).json()
    task = (body.get("tasks") or [{}])[0]
    return body["connector"]["state"], task.get("state", "-"), task.get("trace", "")


class Producer(threading.Thread):
    """Posts 20 records every 0.2 s to the topic API until stopped; keeps the ids the log acknowledged."""

    def __init__(self, url: str) -> None:
        super().__init__(name="readings-producer", daemon=True)
        self.url = url
        self.stopping = threading.Event()
        self.acked: list[int] = []

    def run(self) -> None:
        next_id = 0
        while not self.stopping.is_set():
            ids = list(range(next_id, next_id + 20))
            body = {"records": [{"key": str(i), "value": {"ID": i, "V": i * 3}} for i in ids]}
            response = httpx.post(f"{self.url}/topics/readings/messages", json=body, timeout=30)
            response.raise_for_status()
            self.acked.extend(ids)
            next_id += 20
            self.stopping.wait(0.2)


def wait_rows(pg: PrivatePostgres, table: str, want: int, timeout_s: float) -> Counter[int]:
    deadline = time.monotonic() + timeout_s
    rows: Counter[int] = Counter()
    while time.monotonic() < deadline:
        try:
            rows = Counter(r[0] for r in pg.rows(DATABASE, f'SELECT "ID" FROM {table}'))  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - the table may not exist yet
            rows = Counter()
        if sum(rows.values()) >= want:
            break
        time.sleep(0.3)
    return rows


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    if postgres_bin() is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    outage_s = profile_int("OUTAGE_S", 10)
    pg = PrivatePostgres()
    server = Server(Path(tmp_path_factory.mktemp("outage")), workers=1)
    try:
        pg.init()
        pg.start()
        db_url = pg.create_database(DATABASE)
        server.start()
        assert httpx.post(server.url + "/topics", json={"name": "readings", "partitions": 1}).status_code == 200
        for name, extra in ((RETRYING, {"errors.retry.timeout": "-1", "errors.retry.delay.max.ms": "1000"}),
                            (FAILING, {})):
            response = httpx.put(f"{server.url}/connectors/{name}/config", json=sink_config(name, db_url, **extra))
            assert response.status_code in (200, 201), response.text
        producer = Producer(server.url)
        producer.start()
        wait_rows(pg, RETRYING, 100, 30)
        wait_rows(pg, FAILING, 100, 30)
        result = Outage(produced=[], rows={})
        pg.stop()
        stopped = time.monotonic()
        while time.monotonic() - stopped < outage_s:
            for name in (RETRYING, FAILING):
                result.during.append((round(time.monotonic() - stopped, 1), name, *status(server.url, name)))
            time.sleep(0.5)
        pg.start()
        result.outage_s = round(time.monotonic() - stopped, 1)
        time.sleep(2)
        producer.stopping.set()
        producer.join(30)
        back = time.monotonic()
        # What an operator does with a failed task once the cause is gone.
        if status(server.url, FAILING)[1] == "FAILED":
            response = httpx.post(f"{server.url}/connectors/{FAILING}/restart",
                                  params={"includeTasks": "true", "onlyFailed": "true"}, timeout=30)
            assert response.status_code in (200, 202, 204), response.text
            result.restarted += 1
        result.produced = producer.acked
        for name in (RETRYING, FAILING):
            result.rows[name] = wait_rows(pg, name, len(producer.acked), 120)
            result.after[name] = status(server.url, name)
        result.drain_s = round(time.monotonic() - back, 1)
        yield result
    finally:
        server.stop()
        pg.remove()


@pytest.mark.parametrize("sink", [RETRYING, FAILING])
def test_backlog_drains_with_nothing_lost_or_doubled(outage: Outage, sink: str,
                                                     figures: list[dict[str, Any]]) -> None:
    rows = outage.rows[sink]
    lost = sum(1 for i in outage.produced if i not in rows)
    doubled = sum(1 for n in rows.values() if n > 1)
    figures.append({"suite": "jdbc_outage", "sink": sink, "outage_s": outage.outage_s, "inputs": len(outage.produced),
                    "acknowledged": len(outage.produced),
                    "lost": lost, "doubled": doubled, "drain_s": outage.drain_s,
                    "operator_restarts": outage.restarted if sink == FAILING else 0})
    assert len(outage.produced) > 100
    assert (lost, doubled) == (0, 0)
    assert outage.after[sink][:2] == ("RUNNING", "RUNNING")  # recovered: nothing left failed
    assert outage.after[sink][2] == ""


def test_a_failing_sink_says_the_database_is_unreachable(outage: Outage) -> None:
    seen = [(state, task, trace) for _, name, state, task, trace in outage.during if name == FAILING]
    failed = [trace for _, task, trace in seen if task == "FAILED"]
    assert failed, seen
    # PostgreSQL's words depend on the moment of the outage the sink meets: refused when it reconnects after
    # the stop, "closed the connection" when the database went away mid-statement, "shutting down" during the stop.
    trace = failed[-1].lower()
    assert "connection" in trace and any(
        words in trace for words in ("refused", "closed the connection", "shutting down")), trace[-400:]
    assert outage.restarted == 1


def test_a_retrying_sink_says_it_is_waiting_for_the_database(outage: Outage) -> None:
    # Finding: a JDBC sink retrying a lost database (errors.retry.timeout) reported RUNNING with no trace for the
    # whole outage. Now the task stays RUNNING with the error it retries as its trace, cleared once it drains.
    seen = [(task, trace) for t, name, _, task, trace in outage.during if name == RETRYING and t > 3]
    assert seen and all(task == "RUNNING" and trace for task, trace in seen), seen[:3]
    assert "errors.retry.timeout" in seen[-1][1] and "connect" in seen[-1][1].lower(), seen[-1][1][-400:]
