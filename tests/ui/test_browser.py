"""The UI in a real browser (Debian's chromium via Playwright) against a real server on a free port.

Every page loads with no JavaScript console error; the clickstream dashboard moves while the clickstream
datagen connectors run, and the number it shows equals a pull query on the same table; a page of another
origin cannot drive the APIs the UI uses; the landing page's first render is measured with 100 topics and
50 persistent queries. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.live import LiveServer
from tests.ui.browser import Watched, needs_browser

pytestmark = needs_browser
ROOT = Path(__file__).resolve().parents[2]
#: The clickstream demo's statements.sql, less the three tables the dashboard does not show (less CPU here).
UNSHOWN = ("ERRORS_PER_MIN_ALERT", "USER_SESSION_BANDWIDTH", "USER_IP_ACTIVITY")
STATEMENTS = "".join(
    statement + ";" for statement in (ROOT / "tests" / "sql" / "data" / "clickstream_statements.sql").read_text()
    .split(";") if statement.strip() and not any(f"TABLE {name}" in statement for name in UNSHOWN))
CLICKS = 250


def ksql(server: LiveServer, text: str) -> Any:
    answer = httpx.post(f"{server.url}/ksql", json={"ksql": text}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def pull(server: LiveServer, text: str) -> tuple[list[str], list[list[Any]]]:
    answer = httpx.post(f"{server.url}/query-stream", json={"sql": text}, headers={"accept": "application/json"},
                        timeout=60)
    assert answer.status_code == 200, answer.text
    header, *rows = answer.json()
    return header["columnNames"], rows


def datagen(name: str, quickstart: str, iterations: int, interval_ms: int, int_key: bool) -> str:
    """The clickstream demo's create-connectors.sql, with bounded iterations."""
    key = "'key.converter'='org.apache.kafka.connect.converters.IntegerConverter', " if int_key else ""
    return (f"CREATE SOURCE CONNECTOR {name} WITH ('connector.class'='io.confluent.kafka.connect.datagen."
            f"DatagenConnector', 'kafka.topic'='{quickstart}', 'quickstart'='{quickstart}', "
            f"'max.interval'={interval_ms}, 'iterations'={iterations}, 'random.seed'=7, {key}"
            "'value.converter'='org.apache.kafka.connect.json.JsonConverter', "
            "'value.converter.schemas.enable'='false', 'tasks.max'='1');")


def wait_for(probe: Callable[[], Any], what: str, timeout_s: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def records(server: LiveServer, topic: str) -> int:
    answer = httpx.get(f"{server.url}/topics/{topic}")
    if answer.status_code != 200:
        return 0
    return sum(p["end_offset"] - p["beginning_offset"] for p in answer.json()["partitions"])


def test_every_page_loads_without_a_console_error(live_server: Callable[..., LiveServer],
                                                  open_page: Callable[..., Watched]) -> None:
    server = live_server(admin_keys=("ui-secret",))
    key = {"x-api-key": "ui-secret"}
    for topic in ("clickstream", "clickstream_codes", "clickstream_users"):
        assert httpx.post(f"{server.url}/topics", json={"name": topic, "partitions": 1}, headers=key).is_success
    assert httpx.post(f"{server.url}/ksql", json={"ksql": STATEMENTS}, headers=key, timeout=60).is_success
    page = open_page(key="ui-secret")
    for path in ("/", "/ui/dashboards", "/ui/dashboards/clickstream"):
        page.goto(server.url + path)
    # Every panel got its (empty) answer: live panels their stream's header, the pull panel its rows.
    for panel in ("events_total", "events_per_min", "status_codes", "user_sessions"):
        page.page.wait_for_selector(f"[data-panel={panel}][data-rows='0']")
    assert not page.page.locator(".hw-panel .hw-badge.bad").count()
    # hw.lines (what the SQL editor streams query results with) reads /query-stream's delimited rows.
    header, *rows = page.page.evaluate("""() => new Promise((done, fail) => {
        const lines = [];
        hw.lines("/query-stream", {method: "POST", body: {sql: "SELECT * FROM EVENTS_PER_MIN;"},
                                   headers: {Accept: "application/vnd.ksqlapi.delimited.v1"}},
                 (line) => lines.push(line), (error) => error ? fail(error) : done(lines));
    })""")
    assert header["columnNames"] == ["K1", "WINDOWSTART", "WINDOWEND", "USERID", "EVENT_TS", "EVENTS"] and rows == []
    # "Download for Grafana" fetches the export with the tab's key and saves it.
    with page.page.expect_download() as download:
        page.page.click("#grafana")
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["schemaVersion"] == 39 and saved["title"] == "Clickstream analytics"
    assert download.value.suggested_filename == "clickstream.grafana.json"
    page.goto(server.url + "/ui/dashboards")
    # The packaged dashboard and every app's (apps register theirs by their folder).
    assert "Clickstream analytics" in page.page.locator("#dashboard-list .hw-card h3").all_inner_texts()
    page.screenshot("dashboards")
    page.assert_clean()


def test_the_page_asks_for_the_key_and_keeps_it_for_the_session(live_server: Callable[..., LiveServer],
                                                                 open_page: Callable[..., Watched]) -> None:
    server = live_server(admin_keys=("ui-secret",))
    page = open_page()
    page.page.goto(server.url + "/")
    dialog = page.page.locator("#hw-key-dialog")
    dialog.wait_for(state="visible")
    page.page.fill("#hw-key-input", "ui-secret")
    page.page.click("#hw-key-form button[type=submit]")
    page.page.wait_for_selector("body[data-rendered]")
    assert page.page.evaluate("sessionStorage.getItem('headwater.apiKey')") == "ui-secret"
    assert page.page.evaluate("localStorage.length") == 0  # only the session keeps it
    page.goto(server.url + "/ui/dashboards")  # another page of the tab: no prompt
    assert not dialog.is_visible()
    page.assert_clean()


def test_the_clickstream_dashboard_moves_and_shows_what_a_pull_query_answers(
        live_server: Callable[..., LiveServer], open_page: Callable[..., Watched]) -> None:
    server = live_server()
    ksql(server, datagen("datagen_clickstream_codes", "clickstream_codes", 20, 1, True))
    ksql(server, datagen("datagen_clickstream_users", "clickstream_users", 40, 1, True))
    wait_for(lambda: records(server, "clickstream_users") == 40 and records(server, "clickstream_codes") == 20,
             "the users and codes")
    ksql(server, datagen("datagen_clickstream", "clickstream", CLICKS, 60, False))
    wait_for(lambda: records(server, "clickstream") > 0, "the first clicks")
    ksql(server, STATEMENTS)
    page = open_page()
    page.goto(server.url + "/ui/dashboards/clickstream")
    stat = page.page.locator("[data-panel=events_total] .hw-panel-stat")

    def shown() -> int:
        text = stat.inner_text().replace(",", "").strip()
        return int(text) if text.isdigit() else 0

    first = wait_for(shown, "a first number on the stat panel")
    assert first < CLICKS
    wait_for(lambda: shown() > first, "the number to move as events arrive")
    wait_for(lambda: records(server, "clickstream") == CLICKS, "the datagen connector to finish", 240)

    def pulled() -> int:
        columns, rows = pull(server, "SELECT * FROM EVENTS_PER_MIN;")
        return sum(r[columns.index("EVENTS")] for r in rows)

    wait_for(lambda: pulled() == CLICKS, "the table to count every click", 240)
    wait_for(lambda: shown() == CLICKS, "the panel to show what the pull query answers", 120)
    assert shown() == pulled() == CLICKS
    # The other live panels drew from the same stream; the sessions table (a pull panel) has rows.
    def rows_in(panel: str) -> int:
        return int(page.page.get_attribute(f"[data-panel={panel}]", "data-rows") or 0)

    for panel in ("events_per_min", "pages_per_min", "bandwidth_per_user", "status_codes", "user_sessions"):
        wait_for(lambda: rows_in(panel) > 0, f"rows in panel {panel}", 60)  # noqa: B023 - awaited in the loop
    page.page.wait_for_timeout(1000)
    page.screenshot("clickstream-dashboard")
    page.goto(server.url + "/")
    assert page.page.inner_text("#count-connectors") == "3"
    page.screenshot("landing")
    page.assert_clean()


@pytest.fixture
def attacker_page(tmp_path: Path) -> Iterator[str]:
    """An empty page served from its own 127.0.0.1 port: another origin than the server's."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><title>cat pictures</title>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/index.html"
    finally:
        site.shutdown()
        site.server_close()


ATTACK = """
async (api) => {
  const out = {};
  const attempt = async (name, url, init) => {
    try {
      const r = await fetch(url, init);
      out[name] = r.type === "opaque" ? "opaque" : r.status;
    } catch (e) {
      out[name] = "blocked";
    }
  };
  const board = JSON.stringify({id: "evil", title: "Evil", panels: []});
  await attempt("put", api + "/dashboards/evil", {method: "PUT", headers: {"Content-Type": "application/json"},
                                                  body: board});
  await attempt("put_text", api + "/dashboards/evil", {method: "PUT", headers: {"Content-Type": "text/plain"},
                                                       body: board});
  await attempt("delete", api + "/dashboards/mine", {method: "DELETE"});
  await attempt("overview", api + "/ui/api/overview", {});
  await attempt("panel", api + "/dashboards/mine/panels/live/stream", {mode: "no-cors"});
  await attempt("stream", api + "/dashboards/mine/stream", {mode: "no-cors"});
  return out;
}
"""


def test_a_page_of_another_origin_cannot_drive_the_uis_apis(live_server: Callable[..., LiveServer],
                                                            open_page: Callable[..., Watched],
                                                            attacker_page: str) -> None:
    server = live_server()
    ksql(server, "CREATE STREAM s (v INT) WITH (kafka_topic='s', value_format='json', partitions=1);")
    mine = {"id": "mine", "title": "Mine", "panels": [
        {"id": "live", "title": "Live", "type": "stat", "query": "SELECT * FROM S EMIT CHANGES;", "value": "V"}]}
    assert httpx.put(f"{server.url}/dashboards/mine", json=mine).status_code == 201
    page = open_page()
    page.page.goto(attacker_page)
    results = page.page.evaluate(ATTACK, server.url)
    assert results["put"] == "blocked" and results["put_text"] == "blocked" and results["delete"] == "blocked"
    assert results["overview"] == "blocked", results
    ids = {d["id"] for d in httpx.get(f"{server.url}/dashboards").json()["dashboards"]}
    assert "mine" in ids and "evil" not in ids
    time.sleep(0.5)
    assert not server.state.session.push_queries  # the no-cors GETs were refused before any query started
    # The UI's pages cannot be framed by that page either.
    framed = page.page.evaluate("""async (url) => {
        const frame = document.createElement("iframe");
        frame.src = url;
        document.body.appendChild(frame);
        await new Promise((done) => setTimeout(done, 1500));
        try { return frame.contentDocument ? frame.contentDocument.body.innerText : "no document"; }
        catch (e) { return "cross-origin"; }
    }""", server.url + "/ui/dashboards")
    assert "Dashboards" not in framed


@pytest.mark.slow  # ~45 s here, most of it starting and stopping 50 persistent queries: `pytest -m slow tests/ui`
def test_first_render_with_100_topics_and_50_queries(live_server: Callable[..., LiveServer],
                                                     open_page: Callable[..., Watched]) -> None:
    server = live_server()
    ksql(server, "CREATE STREAM base (v INT) WITH (kafka_topic='base', value_format='json', partitions=1);")
    ksql(server, "".join(f"CREATE STREAM derived_{i} AS SELECT v FROM base WHERE v > {i};" for i in range(50)))
    for i in range(50):
        answer = httpx.post(f"{server.url}/topics", json={"name": f"extra_{i}", "partitions": 3})
        assert answer.status_code in (200, 201), answer.text
    page = open_page()
    page.goto(server.url + "/")  # warm: the browser's cache holds the static files, as on a second visit
    figures = {}
    for path in ("/", "/ui/dashboards"):
        figures[path] = page.goto(server.url + path)
    page.goto(server.url + "/")
    assert int(page.page.inner_text("#count-topics")) >= 101
    assert page.page.inner_text("#count-queries") == "50"
    page.assert_clean()
    print("first render (navigation to data shown), 100+ topics and 50 queries: "
          + ", ".join(f"{path} {seconds * 1000:.0f} ms" for path, seconds in figures.items()))
