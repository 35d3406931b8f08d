"""The Schema Registry's REST API on the server's port, under ``/registry`` (see ``headwater/registry/routes.py``).

Served when the session keeps its schemas in the log; with
``ksql.schema.registry.url`` set, clients talk to that registry instead and
nothing is served here.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from headwater.registry.routes import routes as registry_routes
from headwater.registry.store import LogSchemaRegistry
from headwater.server.state import ServerState


def routes(state: ServerState) -> list[BaseRoute]:
    registry = state.session.schema_registry
    if not isinstance(registry, LogSchemaRegistry):
        return []
    return registry_routes(registry)
