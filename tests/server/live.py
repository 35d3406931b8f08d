"""A real uvicorn server running ``create_app`` on a free 127.0.0.1 port, in a background thread.

Tests that use ksqlDB clients, the ``headwater sql`` shell or streaming over
real sockets start one; the fixture stops it (and the app's session) in its
teardown. ``http2=True`` serves HTTP/2 with prior knowledge (h2c) on the same
port, as the ksqlDB clients' /query-stream calls need.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from headwater.server import ServerConfig, create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    app: object

    @property
    def state(self):  # type: ignore[no-untyped-def]
        return self.app.state.headwater  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def start_server(config: ServerConfig, *, http2: bool = False) -> LiveServer:
    port = free_port()
    app = create_app(ServerConfig(**{**config.__dict__, "host": "127.0.0.1", "port": port}))
    options = {"http": "zttp", "http2": True} if http2 else {}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=2, **options))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", server, thread, app)
