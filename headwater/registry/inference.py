"""Schema inference: ``CREATE STREAM|TABLE`` without columns takes them from the registry, as ksqlDB does.

The value columns come from the subject ``<topic>-value``'s latest schema
(or the schema ``VALUE_SCHEMA_ID`` names); with a registry key format, the
key from ``<topic>-key`` (or ``KEY_SCHEMA_ID``): a record's fields become key
columns, any other type one key column ``ROWKEY``.
"""

from __future__ import annotations

from dataclasses import replace

import orjson

from headwater.errors import SqlSemanticError
from headwater.formats import format_class
from headwater.formats import avro_schema, json_sr, protobuf_schema
from headwater.formats.base import FormatError
from headwater.registry.base import RegistryError, Schema, SchemaRegistry
from headwater.sql import ast
from headwater.sql.expressions import IntegerLiteral
from headwater.sql.format_expression import quote_identifier, quote_string
from headwater.sql.types import SqlType


def _literal(props: ast.Properties, name: str) -> object:
    found = props.get(name)
    return None if found is None else found.value  # type: ignore[attr-defined]


def _schema(registry: SchemaRegistry, topic: str, role: str, schema_id: object) -> tuple[int, Schema]:
    if schema_id is not None:
        return int(str(schema_id)), registry.schema(int(str(schema_id)))
    found = registry.version(f"{topic}-{role}")
    return found.schema_id, found.schema


def infer_columns(statement: ast.CreateSource, registry: SchemaRegistry | None) -> ast.CreateSource:
    """``statement`` with its columns read from the registry when it declares none and its formats allow."""
    props = statement.properties
    fmt = _literal(props, "FORMAT")
    value_format = str(fmt or _literal(props, "VALUE_FORMAT") or "")
    key_format = str(fmt or _literal(props, "KEY_FORMAT") or "KAFKA")
    topic = _literal(props, "KAFKA_TOPIC")
    if statement.elements or not value_format or topic is None:
        return statement
    try:
        value_uses, key_uses = format_class(value_format).uses_registry, format_class(key_format).uses_registry
    except FormatError:
        return statement  # the statement's own checks name the unknown format
    if not value_uses:
        return statement
    if registry is None:
        raise SqlSemanticError(f"Schema inference for {value_format.upper()} needs a schema registry, and none is "
                               "configured.", statement.pos)
    elements: list[ast.TableElement] = []
    pinned: dict[str, object] = {}
    key_constraint = (ast.ColumnConstraint.PRIMARY_KEY if statement.kind is ast.SourceKind.TABLE
                      else ast.ColumnConstraint.KEY)
    try:
        if key_uses:
            try:
                key_id, key_schema = _schema(registry, str(topic), "key", _literal(props, "KEY_SCHEMA_ID"))
            except RegistryError as exc:
                if exc.error_code not in (40401, 40402) or statement.kind is ast.SourceKind.TABLE:
                    raise
            else:
                pinned["KEY_SCHEMA_ID"] = key_id
                for name, sql_type in columns_of(key_schema, unwrapped_name="ROWKEY"):
                    elements.append(ast.TableElement(name, sql_type, key_constraint, pos=statement.pos))
        value_id, value_schema = _schema(registry, str(topic), "value", _literal(props, "VALUE_SCHEMA_ID"))
        pinned["VALUE_SCHEMA_ID"] = value_id
        taken = {e.name for e in elements}
        for name, sql_type in columns_of(value_schema):
            if name not in taken:
                elements.append(ast.TableElement(name, sql_type, pos=statement.pos))
    except RegistryError as exc:
        subject = f"{topic}-value"
        raise SqlSemanticError(f"Schema for message values on topic '{topic}' does not exist in the Schema "
                               f"Registry.Subject: {subject}\n\n{exc.message}", statement.pos) from None
    except FormatError as exc:
        raise SqlSemanticError(f"Unable to infer the columns from the schema of topic '{topic}': {exc}",
                               statement.pos) from None
    properties = dict(props)
    for name, schema_id in pinned.items():
        properties.setdefault(name, IntegerLiteral(int(str(schema_id)), pos=statement.pos))
    return replace(statement, elements=tuple(elements), properties=properties)


def statement_text(statement: ast.CreateSource) -> str:
    """CREATE text of an inferred statement, columns and schema ids written out (what the command log keeps,
    as ksqlDB does, so a restart reads the same columns even after the subject has moved on)."""
    kind = ("SOURCE " if statement.is_source else "") + statement.kind.value
    head = "CREATE OR REPLACE" if statement.or_replace else "CREATE"
    exists = " IF NOT EXISTS" if statement.if_not_exists else ""
    constraint = {ast.ColumnConstraint.KEY: " KEY", ast.ColumnConstraint.PRIMARY_KEY: " PRIMARY KEY"}
    columns = ", ".join(f"{quote_identifier(e.name)} {e.type.sql()}{constraint.get(e.constraint, '')}"
                        for e in statement.elements)
    props = ", ".join(f"{name}={_literal_text(_literal(statement.properties, name))}" for name in statement.properties)
    return f"{head} {kind}{exists} {quote_identifier(statement.name)} ({columns}) WITH ({props});"


def _literal_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return quote_string(str(value))


def columns_of(schema: Schema, *, unwrapped_name: str = "ROWVAL") -> list[tuple[str, SqlType]]:
    """The columns of a registered schema (Avro or JSON Schema)."""
    if schema.schema_type == "PROTOBUF":
        columns = protobuf_schema.columns_of(protobuf_schema.build(schema.text)[0])
        return columns if len(columns) != 1 or unwrapped_name == "ROWVAL" else [(unwrapped_name, columns[0][1])]
    parsed = orjson.loads(schema.text)
    if schema.schema_type == "AVRO":
        return avro_schema.columns_of(parsed, unwrapped_name=unwrapped_name)
    if schema.schema_type == "JSON":
        return json_sr.columns_of(parsed, unwrapped_name=unwrapped_name)
    raise FormatError(f"schema inference reads Avro, JSON and Protobuf schemas; the subject holds "
                      f"{schema.schema_type}")
