"""/js/headwater.js, run by Node (the JavaScript engine of browsers' kind) against a real server process.

The script is fetched from the server and evaluated with a minimal browser
global (document.currentScript, location, localStorage): it sends the page
view on load, then custom events and an identify, in Segment batches to
/v1/batch with the write key in the body.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from headwater.log import open_log
from tests.server.server_process import ServerProcess

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the tracker")

BROWSER = """
const base = process.argv[2];
const store = {};
globalThis.window = globalThis;
globalThis.location = new URL(base + "/shop/cart?x=1");
globalThis.localStorage = { getItem: k => store[k] ?? null, setItem: (k, v) => { store[k] = String(v); } };
globalThis.document = {
  title: "Cart", referrer: "http://example.test/",
  currentScript: { src: base + "/js/headwater.js",
                   getAttribute: n => ({ "data-write-key": "site-key" })[n] ?? null },
};
(async () => {
  const res = await fetch(base + "/js/headwater.js");
  eval(await res.text());
  headwater.track("Added To Cart", { sku: "A-1", price: 9.5 });
  headwater.identify("user-7", { plan: "pro" });
  headwater.track("Checkout");
  const sent = await headwater.flush();
  console.log(JSON.stringify({ status: sent.status, anonymousId: headwater.anonymousId() }));
})().catch(e => { console.error(e); process.exit(1); });
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "log", "--write-key", "site-key")
    try:
        yield proc.start()
    finally:
        proc.stop()


def test_tracker_sends_page_view_and_custom_events(server: ServerProcess, tmp_path: Path) -> None:
    script = tmp_path / "browser.js"
    script.write_text(BROWSER)
    done = subprocess.run(["node", str(script), server.url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 200
    with open_log(str(server.log_dir)) as log:
        values = log.read("events", 0, 0).records.column("value").to_pylist()
    events = [orjson.loads(v) for v in values]
    assert [(e["type"], e.get("event") or e.get("name")) for e in events] == [
        ("page", "Cart"), ("track", "Added To Cart"), ("identify", None), ("track", "Checkout")]
    assert {e["anonymousId"] for e in events} == {result["anonymousId"]}
    assert events[1]["properties"] == {"sku": "A-1", "price": 9.5}
    assert events[3]["userId"] == "user-7"  # identify sticks for later events
    assert events[0]["context"]["page"]["path"] == "/shop/cart"
    assert events[0]["context"]["library"]["name"] == "headwater.js"
