"""Joins: the clickstream demo's enrichment, a session count over the joined stream, exactly-once state."""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from headwater.log import Record
from headwater.log.embedded import EmbeddedLog
from headwater.session import Session
from tests.engine.engine_process import start_engine
from tests.engine.test_aggregate import T0, changes, table

CLICKSTREAM = (
    "CREATE STREAM clickstream (_time BIGINT, time VARCHAR, ip VARCHAR, request VARCHAR, status INT, userid INT, "
    "bytes BIGINT, agent VARCHAR) WITH (kafka_topic='clickstream', value_format='json', partitions=1);"
)
WEB_USERS = (
    "CREATE TABLE web_users (user_id INT PRIMARY KEY, registered_at BIGINT, username VARCHAR, first_name VARCHAR, "
    "last_name VARCHAR, city VARCHAR, level VARCHAR) WITH (kafka_topic='clickstream_users', value_format='json', "
    "partitions=1);"
)
USER_CLICKSTREAM = (
    "CREATE STREAM user_clickstream AS SELECT userid, u.username, ip, u.city, request, status, bytes "
    "FROM clickstream c LEFT JOIN web_users u ON c.userid = u.user_id;"
)


def user(log: EmbeddedLog, user_id: int, value: dict[str, object] | None, ms: int) -> None:
    log.append("clickstream_users", 0, [Record(None if value is None else orjson.dumps(value),
                                               struct.pack(">i", user_id), T0 + ms)])


def click(log: EmbeddedLog, userid: int, ms: int, ip: str = "10.0.0.1", status: int = 200) -> None:
    value = {"ip": ip, "userid": userid, "request": "GET /index.html HTTP/1.1", "status": status, "bytes": 100}
    log.append("clickstream", 0, [Record(orjson.dumps(value), timestamp=T0 + ms)])


@pytest.fixture
def session(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        yield s


def test_clickstream_enrichment_as_on_ksqldb(session: Session) -> None:
    session.execute(CLICKSTREAM + WEB_USERS + USER_CLICKSTREAM)
    user(session.log, 1, {"registered_at": 0, "username": "alison_smith", "first_name": "Alison",
                          "last_name": "Smith", "city": "Palo Alto", "level": "Gold"}, 0)
    click(session.log, 1, 1000, ip="111.152.45.45")
    click(session.log, 42, 2000, ip="222.245.174.248", status=404)
    session.wait_until_processed()
    out = changes(session.log, "USER_CLICKSTREAM")
    assert out == [
        {"USERNAME": "alison_smith", "IP": "111.152.45.45", "CITY": "Palo Alto",
         "REQUEST": "GET /index.html HTTP/1.1", "STATUS": 200, "BYTES": 100},
        {"USERNAME": None, "IP": "222.245.174.248", "CITY": None, "REQUEST": "GET /index.html HTTP/1.1",
         "STATUS": 404, "BYTES": 100},
    ]
    # The output is keyed by the join column (USERID, KAFKA INT), timestamped as the clicks.
    fetched = session.log.read("USER_CLICKSTREAM", 0, 0)
    assert fetched.records.column("key").to_pylist() == [struct.pack(">i", 1), struct.pack(">i", 42)]
    assert fetched.records.column("timestamp").to_pylist() == [T0 + 1000, T0 + 2000]
    users = session.execute("DESCRIBE web_users EXTENDED;")[0]["sourceDescription"]
    (query_id,) = session.queries
    assert [q["id"] for q in users["readQueries"]] == [query_id]
    explained = session.execute(f"EXPLAIN {query_id};")[0]["queryDescription"]
    assert explained["sources"] == ["CLICKSTREAM", "WEB_USERS"]
    described = session.execute("DESCRIBE user_clickstream;")[0]
    assert [(f["name"], f["schema"]["type"]) for f in described["sourceDescription"]["fields"]][:2] == [
        ("USERID", "INTEGER"), ("USERNAME", "STRING")]


def test_session_count_over_the_joined_stream(session: Session) -> None:
    session.execute(CLICKSTREAM + WEB_USERS + USER_CLICKSTREAM)
    session.execute("CREATE TABLE user_sessions AS SELECT username, COUNT(*) AS n FROM user_clickstream "
                    "WINDOW SESSION (30 SECOND) GROUP BY username EMIT CHANGES;")
    user(session.log, 1, {"username": "alice", "city": "Paris"}, 0)
    for seconds in (0, 20, 45, 100):
        click(session.log, 1, seconds * 1000)
    session.wait_until_processed()
    final = table(session.log, "USER_SESSIONS")
    assert sorted(v["N"] for v in final.values()) == [1, 3]
    assert sorted(struct.unpack(">qq", k[-16:])[1] - T0 for k in final) == [0, 100_000]


def test_table_updates_and_tombstones_seen_as_of_each_click(session: Session) -> None:
    session.execute(CLICKSTREAM + WEB_USERS + "CREATE STREAM cities AS SELECT userid, u.city FROM clickstream c "
                    "JOIN web_users u ON c.userid = u.user_id;")
    user(session.log, 7, {"city": "Oslo"}, 0)
    click(session.log, 7, 10)
    user(session.log, 7, {"city": "Rome"}, 20)
    click(session.log, 7, 30)
    user(session.log, 7, None, 40)
    click(session.log, 7, 50)
    session.wait_until_processed()
    assert changes(session.log, "CITIES") == [{"CITY": "Oslo"}, {"CITY": "Rome"}]


def test_restart_keeps_stream_stream_buffers(tmp_path: Path) -> None:
    """A left record before a restart still joins a right record after it, and is not null-padded twice."""
    streams = (
        "CREATE STREAM l (id INT KEY, x VARCHAR) WITH (kafka_topic='l', value_format='json', partitions=1);"
        "CREATE STREAM r (id INT KEY, y VARCHAR) WITH (kafka_topic='r', value_format='json', partitions=1);"
        "CREATE STREAM j AS SELECT l.id, x, y FROM l LEFT JOIN r WITHIN 10 SECONDS GRACE PERIOD 0 SECONDS "
        "ON l.id = r.id;"
    )

    def send(log: EmbeddedLog, topic: str, key: int, value: dict[str, object], ms: int) -> None:
        log.append(topic, 0, [Record(orjson.dumps(value), struct.pack(">i", key), T0 + ms)])

    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(streams)
        send(s.log, "l", 1, {"x": "a1"}, 0)
        send(s.log, "l", 2, {"x": "a2"}, 1000)
        s.wait_until_processed()
    with Session(str(tmp_path)) as s:
        send(s.log, "r", 1, {"y": "b1"}, 2000)
        send(s.log, "r", 9, {"y": "b9"}, 30_000)  # closes the windows: a2 is emitted with a null Y
        s.wait_until_processed()
    with Session(str(tmp_path)) as s:
        send(s.log, "r", 9, {"y": "b9"}, 40_000)
        s.wait_until_processed()
        assert changes(s.log, "J") == [{"X": "a1", "Y": "b1"}, {"X": "a2", "Y": None}]


def test_kill_9_during_a_stream_table_join_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """Clicks and user updates arrive while the engine is killed with SIGKILL again and again.

    The output must be exactly one enriched record per click, with the city the user had at
    that click's time (as computed here in Python).
    """
    root = str(tmp_path)
    log = EmbeddedLog(root)
    log.create_topic("clickstream", 1)
    log.create_topic("clickstream_users", 1)
    statements = CLICKSTREAM + WEB_USERS + (
        "CREATE STREAM enriched AS SELECT userid, u.city FROM clickstream c LEFT JOIN web_users u "
        "ON c.userid = u.user_id;")
    rng = random.Random(20261122)
    cities: dict[int, str | None] = {}
    expected: list[dict[str, object]] = []
    ms = 0
    batches = []
    for _ in range(15):
        updates = []
        for _ in range(5):
            uid = rng.randrange(30)
            city = None if rng.random() < 0.2 else f"city-{rng.randrange(1000)}"
            ms += 1
            updates.append((uid, city, ms))
            cities[uid] = city
        clicks = []
        for _ in range(1500):
            uid = rng.randrange(40)
            ms += 1
            clicks.append((uid, ms))
            expected.append({"CITY": cities.get(uid)})
        batches.append((updates, clicks))

    proc = start_engine(root, statements, create=True)
    try:
        for updates, clicks in batches:
            for uid, city, at in updates:
                user(log, uid, None if city is None else {"city": city}, at)
            log.append("clickstream", 0, [
                Record(orjson.dumps({"userid": uid, "ip": "x", "request": "r", "status": 200, "bytes": 1}),
                       timestamp=T0 + at) for uid, at in clicks])
            time.sleep(rng.random() * 0.3)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc = start_engine(root, statements, create=False)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and log.end_offset("ENRICHED", 0) < len(expected):
            time.sleep(0.2)
        time.sleep(0.5)  # anything doubled would show up now
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert changes(log, "ENRICHED") == expected
    log.close()


def test_a_non_key_join_goes_through_a_repartition_topic(session: Session) -> None:
    """Orders (3 partitions, keyed by order id) join customers (2 partitions) on a value column."""
    session.execute(
        "CREATE STREAM orders (order_id INT KEY, customer_id INT, amount INT) WITH (kafka_topic='orders', "
        "value_format='json', partitions=3);"
        "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR) WITH (kafka_topic='customers', "
        "value_format='json', partitions=2);"
        "CREATE STREAM enriched AS SELECT o.customer_id, o.order_id, amount, name FROM orders o "
        "LEFT JOIN customers c ON o.customer_id = c.id;")
    log = session.log
    for cid, name in ((1, "ann"), (2, "bob"), (3, "cy")):
        log.produce("customers", [Record(orjson.dumps({"name": name}), struct.pack(">i", cid), T0)])
    orders = [(100 + i, i % 4 + 1, i * 10) for i in range(12)]
    for oid, cid, amount in orders:
        log.produce("orders", [Record(orjson.dumps({"customer_id": cid, "amount": amount}), struct.pack(">i", oid),
                                      T0 + 1000 + oid)])
    session.wait_until_processed()
    (query_id,) = session.queries
    topic = f"_confluent-ksql-default_query_{query_id}-Join-left-repartition"
    assert log.describe_topic(topic).partitions == 2
    # Every repartitioned record is keyed by the customer id and sits in that key's partition.
    from headwater.log.partitioner import partition_for_keys
    seen = 0
    for partition in range(2):
        fetched = log.read(topic, partition, 0)
        keys = fetched.records.column("key")
        assert set(partition_for_keys(keys, 2, -1).tolist()) <= {partition}
        seen += len(fetched)
    assert seen == len(orders)
    names = {1: "ann", 2: "bob", 3: "cy"}
    got = []
    for partition in range(log.describe_topic("ENRICHED").partitions):
        fetched = log.read("ENRICHED", partition, 0)
        for row in fetched.records.select(["key", "value"]).to_pylist():
            got.append((struct.unpack(">i", row["key"])[0], orjson.loads(row["value"])))
    # The stream's own key column (order_id) survived the repartition.
    assert sorted(got, key=lambda r: r[1]["ORDER_ID"]) == [
        (cid, {"ORDER_ID": oid, "AMOUNT": amount, "NAME": names.get(cid)}) for oid, cid, amount in orders]


def test_repartitioned_stream_table_join_on_each_backend(log_url: str, new_topic) -> None:  # type: ignore[no-untyped-def]
    """The same join, repartition topic and output on the embedded log and on Kafka (Tansu broker)."""
    orders, customers, out = new_topic("orders"), new_topic("customers"), new_topic("out")
    service = new_topic("svc").replace("-", "_") + "_"
    with Session(log_url, properties={"auto.offset.reset": "earliest", "ksql.service.id": service}) as s:
        s.execute(
            f"CREATE STREAM o (order_id INT KEY, customer_id INT) WITH (kafka_topic='{orders}', value_format='json', "
            f"partitions=2); CREATE TABLE c (id INT PRIMARY KEY, name VARCHAR) WITH (kafka_topic='{customers}', "
            f"value_format='json', partitions=1); CREATE STREAM e WITH (kafka_topic='{out}', partitions=1) AS "
            "SELECT o.customer_id, order_id, name FROM o JOIN c ON o.customer_id = c.id;")
        s.log.append(customers, 0, [Record(orjson.dumps({"name": "ann"}), struct.pack(">i", 1), T0)])
        # One record per produce call: Tansu answers ListOffsets(latest) with the last batch's base
        # offset + 1 (tests/log/test_contract.py LISTOFFSETS_END), which the join's consistent cut reads.
        for oid, cid in [*((oid, 1) for oid in range(1, 7)), (99, 2)]:
            s.log.produce(orders, [Record(orjson.dumps({"customer_id": cid}), struct.pack(">i", oid), T0 + oid)])
        s.wait_until_processed(timeout_s=60)
        (query_id,) = s.queries
        assert f"_confluent-ksql-{service}query_{query_id}-Join-left-repartition" in s.log.list_topics()
        rows = []
        offset = s.log.beginning_offset(out, 0)
        while offset < s.log.end_offset(out, 0):
            fetched = s.log.read(out, 0, offset)
            rows.extend(orjson.loads(v) for v in fetched.records.column("value").to_pylist())
            offset = fetched.next_offset
    assert sorted(r["ORDER_ID"] for r in rows) == [1, 2, 3, 4, 5, 6]
    assert {r["NAME"] for r in rows} == {"ann"}


def test_restart_rebuilds_table_join_state(tmp_path: Path) -> None:
    """A three-table join (the middle result is state too) resumes from the tables' topics after a restart."""
    tables = (
        "CREATE TABLE a (id INT PRIMARY KEY, x VARCHAR) WITH (kafka_topic='a', value_format='json', partitions=1);"
        "CREATE TABLE b (id INT PRIMARY KEY, fk INT, y VARCHAR) WITH (kafka_topic='b', value_format='json', "
        "partitions=1);"
        "CREATE TABLE c (id INT PRIMARY KEY, z VARCHAR) WITH (kafka_topic='c', value_format='json', partitions=1);"
        "CREATE TABLE j AS SELECT a.id, x, y, z FROM a JOIN b ON a.id = b.id LEFT JOIN c ON b.fk = c.id;"
    )

    def send(log: EmbeddedLog, topic: str, key: int, value: dict[str, object] | None, ms: int) -> None:
        log.append(topic, 0, [Record(None if value is None else orjson.dumps(value), struct.pack(">i", key), T0 + ms)])

    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(tables)
        send(s.log, "a", 1, {"x": "x1"}, 0)
        send(s.log, "b", 1, {"fk": 10, "y": "y1"}, 1)
        send(s.log, "c", 10, {"z": "z10"}, 2)
        s.wait_until_processed()
    with Session(str(tmp_path)) as s:
        send(s.log, "c", 10, {"z": "z10b"}, 3)  # fans out through the rebuilt middle result
        send(s.log, "a", 1, {"x": "x1b"}, 4)  # joins the rebuilt state of b and c
        send(s.log, "b", 1, None, 5)  # the inner join row disappears
        s.wait_until_processed()
        assert changes(s.log, "J") == [
            {"X": "x1", "Y": "y1", "Z": None}, {"X": "x1", "Y": "y1", "Z": "z10"},
            {"X": "x1", "Y": "y1", "Z": "z10b"}, {"X": "x1b", "Y": "y1", "Z": "z10b"}, None]


def test_push_query_over_a_join(session: Session) -> None:
    session.execute(CLICKSTREAM + WEB_USERS)
    user(session.log, 1, {"username": "alice", "city": "Paris"}, 0)
    click(session.log, 1, 10)
    click(session.log, 2, 20)
    push = session.query("SELECT c.userid, u.username, c.status FROM clickstream c LEFT JOIN web_users u "
                         "ON c.userid = u.user_id EMIT CHANGES LIMIT 3;")
    click(session.log, 1, 30, status=500)
    rows = list(push.rows(timeout_s=10))
    assert push.columns == ["USERID", "USERNAME", "STATUS"]
    assert rows == [[1, "alice", 200], [2, None, 200], [1, "alice", 500]]
    push.close()
    assert not session.push_queries


def test_kill_9_during_a_repartitioned_join_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """Orders (2 partitions) join customers on a value column, through the repartition topic, with kill -9s.

    Records in flight through the repartition topic and customer updates held back behind them
    must survive every kill: one output per order, with the customer's name as of the order's time.
    """
    root = str(tmp_path)
    log = EmbeddedLog(root)
    log.create_topic("orders", 2)
    log.create_topic("customers", 1)
    statements = (
        "CREATE STREAM orders (order_id INT KEY, customer_id INT) WITH (kafka_topic='orders', value_format='json');"
        "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR) WITH (kafka_topic='customers', "
        "value_format='json');"
        "CREATE STREAM enriched AS SELECT o.customer_id, order_id, name FROM orders o "
        "LEFT JOIN customers c ON o.customer_id = c.id;")
    rng = random.Random(7)
    names: dict[int, str | None] = {}
    expected: dict[int, str | None] = {}
    ms, order_id = 0, 0
    chunks = []
    for _ in range(12):
        updates, orders = [], []
        for _ in range(4):
            cid, ms = rng.randrange(20), ms + 1
            name = None if rng.random() < 0.2 else f"name-{rng.randrange(100)}"
            names[cid] = name
            updates.append((cid, name, ms))
        for _ in range(800):
            cid, ms, order_id = rng.randrange(25), ms + 1, order_id + 1
            orders.append((order_id, cid, ms))
            expected[order_id] = names.get(cid)
        chunks.append((updates, orders))

    proc = start_engine(root, statements, create=True)
    try:
        for updates, orders in chunks:
            for cid, name, at in updates:
                log.append("customers", 0, [Record(None if name is None else orjson.dumps({"name": name}),
                                                   struct.pack(">i", cid), T0 + at)])
            log.produce("orders", [Record(orjson.dumps({"customer_id": cid}), struct.pack(">i", oid), T0 + at)
                                   for oid, cid, at in orders])
            time.sleep(rng.random() * 0.3)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc = start_engine(root, statements, create=False)

        def output() -> list[tuple[int, str | None]]:
            got = []
            for partition in range(log.describe_topic("ENRICHED").partitions):
                got.extend((v["ORDER_ID"], v["NAME"]) for v in (orjson.loads(r) for r in
                           _values(log, "ENRICHED", partition)))
            return got

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(output()) < len(expected):
            time.sleep(0.2)
        time.sleep(0.5)  # anything doubled would show up now
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert sorted(output()) == sorted(expected.items())
    log.close()


def _values(log: EmbeddedLog, topic: str, partition: int) -> list[bytes]:
    out: list[bytes] = []
    offset = log.beginning_offset(topic, partition)
    while offset < log.end_offset(topic, partition):
        fetched = log.read(topic, partition, offset)
        out.extend(fetched.records.column("value").to_pylist())
        offset = fetched.next_offset
    return out


def test_restart_keeps_a_windowed_table_join_state(tmp_path: Path) -> None:
    """A windowed table-table join rebuilds its state (keyed by key and window) from the tables' topics."""
    tables = (
        "CREATE TABLE a (id INT PRIMARY KEY, n INT) WITH (kafka_topic='a', value_format='json', partitions=1, "
        "window_type='TUMBLING', window_size='10 SECONDS');"
        "CREATE TABLE b (id INT PRIMARY KEY, t INT) WITH (kafka_topic='b', value_format='json', partitions=1, "
        "window_type='TUMBLING', window_size='10 SECONDS');"
        "CREATE TABLE j AS SELECT a.id, n, t FROM a JOIN b ON a.id = b.id;"
    )

    def send(log: EmbeddedLog, topic: str, key: int, start: int, value: dict[str, object], ms: int) -> None:
        log.append(topic, 0, [Record(orjson.dumps(value), struct.pack(">iq", key, start), ms)])

    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(tables)
        send(s.log, "a", 1, 0, {"n": 1}, 1000)
        send(s.log, "a", 1, 10_000, {"n": 2}, 11_000)
        s.wait_until_processed()
    with Session(str(tmp_path)) as s:
        send(s.log, "b", 1, 10_000, {"t": 7}, 12_000)  # joins the second window only
        send(s.log, "b", 1, 20_000, {"t": 8}, 21_000)  # a window a lacks
        s.wait_until_processed()
        assert changes(s.log, "J") == [{"N": 2, "T": 7}]
        keys = s.log.read("J", 0, 0).records.column("key").to_pylist()
        assert keys == [struct.pack(">iq", 1, 10_000)]
