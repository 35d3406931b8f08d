"""``GET /ui/api/overview``: what the landing page shows, in one guarded JSON answer.

What runs (persistent queries with the streams and tables they read and write,
connectors), what it runs on (streams, tables, topics with their record counts). One request, so the
landing page renders fast with hundreds of topics and queries; every list is
what the SHOW statements and the topic API would answer, gathered here.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from headwater.errors import HeadwaterError
from headwater.log import Log
from headwater.server.state import ServerState
from headwater.server.ksql_common import dumps
from headwater.session import Session
from headwater.sql import ast
from headwater.sql.parser import parse_statement


def topic_counts(log: Log) -> list[dict[str, Any]]:
    """Every topic with its partitions and the records it holds now (end minus beginning offsets)."""
    out: list[dict[str, Any]] = []
    for name in sorted(log.list_topics()):
        try:
            partitions = log.describe_topic(name).partitions
            held = sum(log.end_offset(name, p) - log.beginning_offset(name, p) for p in range(partitions))
        except HeadwaterError:  # deleted between the listing and the describe: left out
            continue
        out.append({"name": name, "partitions": partitions, "records": held})
    return out


def query_sources(text: str) -> list[str]:
    """The streams and tables a persistent query reads (FROM and JOINs), from its statement."""
    try:
        statement = parse_statement(text)
    except HeadwaterError:
        return []
    if not isinstance(statement, (ast.CreateAsSelect, ast.InsertInto)):
        return []
    relation = statement.query.from_
    if isinstance(relation, ast.Join):
        return [relation.left.name, *(j.relation.name for j in relation.joins)]
    return [relation.name] if isinstance(relation, ast.AliasedRelation) else []


def _show(session: Session, statement: str, field: str) -> list[dict[str, Any]]:
    [entity] = session.execute(statement)
    return list(entity.get(field, []))


def overview(state: ServerState) -> dict[str, Any]:
    session = state.session
    queries = [{"id": q["id"], "statement": q["queryString"], "sinks": q.get("sinks", []),
                "sources": query_sources(q["queryString"]),
                "state": q.get("state", "UNKNOWN"), "errors": len(q.get("queryErrors", []))}
               for q in _show(session, "SHOW QUERIES;", "queries")]
    streams = _show(session, "SHOW STREAMS;", "streams")
    tables = _show(session, "SHOW TABLES;", "tables")
    connectors = _show(session, "SHOW CONNECTORS;", "connectors")
    return {"queries": queries, "streams": streams, "tables": tables, "connectors": connectors,
            "topics": topic_counts(state.log), "push_queries": len(session.push_queries)}


async def overview_endpoint(request: Request) -> Response:
    state: ServerState = request.app.state.headwater
    body = await to_thread.run_sync(overview, state)
    return Response(dumps(body), media_type="application/json")
