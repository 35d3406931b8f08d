"""The dashboards pages: ``/ui/dashboards`` (the list) and ``/ui/dashboards/{id}`` (one, live).

Both are shells: ``dashboards.js`` and ``dashboard.js`` read ``/dashboards``
and the panels' ``/data`` and ``/stream`` endpoints with the tab's API key.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from headwater.dashboards.spec import NAME_PATTERN
from headwater.server.state import ServerState
from headwater.ui.templating import render


async def dashboards_page(request: Request) -> Response:
    return render(request, "dashboards.html", title="Dashboards", section="/ui/dashboards")


async def dashboard_page(request: Request) -> Response:
    dashboard_id = request.path_params["id"]
    if re.fullmatch(NAME_PATTERN, dashboard_id) is None:
        return render(request, "not_found.html", title="Not found", section="/ui/dashboards", status_code=404,
                      message=f"{dashboard_id!r} is not a dashboard id (lower-case letters, digits, _ and -).")
    return render(request, "dashboard.html", title="Dashboard", section="/ui/dashboards", dashboard_id=dashboard_id)


def routes(state: ServerState) -> list[BaseRoute]:
    return [
        Route("/ui/dashboards", dashboards_page, methods=["GET"]),
        Route("/ui/dashboards/{id}", dashboard_page, methods=["GET"]),
    ]
