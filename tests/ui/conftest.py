"""Fixtures of the UI tests: the server fixtures (in-process app, real uvicorn server) and the browser."""

from tests.server.conftest import live_server, make_client
from tests.ui.browser import browser, open_page

__all__ = ["browser", "live_server", "make_client", "open_page"]
