"""The ksqlDB REST API over real HTTP (uvicorn on 127.0.0.1): shapes, streaming, error codes, auth, metrics."""

from __future__ import annotations

import json
import sys
import threading
import traceback
import time
from collections.abc import Callable

import httpx
import pytest

from headwater.log import Record
from tests.server.live import LiveServer

CLICKSTREAM = ("CREATE STREAM clickstream (_time BIGINT, time VARCHAR, ip VARCHAR, request VARCHAR, status INT, "
               "userid INT, bytes BIGINT, agent VARCHAR) WITH (kafka_topic='clickstream', value_format='json', "
               "partitions=1);")
ERRORS = "CREATE STREAM errors AS SELECT userid, request, status FROM clickstream WHERE status >= 400 EMIT CHANGES;"
BANDWIDTH = ("CREATE TABLE bandwidth AS SELECT userid AS k, AS_VALUE(userid) AS userid, SUM(bytes) AS total_bytes "
             "FROM clickstream GROUP BY userid EMIT CHANGES;")


def click(userid: int, status: int, nbytes: int = 100) -> Record:
    value = {"userid": userid, "request": f"GET /{userid}", "status": status, "bytes": nbytes}
    return Record(json.dumps(value).encode(), timestamp=1_700_000_000_000 + userid)


def ksql(server: LiveServer, text: str, **extra: object) -> httpx.Response:
    return httpx.post(f"{server.url}/ksql", json={"ksql": text, **extra}, timeout=30)


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    started = live_server()
    assert ksql(started, CLICKSTREAM + ERRORS).status_code == 200
    return started


def push_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("push-")]


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


# -- /ksql -----------------------------------------------------------------------------


def test_ksql_returns_one_entity_per_statement(server: LiveServer) -> None:
    response = ksql(server, "SHOW STREAMS; DESCRIBE errors; SHOW QUERIES;")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.ksql.v1+json"
    streams, described, queries = response.json()
    assert streams["@type"] == "streams"
    assert {s["name"]: s["topic"] for s in streams["streams"]} == {"CLICKSTREAM": "clickstream", "ERRORS": "ERRORS"}
    assert described["@type"] == "sourceDescription"
    assert [f["name"] for f in described["sourceDescription"]["fields"]] == ["USERID", "REQUEST", "STATUS"]
    assert queries["queries"][0]["id"] == "CSAS_ERRORS_1"


def test_ksql_create_answers_current_status(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    response = ksql(server, CLICKSTREAM, commandSequenceNumber=-1)
    [status] = response.json()
    assert status["@type"] == "currentStatus"
    assert status["commandId"] == "stream/`CLICKSTREAM`/create"
    assert status["commandStatus"]["status"] == "SUCCESS"
    assert isinstance(status["commandSequenceNumber"], int)
    # application/json when asked for it
    response = httpx.post(f"{server.url}/ksql", json={"ksql": "SHOW TOPICS;"}, headers={"Accept": "application/json"})
    assert response.headers["content-type"] == "application/json"
    assert response.json()[0]["@type"] == "kafka_topics"


def test_statement_error_keeps_entities_before_it_and_the_position(server: LiveServer) -> None:
    response = ksql(server, "SHOW STREAMS;\nCREATE STREAM bad AS\n  SELECT nope FROM clickstream;\nSHOW TABLES;")
    assert response.status_code == 400
    body = response.json()
    assert body["@type"] == "statement_error"
    assert body["error_code"] == 40001
    assert body["message"].startswith("line 3:10:") and "NOPE" in body["message"]
    assert body["statementText"] == "CREATE STREAM bad AS\n  SELECT nope FROM clickstream;"
    assert [e["@type"] for e in body["entities"]] == ["streams"]


def test_syntax_error_is_40001(server: LiveServer) -> None:
    body = ksql(server, "SELEKT * FROM errors;").json()
    assert body["error_code"] == 40001 and body["message"].startswith("line 1:1:")


def test_select_and_print_belong_to_query_endpoint(server: LiveServer) -> None:
    for text in ("SELECT * FROM errors EMIT CHANGES;", "PRINT clickstream;"):
        response = ksql(server, text)
        assert response.status_code == 400
        assert response.json()["error_code"] == 40002


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"{}", "\"ksql\""),
        (b'{"ksql": 5}', "\"ksql\""),
        (b'{"ksql": "SHOW STREAMS;", "streamsProperties": [1]}', "streamsProperties"),
        (b'{"ksql": "SHOW STREAMS;", "commandSequenceNumber": "x"}', "commandSequenceNumber"),
        (b"", "empty"),
    ],
)
def test_bad_request_bodies_are_40000(server: LiveServer, body: bytes, expected: str) -> None:
    response = httpx.post(f"{server.url}/ksql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()
    assert error["@type"] == "generic_error" and error["error_code"] == 40000
    assert expected in error["message"]


def test_body_over_the_limit_is_413(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(max_body_bytes=1000)
    response = ksql(server, "SHOW STREAMS; -- " + "x" * 2000)
    assert response.status_code == 413
    assert response.json()["error_code"] == 41300 and "1000 bytes" in response.json()["message"]


def test_session_variables_and_set_are_scoped_to_the_request(server: LiveServer) -> None:
    response = ksql(server, "DEFINE t = 'clickstream'; SHOW VARIABLES; DESCRIBE ${t}; DESCRIBE ${src};",
                    sessionVariables={"src": "errors"})
    variables, first, second = response.json()
    assert variables["variables"] == [{"name": "src", "value": "errors"}, {"name": "t", "value": "clickstream"}]
    assert first["sourceDescription"]["name"] == "CLICKSTREAM"
    assert second["sourceDescription"]["name"] == "ERRORS"
    # the next request knows neither the variable nor the SET
    assert ksql(server, "DESCRIBE ${t};").json()["error_code"] == 40001
    props = ksql(server, "SET 'ksql.streams.num.stream.threads'='7'; SHOW PROPERTIES;").json()[0]
    assert {p["name"]: p["value"] for p in props["properties"]}["ksql.streams.num.stream.threads"] == "7"
    props = ksql(server, "SHOW PROPERTIES;").json()[0]
    assert "ksql.streams.num.stream.threads" not in {p["name"] for p in props["properties"]}
    props = ksql(server, "SHOW PROPERTIES;", streamsProperties={"ksql.streams.x": 3}).json()[0]
    assert {p["name"]: p["value"] for p in props["properties"]}["ksql.streams.x"] == "3"


# -- /query ----------------------------------------------------------------------------------


def test_query_streams_push_rows_as_they_arrive(server: LiveServer) -> None:
    with httpx.stream("POST", f"{server.url}/query", json={"ksql": "SELECT userid, status FROM errors EMIT CHANGES "
                                                                     "LIMIT 2;"}, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["transfer-encoding"] == "chunked"
        chunks = response.iter_bytes()
        header = next(chunks)
        assert header == b'[{"header":{"queryId":"transient_ERRORS_1","schema":"`USERID` INTEGER, `STATUS` INTEGER"}},\n'
        server.state.log.append("clickstream", 0, [click(1, 200), click(2, 404)])
        first = next(c for c in chunks if c.strip())
        # a row arrived before the next record was even produced
        server.state.log.append("clickstream", 0, [click(3, 500)])
        rest = b"".join(chunks)
    body = json.loads(header + first + rest)
    assert body[1:] == [{"row": {"columns": [2, 404]}}, {"row": {"columns": [3, 500]}},
                        {"finalMessage": "Limit Reached"}]
    wait_for(lambda: not server.state.session.push_queries and not push_threads())


def test_query_pull_on_a_table(server: LiveServer) -> None:
    assert ksql(server, BANDWIDTH).status_code == 200
    server.state.log.append("clickstream", 0, [click(1, 200, 10), click(1, 404, 20), click(2, 200, 5)])
    server.state.session.wait_until_processed()
    response = httpx.post(f"{server.url}/query", json={"ksql": "SELECT k, total_bytes FROM bandwidth WHERE k = 1;"})
    body = response.json()
    assert body[0]["header"]["schema"] == "`K` INTEGER KEY, `TOTAL_BYTES` BIGINT"
    assert body[1:] == [{"row": {"columns": [1, 30]}}, {"finalMessage": "Query Completed"}]


def test_query_errors(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/query", json={"ksql": "SELECT * FROM nowhere EMIT CHANGES;"})
    assert response.status_code == 400
    assert response.json()["@type"] == "statement_error" and response.json()["error_code"] == 40001
    assert "NOWHERE" in response.json()["message"]
    response = httpx.post(f"{server.url}/query", json={"ksql": "SHOW STREAMS;"})
    assert response.status_code == 400 and "/ksql" in response.json()["message"]
    response = httpx.post(f"{server.url}/query", json={"ksql": "SELECT * FROM errors; SELECT * FROM errors;"})
    assert response.status_code == 400 and response.json()["error_code"] == 40000


def test_print_over_query(server: LiveServer) -> None:
    server.state.log.append("clickstream", 0, [click(7, 404)])
    response = httpx.post(f"{server.url}/query", json={"ksql": "PRINT clickstream FROM BEGINNING LIMIT 1;"})
    lines = response.text.splitlines()
    assert lines[0].startswith("Key format: ") and lines[1] == "Value format: JSON"
    assert '"userid": 7' in lines[2] and lines[2].startswith("rowtime: ")
    response = httpx.post(f"{server.url}/query", json={"ksql": "PRINT nosuchtopic;"})
    assert response.status_code == 400 and "nosuchtopic" in response.json()["message"]


# -- /query-stream -----------------------------------------------------------------------------


def test_query_stream_delimited(server: LiveServer) -> None:
    server.state.log.append("clickstream", 0, [click(1, 404), click(2, 500)])
    with httpx.stream("POST", f"{server.url}/query-stream",
                      json={"sql": "SELECT userid, request FROM errors EMIT CHANGES LIMIT 2;"}) as response:
        assert response.headers["content-type"] == "application/vnd.ksqlapi.delimited.v1"
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert lines == [{"queryId": "transient_ERRORS_1", "columnNames": ["USERID", "REQUEST"],
                      "columnTypes": ["INTEGER", "STRING"]}, [1, "GET /1"], [2, "GET /2"]]


def test_query_stream_json_form_and_pull(server: LiveServer) -> None:
    assert ksql(server, BANDWIDTH).status_code == 200
    server.state.log.append("clickstream", 0, [click(4, 200, 10), click(5, 200, 5)])
    server.state.session.wait_until_processed()
    response = httpx.post(f"{server.url}/query-stream", json={"sql": "SELECT k, total_bytes FROM bandwidth;"},
                          headers={"Accept": "application/json"})
    assert response.headers["content-type"] == "application/json"
    header, *rows = response.json()
    assert header["columnNames"] == ["K", "TOTAL_BYTES"] and header["columnTypes"] == ["INTEGER", "BIGINT"]
    assert sorted(rows) == [[4, 10], [5, 5]]


def test_query_stream_print_needs_the_delimited_form(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/query-stream", json={"sql": "PRINT clickstream;"},
                          headers={"Accept": "application/json"})
    assert response.status_code == 406 and response.json()["error_code"] == 40600
    response = httpx.post(f"{server.url}/query-stream", json={"ksql": "SELECT * FROM errors EMIT CHANGES;"})
    assert response.status_code == 400 and "\"sql\"" in response.json()["message"]


# -- ending push queries -----------------------------------------------------------------------


def test_client_disconnect_ends_the_push_query(server: LiveServer) -> None:
    for path, field in (("/query", "ksql"), ("/query-stream", "sql")):
        with httpx.stream("POST", f"{server.url}{path}", json={field: "SELECT * FROM errors EMIT CHANGES;"}) as response:
            chunks = response.iter_bytes()
            next(chunks)
            if path == "/query":  # an idle push query sends a newline heartbeat, as ksqlDB does
                assert next(chunks) == b"\n"
            assert len(server.state.session.push_queries) == 1 and push_threads()
        wait_for(lambda: not server.state.session.push_queries and not push_threads())


def test_client_disconnect_ends_print(server: LiveServer) -> None:
    def printing() -> int:
        frames = sys._current_frames().values()
        return sum(1 for frame in frames if any(f.f_code.co_name == "print_lines" for f, _ in traceback.walk_stack(frame)))

    server.state.log.append("clickstream", 0, [click(1, 404)])
    with httpx.stream("POST", f"{server.url}/query", json={"ksql": "PRINT clickstream FROM BEGINNING;"}) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("Key format:")
        wait_for(lambda: printing() == 1)  # a worker thread waits for more records
    wait_for(lambda: printing() == 0)


def test_push_queries_are_limited(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.server import ksql_query

    monkeypatch.setattr(ksql_query, "MAX_PUSH_QUERIES", 1)
    with httpx.stream("POST", f"{server.url}/query-stream", json={"sql": "SELECT * FROM errors EMIT CHANGES;"}) as first:
        next(first.iter_lines())
        second = httpx.post(f"{server.url}/query-stream", json={"sql": "SELECT * FROM errors EMIT CHANGES;"})
        assert second.status_code == 400 and second.json()["error_code"] == 40003
    wait_for(lambda: not server.state.session.push_queries)
    server.state.log.append("clickstream", 0, [click(8, 404)])  # room again once the first one ended
    again = httpx.post(f"{server.url}/query-stream", json={"sql": "SELECT userid FROM errors EMIT CHANGES LIMIT 1;"})
    assert again.status_code == 200 and again.text.splitlines()[1:] == ["[8]"]


def test_close_query_ends_the_stream(server: LiveServer) -> None:
    lines: list[str] = []
    with httpx.stream("POST", f"{server.url}/query-stream", json={"sql": "SELECT * FROM errors EMIT CHANGES;"},
                      timeout=30) as response:
        stream = response.iter_lines()
        query_id = json.loads(next(stream))["queryId"]
        closed = httpx.post(f"{server.url}/close-query", json={"queryId": query_id})
        assert closed.status_code == 200
        lines.extend(stream)  # ends: the server closed the query
    assert [line for line in lines if line] == []
    assert not server.state.session.push_queries
    unknown = httpx.post(f"{server.url}/close-query", json={"queryId": query_id})
    assert unknown.status_code == 400 and query_id in unknown.json()["message"]
    assert httpx.post(f"{server.url}/close-query", json={}).json()["error_code"] == 40000


# -- info, health, status ------------------------------------------------------------------------


def test_info_health_and_status(server: LiveServer) -> None:
    info = httpx.get(f"{server.url}/info").json()["KsqlServerInfo"]
    assert info["version"] == "0.29.0" and info["ksqlServiceId"] == "default_" and info["serverStatus"] == "RUNNING"
    assert httpx.get(f"{server.url}/", follow_redirects=True).json() == {"KsqlServerInfo": info}
    health = httpx.get(f"{server.url}/ksql/healthcheck").json()
    assert health == {"isHealthy": True, "details": {"metastore": {"isHealthy": True}, "kafka": {"isHealthy": True},
                                                     "log": {"isHealthy": True, "problems": []}},
                      "serverState": "READY"}
    statuses = httpx.get(f"{server.url}/status").json()["commandStatuses"]
    assert statuses == {"stream/`CLICKSTREAM`/create": "SUCCESS", "stream/`ERRORS`/create": "SUCCESS"}
    one = httpx.get(f"{server.url}/status/stream/`ERRORS`/create").json()
    assert one == {"status": "SUCCESS", "message": "Created query with ID CSAS_ERRORS_1"}
    assert httpx.get(f"{server.url}/status/stream/ERRORS/create").json()["status"] == "SUCCESS"
    missing = httpx.get(f"{server.url}/status/stream/NOPE/create")
    assert missing.status_code == 404 and missing.json()["error_code"] == 40400


# -- admin key, metrics ---------------------------------------------------------------------------


def test_admin_key_protects_statements_and_queries(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(admin_key="s3cret")
    for path, body in (("/ksql", {"ksql": "SHOW STREAMS;"}), ("/query", {"ksql": "SELECT * FROM x;"}),
                       ("/query-stream", {"sql": "SELECT * FROM x;"}), ("/close-query", {"queryId": "q"})):
        missing = httpx.post(f"{server.url}{path}", json=body)
        assert missing.status_code == 401 and missing.json()["error_code"] == 40100
        wrong = httpx.post(f"{server.url}{path}", json=body, headers={"X-API-Key": "nope"})
        assert wrong.status_code == 403 and wrong.json()["error_code"] == 40300
    assert httpx.post(f"{server.url}/ksql", json={"ksql": "SHOW STREAMS;"},
                      headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert httpx.get(f"{server.url}/info").status_code == 200  # a version probe, as clients do before auth
    assert httpx.get(f"{server.url}/status").status_code == 401
    assert httpx.get(f"{server.url}/status", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_requests_are_counted_by_endpoint_and_outcome(server: LiveServer) -> None:
    registry = server.state.registry

    def count(endpoint: str, outcome: str) -> float:
        return registry.get_sample_value("headwater_ksql_requests_total",
                                         {"endpoint": endpoint, "outcome": outcome}) or 0.0

    before_ok, before_bad = count("ksql", "ok"), count("ksql", "client_error")
    ksql(server, "SHOW STREAMS;")
    ksql(server, "SHOW NONSENSE;")
    httpx.post(f"{server.url}/query", json={})
    assert count("ksql", "ok") == before_ok + 1
    assert count("ksql", "client_error") == before_bad + 1
    assert count("query", "client_error") == 1


@pytest.mark.kafka
def test_statements_and_push_query_on_kafka(live_server: Callable[..., LiveServer], kafka_bootstrap: str,
                                            new_topic: Callable[[str], str]) -> None:
    topic = new_topic("clicks")
    server = live_server(log_url=f"kafka://{kafka_bootstrap}",
                         ksql_properties={"auto.offset.reset": "earliest", "ksql.service.id": topic.replace("-", "_")})
    created = ksql(server, CLICKSTREAM.replace("'clickstream'", f"'{topic}'") + ERRORS)
    assert created.status_code == 200, created.text
    server.state.log.append(topic, 0, [click(1, 200), click(2, 404)])
    with httpx.stream("POST", f"{server.url}/query-stream", timeout=60,
                      json={"sql": "SELECT userid, status FROM errors EMIT CHANGES LIMIT 1;"}) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert lines[1:] == [[2, 404]]
