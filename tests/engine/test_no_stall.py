"""No stall: a record that cannot be decoded, evaluated or encoded goes to the processing log and the query goes
on; a query goes to ERROR only when the log fails, says why everywhere a user looks, and resumes by itself."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from headwater.engine.query import QueryFailedError, QueryState
from headwater.log import Record
from headwater.session import Session
from tests.server.conftest import AppFactory, make_client  # noqa: F401 - the fixture

PROCESSING_LOG = "default_ksql_processing_log"


def values(session: Session, topic: str) -> list[dict[str, object]]:
    rows, offset = [], session.log.beginning_offset(topic, 0)
    while offset < session.log.end_offset(topic, 0):
        fetched = session.log.read(topic, 0, offset)
        rows.extend(orjson.loads(v) for v in fetched.records.column("value").to_pylist() if v is not None)
        offset = fetched.next_offset
    return rows


def problems(session: Session, query_id: str) -> list[dict[str, object]]:
    return [e["message"] for e in values(session, PROCESSING_LOG)
            if str(e["logger"]).startswith(f"processing.{query_id}.")]  # type: ignore[misc]


@pytest.fixture
def session(tmp_path: Path) -> Session:
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        yield s  # type: ignore[misc]


def test_bad_records_of_every_kind_go_to_the_processing_log_and_the_query_goes_on(session: Session) -> None:
    session.execute(
        "CREATE STREAM src (s VARCHAR, t TIMESTAMP, x DOUBLE) WITH (kafka_topic='src', value_format='json', "
        "partitions=1);"
        "CREATE STREAM out AS SELECT s, t, CAST(x AS INT) AS i FROM src;"
    )
    records = [
        b'{"s": "\\ud800", "t": 1, "x": 1}',  # decode: a lone surrogate (the JSON decoder raises on it)
        b'{"s": "eval", "t": 2, "x": 1e300}',  # evaluation: out of INT's range
        b'{"s": "encode", "t": 10000000000000000, "x": 1}',  # encode: JSON cannot hold this TIMESTAMP
        b'{"s": "good", "t": 3, "x": 4}',
    ]
    session.log.append("src", 0, [Record(r) for r in records])
    session.wait_until_processed(timeout_s=20)  # returns: nothing stalls
    [query] = session.queries.values()
    assert query.state is QueryState.RUNNING and session.failed_queries() == {}
    # The evaluation failure yields NULL, as ksqlDB does; the undecodable and unencodable records are left out.
    assert values(session, "OUT") == [{"S": "eval", "T": 2, "I": None}, {"S": "good", "T": 3, "I": 4}]
    logged = problems(session, query.id)
    kinds = {m["type"]: m for m in logged}  # type: ignore[index]
    assert sorted(kinds) == [0, 1, 3]
    decode = kinds[0]["deserializationError"]  # type: ignore[index]
    assert decode["offset"] == 0 and "surrogates not allowed" in decode["errorMessage"]
    assert kinds[1]["recordProcessingError"]["offset"] == 1  # type: ignore[index]
    encode = kinds[3]["serializationError"]  # type: ignore[index]
    assert "Error serializing message to topic: OUT" in encode["errorMessage"]
    assert "Timestamp" in encode["errorMessage"]
    assert query.stats.failed == 3 and query.stats.records_in == 4


def test_an_aggregate_logs_a_row_its_sink_cannot_hold_and_goes_on(session: Session) -> None:
    session.execute(
        "CREATE STREAM src (k VARCHAR, t TIMESTAMP) WITH (kafka_topic='src', value_format='json', partitions=1);"
        "CREATE TABLE latest AS SELECT k, LATEST_BY_OFFSET(t) AS t FROM src GROUP BY k EMIT CHANGES;"
    )
    session.log.append("src", 0, [Record(b'{"k": "a", "t": 10000000000000000}'), Record(b'{"k": "b", "t": 5}')])
    session.wait_until_processed(timeout_s=20)
    [query] = session.queries.values()
    assert query.state is QueryState.RUNNING
    assert values(session, "LATEST") == [{"T": 5}]
    [logged] = problems(session, query.id)
    assert logged["type"] == 3  # type: ignore[index]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_query_whose_sink_topic_is_gone_is_in_error_says_why_and_resumes(make_client: AppFactory) -> None:  # noqa: F811
    client = make_client(ksql_properties={"auto.offset.reset": "earliest"})
    session: Session = client.app.state.headwater.session  # type: ignore[attr-defined]
    session.execute(
        "CREATE STREAM src (s VARCHAR) WITH (kafka_topic='src', value_format='json', partitions=1);"
        "CREATE STREAM out AS SELECT s FROM src;"
    )
    [query_id] = session.queries
    session.log.append("src", 0, [Record(b'{"s": "before"}')])
    session.wait_until_processed()
    session.log.delete_topic("OUT")  # the log cannot take the output: what retrying can fix
    session.log.append("src", 0, [Record(b'{"s": "during"}')])

    # During the outage: every place a user looks says the query is in ERROR, and why.
    with pytest.raises(QueryFailedError) as raised:
        session.wait_until_processed(timeout_s=30)
    assert query_id in str(raised.value) and "OUT" in str(raised.value)
    failed = session.failed_queries()
    assert list(failed) == [query_id] and failed[query_id].type == "SYSTEM" and "OUT" in failed[query_id].message
    shown = client.post("/ksql", json={"ksql": "SHOW QUERIES;"}).json()[0]["queries"]
    assert shown[0]["state"] == "ERROR" and "OUT" in shown[0]["queryErrors"][-1]["errorMessage"]
    explained = client.post("/ksql", json={"ksql": f"EXPLAIN {query_id};"}).json()[0]["queryDescription"]
    assert explained["state"] == "ERROR" and explained["queryErrors"][-1]["type"] == "SYSTEM"
    metrics = samples(client.get("/metrics").text)
    assert metrics[("headwater_query_state", (("query", query_id), ("state", "ERROR")))] == 1
    [(_, labels)] = [k for k in metrics if k[0] == "headwater_query_error"]
    assert dict(labels)["query"] == query_id and "OUT" in dict(labels)["reason"]
    thread_errors = [m for m in problems(session, query_id) if m["type"] == 4]  # type: ignore[index]
    assert len(thread_errors) == 1 and "OUT" in thread_errors[0]["kafkaStreamsThreadError"]["errorMessage"]  # type: ignore[index]

    # The cause goes away: the query resumes by itself, from its committed offsets, nothing lost or doubled.
    session.log.create_topic("OUT", 1)
    deadline = time.monotonic() + 40
    while session.queries[query_id].state is not QueryState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
    session.wait_until_processed(timeout_s=30)
    assert session.failed_queries() == {}
    assert values(session, "OUT") == [{"S": "during"}]
    metrics = samples(client.get("/metrics").text)
    assert metrics[("headwater_query_state", (("query", query_id), ("state", "RUNNING")))] == 1
    assert not [k for k in metrics if k[0] == "headwater_query_error"]


def test_a_push_query_logs_the_records_it_cannot_process_and_shows_the_others(session: Session) -> None:
    session.execute("CREATE STREAM src (s VARCHAR, x DOUBLE) WITH (kafka_topic='src', value_format='json', "
                    "partitions=1);")
    session.log.append("src", 0, [Record(b'{"s": "\\ud800", "x": 1}'), Record(b'{"s": "a", "x": 1e300}'),
                                  Record(b'{"s": "b", "x": 2}')])
    push = session.query("SELECT s, CAST(x AS INT) AS i FROM src EMIT CHANGES LIMIT 2;")
    assert list(push.rows(timeout_s=20)) == [["a", None], ["b", 2]]  # type: ignore[union-attr]
    [entry] = values(session, PROCESSING_LOG)  # the record it could not decode
    assert entry["message"]["deserializationError"]["offset"] == 0  # type: ignore[index]
