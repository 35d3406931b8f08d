"""The tool pages: topic browser, flow view, SQL editor and connectors (URL map in docs/ARCHITECTURE.md).

``/ui/topics``, ``/ui/topics/{name}``, ``/ui/flow``, ``/ui/flow/{kind}/{name}``, ``/ui/sql`` (``?q=`` fills the
editor), ``/ui/connectors`` and ``/ui/connectors/{name}`` are shells like every page: their scripts
(``topics.js``, ``flow.js``, ``sql.js``, ``connectors.js``) read the guarded APIs with the tab's key: the topic
browser's and flow view's JSON under ``/ui/api/`` (``headwater/server/browse.py``, ``flow.py``), ``/ksql`` and
``/query-stream``, the topic API's produce and Kafka Connect's REST API. Names in URLs reach the pages only as
escaped ``data-`` attributes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from headwater.server import browse, flow
from headwater.server.state import ServerState
from headwater.server.flow import KINDS
from headwater.server.rates import LiveRates
from headwater.ui.templating import render


async def topics_page(request: Request) -> Response:
    return render(request, "topics.html", title="Topics", section="/ui/topics")


async def topic_page(request: Request) -> Response:
    name = request.path_params["name"]
    return render(request, "topic.html", title=f"Topic {name}", section="/ui/topics", topic=name)


async def flow_page(request: Request) -> Response:
    return render(request, "flow.html", title="Flow", section="/ui/flow")


async def flow_node_page(request: Request) -> Response:
    kind, name = request.path_params["kind"], request.path_params["name"]
    if kind not in KINDS:
        return render(request, "not_found.html", title="Not found", section="/ui/flow", status_code=404,
                      message=f"{kind!r} is not a kind of node (expected one of {', '.join(KINDS)}).")
    return render(request, "flow_node.html", title=f"{kind.capitalize()} {name}", section="/ui/flow",
                  kind=kind, name=name)


async def sql_page(request: Request) -> Response:
    return render(request, "sql.html", title="SQL editor", section="/ui/sql", prefill=request.query_params.get("q", ""))


async def connectors_page(request: Request) -> Response:
    return render(request, "connectors.html", title="Connectors", section="/ui/connectors")


async def connector_page(request: Request) -> Response:
    name = request.path_params["name"]
    return render(request, "connector.html", title=f"Connector {name}", section="/ui/connectors", connector=name)


def routes(state: ServerState) -> list[BaseRoute]:
    """The pages and their JSON; the topic browser and the flow view share one rate sampler (a topic has the
    same rate on both), stopped when the app shuts down."""
    rates = LiveRates(state.log, state.session)
    state.closers.append(rates)
    return [
        *browse.routes(state, rates),
        *flow.routes(state, rates),
        Route("/ui/topics", topics_page, methods=["GET"]),
        Route("/ui/topics/{name}", topic_page, methods=["GET"]),
        Route("/ui/flow", flow_page, methods=["GET"]),
        Route("/ui/flow/{kind}/{name}", flow_node_page, methods=["GET"]),
        Route("/ui/sql", sql_page, methods=["GET"]),
        Route("/ui/connectors", connectors_page, methods=["GET"]),
        Route("/ui/connectors/{name}", connector_page, methods=["GET"]),
    ]
