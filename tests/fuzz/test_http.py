"""Fuzzing the HTTP APIs in process (ASGI): collector, ksqlDB REST, Connect and topic APIs.

Every generated request must get an answer below 500; a refusal (4xx) is a JSON
object whose ``message`` says what was wrong. Requests the issue already lists
as answered 5xx (being fixed elsewhere) are counted apart as ``known`` while
their fixes land: ``KNOWN`` below says which.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from headwater.server import ServerConfig, create_app
from tests.fuzz.corpus import sql_inputs
from tests.fuzz.harness import TALLY, attempt, examples

json_scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=16)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
# Path segments: a "/" or an empty one is another route (Starlette's plain-text 404), not this API's input.
names = st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
                  st.text(min_size=1, max_size=12).filter(lambda s: "/" not in s and s not in (".", "..")))


def nested(depth: int, leaf: Any = 1) -> Any:
    for i in range(depth):
        leaf = {"a": leaf} if i % 2 else [leaf]
    return leaf


deep_values = st.integers(1, 600).map(nested)

def created_name(method: str, path: str, body: str) -> str:
    """The connector name a PUT .../config or a POST /connectors creates ("" otherwise)."""
    if method == "PUT" and path.startswith("/connectors/") and path.endswith("/config"):
        return unquote(path.split("/")[2])
    if method == "POST" and path == "/connectors":
        try:
            name = json.loads(body).get("name")
        except (ValueError, AttributeError):
            return ""
        return name if isinstance(name, str) else ""
    return ""


#: 5xx answers of known findings: the issue lists the first ones (issue 12, "Fuzzing"), fixed by other work; the
#: last two have their regression tests in test_regressions.py. (what, does this request match)
KNOWN: list[tuple[str, Callable[[str, str, Any], bool]]] = [
    ("a connector created with a non-ASCII name: its Location header is not percent-encoded",
     lambda method, path, body: not created_name(method, path, body).isascii()),
]


class InLoopClient:
    """Requests to the app, each sent whole on the app's event loop.

    Starlette's TestClient runs the app's lifespan on an event loop in another thread and
    hands every message of a request over to it (about eight thread switches a request);
    here one call per request runs it on that loop with httpx's ASGI transport. A 500
    is an answer (an exception in the app is not raised here), as for a real client.
    """

    def __init__(self, test_client: InLoopClient) -> None:
        assert test_client.portal is not None, "enter the TestClient first (it runs the lifespan)"
        self.portal = test_client.portal
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=test_client.app,
                                                                      raise_app_exceptions=False),
                                        base_url=str(test_client.base_url))

    def request(self, method: str, path: str, *, content: bytes | None = None,
                headers: dict[str, str] | None = None) -> httpx.Response:
        return self.portal.call(functools.partial(self.client.request, method, path, content=content,
                                                  headers=headers))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InLoopClient]:
    work = Path(tmp_path_factory.mktemp("fuzz-http"))
    cwd = os.getcwd()
    os.chdir(work)  # a connector config that names a relative file keeps it in here
    try:
        app = create_app(ServerConfig(log_url=str(work / "log"), ksql_properties={"auto.offset.reset": "earliest"}))
        with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1:8088") as test_client:
            in_loop = InLoopClient(test_client)
            yield in_loop
            test_client.portal.call(in_loop.client.aclose)  # type: ignore[union-attr]
    finally:
        os.chdir(cwd)


def send(client: InLoopClient, method: str, path: str, *, body: Any = None, content: bytes | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response | None:
    """One generated request; checks the answer: below 500, a refusal a JSON object with a message."""
    if content is None and body is not None:
        content = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    full = content.decode("utf-8", "replace") if content is not None else ""
    if content is not None and (headers or {}).get("Content-Encoding") == "gzip":
        try:  # what the server reads, for matching KNOWN
            full = gzip.decompress(content).decode("utf-8", "replace")
        except (OSError, EOFError):
            pass
    shown = full[:300]
    response = attempt(lambda: client.request(method, path, content=content, headers=headers), (method, path, shown))
    assert response is not None
    if response.status_code >= 500:
        known = [what for what, matches in KNOWN if matches(method, path, full)]
        if known:
            TALLY.known += 1
            return response
        TALLY.server_errors += 1
        TALLY.failed(f"{response.status_code} {method} {path} {full[:600]!r}: {response.text[:300]}")
        pytest.fail(f"{method} {path} {shown!r:.500} answered {response.status_code}: {response.text[:500]}")
    if response.status_code >= 400:
        try:
            answer = response.json()
        except ValueError:
            pytest.fail(f"{method} {path} {shown!r:.300}: {response.status_code} without JSON: {response.text[:300]}")
        assert isinstance(answer, dict) and isinstance(answer.get("message"), str) and answer["message"].strip(), (
            method, path, shown, answer)
    return response


EVENT_TYPES = ["track", "identify", "page", "screen", "group", "alias"]


@st.composite
def segment_event(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {"type": draw(st.sampled_from(EVENT_TYPES) | json_values)}
    for field in ("userId", "anonymousId", "event", "messageId", "groupId", "previousId", "timestamp", "sentAt",
                  "name", "properties", "traits", "context"):
        if draw(st.booleans()):
            event[field] = draw(st.one_of(st.text(max_size=12), json_values, deep_values, st.sampled_from(
                ["2024-01-01T00:00:00Z", "2024-13-45T99:99:99Z", "1e20", "-1", "", "\x00"])))
    return event


@st.composite
def collector_request(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    path = draw(st.sampled_from(["/v1/batch", "/v1/import", *(f"/v1/{t}" for t in EVENT_TYPES)]))
    if path in ("/v1/batch", "/v1/import"):
        body: Any = {"batch": draw(st.lists(segment_event(), max_size=5) | json_values)}
        if draw(st.booleans()):
            body["context"] = draw(json_values)
    else:
        body = draw(segment_event() | json_values)
    raw = draw(st.one_of(st.just(json.dumps(body).encode()), st.binary(max_size=64),
                         st.just(json.dumps(body).encode()[: draw(st.integers(0, 40))])))
    headers = {"Content-Type": draw(st.sampled_from(["application/json", "text/plain", "", "x/y; charset=zz"]))}
    encoding = draw(st.sampled_from(["", "", "gzip", "deflate", "br"]))
    if encoding:
        headers["Content-Encoding"] = encoding
        if encoding == "gzip" and draw(st.booleans()):
            raw = gzip.compress(raw)
    return path, raw, headers


@examples("collector")
@given(request=collector_request())
def test_collector_answers_every_request_below_500(client: InLoopClient, request: tuple[str, bytes, dict[str, str]]
                                                   ) -> None:
    path, raw, headers = request
    response = send(client, "POST", path, content=raw, headers=headers)
    if response is not None and response.status_code == 200:
        assert response.json() == {"success": True}


def harmless(sql: str) -> bool:
    """Leaves out what would make the fuzzed server itself heavy: connectors that generate data, huge partition
    counts (a finding of issue 12 being fixed elsewhere)."""
    return "CONNECTOR" not in sql.upper() and not re.search(r"(?i)partitions\s*=\s*\d{3,}", sql)


@examples("ksql")
@given(sql=sql_inputs, properties=st.none() | st.dictionaries(st.text(max_size=20), json_scalars, max_size=3),
       shape=st.sampled_from(["statement", "statement", "json", "bytes"]), junk=json_values | st.binary(max_size=40))
def test_ksql_rest_answers_every_statement_below_500(client: InLoopClient, sql: str, properties: dict[str, Any] | None,
                                                     shape: str, junk: Any) -> None:
    assume(harmless(sql))
    if shape == "statement":
        body: dict[str, Any] = {"ksql": sql}
        if properties is not None:
            body["streamsProperties"] = properties
        send(client, "POST", "/ksql", body=body)
    elif shape == "json":
        send(client, "POST", "/ksql", body=junk if not isinstance(junk, bytes) else {"ksql": junk.hex()})
    else:
        send(client, "POST", "/ksql", content=junk if isinstance(junk, bytes) else b"{",
             headers={"Content-Type": "application/vnd.ksql.v1+json"})


CONNECTOR_CLASSES = ["io.confluent.connect.jdbc.JdbcSinkConnector", "FileStreamSink", "FileStreamSource",
                     "io.confluent.kafka.connect.datagen.DatagenConnector",
                     "io.debezium.connector.mysql.MySqlConnector"]
CONFIG_KEYS = ["connector.class", "tasks.max", "topics", "topics.regex", "connection.url", "connection.user",
               "insert.mode", "pk.mode", "pk.fields", "file", "topic", "kafka.topic", "quickstart", "iterations",
               "transforms", "transforms.x.type", "errors.tolerance", "key.converter", "value.converter", "name"]


@st.composite
def connector_config(draw: st.DrawFn) -> dict[str, Any]:
    config = draw(st.dictionaries(st.sampled_from(CONFIG_KEYS) | st.text(max_size=10),
                                  st.text(max_size=20) | st.sampled_from(["1", "-1", "99999999999", "true", "upsert",
                                                                          "jdbc:mysql://[::1", "mysql://x:y@/"]),
                                  max_size=6))
    if draw(st.booleans()):
        config["connector.class"] = draw(st.sampled_from(CONNECTOR_CLASSES))
    if draw(st.integers(0, 9)) == 0:
        return {k: draw(json_values) for k in config}  # values that are not strings
    return config


@examples("connect")
@given(name=names, config=connector_config(), action=st.sampled_from(["validate", "put", "post", "get", "junk"]),
       plugin=st.sampled_from(CONNECTOR_CLASSES) | names)
def test_connect_api_answers_every_request_below_500(client: InLoopClient, name: str, config: dict[str, Any],
                                                     action: str, plugin: str) -> None:
    # Files and databases named by a fuzzed config stay relative to the test's directory.
    assume(not any("/" in str(v) or ".." in str(v) for k, v in config.items() if k != "connector.class")
           or action == "validate")
    quoted = quote(name, safe="")
    created = None
    if action == "validate":
        send(client, "PUT", f"/connector-plugins/{quote(plugin, safe='')}/config/validate", body=config)
    elif action == "put":
        created = send(client, "PUT", f"/connectors/{quoted}/config", body=config)
    elif action == "post":
        created = send(client, "POST", "/connectors", body={"name": name, "config": config})
    elif action == "get":
        for suffix in ("", "/status", "/config", "/tasks", "/topics", "/offsets"):
            send(client, "GET", f"/connectors/{quoted}{suffix}")
    else:
        send(client, "POST", "/connectors", content=json.dumps(config).encode()[:20],
             headers={"Content-Type": "application/json"})
    if created is not None and created.status_code in (200, 201):
        send(client, "DELETE", f"/connectors/{quoted}")


def long_poll(timeout_ms: str) -> bool:
    """A timeout_ms the server waits for (over 200 ms); '³' is a digit to str.isdigit, not to int()."""
    try:
        return int(timeout_ms) > 200
    except ValueError:
        return False


@examples("topics")
@given(topic=names, partition=st.integers(-3, 3) | names,
       params=st.dictionaries(st.sampled_from(["offset", "timestamp", "limit", "timeout_ms"]),
                              st.integers(-2**40, 2**40).map(str) | st.text(max_size=10)
                              | st.sampled_from(["1e20", "-1e20", "NaN", "2024-01-01T00:00:00Z", "9" * 30]),
                              max_size=3),
       action=st.sampled_from(["read", "create", "produce", "describe"]), body=json_values)
def test_topic_api_answers_every_request_below_500(client: InLoopClient, topic: str, partition: Any,
                                                   params: dict[str, str], action: str, body: Any) -> None:
    if "timeout_ms" in params:  # a long poll is an answer that takes its time, not a hang
        assume(not long_poll(params["timeout_ms"]))
    quoted = quote(topic, safe="")
    if action == "read":
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        for name in (quoted, "events"):
            send(client, "GET", f"/topics/{name}/partitions/{quote(str(partition), safe='')}/messages?{query}")
    elif action == "create":
        if isinstance(body, dict) and isinstance(body.get("partitions"), int):
            assume(body["partitions"] <= 64)  # unbounded partition counts: a finding being fixed elsewhere
        send(client, "POST", "/topics", body=body if isinstance(body, dict) and body else {"name": topic, "x": body})
    elif action == "produce":
        records = body if isinstance(body, dict) else {"records": body}
        send(client, "POST", f"/topics/{quoted}/messages", body=records)
    else:
        send(client, "GET", f"/topics/{quoted}")
