"""Row changes in PostgreSQL and MariaDB reach a JDBC sink table equal to the source table, through kill -9s.

Debezium source -> ExtractNewRecordState -> JDBC sink (upsert, delete.enabled), all in one ``headwater up``
that is killed with SIGKILL three times while the changes are made. The source resumes from its offsets (no
change lost or doubled), the sink replays its uncommitted tail (upserts and deletes are idempotent), so the
sink table ends equal to the source table. 100,000 changes per database: slow (make test runs the short
variant in test_kill9.py: one kill, 1,000 changes).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.log import TopicPartition, open_log
from tests.connect.cdc import test_kill9 as kill9
from tests.connect.cdc.helpers import HeadwaterUp, json_converters
from tests.connect.cdc.test_kill9 import Database, sink_config, table_rows

IDS, PER_TRANSACTION, KILLS = 5000, 100, 3


databases = kill9.databases


def changes(total: int, seed: int = 15) -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Transactions of inserts, updates and deletes over ``IDS`` keys (deterministic)."""
    rng = random.Random(seed)
    present: set[int] = set()
    batch: list[tuple[str, tuple[Any, ...]]] = []
    for n in range(total):
        key = rng.randrange(IDS)
        if key not in present:
            present.add(key)
            batch.append(("INSERT INTO items (id, n, name) VALUES (%s, %s, %s)", (key, n, f"item {n}")))
        elif rng.random() < 0.75:
            batch.append(("UPDATE items SET n = %s, name = %s WHERE id = %s", (n, f"item {n}", key)))
        else:
            present.discard(key)
            batch.append(("DELETE FROM items WHERE id = %s", (key,)))
        if len(batch) == PER_TRANSACTION:
            yield batch
            batch = []
    if batch:
        yield batch


def sink_position(server: HeadwaterUp, topic: str) -> int | None:
    """The sink's committed offset in the topic (it moves while the sink catches up)."""
    with open_log(str(server.log_dir)) as log:
        return log.committed("connect-items-sink", [TopicPartition(topic, 0)]).get(TopicPartition(topic, 0))


def run(source: Database, sink: Database, work: Path, total: int) -> None:
    source.execute("CREATE TABLE items (id INT PRIMARY KEY, n INT NOT NULL, name VARCHAR(40))")
    server = HeadwaterUp(work)
    server.start()
    done = threading.Event()
    progress = [0]
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with source.conn.cursor() as cur:
                for transaction in changes(total):
                    cur.execute("BEGIN")
                    for statement, params in transaction:
                        cur.execute(statement, params)
                    cur.execute("COMMIT")
                    progress[0] += len(transaction)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            done.set()

    try:
        server.create("items-cdc", {**source.connector(), **json_converters(True), "max.batch.size": "2048"})
        server.create("items-sink", {**sink_config(source, sink, "items"), **json_converters(True)})
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        for kill in range(1, KILLS + 1):
            while progress[0] < total * kill // (KILLS + 1) and not done.is_set():
                time.sleep(0.05)
            server.kill()
            server.start()
        writer.join(1200)
        assert not errors, errors
        want = table_rows(source, "items")
        topic = source.topic.replace("counters", "items")
        last_progress, last_committed = time.monotonic(), -1
        while table_rows(sink, "items_copy") != want:
            committed = sink_position(server, topic)
            if committed != last_committed:
                last_progress, last_committed = time.monotonic(), committed
            elif time.monotonic() - last_progress > 120:  # the sink stopped moving and the tables still differ
                got = table_rows(sink, "items_copy") or set()
                raise AssertionError(f"the sink table differs from the source: {len(want or ())} source rows, "
                                     f"{len(got)} sink rows, {len(got ^ (want or set()))} differ; sink at "
                                     f"{committed}; {server.output()[-2000:]}")
            time.sleep(2.0)
    finally:
        server.stop()


@pytest.mark.slow
def test_100k_changes_reach_a_jdbc_sink_equal_to_the_source_through_three_kills(
        databases: tuple[Database, Database], tmp_path: Path) -> None:
    run(*databases, tmp_path, total=100_000)
