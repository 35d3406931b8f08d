"""A real browser (Debian's chromium, driven by Playwright) on a page served from another 127.0.0.1
port: its fetch() calls to the server's admin APIs are refused, while its collector calls work.

Skipped only when chromium or Playwright is missing and CI is unset (``apt-get install -y chromium``,
``pip install playwright``).
"""

from __future__ import annotations

import http.server
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.live import LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the skip below says what to install
    sync_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif((CHROMIUM is None or sync_playwright is None) and not os.environ.get("CI"),
                                reason="needs chromium (apt-get install -y chromium) and playwright")

ATTACK = """
async ([api, bashrc]) => {
  const out = {};
  const attempt = async (name, url, init) => {
    try {
      const r = await fetch(url, init);
      out[name] = r.type === "opaque" ? "opaque" : r.status;
    } catch (e) {
      out[name] = "blocked";
    }
  };
  const text = {"Content-Type": "text/plain"};
  await attempt("delete", api + "/topics/victim", {method: "DELETE"});
  await attempt("delete_no_cors", api + "/topics/victim", {method: "DELETE", mode: "no-cors"});
  await attempt("drop", api + "/ksql", {method: "POST", mode: "no-cors", headers: text,
    body: JSON.stringify({ksql: "DROP STREAM s DELETE TOPIC;"})});
  await attempt("sink", api + "/connectors", {method: "POST", mode: "no-cors", headers: text,
    body: JSON.stringify({name: "dump", config: {"connector.class": "FileStreamSink", topics: "victim",
                                                 file: bashrc}})});
  await attempt("sink_blob", api + "/connectors", {method: "POST", mode: "no-cors",
    body: new Blob([JSON.stringify({name: "dump2", config: {"connector.class": "FileStreamSink",
                                                            topics: "victim", file: bashrc}})])});
  await attempt("read", api + "/topics", {});
  await attempt("collector", api + "/v1/track", {method: "POST", headers: text,
    body: JSON.stringify({userId: "u1", event: "page seen"})});
  return out;
}
"""


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


def test_a_page_of_another_port_cannot_drive_the_api(live_server: Callable[..., LiveServer], attacker_page: str,
                                                     tmp_path: Path) -> None:
    server = live_server()
    made = httpx.post(f"{server.url}/ksql", json={"ksql": "CREATE STREAM s (v VARCHAR) WITH (kafka_topic='victim', "
                                                          "value_format='json', partitions=1);"})
    assert made.status_code == 200, made.text
    bashrc = tmp_path / ".bashrc"
    assert sync_playwright is not None and CHROMIUM is not None
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.goto(attacker_page)
            results = page.evaluate(ATTACK, [server.url, str(bashrc)])
        finally:
            browser.close()
    # The browser did send requests: the collector answered it, readable cross-origin.
    assert results["collector"] == 200, results
    assert results["delete"] == "blocked" and results["read"] == "blocked", results
    time.sleep(0.5)
    assert "victim" in {t["name"] for t in httpx.get(f"{server.url}/topics").json()["topics"]}
    streams = httpx.post(f"{server.url}/ksql", json={"ksql": "SHOW STREAMS;"}).json()[0]["streams"]
    assert "S" in {s["name"] for s in streams}
    assert httpx.get(f"{server.url}/connectors").json() == []
    assert not bashrc.exists()
