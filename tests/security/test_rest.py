"""The crafted statements through the REST API (ASGI test client): clear 4xx JSON, nothing written or read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from headwater.server import ServerConfig, create_app
from tests.security.attack import SECRET, Target, backquoted, ksql_string


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = ServerConfig(log_url=str(tmp_path / "log"), ksql_properties={"auto.offset.reset": "earliest"})
    with TestClient(create_app(config), base_url="http://127.0.0.1:8088") as started:
        yield started


@pytest.fixture
def target(tmp_path: Path) -> Target:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    return Target(out=tmp_path / "written.csv", secret=secret)


def test_insert_values_injection_through_ksql(client: TestClient, target: Target) -> None:
    for i, name in enumerate(target.identifiers()):
        column = backquoted(name)
        response = client.post("/ksql", json={"ksql": (
            f"CREATE STREAM t{i} (id INT, {column} VARCHAR) WITH (kafka_topic='t{i}', value_format='json', "
            f"partitions=1); INSERT INTO t{i} (id, {column}) VALUES (1, {ksql_string(target.strings()[0])}); "
            f"INSERT INTO t{i} (id) VALUES (2);")})
        assert response.status_code == 200, response.text
        assert not target.out.exists()
        assert SECRET not in response.text
        rows = client.get(f"/topics/t{i}/partitions/0/records", params={"offset": 0})
        assert SECRET not in rows.text


def test_an_expression_nested_5000_levels_is_a_clear_400(client: TestClient) -> None:
    client.post("/ksql", json={"ksql": "CREATE STREAM s (x INT) WITH (kafka_topic='s', value_format='json', "
                                       "partitions=1);"})
    text = "SELECT " + "(" * 5000 + "x" + ")" * 5000 + " AS v FROM s EMIT CHANGES;"
    for path, body in (("/ksql", {"ksql": "CREATE STREAM deep AS " + text}), ("/query-stream", {"sql": text})):
        response = client.post(path, json=body)
        assert response.status_code == 400, response.text
        assert "too deeply nested" in response.json()["message"]
        assert response.json()["message"].startswith("line 1:")


def test_a_push_query_that_cannot_run_is_refused_through_query_stream(client: TestClient) -> None:
    client.post("/ksql", json={"ksql": "CREATE STREAM s (a VARCHAR) WITH (kafka_topic='s', value_format='json', "
                                       "partitions=1); INSERT INTO s (a) VALUES ('abc');"})
    response = client.post("/query-stream", json={"sql": "SELECT REGEXP_REPLACE(a, 'a', '$1') AS r FROM s EMIT CHANGES;"})
    assert response.status_code == 400, response.text
    assert "REGEXP_REPLACE" in response.json()["message"] and "$1" in response.json()["message"]
