"""Fixtures of the server tests: apps on a fresh embedded log, driven by the in-process ASGI client,
and real uvicorn servers on free 127.0.0.1 ports (stopped in teardown) where sockets matter."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from headwater.server import ServerConfig, create_app
from tests.server.live import LiveServer, start_server

AppFactory = Callable[..., TestClient]
_names = itertools.count()


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[AppFactory]:
    """``make_client(**config)``: a started app (lifespan run) on ``tmp_path/log``; closed at teardown."""
    with ExitStack() as stack:
        def make(**config: Any) -> TestClient:
            config.setdefault("log_url", str(tmp_path / "log"))
            client = TestClient(create_app(ServerConfig(**config)), base_url="http://127.0.0.1:8088")
            stack.enter_context(client)
            return client

        yield make


@pytest.fixture
def live_server(tmp_path: os.PathLike[str]) -> Iterator[Callable[..., LiveServer]]:
    """Factory: ``live_server(admin_key=..., http2=...)`` starts a uvicorn server on its own embedded log."""
    started: list[LiveServer] = []

    def start(http2: bool = False, **config: object) -> LiveServer:
        log_dir = os.path.join(os.fspath(tmp_path), f"log-{next(_names)}")
        settings: dict[str, object] = {"log_url": log_dir, "ksql_properties": {"auto.offset.reset": "earliest"}}
        settings.update(config)
        server = start_server(ServerConfig(**settings), http2=http2)  # type: ignore[arg-type]
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
