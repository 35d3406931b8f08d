"""The clickstream demo end to end: its three datagen connectors created with ksqlDB's CREATE SOURCE CONNECTOR
fill their topics, and the demo's streams, tables, enrichment joins and windowed aggregations run on them."""

from __future__ import annotations

import json
import struct
from collections import Counter
from types import SimpleNamespace

from headwater.log import Log
from headwater.session import Session
from tests.connect.conftest import wait_until

CODES = {200: "Successful", 302: "Redirect", 404: "Page not found", 405: "Method not allowed",
         406: "Not acceptable", 407: "Proxy authentication required"}
CITIES = {"Palo Alto", "San Francisco", "Raleigh", "London", "Frankfurt", "New York"}
USERS, CLICKS, CODE_RECORDS = 40, 300, 20


def connector_sql(name: str, quickstart: str, iterations: int, int_key: bool) -> str:
    """create-connectors.sql of the demo, with the current datagen key max.interval and bounded iterations."""
    key = "'key.converter'='org.apache.kafka.connect.converters.IntegerConverter'," if int_key else ""
    return (f"CREATE SOURCE CONNECTOR {name} WITH ("
            f"'connector.class'='io.confluent.kafka.connect.datagen.DatagenConnector', "
            f"'kafka.topic'='{quickstart}', 'quickstart'='{quickstart}', 'max.interval'=1, "
            f"'iterations'={iterations}, 'random.seed'=7, {key}"
            f"'value.converter'='org.apache.kafka.connect.json.JsonConverter', "
            f"'value.converter.schemas.enable'='false', 'tasks.max'='1');")


def records(log: Log, topic: str) -> list[SimpleNamespace]:
    """The topic's records (one partition) with .key and .value bytes."""
    batch = log.read(topic, 0, log.beginning_offset(topic, 0)).records
    return [SimpleNamespace(key=row["key"], value=row["value"]) for row in batch.to_pylist()]


def count(log: Log, topic: str) -> int:
    return log.end_offset(topic, 0) if topic in log.list_topics() else 0


STATEMENTS = """
CREATE STREAM clickstream (_time bigint, time varchar, ip varchar, request varchar, status int, userid int,
    bytes bigint, agent varchar) WITH (kafka_topic='clickstream', value_format='json');
CREATE TABLE clickstream_codes (code int PRIMARY KEY, definition varchar)
    WITH (kafka_topic='clickstream_codes', value_format='json');
CREATE TABLE WEB_USERS (user_id int PRIMARY KEY, registered_At BIGINT, username varchar, first_name varchar,
    last_name varchar, city varchar, level varchar) WITH (KAFKA_TOPIC='clickstream_users', VALUE_FORMAT='JSON');
CREATE STREAM USER_CLICKSTREAM AS SELECT userid, u.username, ip, u.city, request, status, bytes
    FROM clickstream c LEFT JOIN web_users u ON c.userid = u.user_id;
CREATE STREAM ENRICHED_ERROR_CODES AS SELECT code, definition
    FROM clickstream LEFT JOIN clickstream_codes ON clickstream.status = clickstream_codes.code;
CREATE TABLE events_per_min AS SELECT userid AS k1, AS_VALUE(userid) AS userid, WINDOWSTART AS EVENT_TS,
    COUNT(*) AS events FROM clickstream WINDOW TUMBLING (SIZE 60 SECOND) GROUP BY userid;
CREATE TABLE ERRORS_PER_MIN AS SELECT status AS k1, AS_VALUE(status) AS status, WINDOWSTART AS EVENT_TS,
    COUNT(*) AS errors FROM clickstream WINDOW HOPPING (SIZE 60 SECOND, ADVANCE BY 5 SECOND)
    WHERE status > 400 GROUP BY status;
CREATE TABLE BANDWIDTH_PER_MIN AS SELECT username AS K, AS_VALUE(username) AS username,
    WINDOWSTART AS EVENT_TS, SUM(bytes) AS total_bytes
    FROM USER_CLICKSTREAM WINDOW TUMBLING (SIZE 60 SECOND) GROUP BY username;
"""


def test_datagen_connectors_feed_the_demo_statements(connect_log: Log) -> None:
    with Session(connect_log, properties={"auto.offset.reset": "earliest"}) as session:
        # The lookup tables first, so every click finds its user (ids 1..40) when the join reads it.
        session.execute(connector_sql("datagen_clickstream_codes", "clickstream_codes", CODE_RECORDS, True))
        session.execute(connector_sql("datagen_clickstream_users", "clickstream_users", USERS, True))
        wait_until(lambda: count(connect_log, "clickstream_codes") == CODE_RECORDS
                   and count(connect_log, "clickstream_users") == USERS, what="codes and users")
        session.execute(connector_sql("datagen_clickstream", "clickstream", CLICKS, False))
        wait_until(lambda: count(connect_log, "clickstream") == CLICKS, what="clicks")
        [listed] = session.execute("SHOW SOURCE CONNECTORS;")
        assert {c["name"] for c in listed["connectors"]} == {
            "DATAGEN_CLICKSTREAM_CODES", "DATAGEN_CLICKSTREAM_USERS", "DATAGEN_CLICKSTREAM"}

        codes = records(connect_log, "clickstream_codes")
        for record in codes:  # IntegerConverter: a 4-byte big-endian int key, the code
            value = json.loads(record.value)
            assert set(value) == {"code", "definition"}  # schemas.enable=false: no envelope
            assert struct.unpack(">i", record.key)[0] == value["code"]
            assert CODES[value["code"]] == value["definition"]
        users = records(connect_log, "clickstream_users")
        assert [struct.unpack(">i", r.key)[0] for r in users] == list(range(1, USERS + 1))
        for record in users:
            value = json.loads(record.value)
            assert set(value) == {"user_id", "username", "registered_at", "first_name", "last_name", "city",
                                  "level"}
            assert value["user_id"] == struct.unpack(">i", record.key)[0]
            assert value["city"] in CITIES and value["level"] in {"Gold", "Silver", "Platinum"}
            assert 1407645330000 <= value["registered_at"] < 1502339792000
        clicks = [json.loads(r.value) for r in records(connect_log, "clickstream")]
        assert {json.loads(r.value)["ip"] for r in records(connect_log, "clickstream")} == {
            r.key.decode() for r in records(connect_log, "clickstream")}  # the worker's StringConverter key
        assert {"ip", "userid", "remote_user", "time", "_time", "request", "status", "bytes", "referrer",
                "agent"} <= set(clicks[0])
        assert {c["status"] for c in clicks} <= {str(code) for code in CODES}
        assert all(-1 <= c["userid"] <= 40 for c in clicks)

        session.execute(STATEMENTS)
        session.wait_until_processed()
        usernames = {json.loads(r.value)["user_id"]: json.loads(r.value)["username"] for r in users}

        events = session.query("SELECT userid, events FROM events_per_min;").rows
        per_user: Counter[int] = Counter()
        for user, n in events:
            per_user[user] += n
        assert per_user == Counter(c["userid"] for c in clicks)

        errors = session.query("SELECT status, EVENT_TS, errors FROM ERRORS_PER_MIN;").rows
        assert {status for status, _, _ in errors} == {int(c["status"]) for c in clicks if int(c["status"]) > 400}

        bandwidth = session.query("SELECT username, total_bytes FROM BANDWIDTH_PER_MIN;").rows
        per_name: Counter[str] = Counter()
        for name, total in bandwidth:
            per_name[name] += total
        expected: Counter[str] = Counter()
        for click in clicks:
            if click["userid"] in usernames:  # unmatched clicks (ids -1, 0) have a NULL username: no group
                expected[usernames[click["userid"]]] += int(click["bytes"])
        assert per_name == expected

        enriched = session.query("SELECT code, definition FROM ENRICHED_ERROR_CODES EMIT CHANGES LIMIT %d;"
                                 % CLICKS)
        pairs = list(enriched)
        assert len(pairs) == CLICKS
        seen_codes = {int(json.loads(r.value)["code"]) for r in codes}
        for code, definition in pairs:
            assert definition == (CODES[code] if code in seen_codes else None)
