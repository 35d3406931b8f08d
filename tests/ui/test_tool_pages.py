"""The tool pages over HTTP (in process): keyless shells with the strict policy, names escaped, bad kinds 404."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

AppFactory = Callable[..., TestClient]
HTML = {"accept": "text/html"}
PAGES = ["/ui/topics", "/ui/topics/clicks", "/ui/flow", "/ui/flow/query/CSAS_X_1", "/ui/flow/topic/clicks",
         "/ui/sql", "/ui/sql?q=SELECT+1%3B", "/ui/connectors", "/ui/connectors/users-gen"]


@pytest.mark.parametrize("path", PAGES)
def test_tool_pages_are_keyless_shells_with_the_policy(make_client: AppFactory, path: str) -> None:
    client = make_client(admin_keys=("secret",))
    page = client.get(path, headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text and 'data-page="' in page.text
    assert client.get("/ui/api/topics").status_code == 401  # the data behind the shell needs the key
    assert client.get("/ui/api/flow").status_code == 401


def test_names_from_the_url_reach_the_page_escaped(make_client: AppFactory) -> None:
    client = make_client()
    topic = client.get("/ui/topics/%22%3E%3Cscript%3Ealert(1)", headers=HTML).text
    assert "<script>alert" not in topic and "&lt;script&gt;alert(1)" in topic
    sql = client.get("/ui/sql", params={"q": '"><img src=x onerror=alert(1)>'}, headers=HTML).text
    assert "<img" not in sql and 'data-prefill="&#34;&gt;&lt;img' in sql
    missing = client.get("/ui/flow/widget/x", headers=HTML)
    assert missing.status_code == 404 and "is not a kind of node" in missing.text


def test_scripts_and_styles_of_the_tool_pages_are_served(make_client: AppFactory) -> None:
    client = make_client(admin_keys=("secret",))
    for name in ("tools.js", "topics.js", "flow.js", "sql.js", "connectors.js", "tools.css"):
        answer = client.get(f"/ui/static/{name}")
        assert answer.status_code == 200 and len(answer.content) > 500, name
