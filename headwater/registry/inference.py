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
from headwater.sql.types import SqlType


def _literal(props: ast.Properties, name: str) -> object:
    found = props.get(name)
    return None if found is None else found.value  # type: ignore[attr-defined]


def _schema(registry: SchemaRegistry, topic: str, role: str, schema_id: object) -> Schema:
    if schema_id is not None:
        return registry.schema(int(str(schema_id)))
    return registry.version(f"{topic}-{role}").schema


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
    key_constraint = (ast.ColumnConstraint.PRIMARY_KEY if statement.kind is ast.SourceKind.TABLE
                      else ast.ColumnConstraint.KEY)
    try:
        if key_uses:
            try:
                key_schema = _schema(registry, str(topic), "key", _literal(props, "KEY_SCHEMA_ID"))
            except RegistryError as exc:
                if exc.error_code not in (40401, 40402) or statement.kind is ast.SourceKind.TABLE:
                    raise
            else:
                for name, sql_type in columns_of(key_schema, unwrapped_name="ROWKEY"):
                    elements.append(ast.TableElement(name, sql_type, key_constraint, pos=statement.pos))
        value_schema = _schema(registry, str(topic), "value", _literal(props, "VALUE_SCHEMA_ID"))
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
    return replace(statement, elements=tuple(elements))


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
