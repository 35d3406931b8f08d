"""A panel's data: ``GET /dashboards/{id}/panels/{panel}/data`` (pull) and ``.../stream`` (push, SSE).

Both run the panel's query, as written in the dashboard file, through the
server's SQL session: nothing from the request reaches the SQL (the ids only
select a dashboard and a panel). ``/data`` answers a pull query's rows as
``{"columns", "key", "rows"}``. ``/stream`` starts the push query with
``auto.offset.reset=earliest`` (so a live panel starts from the table's
current contents, then follows its changes) and answers server-sent events::

    event: header
    data: {"queryId": "...", "columns": ["K1", "WINDOWSTART", ...], "key": ["K1", "WINDOWSTART", "WINDOWEND"]}

    data: [7, 1733450400000, 1733450460000, 7, 1733450400000, 12]
    ...
    event: end | error
    data: {"message": "..."}

with a comment line (``: keep-alive``) every few seconds while idle. ``key``
names the columns that identify a row of a table's changelog, so the page
keeps the latest row per key. The push query closes when the client goes away.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from headwater.dashboards.api import error_response, json_response, store_for
from headwater.dashboards.spec import DashboardSpecError, Panel
from headwater.dashboards.store import DashboardNotFound, DashboardStore
from headwater.engine.pull import PullResult
from headwater.errors import HeadwaterError
from headwater.server.app import ServerState
from headwater.server.ksql_common import dumps, json_row
from headwater.server.ksql_query import MAX_PUSH_QUERIES, Finished, QueryStart, result_chunks
from headwater.session import Session
from headwater.sql.catalog import Namespace

#: Most rows a pull panel answers (a dashboard is not an export).
MAX_PULL_ROWS = 10_000
KEEP_ALIVE_S = 5.0
WINDOW_COLUMNS = ("WINDOWSTART", "WINDOWEND")
LIVE_PROPERTIES = {"auto.offset.reset": "earliest"}


class PanelError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def find_panel(store: DashboardStore, dashboard_id: str, panel_id: str) -> Panel:
    try:
        dashboard = store.get(dashboard_id).dashboard
    except DashboardNotFound as exc:
        raise PanelError(404, str(exc)) from None
    except DashboardSpecError as exc:
        raise PanelError(400, str(exc)) from None
    panel = dashboard.panel(panel_id)
    if panel is None:
        raise PanelError(404, f"Dashboard {dashboard_id!r} has no panel {panel_id!r}.")
    return panel


def key_columns(columns: list[str], keys: set[str]) -> list[str]:
    return [c for c in columns if c in keys or c in WINDOW_COLUMNS]


def pull_rows(session: Session, panel: Panel) -> dict[str, Any]:
    if panel.is_push:
        raise PanelError(400, f"Panel {panel.id!r} is a live panel (a push query): read it from its /stream.")
    try:
        result = session.query(panel.query)
    except HeadwaterError as exc:
        raise PanelError(400, f"Panel {panel.id!r}: {exc}") from None
    if not isinstance(result, PullResult):  # parse said pull, the session disagrees: never leave it running
        result.close()
        raise PanelError(400, f"Panel {panel.id!r}: the query did not run as a pull query.")
    rows = [json_row(r, result.types) for r in result.rows[:MAX_PULL_ROWS]]
    return {"queryId": result.query_id, "columns": result.columns, "rows": rows,
            "truncated": len(result.rows) > MAX_PULL_ROWS}


def start_push(session: Session, panel: Panel) -> QueryStart:
    if not panel.is_push:
        raise PanelError(400, f"Panel {panel.id!r} runs a pull query: read it from its /data.")
    if len(session.push_queries) >= MAX_PUSH_QUERIES:
        raise PanelError(503, f"The server runs {MAX_PUSH_QUERIES} push queries already: close a live page "
                              "and retry.")
    try:
        result = session.query(panel.query, LIVE_PROPERTIES)
    except HeadwaterError as exc:
        raise PanelError(400, f"Panel {panel.id!r}: {exc}") from None
    if isinstance(result, PullResult):
        raise PanelError(400, f"Panel {panel.id!r}: the query did not run as a push query.")
    keys = {o.name for o in result.plan.outputs if o.namespace is Namespace.KEY}
    return QueryStart(result.id, result.columns, result.types, keys, push=result)


def sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + dumps(data) + b"\n\n"


async def events(session: Session, start: QueryStart) -> AsyncIterator[bytes]:
    yield sse("header", {"queryId": start.query_id, "columns": start.columns,
                         "key": key_columns(start.columns, start.keys)})
    idle_since = time.monotonic()
    async for item in result_chunks(session, start):
        if item is None:
            if time.monotonic() - idle_since >= KEEP_ALIVE_S:
                idle_since = time.monotonic()
                yield b": keep-alive\n\n"
        elif isinstance(item, Finished):
            yield sse("error", {"message": item.error}) if item.error else sse("end", {"message": item.final})
            return
        elif item:
            idle_since = time.monotonic()
            yield b"".join(sse(None, row) for row in item)


def routes(state: ServerState) -> list[BaseRoute]:
    store = store_for(state)
    session = state.session

    async def data(request: Request) -> Response:
        try:
            panel = await to_thread.run_sync(find_panel, store, request.path_params["id"], request.path_params["panel"])
            return json_response(await to_thread.run_sync(pull_rows, session, panel))
        except PanelError as exc:
            return error_response(request, exc.status, exc.message)

    async def stream(request: Request) -> Response:
        try:
            panel = await to_thread.run_sync(find_panel, store, request.path_params["id"], request.path_params["panel"])
            start = await to_thread.run_sync(start_push, session, panel)
        except PanelError as exc:
            return error_response(request, exc.status, exc.message)
        return StreamingResponse(events(session, start), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    return [
        Route("/dashboards/{id}/panels/{panel}/data", data, methods=["GET"]),
        Route("/dashboards/{id}/panels/{panel}/stream", stream, methods=["GET"]),
    ]
