"""The ksqlDB REST API (ksqlDB 0.29 / Confluent 7.x paths, bodies, status codes).

- ``POST /ksql``: statements in, one ``@type`` entity per statement out
  (``headwater.sql.entities``). ``SET``/``UNSET``/``DEFINE``/``UNDEFINE`` apply to
  the rest of the request only (as in ksqlDB: the CLI keeps them and sends
  ``streamsProperties``/``sessionVariables`` with every request). SELECT and
  PRINT are refused with 40002; they go to ``/query`` or ``/query-stream``
  (``ksql_query.py``).
- ``POST /inserts-stream``: rows into a stream (``ksql_inserts.py``).
- ``GET /info``, ``GET /status[/{commandId}]``, and ksqlDB's health check at
  ``GET /ksql/healthcheck`` (``GET /healthcheck`` belongs to the Segment
  collector, which answers ``Alive``).

Statements run on the shared :class:`~headwater.session.Session` in a worker
thread, never on the event loop. Keys, origins and roles are checked by
``guard.py``; a read-only key may run only the statements that change nothing
(:data:`READ_ONLY_STATEMENTS`).
"""

from __future__ import annotations

import threading
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from headwater import __version__ as headwater_version
from headwater.errors import HeadwaterError
from headwater.server import ksql_inserts, ksql_query
from headwater.server.state import ServerState
from headwater.server.guard import READ, request_role
from headwater.server.ksql_common import (
    FORBIDDEN, NOT_FOUND, QUERY_ENDPOINT, KsqlHttpError, KsqlRequest, RequestCounter, dumps, error_position,
    read_request, response_media_type, statement_error,
)
from headwater.session import Session
from headwater.sql import ast
from headwater.sql.entities import Entity, variables_list
from headwater.sql.parser import parse_statement
from headwater.sql.script import split_statements, substitute_variables

#: The ksqlDB version whose REST API this one follows (clients check it).
KSQL_COMPAT_VERSION = "0.29.0"
#: What a read-only API key may run on /ksql: statements that change nothing on the server.
READ_ONLY_STATEMENTS = (ast.Show, ast.DescribeSource, ast.DescribeSources, ast.DescribeFunction, ast.Explain,
                        ast.DescribeConnector, ast.SetProperty, ast.UnsetProperty, ast.DefineVariable,
                        ast.UndefineVariable, ast.AssertTopic, ast.AssertSchema)


class CommandStatuses:
    """Status of the commands this server ran, by commandId, for ``GET /status``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._statuses: dict[str, dict[str, Any]] = {}

    def record(self, entity: Entity) -> None:
        if entity.get("@type") == "currentStatus":
            status = entity["commandStatus"]
            with self._lock:
                self._statuses[entity["commandId"]] = {"status": status["status"], "message": status["message"],
                                                       "queryId": status.get("queryId")}

    def all(self) -> dict[str, str]:
        with self._lock:
            return {command: s["status"] for command, s in self._statuses.items()}

    def get(self, command_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._statuses.get(command_id)
            if found is None:  # ksqlDB's ids quote names in backticks; accept them bare too
                found = next((s for c, s in self._statuses.items() if c.replace("`", "") == command_id), None)
            return dict(found) if found else None


def run_statements(session: Session, request: KsqlRequest, statuses: CommandStatuses,
                   read_only: bool = False) -> list[Entity]:
    """Run a /ksql request's statements in order; on the first failure, a statement_error
    carrying the entities of the statements that ran before it. ``read_only`` (a read key)
    refuses, with 403, the statements that would change something."""
    variables = dict(request.variables)
    properties = dict(request.properties)
    done: list[Entity] = []
    try:
        pieces = split_statements(request.text)
    except HeadwaterError as exc:
        raise statement_error(str(exc), request.text, position=error_position(exc)) from None
    for piece in pieces:
        try:
            text = substitute_variables(piece.text, variables, piece.line, piece.column)
            statement = parse_statement(text, piece.line, piece.column)
            if isinstance(statement, (ast.Query, ast.Print)):
                raise statement_error(
                    "The following statement types should be issued to the websocket endpoint '/query':\n"
                    "\t* PRINT\n\t* SELECT", piece.text.strip(), done, QUERY_ENDPOINT)
            if read_only and not isinstance(statement, READ_ONLY_STATEMENTS):
                raise KsqlHttpError(403, FORBIDDEN, "This API key is read-only: it may run SHOW, LIST, DESCRIBE "
                                    "and EXPLAIN, and queries on /query, but not this statement.",
                                    statement_text=piece.text.strip(), entities=done)
            if isinstance(statement, ast.SetProperty):
                properties[statement.name] = statement.value
            elif isinstance(statement, ast.UnsetProperty):
                properties.pop(statement.name, None)
            elif isinstance(statement, ast.DefineVariable):
                variables[statement.name] = statement.value
            elif isinstance(statement, ast.UndefineVariable):
                variables.pop(statement.name, None)
            elif isinstance(statement, ast.Show) and statement.kind is ast.ShowKind.VARIABLES:
                done.append(variables_list(text.strip(), variables))
            elif isinstance(statement, ast.RunScript):
                raise statement_error("RUN SCRIPT runs in the client (the shell reads the file and sends its "
                                      "statements); the server does not read files.", piece.text.strip(), done)
            else:
                # Padding keeps line:column positions in errors relative to the whole request.
                padded = "\n" * (piece.line - 1) + " " * (piece.column - 1) + text
                for entity in session.execute(padded, properties):
                    statuses.record(entity)
                    done.append(entity)
        except KsqlHttpError:
            raise
        except HeadwaterError as exc:
            raise statement_error(str(exc), piece.text.strip(), done, position=error_position(exc)) from None
    return done


def routes(state: ServerState) -> list[BaseRoute]:
    counter = RequestCounter(state.registry)
    statuses = CommandStatuses()
    session = state.session

    async def ksql(request: Request) -> Response:
        body = await read_request(request, state.config, "ksql", "streamsProperties")
        read_only = request_role(request) == READ
        entities = await to_thread.run_sync(run_statements, session, body, statuses, read_only)
        return Response(dumps(entities), media_type=response_media_type(request))

    async def info(request: Request) -> Response:
        body = {"KsqlServerInfo": {
            "version": KSQL_COMPAT_VERSION,
            "kafkaClusterId": _cluster_id(state),
            "ksqlServiceId": session.service_id,
            "serverStatus": "RUNNING",
            "headwaterVersion": headwater_version,
        }}
        return Response(dumps(body), media_type=response_media_type(request))

    async def healthcheck(request: Request) -> Response:
        try:
            await to_thread.run_sync(state.log.list_topics)
            log_ok = True
        except Exception:  # any failure to reach the log is what this check reports
            log_ok = False
        # Damaged stored data (missing, truncated or corrupt segments) makes the server unhealthy until repaired.
        damaged = [{"topic": topic, "partition": partition, "problem": problem}
                   for (topic, partition), problem in sorted(state.log.problems.items())]
        healthy = log_ok and not damaged
        body = {"isHealthy": healthy,
                "details": {"metastore": {"isHealthy": True}, "kafka": {"isHealthy": log_ok},
                            "log": {"isHealthy": not damaged, "problems": damaged}},
                "serverState": "READY"}
        return Response(dumps(body), status_code=200 if healthy else 503, media_type=response_media_type(request))

    async def status_all(request: Request) -> Response:
        return Response(dumps({"commandStatuses": statuses.all()}), media_type=response_media_type(request))

    async def status_one(request: Request) -> Response:
        p = request.path_params
        command_id = f"{p['type']}/{p['entity']}/{p['action']}"
        found = statuses.get(command_id)
        if found is None:
            raise KsqlHttpError(404, NOT_FOUND, f"Command not found: {command_id}")
        return Response(dumps({"status": found["status"], "message": found["message"]}),
                        media_type=response_media_type(request))

    wrap = counter.wrap
    return [
        Route("/ksql", wrap("ksql", ksql), methods=["POST"]),
        Route("/info", wrap("info", info), methods=["GET"]),
        Route("/ksql/healthcheck", wrap("healthcheck", healthcheck), methods=["GET"]),
        Route("/status", wrap("status", status_all), methods=["GET"]),
        Route("/status/{type}/{entity}/{action}", wrap("status", status_one), methods=["GET"]),
        *ksql_query.routes(state, counter),
        *ksql_inserts.routes(state, counter),
    ]


def _cluster_id(state: ServerState) -> str:
    url = state.config.log_url
    return f"headwater-kafka-{url.split('://', 1)[1]}" if url.startswith("kafka://") else "headwater-embedded"
