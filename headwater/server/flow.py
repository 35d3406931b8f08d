"""The flow view's API: streams, tables, persistent queries, connectors and their topics as a graph.

GET /ui/api/flow                     {"nodes": [...], "edges": [...]}: what flows where, with live rates
GET /ui/api/flow/{kind}/{name}       one node's details (kind: stream, table, query, connector, topic)

Nodes are ``{"id": "<kind>:<name>", "kind", "name", "status", "rate"}`` (records/s over the last minute:
a topic's appends, a query's records out, a stream's or table's topic). Edges are
``{"source", "target", "rate"}``: topic -> the stream or table declared on it, each source a query
reads -> the query, the query -> its sink topic, a source connector -> the topic it writes, a topic ->
the sink connector that reads it. Topics appear when something refers to them; the topic browser lists
them all. A query's details carry its statement, state, records in/out, failed and late records, lag
(end offsets minus its committed offsets) and its entries in the processing log.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow.compute as pc
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from headwater.connect.runtime import ConnectRequestError, ConnectRuntime
from headwater.connect.store import CONFIG_TOPIC
from headwater.engine.query import PersistentQuery
from headwater.errors import HeadwaterError, UnknownTopicError
from headwater.log import TopicPartition
from headwater.server.state import ServerState
from headwater.server.browse import json_response
from headwater.server.rates import LiveRates, query_counter, topic_rate
from headwater.sql.catalog import DataSource

KINDS = ("stream", "table", "query", "connector", "topic")
#: Processing-log records read (newest first) to find a query's entries, and entries returned.
PROCESSING_LOG_SCAN = 20_000
PROCESSING_LOG_ENTRIES = 50


def read_sources(query: PersistentQuery) -> list[str]:
    """Names of the streams and tables a query reads: every side of a join, else its one source."""
    plan: Any = query.plan
    sources = getattr(plan, "sources", None)
    if sources is not None:
        return [s.source.name for s in sources]
    return [plan.source.name]


class NotFound(Exception):
    pass


class FlowApi:
    def __init__(self, state: ServerState, rates: LiveRates) -> None:
        self.state = state
        self.log = state.log
        self.rates = rates

    def runtime(self) -> ConnectRuntime | None:
        """The connector runtime, if connectors were ever made on this log (asking makes none)."""
        if self.state.connect is not None:
            runtime: ConnectRuntime = self.state.connect
            return runtime
        if self.state.session is not None and CONFIG_TOPIC in self.log.list_topics():
            return self.state.session.connect
        return None

    def _topic_rate(self, rates: dict[str, float], topic: str) -> float:
        try:
            return round(topic_rate(rates, topic, self.log.describe_topic(topic).partitions), 3)
        except UnknownTopicError:
            return 0.0

    def graph(self) -> dict[str, Any]:
        rates = self.rates.rates()
        session = self.state.session
        nodes: dict[str, dict[str, Any]] = {}
        edges: list[dict[str, Any]] = []
        topic_rates: dict[str, float] = {}

        def topic(name: str) -> str:
            node_id = f"topic:{name}"
            if node_id not in nodes:
                topic_rates[name] = self._topic_rate(rates, name)
                nodes[node_id] = {"id": node_id, "kind": "topic", "name": name, "status": "", "rate": topic_rates[name]}
            return node_id

        sources: list[DataSource] = list(session.catalog) if session is not None else []
        for source in sources:
            kind = "table" if source.is_table else "stream"
            node_id = f"{kind}:{source.name}"
            t = topic(source.topic)
            nodes[node_id] = {"id": node_id, "kind": kind, "name": source.name, "status": "", "rate": topic_rates[source.topic]}
            edges.append({"source": t, "target": node_id, "rate": topic_rates[source.topic]})
        queries = list(session.queries.items()) if session is not None else []
        for query_id, query in queries:
            node_id = f"query:{query_id}"
            out_rate = round(rates.get(query_counter(query_id, "out"), 0.0), 3)
            in_rate = round(rates.get(query_counter(query_id, "in"), 0.0), 3)
            nodes[node_id] = {"id": node_id, "kind": "query", "name": query_id, "status": query.state.value,
                              "rate": out_rate, "rate_in": in_rate}
            for name in read_sources(query):
                source = session.catalog.find(name) if session is not None else None
                if source is not None:
                    edges.append({"source": f"{'table' if source.is_table else 'stream'}:{name}",
                                  "target": node_id, "rate": in_rate})
            edges.append({"source": node_id, "target": topic(query.sink.topic), "rate": out_rate})
        runtime = self.runtime()
        for name in runtime.names() if runtime is not None else []:
            try:
                status = runtime.status(name)
                topics = runtime.topics(name)
            except ConnectRequestError:  # deleted while we looked
                continue
            node_id = f"connector:{name}"
            is_sink = status.get("type") == "sink"
            rate = sum(self._topic_rate(rates, t) for t in topics)
            nodes[node_id] = {"id": node_id, "kind": "connector", "name": name, "status": status["connector"]["state"],
                              "type": status.get("type"), "rate": round(rate, 3)}
            for t in topics:
                t_id = topic(t)
                edge = (t_id, node_id) if is_sink else (node_id, t_id)
                edges.append({"source": edge[0], "target": edge[1], "rate": topic_rates[t]})
        return {"nodes": list(nodes.values()), "edges": edges}

    # -- details -----------------------------------------------------------------------
    def details(self, kind: str, name: str) -> dict[str, Any]:
        if kind == "query":
            return self.query_details(name)
        if kind in ("stream", "table"):
            return self.source_details(kind, name)
        if kind == "connector":
            return self.connector_details(name)
        return self.topic_details(name)

    def query_details(self, query_id: str) -> dict[str, Any]:
        session = self.state.session
        query = session.queries.get(query_id) if session is not None else None
        if query is None:
            raise NotFound(f"No persistent query {query_id!r}.")
        rates = self.rates.rates()
        lag = 0
        for name in read_sources(query):
            source = session.catalog.find(name) if session is not None else None
            if source is None or source.topic not in self.log.list_topics():
                continue
            partitions = [TopicPartition(source.topic, p)
                          for p in range(self.log.describe_topic(source.topic).partitions)]
            for tp, committed in self.log.committed(query.group, partitions).items():
                start = committed if committed is not None else self.log.beginning_offset(*tp)
                lag += max(0, self.log.end_offset(*tp) - start)
        problem = query.error()
        found = [session.catalog.find(n) if session is not None else None for n in read_sources(query)]
        return {"kind": "query", "name": query_id, "statement": query.statement, "status": query.state.value,
                "sources": read_sources(query), "sink": query.sink.name, "sink_topic": query.sink.topic,
                "reads": [{"name": s.name, "kind": "table" if s.is_table else "stream"} for s in found if s is not None],
                "sink_kind": "table" if query.sink.is_table else "stream",
                "records_in": query.stats.records_in, "records_out": query.stats.records_out,
                "failed_records": query.stats.failed, "late_records": int(getattr(query, "late_records", 0)),
                "lag": lag, "rate_in": round(rates.get(query_counter(query_id, "in"), 0.0), 3),
                "rate_out": round(rates.get(query_counter(query_id, "out"), 0.0), 3),
                "error": None if problem is None else problem.entity(),
                "processing_log_topic": query.processing_log_topic,
                "processing_log": self.processing_log(query.processing_log_topic, query_id)}

    def processing_log(self, topic: str, query_id: str) -> list[dict[str, Any]]:
        """The newest entries of the query in the processing log (its ``logger`` names the query)."""
        if topic not in self.log.list_topics():
            return []
        prefix = f"processing.{query_id}."
        found: list[dict[str, Any]] = []
        for p in range(self.log.describe_topic(topic).partitions):
            end = self.log.end_offset(topic, p)
            position = max(self.log.beginning_offset(topic, p), end - PROCESSING_LOG_SCAN)
            while position < end:
                fetched = self.log.read(topic, p, position, max_records=5_000)
                records = fetched.records.select(["offset", "value"])
                # A cheap pre-filter in Arrow; the parsed entry's logger decides.
                records = records.filter(pc.fill_null(pc.match_substring(records.column("value"), prefix), False))
                for row in records.to_pylist():
                    try:
                        entry = orjson.loads(row["value"]) if row["value"] is not None else None
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(entry, dict) and str(entry.get("logger", "")).startswith(prefix):
                        found.append({"offset": row["offset"], **entry})
                if fetched.next_offset <= position:  # transaction markers move next_offset; nothing else is left
                    break
                position = fetched.next_offset
        found.sort(key=lambda e: e.get("time", 0), reverse=True)
        return found[:PROCESSING_LOG_ENTRIES]

    def source_details(self, kind: str, name: str) -> dict[str, Any]:
        session = self.state.session
        source = session.catalog.find(name) if session is not None else None
        if source is None or ("table" if source.is_table else "stream") != kind:
            raise NotFound(f"No {kind} {name!r}.")
        queries = list(session.queries.values()) if session is not None else []
        return {"kind": kind, "name": name, "statement": source.sql, "topic": source.topic,
                "key_format": source.key_format, "value_format": source.value_format,
                "timestamp": source.timestamp, "windowed": source.window is not None,
                "columns": [{"name": c.name, "type": c.type.sql(), "namespace": c.namespace.value} for c in source.columns],
                "rate": self._topic_rate(self.rates.rates(), source.topic),
                "read_by": [q.id for q in queries if name in read_sources(q)],
                "written_by": [q.id for q in queries if q.sink.name == name]}

    def connector_details(self, name: str) -> dict[str, Any]:
        runtime = self.runtime()
        if runtime is None or name not in runtime.names():
            raise NotFound(f"No connector {name!r}.")
        info, status = runtime.info(name), runtime.status(name)
        return {"kind": "connector", "name": name, "type": status.get("type"), "class": runtime.connector_class(name),
                "status": status["connector"]["state"], "trace": status["connector"].get("trace"),
                "tasks": status["tasks"], "config": info["config"], "topics": runtime.topics(name)}

    def topic_details(self, name: str) -> dict[str, Any]:
        if name not in self.log.list_topics():
            raise NotFound(f"No topic {name!r}.")
        rates = self.rates.rates()
        partitions = self.log.describe_topic(name).partitions
        session = self.state.session
        return {"kind": "topic", "name": name, "partitions": [
            {"partition": p, "beginning_offset": self.log.beginning_offset(name, p),
             "end_offset": self.log.end_offset(name, p)} for p in range(partitions)],
            "rate": self._topic_rate(rates, name),
            "sources": [s.name for s in session.catalog.by_topic(name)] if session is not None else []}


def routes(state: ServerState, rates: LiveRates) -> list[BaseRoute]:
    api = FlowApi(state, rates)

    async def graph(request: Request) -> Response:
        return json_response(await run_in_threadpool(api.graph))

    async def node(request: Request) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"]
        if kind not in KINDS:
            return json_response({"error_code": 404, "message": f"Unknown node kind {kind!r}; expected one of "
                                                                f"{', '.join(KINDS)}."}, 404)
        try:
            return json_response(await run_in_threadpool(api.details, kind, name))
        except NotFound as exc:
            return json_response({"error_code": 404, "message": str(exc)}, 404)
        except HeadwaterError as exc:
            return json_response({"error_code": 422, "message": str(exc)}, 422)

    return [Route("/ui/api/flow", graph, methods=["GET"]), Route("/ui/api/flow/{kind}/{name}", node, methods=["GET"])]
