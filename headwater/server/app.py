"""``create_app``: the one ASGI app, assembled from the route modules of this package.

Each module (collector, ksql, topics, connect, metrics) exposes
``routes(state) -> list[BaseRoute]``; the state object carries the shared
parts: the configuration, the log, the SQL session, the connector runtime and
the Prometheus registry (one per app, so several apps can live in one test
process). Modules define their own metrics on ``state.registry``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from headwater.log import Log, open_log
from headwater.server.config import ServerConfig
from headwater.session import Session


@dataclass
class ServerState:
    config: ServerConfig
    log: Log
    session: Session
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    #: Set by the connect module when it starts its runtime.
    connect: Any = None
    #: Objects with a ``close()`` to call when the app shuts down (runtimes, background writers).
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer.close()
        self.closers.clear()


def _route_modules() -> list[Any]:
    from headwater.server import collector, connect, ksql, metrics, topics

    return [collector, ksql, topics, connect, metrics]


def create_app(config: ServerConfig | None = None, *, log: Log | None = None) -> Starlette:
    """Build the app; with ``log`` given, the app uses (and does not close) that log."""
    config = config or ServerConfig()
    owns_log = log is None
    opened = log if log is not None else open_log(config.log_url)
    session = Session(opened, properties=config.ksql_properties)
    state = ServerState(config=config, log=opened, session=session)
    routes: list[BaseRoute] = []
    for module in _route_modules():
        routes.extend(module.routes(state))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.close()
            session.close()
            if owns_log:
                opened.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.headwater = state
    return app
