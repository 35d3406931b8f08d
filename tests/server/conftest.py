"""Fixtures of the server tests: apps on a fresh embedded log, driven by the in-process ASGI client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from headwater.server import ServerConfig, create_app

AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[AppFactory]:
    """``make_client(**config)``: a started app (lifespan run) on ``tmp_path/log``; closed at teardown."""
    with ExitStack() as stack:
        def make(**config: Any) -> TestClient:
            config.setdefault("log_url", str(tmp_path / "log"))
            client = TestClient(create_app(ServerConfig(**config)))
            stack.enter_context(client)
            return client

        yield make
