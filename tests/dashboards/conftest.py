"""The server fixtures (in-process app, real uvicorn server) for the dashboards' API tests."""

from tests.server.conftest import live_server, make_client

__all__ = ["live_server", "make_client"]
