"""`headwater up`: settings from the environment, 127.0.0.1 by default, graceful stop on SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx
import orjson

from headwater.log import open_log
from headwater.server import ServerConfig
from tests.server.server_process import ServerProcess


def test_environment_configures_the_server_and_sigterm_stops_it_cleanly(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "log", env={"HEADWATER_WRITE_KEYS": "one,two",
                                                   "HEADWATER_EVENTS_TOPIC": "clicks",
                                                   "HEADWATER_ADMIN_KEY": "adm",
                                                   "HEADWATER_MAX_BODY_BYTES": "5000"})
    try:
        server.start()
        assert httpx.post(server.url + "/v1/track", auth=("two", ""), json={"userId": "u", "event": "E"}
                          ).status_code == 200
        assert httpx.post(server.url + "/v1/track", auth=("three", ""), json={"userId": "u", "event": "E"}
                          ).status_code == 401
        assert httpx.post(server.url + "/v1/track", auth=("one", ""), content=b"x" * 6000).status_code == 413
        assert httpx.post(server.url + "/topics", json={"name": "x"}).status_code == 401
        # A request racing SIGTERM is either answered 200 with its events kept, or refused.
        answers: list[int] = []

        def send() -> None:
            batch = [{"type": "track", "userId": "u", "event": f"late-{i}"} for i in range(200)]
            try:
                answers.append(httpx.post(server.url + "/v1/batch", auth=("one", ""),
                                          json={"batch": batch}).status_code)
            except httpx.HTTPError:
                answers.append(0)

        sender = threading.Thread(target=send)
        sender.start()
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        sender.join()
        # uvicorn shuts down gracefully, then re-raises the signal: exit by SIGTERM, not a crash.
        assert server.stop() == -signal.SIGTERM
        assert server.output is not None and "Traceback" not in server.output
    finally:
        server.stop()
    with open_log(str(tmp_path / "log")) as log:
        values = log.read("clicks", 0, 0, max_records=1000).records.column("value").to_pylist()
    assert len(values) == (201 if answers == [200] else 1)


def test_default_bind_is_loopback_on_8088() -> None:
    config = ServerConfig()
    assert (config.host, config.port) == ("127.0.0.1", 8088)
