"""The UI's pages over HTTP (in process): shells without data, answered without a key, with a strict
Content-Security-Policy; the UI's JSON and every API still need the key; the vendored files are pinned."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from headwater.ui.overview import query_sources

AppFactory = Callable[..., TestClient]
ROOT = Path(__file__).resolve().parents[2]
PAGES = ["/", "/ui/dashboards", "/ui/dashboards/clickstream"]
HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_served_without_a_key_with_a_strict_policy(make_client: AppFactory, path: str) -> None:
    client = make_client(admin_keys=("secret",))
    page = client.get(path, headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
    for link in ("/ui/dashboards", "/ui/topics", "/ui/flow", "/ui/sql", "/ui/connectors"):
        assert f'href="{link}"' in page.text
    assert "<script>" not in page.text  # no inline script: the policy would refuse it
    assert 'id="hw-key-dialog"' in page.text


def test_the_uis_data_needs_the_key(make_client: AppFactory) -> None:
    client = make_client(admin_keys=("secret",), read_keys=("reader",))
    assert client.get("/ui/api/overview").status_code == 401
    assert client.get("/ui/api/overview", headers={"x-api-key": "reader"}).status_code == 200
    assert client.get("/ui/static/hw.js").status_code == 200
    assert client.post("/ui/dashboards", json={}).status_code in (401, 405)
    foreign = client.get("/ui/api/overview", headers={"x-api-key": "secret", "origin": "http://evil.example"})
    assert foreign.status_code == 403


def test_no_path_under_ui_reaches_data_without_a_key(make_client: AppFactory) -> None:
    client = make_client(admin_keys=("secret",))
    for path in ("/ui//api/overview", "/ui/API/overview", "/ui/static/../../dashboards",
                 "/ui/dashboards/x/../../api/overview"):
        answer = client.get(path)
        assert answer.status_code in (401, 404), (path, answer.status_code, answer.text[:200])
        assert b'"queries"' not in answer.content


def test_the_root_still_redirects_api_clients_to_info(make_client: AppFactory) -> None:
    answer = make_client().get("/", headers={"accept": "application/json"}, follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"] == "/info"


def test_a_bad_dashboard_id_is_a_404_page(make_client: AppFactory) -> None:
    client = make_client()
    answer = client.get("/ui/dashboards/..etc", headers=HTML)
    assert answer.status_code == 404 and "not a dashboard id" in answer.text
    assert "&lt;script&gt;" in client.get("/ui/dashboards/%3Cscript%3E", headers=HTML).text  # escaped


def test_the_overview_counts_what_runs(make_client: AppFactory) -> None:
    client = make_client(ksql_properties={"auto.offset.reset": "earliest"})
    client.post("/ksql", json={"ksql": "CREATE STREAM s (v INT) WITH (kafka_topic='s', value_format='json', "
                                       "partitions=2); CREATE TABLE t AS SELECT v, COUNT(*) AS n FROM s GROUP BY v;"})
    client.post("/ksql", json={"ksql": "INSERT INTO s (v) VALUES (1); INSERT INTO s (v) VALUES (2);"})
    overview = client.get("/ui/api/overview").json()
    assert [(q["sources"], q["sinks"]) for q in overview["queries"]] == [(["S"], ["T"])]
    assert overview["queries"][0]["state"] == "RUNNING"
    assert {s["name"] for s in overview["streams"]} == {"S"} and {t["name"] for t in overview["tables"]} == {"T"}
    topic = next(t for t in overview["topics"] if t["name"] == "s")
    assert topic == {"name": "s", "partitions": 2, "records": 2}


def test_the_vendored_files_are_the_pinned_release() -> None:
    lock = json.loads((ROOT / "scripts" / "vendor_frontend.lock.json").read_text())
    for name, spec in lock["packages"].items():
        folder = ROOT / "headwater" / "ui" / "static" / "vendor" / name
        assert (folder / "LICENSE").is_file()
        assert (folder / "VERSION").read_text().split()[:2] == [name, spec["version"]]
        for path in spec["files"]:
            assert (folder / Path(path).name).stat().st_size > 0


def test_the_vendor_script_refuses_a_tarball_that_does_not_match() -> None:
    loaded = importlib.util.spec_from_file_location("vendor_frontend", ROOT / "scripts" / "vendor_frontend.py")
    assert loaded is not None and loaded.loader is not None
    vendor = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(vendor)
    data = b"the tarball"
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    vendor.check_integrity("pkg", data, integrity, hashlib.sha256(data).hexdigest())  # matches: no error
    with pytest.raises(vendor.VendorError, match="the registry says"):
        vendor.check_integrity("pkg", data + b"!", integrity, hashlib.sha256(data + b"!").hexdigest())
    with pytest.raises(vendor.VendorError, match="the lock pins"):
        vendor.check_integrity("pkg", data, integrity, "0" * 64)
    with pytest.raises(vendor.VendorError, match="only https://registry.npmjs.org"):
        vendor.fetch("https://example.com/pkg.tgz")


def test_the_sources_of_a_query_are_its_from_and_joins() -> None:
    assert query_sources("CREATE STREAM x AS SELECT * FROM a JOIN b ON a.k = b.k LEFT JOIN c ON a.k = c.k;") == [
        "A", "B", "C"]
    assert query_sources("INSERT INTO x SELECT * FROM `lower`;") == ["lower"]
    assert query_sources("not sql") == []
