"""A collector worker forwards what it does not serve to the primary: bodies, statuses, streamed answers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from headwater.server import ServerConfig, create_app
from tests.server.server_process import free_port


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"method": request.method, "path": request.url.path, "query": request.url.query,
                         "body": body.decode(), "key": request.headers.get("x-api-key")}, status_code=201,
                        headers={"x-from": "primary"})


async def stream(request: Request) -> Response:
    async def rows() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f'{{"row": {i}}}\n'.encode()
            await asyncio.sleep(0.05)

    return StreamingResponse(rows(), media_type="application/json")


@pytest.fixture
def primary() -> Iterator[str]:
    """A stand-in primary on a free port, served by uvicorn in a thread of this process."""
    app = Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"]), Route("/query", stream, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_collector_worker_forwards_to_the_primary(primary: str, tmp_path: Path) -> None:
    config = ServerConfig(log_url=str(tmp_path / "log"), role="collector", primary_url=primary)
    with TestClient(create_app(config), base_url="http://127.0.0.1:8088") as client:
        assert client.post("/v1/track", json={"userId": "u", "event": "E"}).status_code == 200  # served here
        assert client.get("/healthcheck").text == "Alive"
        answer = client.post("/echo?x=1", content=b"hello", headers={"X-API-Key": "k"})
        assert answer.status_code == 201 and answer.headers["x-from"] == "primary"
        assert answer.json() == {"method": "POST", "path": "/echo", "query": "x=1", "body": "hello", "key": "k"}
        with client.stream("POST", "/query") as streamed:
            assert list(streamed.iter_lines()) == ['{"row": 0}', '{"row": 1}', '{"row": 2}']
        assert client.get("/nowhere").status_code == 404  # the primary's 404, passed on


def test_unreachable_primary_is_a_502(tmp_path: Path) -> None:
    config = ServerConfig(log_url=str(tmp_path / "log"), role="collector", primary_url=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(config), base_url="http://127.0.0.1:8088") as client:
        answer = client.get("/topics")
        assert answer.status_code == 502 and "primary server process is not reachable" in answer.text
