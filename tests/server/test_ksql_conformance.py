"""ksqlDB REST conformance: /inserts-stream (HTTP/1.1 and h2c, the ksqldb client), pull queries on
streams and the pull-query properties, DROP of a CREATE ... AS source, CREATE/DROP/SHOW TYPES."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.server.live import LiveServer
from tests.server.test_ksql_rest import CLICKSTREAM, ERRORS, ksql

ksqldb = pytest.importorskip("ksqldb")

PAGES = ("CREATE STREAM pages (id INT KEY, page STRING, n BIGINT) WITH (kafka_topic='pages', value_format='JSON', "
         "partitions=2);")


def _rows(server: LiveServer, sql: str, **properties: str) -> list[list[object]]:
    response = httpx.post(f"{server.url}/query-stream", json={"sql": sql, "properties": properties}, timeout=30)
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    return sorted(lines[1:], key=json.dumps)  # type: ignore[arg-type]


def test_inserts_stream_http1_then_pull_query_on_the_stream(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    assert ksql(server, PAGES).status_code == 200
    body = "\n".join(json.dumps(x) for x in [
        {"target": "PAGES"}, {"ID": 1, "PAGE": "home", "N": 3}, {"id": 2, "page": "cart"}, {"ID": "x"},
        {"ID": 4, "PAGE": "never"}])
    response = httpx.post(f"{server.url}/inserts-stream", content=body,
                          headers={"content-type": "application/vnd.ksqlapi.delimited.v1"}, timeout=30)
    assert response.status_code == 200
    acks = [json.loads(line) for line in response.text.splitlines()]
    assert acks[:2] == [{"status": "ok", "seq": 0}, {"status": "ok", "seq": 1}]
    assert acks[2]["status"] == "error" and acks[2]["seq"] == 2 and acks[2]["error_code"] == 40000
    assert "ID" in acks[2]["message"] and len(acks) == 3  # the stream ends at the first error
    assert _rows(server, "SELECT * FROM pages;") == [[1, "home", 3], [2, "cart", None]]
    assert _rows(server, "SELECT page FROM pages WHERE id = 2;") == [["cart"]]
    refused = httpx.post(f"{server.url}/query-stream", json={
        "sql": "SELECT * FROM pages;", "properties": {"ksql.query.pull.stream.enabled": "false"}}, timeout=30)
    assert refused.status_code == 400 and "Pull queries on streams are disabled" in refused.json()["message"]


def test_inserts_stream_refuses_unknown_and_table_targets(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    ksql(server, PAGES + "CREATE TABLE t (id INT PRIMARY KEY, v STRING) WITH (kafka_topic='t', format='JSON', "
                 "partitions=1);")
    for target, message in [("NOPE", "Cannot insert into an unknown stream: NOPE"), ("T", "Cannot insert into a table")]:
        response = httpx.post(f"{server.url}/inserts-stream", content=json.dumps({"target": target}) + "\n{}\n",
                              timeout=30)
        assert response.status_code == 400 and response.json()["message"] == message
    response = httpx.post(f"{server.url}/inserts-stream", content=b"not json\n", timeout=30)
    assert response.status_code == 400 and response.json()["error_code"] == 40000


def test_ksqldb_client_inserts_stream_over_h2c(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(http2=True)
    client = ksqldb.KSQLdbClient(server.url)
    client.ksql(PAGES)
    acks = client.inserts_stream("PAGES", [{"ID": 7, "PAGE": "a", "N": 1}, {"ID": 8, "PAGE": "b", "N": 2}])
    assert acks == [{"status": "ok", "seq": 0}, {"status": "ok", "seq": 1}]
    header, *rows = client.query_sync("SELECT id, n FROM pages;")
    assert header["columnNames"] == ["ID", "N"] and sorted(rows) == [[7, 1], [8, 2]]


def test_table_scan_property_and_drop_of_a_derived_source(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    ksql(server, CLICKSTREAM + ERRORS + "CREATE TABLE per_user AS SELECT userid, COUNT(*) AS c FROM clickstream "
                 "GROUP BY userid;")
    no_scan = {"ksql.query.pull.table.scan.enabled": "false"}
    refused = httpx.post(f"{server.url}/query-stream", json={"sql": "SELECT * FROM per_user;", "properties": no_scan},
                         timeout=30)
    assert refused.status_code == 400
    assert refused.json()["message"].endswith("Query requires table scan to be enabled. Table scans can be enabled by "
                                         "setting ksql.query.pull.table.scan.enabled=true")
    assert _rows(server, "SELECT * FROM per_user WHERE userid = 1;", **no_scan) == []
    # DROP of a CREATE ... AS source terminates its query, so drop-and-recreate scripts run.
    response = ksql(server, "DROP STREAM errors; DROP TABLE per_user DELETE TOPIC; " + ERRORS)
    assert response.status_code == 200, response.text
    queries = ksql(server, "SHOW QUERIES;").json()[0]["queries"]
    assert [q["id"] for q in queries] == ["CSAS_ERRORS_5"]
    refused = ksql(server, "DROP STREAM clickstream;")
    assert refused.status_code == 400 and "CSAS_ERRORS_5" in refused.json()["message"]


def test_custom_types_over_rest(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    created = ksql(server, "CREATE TYPE address AS STRUCT<number INT, street STRING>;").json()[0]
    assert created["commandStatus"]["message"] == ("Registered custom type with name 'ADDRESS' and SQL type "
                                                   "STRUCT<`NUMBER` INTEGER, `STREET` STRING>")
    types = ksql(server, "SHOW TYPES;").json()[0]
    assert types["@type"] == "type_list" and types["types"]["ADDRESS"]["type"] == "STRUCT"
    assert ksql(server, "CREATE STREAM homes (id INT KEY, a ADDRESS) WITH (kafka_topic='homes', format='JSON', "
                        "partitions=1);").status_code == 200
    assert ksql(server, "DROP TYPE address;").json()[0]["commandStatus"]["message"] == "Dropped type 'ADDRESS'"
    assert ksql(server, "SHOW TYPES;").json()[0]["types"] == {}
    missing = ksql(server, "DROP TYPE address;")
    assert missing.status_code == 400 and missing.json()["message"].endswith("Type ADDRESS does not exist.")
