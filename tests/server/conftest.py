"""Fixtures of the server tests: real uvicorn servers on free 127.0.0.1 ports, stopped in teardown."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest

from headwater.server import ServerConfig
from tests.server.live import LiveServer, start_server

_names = itertools.count()


@pytest.fixture
def live_server(tmp_path: os.PathLike[str]) -> Iterator[Callable[..., LiveServer]]:
    """Factory: ``live_server(admin_key=..., http2=...)`` starts a server on its own embedded log."""
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
