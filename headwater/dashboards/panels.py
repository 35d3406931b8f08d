"""Panel data: ``GET /dashboards/{id}/panels/{panel}/data`` (pull), ``.../stream`` (push, SSE), and
``GET /dashboards/{id}/stream`` (every live panel of the dashboard on one SSE stream).

They run the panels' queries, as written in the dashboard file, through the
server's SQL session: nothing from the request reaches the SQL (the ids only
select a dashboard and a panel). ``/data`` answers a pull query's rows as
``{"columns", "rows"}``. ``/stream`` starts the push query with
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

The dashboard's stream (what the page reads: a browser opens at most six
HTTP/1.1 connections to one server, so a stream per panel would starve the
page) runs one push query per distinct query text and tags its events with
the query's number: ``header`` ``{"query", "panels", "columns", "key"}``,
``rows`` ``{"query", "rows"}``, ``error`` / ``end`` ``{"query", "message"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from headwater.dashboards.api import error_response, json_response, store_for
from headwater.dashboards.spec import Dashboard, DashboardSpecError, Panel, parse_select
from headwater.dashboards.store import DashboardNotFound, DashboardStore
from headwater.engine.pull import PullResult
from headwater.errors import HeadwaterError
from headwater.server.state import ServerState
from headwater.server.ksql_common import dumps, json_row
from headwater.server.ksql_query import MAX_PUSH_QUERIES, Finished, QueryStart, result_chunks
from headwater.session import Session
from headwater.sql import ast

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


def key_columns(columns: list[str], keys: set[str]) -> list[str] | None:
    """The key columns in column order; None when the rows are events (or the key is incomplete)."""
    return [c for c in columns if c in keys] or None


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
    return QueryStart(result.id, result.columns, result.types, table_key(session, panel, result.columns), push=result)


def table_key(session: Session, panel: Panel, columns: list[str]) -> set[str]:
    """The columns that identify a row of the table the panel follows (its key, and window bounds).

    Empty for a stream (every row is an event), and when the query leaves out part of the key: then the
    page cannot fold changes into rows, and says so.
    """
    statement = parse_select(panel.query)
    relation = statement.from_
    if not isinstance(relation, ast.AliasedRelation) or statement.group_by is not None:
        return set()
    source = session.catalog.find(relation.name)
    if source is None or source.kind is not ast.SourceKind.TABLE:
        return set()
    keys = {c.name for c in source.key_columns}
    if source.window is not None:
        keys |= set(WINDOW_COLUMNS)
    return keys if keys <= set(columns) else set()


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


async def _pump(number: int, session: Session, start: QueryStart, out: asyncio.Queue[tuple[int, Any]]) -> None:
    try:
        async for item in result_chunks(session, start):
            await out.put((number, item))
    except Exception as exc:  # noqa: BLE001 - a failed query ends its panels' data, with the reason, not the stream
        await out.put((number, Finished(error=f"{type(exc).__name__}: {exc}")))


#: Per distinct query of the live panels: the panel ids it feeds, and the started query or why it did not start.
Started = list[tuple[list[str], QueryStart | PanelError]]


async def dashboard_events(session: Session, live: Started) -> AsyncIterator[bytes]:
    """All live panels of a dashboard on one stream (a browser opens at most 6 HTTP/1.1 connections to a
    server: one stream per panel would starve the page's other requests). Panels with the same query
    share one push query; events name the query by its number, the header says which panels it feeds."""
    queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue(maxsize=64)
    tasks: list[asyncio.Task[None]] = []
    try:
        for number, (panel_ids, start) in enumerate(live):
            if isinstance(start, PanelError):
                yield sse("error", {"query": number, "panels": panel_ids, "message": start.message})
                continue
            yield sse("header", {"query": number, "panels": panel_ids, "queryId": start.query_id,
                                 "columns": start.columns, "key": key_columns(start.columns, start.keys)})
            tasks.append(asyncio.create_task(_pump(number, session, start, queue)))
        idle_since = time.monotonic()
        running = len(tasks)
        while running:
            try:
                number, item = await asyncio.wait_for(queue.get(), KEEP_ALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if isinstance(item, Finished):
                running -= 1
                message = {"query": number, "message": item.error or item.final}
                yield sse("error" if item.error else "end", message)
            elif item:
                yield sse("rows", {"query": number, "rows": item})
            elif time.monotonic() - idle_since >= KEEP_ALIVE_S:
                idle_since = time.monotonic()
                yield b": keep-alive\n\n"
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # A pump cancelled before its first step never ran result_chunks' cleanup: close every query here.
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(close_started, live)


def start_live(session: Session, dashboard: Dashboard) -> Started:
    """One push query per distinct query text of the live panels (a failed start is kept as its error)."""
    by_query: dict[str, list[Panel]] = {}
    for panel in dashboard.panels:
        if panel.is_push:
            by_query.setdefault(panel.query.strip(), []).append(panel)
    started: Started = []
    try:
        for panels in by_query.values():
            ids = [p.id for p in panels]
            try:
                started.append((ids, start_push(session, panels[0])))
            except PanelError as exc:
                started.append((ids, exc))
    except BaseException:
        close_started(started)
        raise
    return started


def close_started(started: Started) -> None:
    for _, start in started:
        if isinstance(start, QueryStart) and start.push is not None:
            start.push.close()


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

    async def dashboard_stream(request: Request) -> Response:
        try:
            dashboard = (await to_thread.run_sync(store.get, request.path_params["id"])).dashboard
        except DashboardNotFound as exc:
            return error_response(request, 404, str(exc))
        except DashboardSpecError as exc:
            return error_response(request, 400, str(exc))
        live = await to_thread.run_sync(start_live, session, dashboard)
        return StreamingResponse(dashboard_events(session, live), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    return [
        Route("/dashboards/{id}/stream", dashboard_stream, methods=["GET"]),
        Route("/dashboards/{id}/panels/{panel}/data", data, methods=["GET"]),
        Route("/dashboards/{id}/panels/{panel}/stream", stream, methods=["GET"]),
    ]
