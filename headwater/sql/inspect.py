"""SHOW, LIST, DESCRIBE and EXPLAIN: read-only statements answered from the catalog and the queries."""

from __future__ import annotations

from typing import Any, Protocol

from headwater.engine.query import PersistentQuery
from headwater.errors import SqlSemanticError
from headwater.log import Log, TopicPartition
from headwater.sql import ast
from headwater.sql import entities as ent
from headwater.sql.catalog import Catalog, DataSource
from headwater.sql.entities import Entity
from headwater.sql.functions import describe_function, function_names

class Inspected(Protocol):
    """What SHOW, DESCRIBE and EXPLAIN read of the session."""

    catalog: Catalog
    log: Log
    properties: dict[str, str]
    variables: dict[str, str]
    queries: dict[str, PersistentQuery]

    def plan(self, query: ast.Query, *, sink_name: str | None, timestamp_column: str | None = None) -> Any: ...


class Inspector:
    def __init__(self, session: Inspected) -> None:
        self.session = session

    def entity(self, statement: ast.Statement, text: str, props: dict[str, str]) -> Entity:
        if isinstance(statement, ast.Show):
            return self._show(statement, text, props)
        if isinstance(statement, ast.DescribeSource):
            source = self.session.catalog.get(statement.name, statement.pos)
            return ent.describe_source(text, self.description(source, statement.extended))
        if isinstance(statement, ast.DescribeSources):
            tables = statement.kind is ast.SourceKind.TABLE
            return ent.describe_sources(
                text,
                [self.description(s, statement.extended) for s in self.session.catalog if s.is_table == tables],
            )
        if isinstance(statement, ast.DescribeFunction):
            return {**describe_function(statement.name, statement.pos), "statementText": text, "warnings": []}
        if isinstance(statement, ast.Explain):
            return self._explain(statement, text)
        raise SqlSemanticError(f"{type(statement).__name__.upper()} statements are not supported yet.", statement.pos)

    def _show(self, statement: ast.Show, text: str, props: dict[str, str]) -> Entity:
        kind = statement.kind.name
        session = self.session
        if kind in ("STREAMS", "TABLES"):
            tables = kind == "TABLES"
            if statement.extended:
                return ent.describe_sources(
                    text, [self.description(s, True) for s in session.catalog if s.is_table == tables]
                )
            return ent.source_list(text, session.catalog, tables)
        if kind == "TOPICS":
            names = session.log.list_topics()
            if not statement.all_topics:
                names = [n for n in names if not n.startswith("_")]
            return ent.topics_list(text, [(n, session.log.describe_topic(n).partitions) for n in names])
        if kind == "QUERIES":
            return ent.queries_list(text, [self.query_info(q) for q in session.queries.values()])
        if kind == "PROPERTIES":
            overwritten = [k for k, v in props.items() if session.properties.get(k) != v]
            return ent.properties_list(text, props, overwritten)
        if kind == "VARIABLES":
            return ent.variables_list(text, session.variables)
        if kind == "TYPES":
            return session.catalog.types.entity(text)
        if kind == "FUNCTIONS":
            return {"@type": "function_names", "statementText": text, "functions": function_names(), "warnings": []}
        raise SqlSemanticError(f"SHOW {kind} is not supported yet.", statement.pos)

    def query_info(self, query: PersistentQuery) -> dict[str, Any]:
        return {
            "queryString": query.statement,
            "sinks": [query.sink.name],
            "sinkKafkaTopics": [query.sink.topic],
            "id": query.id,
            "statusCount": {query.state.value: 1},
            "queryType": "PERSISTENT",
            "state": query.state.value,
            "queryErrors": [e.entity() for e in query.stats.errors] if query.error() is not None else [],
        }

    def description(self, source: DataSource, extended: bool) -> dict[str, Any]:
        session = self.session
        reads = [self.query_info(q) for q in session.queries.values() if source.name in _read_names(q.plan)]
        writes = [self.query_info(q) for q in session.queries.values() if q.sink.name == source.name]
        statistics = error_stats = ""
        if extended:
            writers = [q for q in session.queries.values() if q.sink.name == source.name]
            produced = sum(q.stats.records_out for q in writers)
            failed = sum(q.stats.failed for q in session.queries.values() if source.name in _read_names(q.plan))
            statistics = f"total-messages: {produced}" if writers else ""
            error_stats = f"failed-messages: {failed}" if failed else ""
        try:
            partitions = session.log.describe_topic(source.topic).partitions
        except Exception:  # the topic was deleted behind our back; describe what we know
            partitions = source.partitions
        description = ent.source_description(
            source, extended=extended, read_queries=reads, write_queries=writes, partitions=partitions,
            statistics=statistics, error_stats=error_stats,
        )
        if extended:
            description["queryOffsetSummaries"] = self._offset_summaries(source)
        return description

    def _offset_summaries(self, source: DataSource) -> list[dict[str, Any]]:
        """Per query reading ``source``: its consumer group's committed offsets against the topic's bounds."""
        log = self.session.log
        summaries = []
        for query in self.session.queries.values():
            if query.plan.source.name != source.name or source.topic not in log.list_topics():
                continue
            partitions = [TopicPartition(source.topic, p) for p in range(log.describe_topic(source.topic).partitions)]
            committed = log.committed(query.group, partitions)
            offsets = [{"partition": tp.partition, "logStartOffset": log.beginning_offset(*tp),
                        "logEndOffset": log.end_offset(*tp), "consumerOffset": committed.get(tp) or 0}
                       for tp in partitions]
            summaries.append({"groupId": query.group,
                              "topicSummaries": [{"kafkaTopic": source.topic, "offsets": offsets}]})
        return summaries

    def _explain(self, statement: ast.Explain, text: str) -> Entity:
        session = self.session
        if statement.query_id is not None:
            query = session.queries.get(statement.query_id.upper())
            if query is None:
                raise SqlSemanticError(f"Query with id:{statement.query_id} does not exist, "
                                       "use SHOW QUERIES to view the full set of running queries.", statement.pos)
            plan, sink_name, query_text, query_id = query.plan, query.sink.name, query.statement, query.id
        else:
            query = None
            inner = statement.statement
            query_ast = getattr(inner, "query", inner)
            if not isinstance(query_ast, ast.Query):
                raise SqlSemanticError("EXPLAIN takes a query id or a query statement.", statement.pos)
            sink_name = getattr(inner, "name", None) or getattr(inner, "target", None)
            plan = session.plan(query_ast, sink_name=sink_name)
            query_text, query_id = text.split(None, 1)[1] if " " in text else text, ""
        fields = [{"name": o.name, "schema": ent.schema_json(o.type), **({"type": "KEY"} if o.namespace.value == "KEY"
                                                                          else {})} for o in plan.outputs]
        window = getattr(plan, "window", None)
        if hasattr(plan, "pre_sql"):  # an aggregation: ksqlDB's steps for GROUP BY
            names = [("SINK", f"{sink_name or 'transient'}"), ("PROJECT", "Aggregate.Project"),
                     ("AGGREGATE", "Aggregate.Aggregate"), ("GROUP_BY", "Aggregate.GroupBy"),
                     ("PROJECT", "Aggregate.Prepare")]
            filtered = " WHERE " in plan.pre_sql or "__contrib" in plan.pre_sql
            topology = (f"Topic {plan.source.topic} -> DuckDB: {plan.pre_sql} -> aggregate"
                        f"{' ' + window.kind if window else ''} -> DuckDB: {plan.post_sql}")
        else:
            names = [("SINK", f"{sink_name or 'transient'}"), ("PROJECT", "Project")]
            filtered = " WHERE " in plan.sql
            topics = ", ".join(s.source.topic for s in plan.sources) if hasattr(plan, "sources") else plan.source.topic
            topology = f"Topic {topics} -> DuckDB: {plan.sql}"
        if filtered:
            names.append(("FILTER", "WhereFilter"))
        steps = []
        for depth, (step, logger) in enumerate(names):
            shown = "" if step == "FILTER" else f" | Schema: {_schema(plan)}"
            steps.append(f"{chr(9) * 2 * depth} > [ {step} ]{shown} | Logger: {query_id}.{logger}")
        for name in _read_names(plan):
            steps.append(f"{chr(9) * 2 * len(names)} > [ SOURCE ] | Schema: {name} | Logger: {query_id}.KsqlTopic.Source")
        return {
            "@type": "queryDescription",
            "statementText": text,
            "queryDescription": {
                "id": query_id,
                "statementText": query_text,
                "windowType": window.kind if window is not None else None,
                "fields": fields,
                "sources": _read_names(plan),
                "sinks": [sink_name] if sink_name else [],
                "topology": topology,
                "executionPlan": "\n".join(steps),
                "overriddenProperties": {},
                "ksqlHostQueryStatus": {},
                "queryType": "PERSISTENT" if query_id else "PUSH",
                "queryErrors": [e.entity() for e in query.stats.errors] if query is not None else [],
                "tasksMetadata": [],
                "state": query.state.value if query is not None else "",
            },
            "warnings": [],
        }


def _schema(plan: Any) -> str:
    return ", ".join(f"{o.name} {o.type.sql()}{' KEY' if o.namespace.value == 'KEY' else ''}" for o in plan.outputs)


def _read_names(plan: Any) -> list[str]:
    """The sources a plan reads: every source of a join, else the one source."""
    return [s.source.name for s in plan.sources] if hasattr(plan, "sources") else [plan.source.name]
