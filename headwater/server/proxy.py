"""Forwarding of a collector worker's non-collector requests to the primary process.

With ``headwater up --workers N`` several processes accept connections on the
one public port (SO_REUSEPORT). Only the primary runs the SQL session, the
persistent queries and the connectors (they must run once); the others are
collector workers. A request a collector worker cannot serve (``/ksql``,
``/query``, ``/topics``, ``/connectors``, ``/metrics`` ...) is passed, streamed
both ways, to the primary's private 127.0.0.1 port, so clients see one server.
"""

from __future__ import annotations

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from headwater.server.state import ServerState

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
                         "transfer-encoding", "upgrade", "content-length"})
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class PrimaryProxy:
    """Streams a request to the primary and its answer back (chunked /query responses included)."""

    def __init__(self, primary_url: str) -> None:
        self.primary_url = primary_url.rstrip("/")
        # No read timeout: push queries stream for as long as the client keeps them open.
        self.client = httpx.AsyncClient(base_url=self.primary_url, timeout=httpx.Timeout(10.0, read=None))

    async def forward(self, request: Request) -> Response:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        if request.client is not None:
            headers.append(("x-forwarded-for", request.client.host))
        outgoing = self.client.build_request(request.method, request.url.path, params=request.url.query,
                                             headers=headers, content=request.stream())
        try:
            upstream = await self.client.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            return Response(f"The primary server process is not reachable: {exc}", status_code=502,
                            media_type="text/plain")
        answer_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
        return StreamingResponse(upstream.aiter_raw(), status_code=upstream.status_code, headers=answer_headers,
                                 background=BackgroundTask(upstream.aclose))

    def close(self) -> None:
        """Called at shutdown; the client's connections close with the event loop."""


def routes(state: ServerState, primary_url: str) -> list[BaseRoute]:
    proxy = PrimaryProxy(primary_url)
    state.closers.append(proxy)
    return [Route("/{path:path}", proxy.forward, methods=_METHODS)]
