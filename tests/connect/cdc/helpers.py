"""Helpers of the CDC tests: a database per test on the machine's servers, reading change events back."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg2
import psycopg2.errors
import pymysql
import pytest

from headwater.log import Log
from tests.databases import HOST, MARIADB_PORT, POSTGRES_PORT

ROOT = Path(__file__).resolve().parents[3]
PG_ADMIN = f"host={HOST} port={POSTGRES_PORT} user=postgres dbname=postgres connect_timeout=5"


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def postgres_database() -> Iterator[str]:
    """A new database on the local PostgreSQL with logical decoding; its slots and the database are dropped after."""

    try:
        admin = psycopg2.connect(PG_ADMIN)
    except psycopg2.Error as exc:
        skip_or_fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable ({exc}); run scripts/services.sh")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SHOW wal_level")
        if cur.fetchone()[0] != "logical":
            skip_or_fail("PostgreSQL runs without wal_level=logical; run scripts/services.sh as root")
        name = unique("hw_cdc")
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        deadline = time.monotonic() + 30
        with admin.cursor() as cur:
            while True:  # a slot's walsender ends a moment after its client: retry until the slots are gone
                try:
                    cur.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                                "WHERE database = %s AND active_pid IS NOT NULL", (name,))
                    cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                                "WHERE database = %s", (name,))
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    break
                except psycopg2.errors.ObjectInUse:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
        admin.close()


def mariadb_database() -> Iterator[str]:
    """A new database on the local MariaDB with the binlog in ROW format; dropped after."""

    try:
        admin = pymysql.connect(host=HOST, port=MARIADB_PORT, user="root", password="", autocommit=True,
                                connect_timeout=5)
    except pymysql.err.Error as exc:
        skip_or_fail(f"MariaDB on 127.0.0.1:3306 is not reachable ({exc}); run scripts/services.sh")
    with admin.cursor() as cur:
        cur.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_metadata")
        if cur.fetchone() != (1, "ROW", "FULL"):
            skip_or_fail("MariaDB runs without the binlog in ROW format with full metadata; run scripts/services.sh "
                         "as root")
        name = unique("hw_cdc")
        cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def read_topic(log: Log, topic: str) -> list[tuple[Any, Any]]:
    """(key, value) of every record of ``topic`` (JSON decoded; None stays None)."""
    if topic not in log.list_topics():
        return []
    out: list[tuple[Any, Any]] = []
    for partition in range(log.describe_topic(topic).partitions):
        position = log.beginning_offset(topic, partition)
        while position < log.end_offset(topic, partition):
            fetched = log.read(topic, partition, position)
            for key, value in zip(fetched.records.column("key").to_pylist(),
                                  fetched.records.column("value").to_pylist(), strict=True):
                out.append((None if key is None else orjson.loads(key), None if value is None else orjson.loads(value)))
            position = fetched.next_offset
    return out


def json_converters(schemas: bool = False) -> dict[str, str]:
    enabled = "true" if schemas else "false"
    return {"key.converter": "org.apache.kafka.connect.json.JsonConverter", "key.converter.schemas.enable": enabled,
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": enabled}


class HeadwaterUp:
    """``headwater up`` as a subprocess on a free port over ``log_dir``: started, killed with SIGKILL, started again."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.log_dir = work / "log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout_s: float = 60.0) -> None:
        self.starts += 1
        out = open(self.work / f"server-{self.starts}.out", "wb")  # noqa: SIM115 - the child keeps it
        cmd = [sys.executable, "-m", "headwater.cli", "up", "--log", str(self.log_dir), "--port", str(self.port),
               "--log-level", "warning", "--connect-files-dir", str(self.work), "--connect-allow-host", "127.0.0.1"]
        self.proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out,
                                     stderr=subprocess.STDOUT)
        out.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"headwater up exited: {self.output()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthcheck", timeout=1.0).text == "Alive":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("headwater up did not serve in time")

    def output(self) -> str:
        return (self.work / f"server-{self.starts}.out").read_text(errors="replace")

    def create(self, name: str, config: dict[str, str]) -> None:
        response = httpx.post(self.url + "/connectors", json={"name": name, "config": config}, timeout=30)
        assert response.status_code == 201, response.text

    def status(self, name: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/connectors/{name}/status", timeout=10).json())

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
