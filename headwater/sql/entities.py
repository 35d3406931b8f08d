"""Statement results in the shapes of ksqlDB's REST entities (``@type`` discriminated dicts).

The session returns these; the REST API sends them as they are and the shell
prints them, so a ksqlDB client reads Headwater's answers unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from headwater.sql.catalog import DataSource, Namespace
from headwater.sql.types import ArrayType, MapType, SqlType, StructType

Entity = dict[str, Any]


def current_status(text: str, command_id: str, message: str, query_id: str | None = None,
                   sequence: int = 0, warnings: Sequence[str] = ()) -> Entity:
    return {
        "@type": "currentStatus",
        "statementText": text,
        "commandId": command_id,
        "commandStatus": {"status": "SUCCESS", "message": message, "queryId": query_id},
        "commandSequenceNumber": sequence,
        "warnings": [{"message": w} for w in warnings],
    }


def source_list(text: str, sources: Iterable[DataSource], tables: bool) -> Entity:
    items = [
        {
            "type": "TABLE" if tables else "STREAM",
            "name": s.name,
            "topic": s.topic,
            "keyFormat": s.key_format if s.key_columns else "NONE",
            "valueFormat": s.value_format,
            "isWindowed": s.window is not None,
        }
        for s in sources
        if s.is_table == tables
    ]
    kind = "tables" if tables else "streams"
    return {"@type": kind, "statementText": text, kind: items, "warnings": []}


def schema_json(sql_type: SqlType) -> dict[str, Any]:
    """ksqlDB's ``schema`` object of a field: type, fields (STRUCT), memberSchema (ARRAY, MAP)."""
    if isinstance(sql_type, StructType):
        return {
            "type": "STRUCT",
            "fields": [{"name": f.name, "schema": schema_json(f.type)} for f in sql_type.fields],
            "memberSchema": None,
        }
    if isinstance(sql_type, ArrayType):
        return {"type": "ARRAY", "fields": None, "memberSchema": schema_json(sql_type.element)}
    if isinstance(sql_type, MapType):
        return {"type": "MAP", "fields": None, "memberSchema": schema_json(sql_type.value)}
    name = sql_type.sql()
    return {"type": "STRING" if name == "STRING" else name.split("(")[0], "fields": None, "memberSchema": None}


def fields_json(source: DataSource) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for column in source.columns:
        entry: dict[str, Any] = {"name": column.name, "schema": schema_json(column.type)}
        if column.namespace is Namespace.KEY:
            entry["type"] = "KEY"
        elif column.namespace in (Namespace.HEADERS, Namespace.HEADER):
            entry["type"] = "HEADER"
            if column.header_key is not None:
                entry["headerKey"] = column.header_key
        fields.append(entry)
    return fields


def source_description(
    source: DataSource,
    *,
    extended: bool,
    read_queries: Sequence[Mapping[str, Any]],
    write_queries: Sequence[Mapping[str, Any]],
    partitions: int,
    statistics: str = "",
    error_stats: str = "",
) -> dict[str, Any]:
    return {
        "name": source.name,
        "windowType": source.window.kind if source.window else None,
        "readQueries": list(read_queries),
        "writeQueries": list(write_queries),
        "fields": fields_json(source),
        "type": "TABLE" if source.is_table else "STREAM",
        "timestamp": source.timestamp or "",
        "statistics": statistics,
        "errorStats": error_stats,
        "extended": extended,
        "keyFormat": source.key_format if source.key_columns else "NONE",
        "valueFormat": source.value_format,
        "topic": source.topic,
        "partitions": partitions,
        "replication": 1,
        "statement": source.sql,
        "queryOffsetSummaries": [],
        "sourceConstraints": [],
    }


def describe_source(text: str, description: dict[str, Any]) -> Entity:
    return {"@type": "sourceDescription", "statementText": text, "sourceDescription": description, "warnings": []}


def describe_sources(text: str, descriptions: list[dict[str, Any]]) -> Entity:
    return {"@type": "source_descriptions", "statementText": text, "sourceDescriptions": descriptions, "warnings": []}


def topics_list(text: str, topics: Iterable[tuple[str, int]]) -> Entity:
    return {
        "@type": "kafka_topics",
        "statementText": text,
        "topics": [{"name": name, "replicaInfo": [1] * partitions} for name, partitions in topics],
        "warnings": [],
    }


def properties_list(text: str, properties: Mapping[str, str], overwritten: Iterable[str]) -> Entity:
    return {
        "@type": "properties",
        "statementText": text,
        "properties": [{"name": k, "scope": "KSQL", "value": v} for k, v in sorted(properties.items())],
        "overwrittenProperties": sorted(overwritten),
        "defaultProperties": [],
        "warnings": [],
    }


def variables_list(text: str, variables: Mapping[str, str]) -> Entity:
    return {
        "@type": "variables",
        "statementText": text,
        "variables": [{"name": k, "value": v} for k, v in sorted(variables.items())],
        "warnings": [],
    }


def queries_list(text: str, queries: Iterable[Mapping[str, Any]]) -> Entity:
    return {"@type": "queries", "statementText": text, "queries": list(queries), "warnings": []}
