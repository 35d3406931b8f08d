"""The pipeline under chaos: a real ``headwater up --workers N`` (collector + engine + connectors) on one port.

Its statements: a stream over the collector's ``events`` topic, a CSAS that keeps
the clicks (rowtime from the event's own ``properties.ts``), a windowed CTAS
counting and summing clicks per user per 10 s, and a JDBC sink upserting that
table into a database. Output goes to a file, not a pipe: a pipe nobody reads
fills up and blocks the server, which would look like a hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa

from headwater.connect.jdbc_dialect import sqlalchemy_url
from tests.server.server_process import ROOT, free_port

WINDOW_MS = 10_000
WRITE_KEY = "chaos-key"
TABLE = "PER_USER"
CONNECTOR = "chaos_jdbc"


def statements(db_url: str) -> str:
    return f"""
    CREATE STREAM events_raw (`userId` VARCHAR, `event` VARCHAR, `messageId` VARCHAR,
        properties STRUCT<ts BIGINT, n BIGINT>) WITH (kafka_topic='events', value_format='JSON');
    CREATE STREAM clicks WITH (kafka_topic='chaos_clicks', partitions=1, timestamp='TS') AS
        SELECT `userId` AS uid, `messageId` AS mid, properties->ts AS ts, properties->n AS n
        FROM events_raw WHERE `event` = 'click' EMIT CHANGES;
    CREATE TABLE per_user AS SELECT uid AS K, AS_VALUE(uid) AS USERNAME, WINDOWSTART AS EVENT_TS,
        COUNT(*) AS C, SUM(n) AS TOTAL
        FROM clicks WINDOW TUMBLING (SIZE {WINDOW_MS // 1000} SECONDS) GROUP BY uid EMIT CHANGES;
    CREATE SINK CONNECTOR {CONNECTOR} WITH (
        'connector.class'='io.confluent.connect.jdbc.JdbcSinkConnector', 'tasks.max'='1',
        'topics'='{TABLE}', 'connection.url'='{db_url}', 'auto.create'='true',
        'insert.mode'='upsert', 'pk.mode'='record_value', 'pk.fields'='USERNAME,EVENT_TS',
        'errors.retry.timeout'='-1',
        'key.converter'='org.apache.kafka.connect.converters.ByteArrayConverter',
        'value.converter'='org.apache.kafka.connect.json.JsonConverter',
        'value.converter.schemas.enable'='false');
    """


class Server:
    """``headwater up`` on a fixed port and log directory, started again after every kill."""

    def __init__(self, work: Path, workers: int) -> None:
        self.work = work
        self.log_dir = work / "log"
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout_s: float = 90.0) -> None:
        """Start and wait until every process serves (the primary and each collector worker)."""
        self.starts += 1
        out = open(self.work / f"server-{self.starts}.out", "wb")  # noqa: SIM115 - the child keeps it
        cmd = [sys.executable, "-m", "headwater.cli", "up", "--log", str(self.log_dir), "--port", str(self.port),
               "--log-level", "warning", "--write-key", WRITE_KEY, "--workers", str(self.workers),
               "--ksql-property", "auto.offset.reset=earliest",
               # The sinks write under the test's directory and reach the local test databases.
               "--connect-files-dir", str(self.work), "--connect-allow-host", "127.0.0.1"]
        self.proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out,
                                     stderr=subprocess.STDOUT)
        out.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerCrashed(f"headwater up exited with {self.proc.returncode}: {self.output()[-2000:]}")
            if len(self.children()) == self.workers and self._healthy():
                return
            time.sleep(0.05)
        raise ServerHung(f"headwater up did not serve within {timeout_s} s")

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthcheck", timeout=1.0).text == "Alive"
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return (self.work / f"server-{self.starts}.out").read_text(errors="replace")

    def children(self) -> dict[int, str]:
        """pid -> role of the supervisor's live children (one ``primary``, the ``collector`` workers)."""
        if self.proc is None or self.workers == 1:
            return {self.proc.pid: "primary"} if self.proc is not None and self.proc.poll() is None else {}
        try:
            kids = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return {}
        roles = {}
        for kid in kids:
            try:
                cmdline = kid.cmdline()
            except psutil.Error:
                continue
            if "--role" in cmdline:
                roles[kid.pid] = cmdline[cmdline.index("--role") + 1]
        return roles

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, victim: str) -> None:
        """kill -9 of ``victim``: ``primary``, ``collector`` or ``all`` (the supervisor and every child at once)."""
        assert self.proc is not None
        children = self.children()
        if victim == "all":
            pids = [self.proc.pid, *children]
        else:
            pids = [pid for pid, role in children.items() if role == victim][:1] or [self.proc.pid]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.reap(children)

    def reap(self, children: dict[int, str], timeout_s: float = 40.0) -> None:
        """Wait until the supervisor and ``children`` are gone (the supervisor stops the rest when one dies)."""
        assert self.proc is not None
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired as exc:
            self.proc.kill()
            self.proc.wait()
            raise ServerHung(f"the supervisor did not stop within {timeout_s} s after a child died") from exc
        procs = [psutil.Process(pid) for pid in children if psutil.pid_exists(pid)]
        _, alive = psutil.wait_procs(procs, timeout=timeout_s)
        for proc in alive:  # stopped by us, by pid, and counted as a hang
            proc.kill()
        if alive:
            raise ServerHung(f"{len(alive)} child process(es) still alive {timeout_s} s after the supervisor stopped")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        children = self.children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.reap(children)
        except ServerHung:
            pass
        return self.proc.returncode

    def ksql(self, sql: str) -> list[Any]:
        response = httpx.post(self.url + "/ksql", json={"ksql": sql}, timeout=60)
        response.raise_for_status()
        return list(response.json())

    def pull(self, sql: str) -> tuple[list[str], list[list[Any]]]:
        """A pull query through /query: the column names and the rows."""
        response = httpx.post(self.url + "/query", json={"ksql": sql}, timeout=60)
        response.raise_for_status()
        items = response.json()
        names = [c.split(" ")[0].strip("`") for c in items[0]["header"]["schema"].split(", ")]
        return names, [item["row"]["columns"] for item in items if "row" in item]


class ServerCrashed(RuntimeError):
    """A server process exited without being killed."""


class ServerHung(RuntimeError):
    """A server did not answer, start or stop in time."""


def table_state(server: Server) -> dict[tuple[str, int], tuple[int, int]]:
    """The windowed table by pull query: (user, window start) -> (count, sum)."""
    names, rows = server.pull(f"SELECT * FROM {TABLE};")
    at = {name: i for i, name in enumerate(names)}
    return {(r[at["USERNAME"]], int(r[at["EVENT_TS"]])): (int(r[at["C"]]), int(r[at["TOTAL"]])) for r in rows}


def database_state(db_url: str) -> dict[tuple[str, int], tuple[int, int]] | None:
    """The JDBC sink's table in the database; None before the sink created it."""
    engine = sa.create_engine(sqlalchemy_url(db_url))
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(TABLE):
                return None
            table = sa.Table(TABLE, sa.MetaData(), autoload_with=conn)
            return {(r.USERNAME, int(r.EVENT_TS)): (int(r.C), int(r.TOTAL)) for r in conn.execute(sa.select(table))}
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()
