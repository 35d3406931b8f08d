"""A real Headwater server (uvicorn) on a free 127.0.0.1 port, in a thread of the test process."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from headwater.log import Log
from headwater.server.app import create_app
from headwater.server.config import ServerConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadedServer:
    def __init__(self, log: Log, data_dir: Path, admin_key: str | None = None, **config: object) -> None:
        """Connectors may use the files beside ``data_dir`` (the test's tmp_path) unless ``config`` says otherwise."""
        self.port = free_port()
        config.setdefault("connect_files_dir", str(data_dir.parent))
        self.config = ServerConfig(host="127.0.0.1", port=self.port, log_url=str(data_dir), admin_key=admin_key,
                                   **config)  # type: ignore[arg-type]
        self.app = create_app(self.config, log=log)
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, name="headwater-test-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(15)
