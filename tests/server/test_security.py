"""The attacks of issue 12 against a default server (127.0.0.1, no key), over real HTTP: a web page of
another origin, a DNS-rebound name, connector configs that reach outside their directory; then keys
with roles, secrets in the Connect API, and the fuzz-found 500s."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.live import LiveServer

FOREIGN = "http://127.0.0.1:9999"  # a page served by another local port: another origin
TEXT = {"Origin": FOREIGN, "Content-Type": "text/plain;charset=UTF-8"}


def post(server: LiveServer, path: str, body: Any, headers: dict[str, str] | None = None,
         method: str = "POST") -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", content=json.dumps(body), headers=headers or {}, timeout=30)


def admin_json(server: LiveServer, path: str, body: Any, method: str = "POST", **headers: str) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", json=body, headers=headers, timeout=30)


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    started = live_server()
    made = admin_json(started, "/ksql", {"ksql": "CREATE STREAM s (v VARCHAR) WITH (kafka_topic='victim', "
                                                 "value_format='json', partitions=1);"})
    assert made.status_code == 200, made.text
    return started


def assert_refused(response: httpx.Response, status: int = 403) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["message"]
    assert "access-control-allow-origin" not in response.headers


def test_a_foreign_page_cannot_delete_drop_or_start_connectors(server: LiveServer, tmp_path: Path) -> None:
    bashrc = tmp_path / "home" / ".bashrc"
    bashrc.parent.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("AWS_SECRET=abc123\n")
    db = tmp_path / "owned.db"
    assert_refused(httpx.delete(f"{server.url}/topics/victim", headers={"Origin": FOREIGN}))
    assert_refused(post(server, "/ksql", {"ksql": "DROP STREAM s DELETE TOPIC;"}, TEXT))
    sink = {"name": "dump", "config": {"connector.class": "FileStreamSink", "topics": "victim", "file": str(bashrc)}}
    assert_refused(post(server, "/connectors", sink, TEXT))
    source = {"name": "steal", "config": {"connector.class": "FileStreamSource", "topic": "loot",
                                          "file": str(secret)}}
    assert_refused(post(server, "/connectors", source, TEXT))
    jdbc = {"name": "lite", "config": {"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
                                       "topics": "victim", "connection.url": f"jdbc:sqlite:{db}",
                                       "auto.create": "true"}}
    assert_refused(post(server, "/connectors", jdbc, TEXT))
    assert_refused(post(server, "/connectors/dump/config", sink["config"], TEXT, method="PUT"))
    # A preflight from that origin gets no CORS grant either.
    assert_refused(httpx.options(f"{server.url}/connectors", headers={
        "Origin": FOREIGN, "Access-Control-Request-Method": "POST"}))
    time.sleep(0.5)
    topics = {t["name"] for t in httpx.get(f"{server.url}/topics").json()["topics"]}
    assert "victim" in topics and "loot" not in topics
    assert httpx.get(f"{server.url}/connectors").json() == []
    assert not bashrc.exists() and not db.exists()
    shown = admin_json(server, "/ksql", {"ksql": "SHOW STREAMS;"}).json()[0]["streams"]
    assert [s["name"] for s in shown if s["name"] == "S"] == ["S"]


def test_text_plain_without_origin_and_rebound_host_names_are_refused(server: LiveServer) -> None:
    assert_refused(post(server, "/ksql", {"ksql": "DROP STREAM s DELETE TOPIC;"}, {"Content-Type": "text/plain"}),
                   415)
    form = httpx.post(f"{server.url}/topics", data={"name": "x"}, timeout=30)
    assert_refused(form, 415)
    rebound = {"Host": f"attacker.example:{server.url.rsplit(':', 1)[1]}"}
    assert_refused(httpx.delete(f"{server.url}/topics/victim", headers=rebound))
    assert_refused(httpx.get(f"{server.url}/topics/victim/partitions/0/messages", headers=rebound))
    assert_refused(httpx.get(f"{server.url}/metrics", headers=rebound))
    # The same page with a name of the attacker's is still refused even when same-origin with itself.
    assert_refused(httpx.post(f"{server.url}/ksql", json={"ksql": "SHOW STREAMS;"},
                              headers={**rebound, "Origin": f"http://{rebound['Host']}"}))
    assert_refused(httpx.get(f"{server.url}/topics", headers={"Sec-Fetch-Site": "cross-site",
                                                              "Sec-Fetch-Mode": "cors"}))
    assert "victim" in {t["name"] for t in httpx.get(f"{server.url}/topics").json()["topics"]}


def test_same_origin_pages_and_localhost_names_still_work(server: LiveServer) -> None:
    port = server.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        answer = httpx.post(f"{server.url}/ksql", json={"ksql": "SHOW STREAMS;"},
                            headers={"Host": host, "Origin": f"http://{host}"})
        assert answer.status_code == 200, answer.text
    # The collector keeps its CORS for browsers of any origin, and health checks stay open.
    collected = httpx.post(f"{server.url}/v1/track", content=json.dumps({"userId": "u", "event": "e"}),
                           headers={"Origin": FOREIGN, "Content-Type": "text/plain"})
    assert collected.status_code == 200 and collected.headers["access-control-allow-origin"] == "*"
    assert httpx.get(f"{server.url}/healthcheck", headers={"Host": "any.example"}).status_code == 200
    assert httpx.get(f"{server.url}/ksql/healthcheck").status_code == 200


def test_allowed_origins_get_cors_answers(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(allowed_origins=("https://ui.example.com",))
    preflight = httpx.options(f"{server.url}/ksql", headers={
        "Origin": "https://ui.example.com", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://ui.example.com"
    answer = httpx.post(f"{server.url}/ksql", json={"ksql": "SHOW STREAMS;"},
                        headers={"Origin": "https://ui.example.com"})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://ui.example.com"
    assert_refused(httpx.post(f"{server.url}/ksql", json={"ksql": "SHOW STREAMS;"},
                              headers={"Origin": "https://evil.example.com"}))


def test_connectors_are_confined_to_their_directory_and_allowed_databases(server: LiveServer,
                                                                         tmp_path: Path) -> None:
    """Even an allowed caller (same origin, JSON) cannot make a connector reach outside."""
    files = Path(server.state.config.log_url) / "connect-files"
    secret = tmp_path / "secret.txt"
    secret.write_text("AWS_SECRET=abc123\n")
    outside = tmp_path / ".bashrc"
    attempts = {
        "file": {"connector.class": "FileStreamSink", "topics": "victim", "file": str(outside)},
        "dotdot": {"connector.class": "FileStreamSink", "topics": "victim", "file": str(files / ".." / "x.txt")},
        "source": {"connector.class": "FileStreamSource", "topic": "loot", "file": str(secret)},
        "sqlite": {"connector.class": "JdbcSink", "topics": "victim", "connection.url": f"jdbc:sqlite:{outside}"},
        "mariadb": {"connector.class": "JdbcSink", "topics": "victim",
                    "connection.url": "jdbc:mariadb://127.0.0.1:3306/test"},
    }
    for name, config in attempts.items():
        refused = admin_json(server, "/connectors", {"name": name, "config": config})
        assert refused.status_code == 400, (name, refused.text)
        assert "not allowed" in refused.json()["message"] or "outside" in refused.json()["message"]
        ksql = admin_json(server, "/ksql", {"ksql": f"CREATE SINK CONNECTOR {name}_sql WITH ("
                                            + ", ".join(f"'{k}'='{v}'" for k, v in config.items()) + ");"})
        assert ksql.status_code == 400, (name, ksql.text)
    time.sleep(0.5)
    assert not outside.exists() and httpx.get(f"{server.url}/connectors").json() == []
    inside = files / "out.txt"
    made = admin_json(server, "/connectors", {"name": "ok", "config": {
        "connector.class": "FileStreamSink", "topics": "victim", "file": str(inside)}})
    assert made.status_code == 201, made.text
    validated = admin_json(server, "/connector-plugins/FileStreamSinkConnector/config/validate",
                           {**attempts["file"], "connector.class": "FileStreamSinkConnector"}, method="PUT")
    assert validated.json()["error_count"] == 1, validated.text


def test_the_admin_may_open_files_and_databases(live_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server = live_server(connect_files_dir=str(tmp_path), connect_allowed_hosts=("127.0.0.1:3306",))
    for name, url in (("lite", f"jdbc:sqlite:{tmp_path / 'sink.db'}"), ("maria", "jdbc:mariadb://127.0.0.1:3306/t")):
        checked = admin_json(server, "/connector-plugins/JdbcSinkConnector/config/validate", {
            "connector.class": "JdbcSinkConnector", "topics": "x", "connection.url": url}, method="PUT").json()
        assert checked["error_count"] == 0, (name, checked)


def test_keys_have_roles_and_every_data_endpoint_needs_one(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(admin_keys=("adm1n-key",), read_keys=("r3ad-key",))
    admin, reader = {"X-API-Key": "adm1n-key"}, {"Authorization": "Bearer r3ad-key"}
    assert admin_json(server, "/topics", {"name": "t"}, **admin).status_code == 200
    for path in ("/topics", "/topics/t", "/topics/t/partitions/0/messages", "/metrics", "/connectors",
                 "/connector-plugins", "/status"):
        assert httpx.get(f"{server.url}{path}").status_code == 401, path
        assert httpx.get(f"{server.url}{path}", headers=reader).status_code == 200, path
    assert httpx.get(f"{server.url}/healthcheck").status_code == 200
    assert httpx.get(f"{server.url}/ksql/healthcheck").status_code == 200
    assert_refused(httpx.delete(f"{server.url}/topics/t", headers=reader))
    assert_refused(admin_json(server, "/topics/t/messages", {"records": [{"value": "x"}]}, **reader))
    create = admin_json(server, "/ksql", {"ksql": "CREATE STREAM s (v VARCHAR) WITH (kafka_topic='t', "
                                          "value_format='json');"}, **reader)
    assert create.status_code == 403 and create.json()["error_code"] == 40300
    assert admin_json(server, "/ksql", {"ksql": "SHOW STREAMS; LIST TOPICS;"}, **reader).status_code == 200
    basic = httpx.post(f"{server.url}/ksql", json={"ksql": "SHOW STREAMS;"}, auth=("ksql-cli", "r3ad-key"))
    assert basic.status_code == 200  # the ksql CLI's --user/--password
    assert httpx.delete(f"{server.url}/topics/t", headers=admin).status_code == 200


def test_jdbc_passwords_are_hidden_from_the_api_and_readers(live_server: Callable[..., LiveServer],
                                                            tmp_path: Path) -> None:
    server = live_server(admin_key="adm1n-key", read_keys=("r3ad-key",), connect_files_dir=str(tmp_path))
    admin, reader = {"X-API-Key": "adm1n-key"}, {"X-API-Key": "r3ad-key"}
    config = {"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "victim",
              "connection.url": f"jdbc:sqlite:{tmp_path / 'a.db'}?password=url-s3cret-pw",
              "connection.password": "s3cret-pw-42", "auto.create": "true"}
    config["connection.url"] = f"jdbc:sqlite:{tmp_path / 'a.db'}"
    made = admin_json(server, "/connectors", {"name": "j", "config": config}, **admin)
    assert made.status_code == 201, made.text
    for path in ("/connectors/j", "/connectors/j/config", "/connectors/j/tasks", "/connectors?expand=info"):
        text = httpx.get(f"{server.url}{path}", headers=reader).text
        assert "s3cret-pw-42" not in text and "[hidden]" in text, path
    described = admin_json(server, "/ksql", {"ksql": "DESCRIBE CONNECTOR j;"}, **reader).text
    assert "s3cret-pw-42" not in described
    validated = admin_json(server, "/connector-plugins/JdbcSinkConnector/config/validate", config, method="PUT",
                           **admin).text
    assert "s3cret-pw-42" not in validated
    # The stored config topic: no key, no read; a read key, no read; the admin reads it.
    assert httpx.get(f"{server.url}/topics/connect-configs/partitions/0/messages").status_code == 401
    assert httpx.get(f"{server.url}/topics/connect-configs/partitions/0/messages", headers=reader).status_code == 403
    stored = httpx.get(f"{server.url}/topics/connect-configs/partitions/0/messages", headers=admin)
    assert "s3cret-pw-42" in stored.text
    # GET, edit, PUT back: the [hidden] value keeps the real password, which the connector still gets.
    shown = httpx.get(f"{server.url}/connectors/j/config", headers=admin).json()
    shown["batch.size"] = "10"
    assert admin_json(server, "/connectors/j/config", shown, method="PUT", **admin).status_code == 200
    assert server.state.connect.connectors["j"].config["connection.password"] == "s3cret-pw-42"
    url = "jdbc:mariadb://u:url-s3cret-pw@127.0.0.1:3306/t"
    masked = admin_json(server, "/connector-plugins/JdbcSinkConnector/config/validate",
                        {**config, "connection.url": url}, method="PUT", **admin).text
    assert "url-s3cret-pw" not in masked


def test_fuzz_found_inputs_get_json_4xx(server: LiveServer) -> None:
    for stamp in ("1e20", "-1e20", "100000000000000000000", "-100000000000000000000"):
        read = httpx.get(f"{server.url}/topics/victim/partitions/0/messages", params={"timestamp": stamp})
        assert read.status_code == 400 and "timestamp" in read.json()["message"], read.text
    for kind in ({"a": 1}, [1, 2]):
        batch = admin_json(server, "/v1/batch", {"batch": [{"type": kind, "userId": "u", "event": "e"}]})
        assert batch.status_code == 400 and batch.json()["code"] == "unknown_type", batch.text
    deep = b'{"batch":[{"type":"track","userId":"u","event":"e","properties":' + b'{"a":' * 300 + b"1" \
        + b"}" * 300 + b"}]}"
    nested = httpx.post(f"{server.url}/v1/batch", content=deep, headers={"Content-Type": "application/json"})
    assert nested.status_code == 400 and "255 levels" in nested.json()["message"], nested.text
    for stamp in (1e20, -1e20):
        event = admin_json(server, "/v1/track", {"userId": "u", "event": "e", "timestamp": stamp})
        assert event.status_code == 400 and "timestamp" in event.json()["message"]
    validate = admin_json(server, "/connector-plugins/JdbcSinkConnector/config/validate",
                          {"connector.class": "JdbcSinkConnector", "topics": "t", "connection.url": "mysql://[::1"},
                          method="PUT")
    assert validate.status_code == 200 and validate.json()["error_count"] >= 1, validate.text
    nul = admin_json(server, "/connectors/%00/config", {"connector.class": "FileStreamSink", "topics": "victim"},
                     method="PUT")
    assert nul.status_code == 400 and "control characters" in nul.json()["message"], nul.text


def test_a_defect_is_a_json_500_with_an_error_id(server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(request: Any) -> Any:
        raise RuntimeError("a defect")

    server.app.add_route("/topics-broken", broken)  # type: ignore[attr-defined]
    answer = httpx.get(f"{server.url}/topics-broken")
    assert answer.status_code == 500 and answer.headers["content-type"] == "application/json"
    error_id = answer.json()["message"].split("error id ")[1].split(";")[0]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)
