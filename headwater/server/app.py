"""``create_app``: the one ASGI app, assembled from the route modules of this package.

Each module (collector, ksql, topics, connect, metrics) exposes
``routes(state) -> list[BaseRoute]``; the state object carries the shared
parts: the configuration, the log, the SQL session, the connector runtime and
the Prometheus registry (one per app, so several apps can live in one test
process). Modules define their own metrics on ``state.registry``.

Every request but the collector's and the health checks passes the guard
(``guard.py``: Host, Origin, Content-Type, API keys). A defect that escapes a
handler is answered as JSON 500 with an error id that is also in the log
next to the trace, never as plain text.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from headwater.connect.policy import ConnectPolicy
from headwater.log import Log, open_log
from headwater.server import collector, connect, ksql, metrics, proxy, schema_registry, topics
from headwater.server.config import ServerConfig
from headwater.server.guard import Guard, error_body
from headwater.server.memory import MemoryTrimmer, NoteActivity
from headwater.server.state import ServerState
from headwater.session import Session
from headwater.ui import routes as ui


logger = logging.getLogger(__name__)


def _route_modules() -> list[Any]:
    # The UI first: its GET / (the landing page for browsers, a redirect to /info for API clients, as ksqlDB
    # answered before) must come before Connect's GET / (which ksql's redirect used to shadow).
    return [ui, collector, ksql, topics, connect, metrics, schema_registry]


def create_app(config: ServerConfig | None = None, *, log: Log | None = None) -> Starlette:
    """Build the app; with ``log`` given, the app uses (and does not close) that log.

    A collector worker (``config.role == "collector"``, see ``headwater up
    --workers``) has no SQL session: it serves the collector and forwards
    everything else to the primary process.
    """
    config = config or ServerConfig()
    if config.role not in ("all", "primary", "collector"):
        raise ValueError(f"server: role must be all, primary or collector, got {config.role!r}")
    owns_log = log is None
    opened = log if log is not None else open_log(config.log_url)
    routes: list[BaseRoute] = []
    session: Session | None
    if config.role == "collector":
        if not config.primary_url:
            raise ValueError("server: a collector worker needs primary_url")
        session = None
        # No session here on purpose: queries and connectors run once, in the primary.
        state = ServerState(config=config, log=opened, session=None)  # type: ignore[arg-type]
        routes.extend(collector.routes(state))
        routes.extend(proxy.routes(state, config.primary_url))
    else:
        session = Session(opened, properties=config.ksql_properties, connect_policy=connect_policy(config))
        state = ServerState(config=config, log=opened, session=session)
        for module in _route_modules():
            routes.extend(module.routes(state))

    trimmer = MemoryTrimmer()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        trimmer.start()
        try:
            yield
        finally:
            trimmer.close()
            state.close()
            if session is not None:
                session.close()
            if owns_log:
                opened.close()

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(NoteActivity, trimmer=trimmer),
                                                            Middleware(Guard, config=config)],
                    exception_handlers={Exception: internal_error})
    app.state.headwater = state
    return app


def connect_policy(config: ServerConfig) -> ConnectPolicy:
    """Connectors of a server may use files in one directory (made if missing) and the listed databases."""
    files_dir = config.connect_files_dir
    if files_dir is None:
        url = config.log_url.removeprefix("file://")
        if "://" in url:  # a Kafka log: nothing of ours on disk to put it beside
            files_dir = os.path.abspath("connect-files")
        else:
            files_dir = os.path.join(url, "connect-files")
            os.makedirs(files_dir, exist_ok=True)
    return ConnectPolicy.confined(files_dir, config.connect_allowed_hosts)


async def internal_error(request: Request, exc: Exception) -> Response:
    """The last resort: a JSON 500 whose error id points to the trace in the server log."""
    error_id = uuid.uuid4().hex[:12]
    logger.error("server: unhandled error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
    message = f"Internal server error (error id {error_id}; the trace is in the server log)."
    return Response(error_body(request.url.path, 500, message), status_code=500, media_type="application/json")
