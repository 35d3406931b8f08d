"""A Connect schema for schemaless values (JSON without a schema envelope), for sinks whose files need one.

Confluent's S3 sink refuses such records for Avro and Parquet; Headwater infers one schema per object
from the values that go into it: objects become structs with the union of their fields (in order of first
appearance), every field optional; numbers that are all integers int64, else float64; arrays take the
merged schema of their elements; a field whose values disagree (a number here, a string there) becomes a
string holding the value's JSON. The same records always give the same schema, so replays stay identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from headwater.connect.data import ConnectSchema, Field

_STRING = ConnectSchema("string", optional=True)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    if isinstance(value, dict):
        return "struct"
    if isinstance(value, list):
        return "array"
    return "string"


def infer_schema(values: Iterable[Any], name: str | None = None) -> ConnectSchema:
    """The merged schema of ``values`` (None values only make it optional)."""
    kinds: set[str] = set()
    fields: dict[str, list[Any]] = {}
    elements: list[Any] = []
    for value in values:
        if value is None:
            continue
        kind = _kind(value)
        kinds.add(kind)
        if kind == "struct":
            for key, inner in value.items():
                fields.setdefault(str(key), []).append(inner)
        elif kind == "array":
            elements.extend(value)
    if kinds == {"int64", "float64"}:
        kinds = {"float64"}
    if len(kinds) != 1:
        return _STRING  # nothing but nulls, or disagreeing kinds: the value's JSON as a string
    kind = kinds.pop()
    if kind == "struct":
        return ConnectSchema("struct", optional=True, name=name,
                             fields=tuple(Field(k, infer_schema(v)) for k, v in fields.items()))
    if kind == "array":
        return ConnectSchema("array", optional=True, value_schema=infer_schema(elements))
    return ConnectSchema(kind, optional=True)


def conform(schema: ConnectSchema, value: Any) -> Any:
    """``value`` made to fit ``schema`` as :func:`infer_schema` built it (strings for disagreeing values)."""
    if value is None:
        return None
    if schema.type == "struct":
        if not isinstance(value, dict):
            return None
        return {f.name: conform(f.schema, value.get(f.name)) for f in schema.fields}
    if schema.type == "array":
        if not isinstance(value, list) or schema.value_schema is None:
            return None
        return [conform(schema.value_schema, v) for v in value]
    if schema.type == "string" and not isinstance(value, str):
        return orjson.dumps(value).decode()
    if schema.type == "float64" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
