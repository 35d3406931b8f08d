"""Existing ksqlDB Python clients, unchanged, against a real server on 127.0.0.1.

- ``ksql-python-ng`` (import ``ksql``; the maintained fork of ksql-python, whose
  own PyPI release ``ksql`` 0.10.2 no longer builds: its setup.py imports pip):
  ``KSQLAPI(url).ksql(...)``, ``.query(...)`` over HTTP/1.1 /query, and over
  HTTP/2 /query-stream with ``use_http2=True``.
- ``ksqldb`` (``KSQLdbClient``): ``.ksql``, ``.query_sync`` and ``.query_async``,
  the last two over HTTP/2 (prior-knowledge h2c), which uvicorn serves with zttp.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.server.live import LiveServer
from tests.server.test_ksql_rest import BANDWIDTH, CLICKSTREAM, ERRORS, click

ksql_client = pytest.importorskip("ksql")
ksqldb = pytest.importorskip("ksqldb")


def _produce_later(server: LiveServer, records: list, delay_s: float = 0.5) -> threading.Thread:
    def produce() -> None:
        time.sleep(delay_s)
        server.state.log.append("clickstream", 0, records)

    thread = threading.Thread(target=produce)
    thread.start()
    return thread


def test_ksql_python_statements_and_http1_query(live_server: Callable[..., LiveServer]) -> None:
    server = live_server()
    client = ksql_client.KSQLAPI(server.url)
    assert client.get_ksql_version() == "0.29.0"
    created = client.ksql(CLICKSTREAM + ERRORS)
    assert [e["commandStatus"]["status"] for e in created] == ["SUCCESS", "SUCCESS"]
    assert {s["name"] for s in client.ksql("SHOW STREAMS;")[0]["streams"]} == {"CLICKSTREAM", "ERRORS"}
    assert "auto.offset.reset" in {p["name"] for p in client.get_properties()}
    with pytest.raises(ksql_client.errors.KSQLError) as failed:
        client.ksql("CREATE STREAM oops AS SELECT nope FROM clickstream;")
    assert failed.value.error_code == 40001 and "NOPE" in failed.value.msg

    producer = _produce_later(server, [click(1, 404), click(2, 200), click(3, 503)])
    chunks = list(client.query("SELECT userid, status FROM errors EMIT CHANGES LIMIT 2;"))
    producer.join()
    body = json.loads("".join(chunks))
    assert body[0]["header"]["schema"] == "`USERID` INTEGER, `STATUS` INTEGER"
    assert [item["row"]["columns"] for item in body[1:-1]] == [[1, 404], [3, 503]]
    assert body[-1] == {"finalMessage": "Limit Reached"}


def test_ksql_python_http2_query_stream(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(http2=True)
    client = ksql_client.KSQLAPI(server.url)
    client.ksql(CLICKSTREAM + ERRORS)
    server.state.log.append("clickstream", 0, [click(5, 404), click(6, 500)])
    rows = list(client.query("SELECT userid, status FROM errors EMIT CHANGES LIMIT 2;", use_http2=True, parse=True))
    assert rows == [{"USERID": 5, "STATUS": 404}, {"USERID": 6, "STATUS": 500}]
    assert client.close_query("transient_ERRORS_999") is False


def test_ksqldb_client(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(http2=True)
    client = ksqldb.KSQLdbClient(server.url)
    client.ksql(CLICKSTREAM + ERRORS + BANDWIDTH)
    server.state.log.append("clickstream", 0, [click(1, 404, 10), click(1, 200, 5), click(2, 200, 7)])
    server.state.session.wait_until_processed()
    header, *rows = client.query_sync("SELECT k, total_bytes FROM bandwidth;")
    assert header["columnNames"] == ["K", "TOTAL_BYTES"]
    assert sorted(rows) == [[1, 15], [2, 7]]

    async def push() -> list:
        items = []
        async for item in client.query_async("SELECT userid, request FROM errors EMIT CHANGES LIMIT 2;", timeout=20):
            items.append(item)
            if len(items) == 2:  # the first row arrived while the query was running: produce the next
                server.state.log.append("clickstream", 0, [click(9, 500)])
        return items

    header, *rows = asyncio.run(push())
    assert header["columnNames"] == ["USERID", "REQUEST"] and header["queryId"].startswith("transient_ERRORS_")
    assert rows == [[1, "GET /1"], [9, "GET /9"]]
    assert client.close_query("nope") is False


def test_ksqldb_client_against_headwater_up_http2(tmp_path: Path) -> None:
    """``headwater up --http2``: the ksqldb client's HTTP/2 /query-stream works against the real command."""
    from tests.server.server_process import ServerProcess

    server = ServerProcess(tmp_path / "data", "--http2", "--ksql-property", "auto.offset.reset=earliest").start()
    try:
        client = ksqldb.KSQLdbClient(server.url)
        client.ksql(CLICKSTREAM + ERRORS)
        client.ksql("INSERT INTO clickstream (userid, request, status) VALUES (4, 'GET /4', 404);")
        header, row = asyncio.run(_collect(client, "SELECT userid, status FROM errors EMIT CHANGES LIMIT 1;"))
        assert header["columnNames"] == ["USERID", "STATUS"] and row == [4, 404]
    finally:
        server.stop()


async def _collect(client: object, sql: str) -> list:
    return [item async for item in client.query_async(sql, timeout=30)]  # type: ignore[attr-defined]
