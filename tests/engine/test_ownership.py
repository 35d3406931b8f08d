"""One process runs a service's persistent queries: a second session is refused, or takes over and fences."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

from headwater.errors import ServiceOwnedError, SqlSemanticError
from headwater.engine.query import QueryState
from headwater.log import Record, ServiceClaim
from headwater.log.embedded import EmbeddedLog
from headwater.session import Session

STATEMENTS = (
    "CREATE STREAM clicks (seq INT, userid INT) WITH (KAFKA_TOPIC='clicks', PARTITIONS=1, VALUE_FORMAT='JSON');"
    "CREATE STREAM copied AS SELECT seq, userid FROM clicks EMIT CHANGES;"
)
EARLIEST = {"auto.offset.reset": "earliest"}


def send(log: EmbeddedLog, start: int, n: int) -> None:
    log.append("clicks", 0, [Record(orjson.dumps({"seq": i, "userid": i % 7})) for i in range(start, start + n)])


def sequence_numbers(log: EmbeddedLog) -> list[int]:
    out: list[int] = []
    offset = 0
    while True:
        fetched = log.read("COPIED", 0, offset)
        if not len(fetched):
            return out
        out += [orjson.loads(v)["SEQ"] for v in fetched.records.column("value").to_pylist()]
        offset = fetched.next_offset


def wait_for(condition: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_second_session_is_refused_and_names_the_owner(tmp_path: Path) -> None:
    root = str(tmp_path)
    with Session(root, properties=EARLIEST) as first:
        first.execute(STATEMENTS)
        with pytest.raises(ServiceOwnedError, match=rf"owned by process {os.getpid()}") as refused:
            Session(root, properties=EARLIEST)
        assert "take the service over" in str(refused.value)
        # Another service on the same directory is another owner's business.
        with Session(root, properties={**EARLIEST, "ksql.service.id": "other_"}) as other:
            assert other.queries == {}
        send(first.log, 0, 100)
        first.wait_until_processed()
    with Session(root, properties=EARLIEST) as again:  # the claim went with the first session
        assert list(again.queries) == list(first.queries)
        again.wait_until_processed()
        assert sorted(sequence_numbers(again.log)) == list(range(100))  # type: ignore[arg-type]


def test_taking_over_fences_the_first_owner(tmp_path: Path) -> None:
    root = str(tmp_path)
    log = EmbeddedLog(root)
    first = Session(root, properties=EARLIEST)
    try:
        first.execute(STATEMENTS)
        (query_id,) = first.queries
        send(log, 0, 500)
        first.wait_until_processed()
        with Session(root, properties=EARLIEST, take_over=True) as second:
            send(log, 500, 500)
            second.wait_until_processed()
            # The first session's next commit is refused: its query stops, for good, and says why.
            zombie = first.queries[query_id]
            wait_for(lambda: zombie.state is QueryState.ERROR)
            assert zombie.stats.last_error is not None and zombie.stats.last_error.startswith("fenced")
            wait_for(lambda: zombie._thread is not None and not zombie._thread.is_alive())
            with pytest.raises(SqlSemanticError, match="no longer runs the persistent queries"):
                first.execute("CREATE STREAM more AS SELECT * FROM clicks EMIT CHANGES;")
            send(log, 1000, 500)
            second.wait_until_processed()
            assert second.queries[query_id].state is QueryState.RUNNING
            # The fenced session let its claim go: the new owner holds it alone, a third is refused.
            wait_for(lambda: second.claim is not None and second.claim.exclusive)
            with pytest.raises(ServiceOwnedError):
                Session(root, properties=EARLIEST)
        numbers = sequence_numbers(log)
        assert len(numbers) == len(set(numbers)) == 1500  # nothing doubled, nothing lost
    finally:
        first.close()
        log.close()


def test_an_idle_owner_stops_its_queries_as_soon_as_it_is_taken_over(tmp_path: Path) -> None:
    """No commit needed: the owner sees the take-over, stops its queries (SHOW QUERIES says ERROR) and lets go."""
    root = str(tmp_path)
    with Session(root, properties=EARLIEST) as first:
        first.execute(STATEMENTS)
        (query_id,) = first.queries
        with Session(root, properties=EARLIEST, take_over=True) as second:
            zombie = first.queries[query_id]
            wait_for(lambda: zombie.state is QueryState.ERROR, timeout_s=10)
            assert zombie.stats.last_error is not None and "took service 'default_' over" in zombie.stats.last_error
            (shown,) = first.execute("SHOW QUERIES;")[0]["queries"]  # type: ignore[index]
            assert shown["state"] == "ERROR"
            wait_for(lambda: second.claim is not None and second.claim.exclusive, timeout_s=10)
            send(second.log, 0, 50)  # type: ignore[arg-type]
            second.wait_until_processed()
            assert sorted(sequence_numbers(second.log)) == list(range(50))  # type: ignore[arg-type]


class UnlockedLog(EmbeddedLog):
    """The embedded log with its service lock bypassed: only the log's fencing stands between two owners."""

    def claim_service(self, service_id: str, *, take_over: bool = False) -> ServiceClaim | None:
        return None


def test_with_the_lock_bypassed_the_log_still_fences_the_older_session(tmp_path: Path) -> None:
    root = str(tmp_path)
    with UnlockedLog(root) as first_log, UnlockedLog(root) as second_log:
        first = Session(first_log, properties=EARLIEST)
        first.execute(STATEMENTS)
        send(first_log, 0, 300)
        first.wait_until_processed()
        with Session(second_log, properties=EARLIEST) as second:  # not refused: nothing is locked
            send(first_log, 300, 300)
            second.wait_until_processed()
            zombie = next(iter(first.queries.values()))
            wait_for(lambda: zombie.state is QueryState.ERROR)
            assert zombie.stats.last_error is not None and "was fenced" in zombie.stats.last_error
            send(first_log, 600, 300)
            second.wait_until_processed()
        first.close()
        numbers = sequence_numbers(first_log)
        assert len(numbers) == len(set(numbers)) == 900


def test_a_session_taking_over_fences_the_first_on_each_backend(log_url: str, new_topic) -> None:  # type: ignore[no-untyped-def]
    """On Kafka nothing is locked: the broker's fencing alone stops the first session's query."""
    source, out = new_topic("src"), new_topic("out")
    properties = {**EARLIEST, "ksql.service.id": new_topic("svc").replace("-", "_") + "_"}
    first = Session(log_url, properties=properties)
    seen: list[int] = []
    position = 0

    def output() -> int:
        nonlocal position
        while True:
            fetched = first.log.read(out, 0, position, timeout_s=0.2)
            if not len(fetched):
                return len(seen)
            seen.extend(orjson.loads(v)["SEQ"] for v in fetched.records.column("value").to_pylist())
            position = fetched.next_offset

    def feed(start: int, n: int) -> None:
        first.log.append(source, 0, [Record(orjson.dumps({"seq": i})) for i in range(start, start + n)])

    try:
        first.execute(f"CREATE STREAM s (seq INT) WITH (kafka_topic='{source}', value_format='json', partitions=1);"
                      f"CREATE STREAM o WITH (kafka_topic='{out}', partitions=1) AS SELECT seq FROM s;")
        (query_id,) = first.queries
        feed(0, 100)
        wait_for(lambda: output() >= 100, timeout_s=60)
        with Session(log_url, properties=properties, take_over=True) as second:
            feed(100, 100)
            wait_for(lambda: output() >= 200, timeout_s=60)
            zombie = first.queries[query_id]
            wait_for(lambda: zombie.state is QueryState.ERROR, timeout_s=60)
            assert zombie.stats.last_error is not None and zombie.stats.last_error.startswith("fenced")
            assert second.queries[query_id].state is QueryState.RUNNING
            feed(200, 100)
            wait_for(lambda: output() >= 300, timeout_s=60)
        time.sleep(1)  # a doubled record would arrive now
        output()
        assert sorted(seen) == list(range(300))
    finally:
        first.close()
