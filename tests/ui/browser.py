"""Driving Debian's chromium with Playwright for the UI tests: one browser per test module, pages that
record every console error and uncaught exception (a test fails on any). Screenshots go to a temporary
folder, or to docs/screenshots when HEADWATER_SCREENSHOTS=docs (how the README's pictures are refreshed), so a
test run leaves the checkout unchanged.

The browser tests skip only when chromium or Playwright is missing and CI is unset; under CI=true they
fail instead (``apt-get install -y chromium``, ``pip install playwright``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the skip says what to install
    sync_playwright = None  # type: ignore[assignment]

MISSING = CHROMIUM is None or sync_playwright is None
needs_browser = pytest.mark.skipif(MISSING and not os.environ.get("CI"),
                                   reason="needs chromium (apt-get install -y chromium) and playwright "
                                          "(pip install playwright); under CI=true this fails instead")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots"
               if os.environ.get("HEADWATER_SCREENSHOTS") == "docs"
               else Path(tempfile.gettempdir()) / "headwater-screenshots")


@dataclass
class Watched:
    """A page and the console errors and uncaught exceptions it produced."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def goto(self, url: str, timeout_s: float = 60.0) -> float:
        """Open ``url`` and wait until its script says it rendered its data; the seconds it took."""
        started = time.perf_counter()
        self.page.goto(url)
        self.page.wait_for_selector("body[data-rendered]", timeout=timeout_s * 1000)
        return time.perf_counter() - started

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self) -> None:
        assert not self.errors, f"JavaScript console errors: {self.errors}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if MISSING:
        pytest.fail("chromium and playwright are required under CI=true")
    assert sync_playwright is not None and CHROMIUM is not None
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Watched]]:
    """``open_page(key=None)``: a fresh browser context (its own sessionStorage), errors recorded."""
    contexts: list[Any] = []

    def make(key: str | None = None, width: int = 1400, height: int = 1000) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        context.set_default_timeout(60_000)  # a loaded machine; a test waits only as long as it must
        if key is not None:
            context.add_init_script(f"sessionStorage.setItem('headwater.apiKey', {key!r});")
        page = context.new_page()
        watched = Watched(page)
        page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: watched.errors.append(f"uncaught: {e}"))
        return watched

    try:
        yield make
    finally:
        for context in contexts:
            context.close()
