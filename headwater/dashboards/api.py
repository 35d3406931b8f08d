"""The dashboards REST API: list, get, put, delete, and the Grafana export.

``GET /dashboards``, ``GET|PUT|DELETE /dashboards/{id}``, ``GET /dashboards/{id}/grafana``.
Answers are JSON; errors are ``{"error_code", "message"}`` (400 names the field that is wrong). The
guard in front checks keys and roles: PUT and DELETE need the admin key when keys are set. The panels'
data endpoints are in :mod:`headwater.dashboards.panels`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from headwater.dashboards import grafana
from headwater.dashboards.spec import Dashboard, DashboardSpecError, from_data
from headwater.dashboards.store import (
    DashboardNotFound, DashboardReadOnly, DashboardStore, Entry, api_dir_for,
)
from headwater.server.state import ServerState
from headwater.server.guard import error_body
from headwater.server.http import BodyTooLarge, read_body


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def error_response(request: Request, status: int, message: str) -> Response:
    return Response(error_body(request.url.path, status, message), status_code=status, media_type="application/json")


def store_for(state: ServerState) -> DashboardStore:
    return DashboardStore(state.config.dashboards_dir, api_dir_for(state.config.log_url))


def described(entry: Entry) -> dict[str, Any]:
    board = entry.dashboard
    return {"id": board.id, "title": board.title, "description": board.description, "source": entry.source,
            "panels": len(board.panels)}


class DashboardApi:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.store = store_for(state)

    def _topics(self, dashboard: Dashboard) -> dict[str, str]:
        """The topic of each stream or table the panels read, from the session's catalog."""
        out: dict[str, str] = {}
        for panel in dashboard.panels:
            name = grafana.source_name(panel)
            source = self.state.session.catalog.find(name) if name else None
            if name and source is not None:
                out[name] = source.topic
        return out

    async def _answer(self, request: Request, work: Callable[[], Awaitable[Response]]) -> Response:
        try:
            return await work()
        except DashboardNotFound as exc:
            return error_response(request, 404, str(exc))
        except DashboardReadOnly as exc:
            return error_response(request, 409, str(exc))
        except DashboardSpecError as exc:
            return error_response(request, 400, str(exc))
        except OSError as exc:  # the folder is not writable, the disk is full, ...
            return error_response(request, 503, f"dashboards: cannot write to {self.store.writable_dir}: {exc}")

    async def list(self, request: Request) -> Response:
        async def work() -> Response:
            loaded = await to_thread.run_sync(self.store.load)
            boards = sorted(loaded.entries.values(), key=lambda e: e.dashboard.title.lower())
            return json_response({"dashboards": [described(e) for e in boards], "problems": loaded.problems})

        return await self._answer(request, work)

    async def get(self, request: Request) -> Response:
        async def work() -> Response:
            entry = await to_thread.run_sync(self.store.get, request.path_params["id"])
            return json_response({**entry.dashboard.as_dict(), "source": entry.source})

        return await self._answer(request, work)

    async def put(self, request: Request) -> Response:
        async def work() -> Response:
            wanted = request.path_params["id"]
            try:
                body = orjson.loads(await read_body(request, self.state.config.max_body_bytes))
            except BodyTooLarge as exc:
                return error_response(request, 413, str(exc))
            except orjson.JSONDecodeError as exc:
                return error_response(request, 400, f"The body is not valid JSON: {exc}")
            if isinstance(body, dict):
                body.pop("source", None)  # what GET adds; not part of the file
                body.setdefault("id", wanted)
                if body["id"] != wanted:
                    return error_response(request, 400, f"id: the body's id {body['id']!r} differs from the "
                                                        f"URL's {wanted!r}")
            dashboard = from_data(body, "dashboard")
            existed = wanted in (await to_thread.run_sync(self.store.load)).entries
            entry = await to_thread.run_sync(self.store.put, dashboard)
            return json_response({**entry.dashboard.as_dict(), "source": entry.source}, 200 if existed else 201)

        return await self._answer(request, work)

    async def delete(self, request: Request) -> Response:
        async def work() -> Response:
            await to_thread.run_sync(self.store.delete, request.path_params["id"])
            return Response(status_code=204)

        return await self._answer(request, work)

    async def grafana(self, request: Request) -> Response:
        async def work() -> Response:
            entry = await to_thread.run_sync(self.store.get, request.path_params["id"])
            return json_response(grafana.export(entry.dashboard, self._topics(entry.dashboard)))

        return await self._answer(request, work)


def routes(state: ServerState) -> list[BaseRoute]:
    api = DashboardApi(state)
    return [
        Route("/dashboards", api.list, methods=["GET"]),
        Route("/dashboards/{id}", api.get, methods=["GET"]),
        Route("/dashboards/{id}", api.put, methods=["PUT"]),
        Route("/dashboards/{id}", api.delete, methods=["DELETE"]),
        Route("/dashboards/{id}/grafana", api.grafana, methods=["GET"]),
    ]
