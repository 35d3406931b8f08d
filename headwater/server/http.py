"""What every route module of the server shares: body limits and the admin key check.

Each API answers errors in its own shape (ksqlDB, Connect, collector), so
these helpers return or raise plain facts and the modules render them.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from headwater.server.config import ServerConfig


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body is larger than the limit of {limit} bytes.")
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (BodyTooLarge) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def admin_denied(config: ServerConfig, request: Request) -> str | None:
    """Why this request may not use an admin API, or None when it may.

    With an admin key configured, the request must carry it as ``X-API-Key``
    or ``Authorization: Bearer <key>``.
    """
    if not config.admin_key:
        return None
    given = request.headers.get("x-api-key")
    if given is None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
    if given is None:
        return "This endpoint needs the admin API key (header X-API-Key or Authorization: Bearer)."
    if not hmac.compare_digest(given.encode(), config.admin_key.encode()):
        return "The admin API key is not valid."
    return None
