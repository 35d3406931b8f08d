"""Routes of the connect part of the server (filled in by its own change)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from headwater.server.app import ServerState


def routes(state: ServerState) -> list[BaseRoute]:
    return []
