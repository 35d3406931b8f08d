"""The UI's routes: the landing page at ``/``, the pages under ``/ui/``, their static files.

Pages under ``/ui/`` (and ``/``) are answered without an API key (the guard
lets GETs of them through; see ``guard.py``): they are shells with no data.
Their scripts read the data from the guarded APIs, including the UI's own
JSON under ``/ui/api/``, which needs a key like every other API.

Each page module (``dashboard_pages`` here; the topic browser, flow view, SQL
editor and connectors pages beside it) exposes ``routes(state)``; this module
gathers them, so ``create_app`` knows one UI module.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from headwater.dashboards import api as dashboards_api
from headwater.dashboards import panels as dashboard_panels
from headwater.server.state import ServerState
from headwater.ui import dashboard_pages, pages
from headwater.ui.overview import overview_endpoint
from headwater.ui.templating import render


def page_modules() -> list[Any]:
    """Modules with ``routes(state) -> list[BaseRoute]`` of UI pages (and their JSON under /ui/api/)."""
    return [dashboard_pages, pages]


def wants_html(request: Request) -> bool:
    """A browser navigating (Accept names text/html); API clients probing ``/`` get /info as before."""
    return "text/html" in request.headers.get("accept", "")


async def landing(request: Request) -> Response:
    if not wants_html(request):
        return RedirectResponse("/info", status_code=307)
    return render(request, "landing.html", title="Overview", section="/")


def routes(state: ServerState) -> list[BaseRoute]:
    out: list[BaseRoute] = [
        Route("/", landing, methods=["GET"]),
        Route("/ui/api/overview", overview_endpoint, methods=["GET"]),
        Mount("/ui/static", app=StaticFiles(packages=[("headwater.ui", "static")]), name="ui-static"),
    ]
    out.extend(dashboards_api.routes(state))
    out.extend(dashboard_panels.routes(state))
    for module in page_modules():
        out.extend(module.routes(state))
    return out
