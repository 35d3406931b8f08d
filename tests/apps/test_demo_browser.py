"""``headwater demo`` seen in Chromium: every started app's dashboard shows data within 60 s (each panel rendered
with rows or points, no console error), then Ctrl-C stops it all.

With HEADWATER_SCREENSHOTS=docs the dashboards' pictures go to docs/screenshots/app-<id>.png (the README's apps
section shows them). The non-slow variant applies one app (website) to a server and checks its dashboard alike.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from headwater.apps.runner import HttpTarget, Settings, run_app
from headwater.apps.spec import load_app
from tests.server.conftest import live_server  # noqa: F401 - a fixture
from tests.server.live import LiveServer
from tests.ui.browser import Watched, browser, needs_browser, open_page  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
pytestmark = needs_browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _panels_filled(page: Watched, timeout_s: float) -> dict[str, int]:
    """Wait until every panel of the open dashboard shows rows; the rows per panel (0 for those still empty)."""
    deadline = time.monotonic() + timeout_s
    rows: dict[str, int] = {}
    while time.monotonic() < deadline:
        rows = {str(p.get_attribute("data-panel")): int(p.get_attribute("data-rows") or 0)
                for p in page.page.locator("[data-panel]").all()}
        if rows and all(rows.values()):
            break
        page.page.wait_for_timeout(1000)
    return rows


def _check_dashboard(page: Watched, url: str, board: str, timeout_s: float) -> None:
    page.goto(f"{url}/ui/dashboards/{board}")
    rows = _panels_filled(page, timeout_s)
    assert rows and all(rows.values()), f"dashboard {board}: panels without data {rows}"
    page.page.wait_for_timeout(1500)  # the charts' last draw
    page.screenshot(f"app-{board}")
    page.assert_clean()


@pytest.mark.slow  # two to three minutes: the server, five apps and their generators, five dashboards
def test_demo_dashboards_show_data_in_chromium(tmp_path: Path, open_page: Callable[..., Watched]) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "demo.out"
    with out.open("w") as sink:
        demo = subprocess.Popen([sys.executable, "-m", "headwater", "demo", "--log", str(tmp_path / "data"), "--port",
                                 str(port), "--seconds", "600"], cwd=tmp_path, env=env, stdout=sink,
                                stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while "Ctrl-C stops the demo." not in out.read_text() and time.monotonic() < deadline:
            assert demo.poll() is None, out.read_text()
            time.sleep(1)
        output = out.read_text()
        boards = re.findall(re.escape(url) + r"/ui/dashboards/([a-z0-9_-]+)", output)
        expected = {"auditlog", "clickstream-app", "collector", "website"}
        if "cdc: not started" not in output:
            expected.add("cdc")
        assert set(boards) == expected, output
        started = time.monotonic()
        for board in boards:  # within 60 s of the apps' start, every dashboard has data
            _check_dashboard(open_page(), url, board, max(10.0, 60 - (time.monotonic() - started)))
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        demo.wait(90)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    output = out.read_text()
    assert demo.returncode == 0 and "Demo stopped." in output, output
    with socket.socket() as sock:  # the server is gone: its port is free again (TIME_WAIT aside)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_website_app_dashboard_shows_data_in_chromium(tmp_path: Path, live_server: Callable[..., LiveServer],
                                                      open_page: Callable[..., Watched]) -> None:
    server = live_server(connect_files_dir=str(tmp_path / "files"))
    target = HttpTarget(server.url)
    try:
        report = run_app(load_app("website"), target,
                         Settings(data_dir=str(tmp_path / "data"), files_dir=str(tmp_path / "files")))
    finally:
        target.close()
    assert "connector website_visits_datagen: created" in report
    _check_dashboard(open_page(), server.url, "website", 60)
