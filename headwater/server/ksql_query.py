"""ksqlDB's query endpoints: ``POST /query``, ``POST /query-stream``, ``POST /close-query``.

``/query`` (the ksql CLI's and ksql-python's endpoint) streams one JSON array
over chunked HTTP/1.1::

    [{"header":{"queryId":"transient_CLICKSTREAM_3","schema":"`USERID` INTEGER, `STATUS` INTEGER"}},
    {"row":{"columns":[7,404]}},
    {"finalMessage":"Limit Reached"}]

with a ``"\\n"`` heartbeat while a push query is idle. ``/query-stream`` (the
newer API, HTTP/1.1 or HTTP/2) answers ``application/vnd.ksqlapi.delimited.v1``
by default (a header object line, then one JSON array per row) or, when the
client accepts ``application/json``, the same items as one JSON array.

A push query's rows are sent as they arrive. Reading rows blocks, so each
wait (at most :data:`ROW_WAIT_S`) runs in a worker thread; when the client
disconnects Starlette cancels the response and the ``finally`` closes the
:class:`~headwater.engine.push.PushQuery` (its thread ends). ``/close-query``
closes one by id, which ends its response too.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from headwater.engine.pull import PullResult
from headwater.engine.push import PushQuery
from headwater.errors import HeadwaterError, SqlSemanticError
from headwater.log.printing import print_lines
from headwater.server.state import ServerState
from headwater.server.http import BodyTooLarge, read_body
from headwater.server.ksql_common import (
    BAD_REQUEST, BAD_STATEMENT, DELIMITED_MEDIA_TYPE, MAX_PUSH, NOT_ACCEPTABLE, SERVER_ERROR, TOO_LARGE, KsqlHttpError, KsqlRequest,
    RequestCounter, dumps, error_position, json_row, read_request, schema_text, statement_error,
)
from headwater.session import Session
from headwater.sql import ast
from headwater.sql.catalog import Namespace
from headwater.sql.parser import parse_statement
from headwater.sql.script import split_statements, substitute_variables
from headwater.sql.types import SqlType

#: Longest wait for a push query's next row in one worker-thread call.
ROW_WAIT_S = 0.25
#: After a first row, how long to gather more before sending them in one chunk.
ROW_LINGER_S = 0.02
MAX_ROWS_PER_CHUNK = 1000
#: /query writes a newline after this long without a row (ksqlDB does too), so idle
#: connections stay open through read timeouts of clients and proxies.
HEARTBEAT_S = 1.0
#: ksqlDB's ``ksql.max.push.queries`` default: more running push queries answer 40003.
MAX_PUSH_QUERIES = 100
#: Worker threads for waiting on rows and PRINT lines. Separate from anyio's default pool,
#: so many idle push queries never starve /ksql statements of threads.
STREAM_THREADS = MAX_PUSH_QUERIES + 20

_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def stream_limiter() -> anyio.CapacityLimiter:
    """One limiter per event loop (created inside it, as anyio requires)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(STREAM_THREADS)
    return limiter


@dataclass
class QueryStart:
    """A started query: column names and types, and either the pull rows or the push query."""

    query_id: str
    columns: list[str]
    types: list[SqlType]
    keys: set[str]
    pull: PullResult | None = None
    push: PushQuery | None = None


@dataclass
class Finished:
    """How a result stream ended: ``final`` is ksqlDB's finalMessage, ``error`` a failure."""

    final: str = "Query Completed"
    error: str | None = None


def parse_query(request: KsqlRequest) -> tuple[str, ast.Statement, tuple[int, int]]:
    """The one SELECT or PRINT statement of a query request, variables substituted, and where it starts
    in the request (line, column: errors found later are shifted by it)."""
    try:
        pieces = split_statements(request.text)
    except HeadwaterError as exc:
        raise statement_error(str(exc), request.text, position=error_position(exc)) from None
    if len(pieces) != 1:
        raise KsqlHttpError(400, BAD_REQUEST, f"Expected exactly one statement (a SELECT or PRINT), got {len(pieces)}.")
    piece = pieces[0]
    try:
        text = substitute_variables(piece.text, request.variables, piece.line, piece.column)
        statement = parse_statement(text, piece.line, piece.column)
    except HeadwaterError as exc:
        raise statement_error(str(exc), piece.text.strip(), position=error_position(exc)) from None
    if not isinstance(statement, (ast.Query, ast.Print)):
        raise statement_error(f"Statement type `{type(statement).__name__}` is not supported on this endpoint: "
                              "send SELECT and PRINT here, everything else to /ksql.", piece.text.strip())
    return text, statement, (piece.line, piece.column)


def start_query(session: Session, text: str, statement: ast.Query, properties: dict[str, str],
                at: tuple[int, int] = (1, 1)) -> QueryStart:
    try:
        result = session.query(text, properties)
    except HeadwaterError as exc:
        position = error_position(exc)
        if position is not None:  # relative to the statement: make it relative to the request
            position = {"line": position["line"] + at[0] - 1,
                        "column": position["column"] + (at[1] - 1 if position["line"] == 1 else 0)}
        raise statement_error(str(exc), text.strip(), position=position) from None
    if isinstance(result, PullResult):
        source = session.catalog.find(statement.from_.name) if isinstance(statement.from_, ast.AliasedRelation) else None
        source_keys = {c.name for c in source.key_columns} if source is not None else set()
        keys = {c for c in result.columns if c in source_keys}
        return QueryStart(result.query_id, result.columns, result.types, keys, pull=result)
    keys = {o.name for o in result.plan.outputs if o.namespace is Namespace.KEY}
    return QueryStart(result.id, result.columns, result.types, keys, push=result)


def _gather(push: PushQuery) -> tuple[list[list[Any]], BaseException | None]:
    """Rows available now (waiting up to ROW_WAIT_S for the first); runs in a worker thread."""
    rows: list[list[Any]] = []
    try:
        for row in push.rows(timeout_s=ROW_WAIT_S):
            rows.append(row)
            break
        deadline = time.monotonic() + ROW_LINGER_S
        while rows and len(rows) < MAX_ROWS_PER_CHUNK and time.monotonic() < deadline:
            before = len(rows)
            for row in push.rows(timeout_s=0.002):
                rows.append(row)
                if len(rows) >= MAX_ROWS_PER_CHUNK:
                    break
            if len(rows) == before:
                break
    except Exception as exc:  # the query failed: handed to the client as ksqlDB's error message
        return rows, exc
    return rows, None


async def result_chunks(session: Session, start: QueryStart) -> AsyncIterator[list[list[Any]] | Finished | None]:
    """Batches of JSON-ready rows, ``None`` while idle, then one :class:`Finished`."""
    if start.pull is not None:
        yield [json_row(r, start.types) for r in start.pull.rows]
        yield Finished("Query Completed")
        return
    push = start.push
    assert push is not None  # start_query sets one of the two
    sent = 0
    try:
        while True:
            rows, error = await to_thread.run_sync(_gather, push, limiter=stream_limiter())
            if rows:
                sent += len(rows)
                yield [json_row(r, start.types) for r in rows]
            else:
                yield None
            if error is not None:
                yield Finished(error=str(error))
                return
            if push.limit is not None and sent >= push.limit:
                yield Finished("Limit Reached")
                return
            if push.id not in session.push_queries:  # closed through /close-query or a shutdown
                yield Finished("Query Completed")
                return
    finally:
        with anyio.CancelScope(shield=True):
            await to_thread.run_sync(push.close)


async def query_body(session: Session, start: QueryStart) -> AsyncIterator[bytes]:
    """/query: the chunked JSON array ksqlDB streams."""
    header = {"header": {"queryId": start.query_id, "schema": schema_text(start.columns, start.types, start.keys)}}
    yield b"[" + dumps(header) + b",\n"
    idle_since = time.monotonic()
    async for item in result_chunks(session, start):
        if item is None:
            if time.monotonic() - idle_since >= HEARTBEAT_S:
                idle_since = time.monotonic()
                yield b"\n"
        elif isinstance(item, Finished):
            if item.error is not None:
                tail = {"errorMessage": {"@type": "generic_error", "error_code": SERVER_ERROR, "message": item.error}}
            else:
                tail = {"finalMessage": item.final}
            yield dumps(tail) + b"]\n"
        elif item:
            idle_since = time.monotonic()
            for row in item:  # one chunk per row, as ksqlDB writes them (some clients parse per chunk)
                yield dumps({"row": {"columns": row}}) + b",\n"


async def query_stream_body(session: Session, start: QueryStart, as_json: bool) -> AsyncIterator[bytes]:
    """/query-stream: a header line then one array per row (delimited), or one JSON array."""
    header = {"queryId": start.query_id, "columnNames": start.columns,
              "columnTypes": [t.sql() for t in start.types]}
    yield (b"[" + dumps(header)) if as_json else dumps(header) + b"\n"
    async for item in result_chunks(session, start):
        if isinstance(item, Finished):
            if item.error is not None:
                error = dumps({"@type": "generic_error", "error_code": SERVER_ERROR, "message": item.error})
                yield (b",\n" + error) if as_json else error + b"\n"
            if as_json:
                yield b"]\n"
        elif item:
            for row in item:  # one chunk (HTTP/2 DATA frame) per row: ksql-python parses each as one row
                yield (b",\n" + dumps(row)) if as_json else dumps(row) + b"\n"


async def print_body(session: Session, statement: ast.Print) -> AsyncIterator[bytes]:
    """PRINT's lines as text; the reader thread stops when the client goes away."""
    stopped = False
    lines = print_lines(session.log, statement.topic, from_beginning=statement.from_beginning,
                        interval=statement.interval or 1, limit=statement.limit, should_stop=lambda: stopped)
    sentinel = object()

    def next_line() -> object:
        return next(lines, sentinel)

    try:
        while True:
            # Abandoned on cancel: the thread sees ``stopped`` within one poll and ends the generator.
            line = await to_thread.run_sync(next_line, abandon_on_cancel=True, limiter=stream_limiter())
            if line is sentinel:
                return
            yield str(line).encode() + b"\n"
    finally:
        stopped = True


def _check_print(session: Session, statement: ast.Print) -> None:
    if statement.topic not in session.log.list_topics():
        raise SqlSemanticError(f"Could not find topic '{statement.topic}', or the KSQL user does not have "
                               "permissions to list the topic. Topic names are case-sensitive.", statement.pos)


def routes(state: ServerState, counter: RequestCounter) -> list[BaseRoute]:
    session = state.session

    async def begin(request: Request, text_field: str, properties_field: str) -> tuple[str, ast.Statement, QueryStart | None]:
        body = await read_request(request, state.config, text_field, properties_field)
        text, statement, at = parse_query(body)
        if isinstance(statement, ast.Print):
            try:
                await to_thread.run_sync(_check_print, session, statement)
            except HeadwaterError as exc:
                raise statement_error(str(exc), text.strip(), position=error_position(exc)) from None
            return text, statement, None
        assert isinstance(statement, ast.Query)
        if statement.is_push and len(session.push_queries) >= MAX_PUSH_QUERIES:
            raise KsqlHttpError(400, MAX_PUSH, "Not executing query as the maximum number of push queries "
                                f"({MAX_PUSH_QUERIES}) has been reached.")
        start = await to_thread.run_sync(start_query, session, text, statement, {**body.properties}, at)
        return text, statement, start

    async def query(request: Request) -> Response:
        _, statement, start = await begin(request, "ksql", "streamsProperties")
        if start is None:
            assert isinstance(statement, ast.Print)
            return StreamingResponse(print_body(session, statement), media_type="text/plain; charset=utf-8")
        return StreamingResponse(query_body(session, start), media_type="application/json")

    async def query_stream(request: Request) -> Response:
        accept = request.headers.get("accept", "")
        as_json = "application/json" in accept and DELIMITED_MEDIA_TYPE not in accept
        _, statement, start = await begin(request, "sql", "properties")
        if start is None:
            assert isinstance(statement, ast.Print)
            if as_json:
                raise KsqlHttpError(406, NOT_ACCEPTABLE, f"PRINT is only served as {DELIMITED_MEDIA_TYPE}.")
            return StreamingResponse(print_body(session, statement), media_type=DELIMITED_MEDIA_TYPE)
        media_type = "application/json" if as_json else DELIMITED_MEDIA_TYPE
        return StreamingResponse(query_stream_body(session, start, as_json), media_type=media_type)

    async def close_query(request: Request) -> Response:
        try:
            raw = await read_body(request, state.config.max_body_bytes)
        except BodyTooLarge as exc:
            raise KsqlHttpError(413, TOO_LARGE, str(exc)) from None
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise KsqlHttpError(400, BAD_REQUEST, f"The request body is not valid JSON: {exc}") from None
        query_id = body.get("queryId") if isinstance(body, dict) else None
        if not isinstance(query_id, str) or not query_id:
            raise KsqlHttpError(400, BAD_REQUEST, "The request needs a string field \"queryId\".")
        push = session.push_queries.get(query_id)
        if push is None:
            raise KsqlHttpError(400, BAD_STATEMENT, f"No query with id {query_id}")
        await to_thread.run_sync(push.close)
        return Response(b"", status_code=200)

    wrap = counter.wrap
    return [
        Route("/query", wrap("query", query), methods=["POST"]),
        Route("/query-stream", wrap("query-stream", query_stream), methods=["POST"]),
        Route("/close-query", wrap("close-query", close_query), methods=["POST"]),
    ]
