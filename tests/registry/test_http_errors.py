"""Bad requests to the registry get Confluent's JSON errors (4xx), never a 500; the guard stays in front."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from headwater.server import ServerConfig, create_app

HEADERS = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    with TestClient(create_app(ServerConfig(log_url=str(tmp_path / "log"))), base_url="http://127.0.0.1:8088") as c:
        yield c


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), [
    ("POST", "/registry/subjects/s/versions", b"not json", 400, 400),
    ("POST", "/registry/subjects/s/versions", b"[1, 2]", 422, 422),
    ("POST", "/registry/subjects/s/versions", b'{"schema": 5}', 422, 42201),
    ("POST", "/registry/subjects/s/versions", b'{"schema": "{\\"type\\": \\"nope\\"}"}', 422, 42201),
    ("POST", "/registry/subjects/s/versions", b'{"schema": "\\"string\\"", "schemaType": "XML"}', 422, 42201),
    ("POST", "/registry/subjects/s/versions", b'{"schema": "\\"string\\"", "references": "x"}', 422, 42201),
    ("GET", "/registry/subjects/s/versions/1", None, 404, 40401),
    ("GET", "/registry/subjects/s/versions/zero", None, 404, 40401),
    ("GET", "/registry/schemas/ids/99999999999999", None, 404, 40403),
    ("GET", "/registry/schemas/ids/-1", None, 404, 40403),
    ("DELETE", "/registry/subjects/none", None, 404, 40401),
    ("PUT", "/registry/config", b'{"compatibility": "SIDEWAYS"}', 422, 42203),
    ("PUT", "/registry/config", b'{"compatibility": 3}', 422, 42203),
    ("GET", "/registry/config/none", None, 404, 40408),
    ("POST", "/registry/compatibility/subjects/none/versions/latest", b'{"schema": "\\"string\\""}', 404, 40401),
])
def test_bad_requests_get_confluent_errors(client: TestClient, method: str, path: str, body: bytes | None,
                                           status: int, code: int) -> None:
    answer = client.request(method, path, content=body, headers=HEADERS)
    assert answer.status_code == status, answer.text
    assert answer.json()["error_code"] == code


def test_versions_and_ids_after_registration(client: TestClient) -> None:
    created = client.post("/registry/subjects/s-value/versions", content=b'{"schema": "\\"string\\""}',
                          headers=HEADERS)
    assert created.status_code == 200 and created.json()["id"] == 1
    assert client.get("/registry/subjects/s-value/versions/latest/schema").text == '"string"'
    assert client.get("/registry/schemas/ids/1/versions").json() == [{"subject": "s-value", "version": 1}]
    bad_version = client.get("/registry/subjects/s-value/versions/zero")
    assert (bad_version.status_code, bad_version.json()["error_code"]) == (422, 42202)
    assert client.get("/registry/subjects/s-value/versions/2").json()["error_code"] == 40402


def test_the_guard_checks_keys_and_origins(tmp_path: Path) -> None:
    app = create_app(ServerConfig(log_url=str(tmp_path / "log"), admin_key="secret"))
    with TestClient(app, base_url="http://127.0.0.1:8088") as client:
        assert client.get("/registry/subjects").status_code == 401
        assert client.get("/registry/subjects", auth=("user", "secret")).json() == []
        foreign = client.get("/registry/subjects", headers={"Origin": "http://evil.example", "X-API-Key": "secret"})
        assert foreign.status_code == 403
