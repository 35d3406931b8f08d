"""JSON_SR: JSON in Confluent's wire format (magic byte 0, 4-byte schema id, then the JSON text).

The JSON after the header is decoded by the JSON format's vectorized decoder (DuckDB), so JSON_SR reads as
fast as JSON; what the header adds is checked per batch with numpy (a value without it is an error row,
"Unknown magic byte!"). Encoding writes the JSON format's text after the header of the schema this format
registers for its columns: a JSON Schema in the shape ksqlDB's JSON_SR serializer writes (an object whose
properties are ``oneOf`` null and the column's type, ``connect.type`` naming Connect's integer widths).
Schema inference maps a JSON Schema back to columns (:func:`columns_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import FormatError
from headwater.formats.base import Column, Decoded, binary_input, deserialize_error, keep_only, register_format
from headwater.formats.json import JsonFormat
from headwater.formats.registered import HEADER_BYTES, RegisteredFormat, wire_header, wire_ids
from headwater.registry.base import RegistryError, Schema
from headwater.sql.types import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DOUBLE,
    INTEGER,
    STRING,
    ArrayType,
    BaseType,
    DecimalType,
    MapType,
    SqlType,
    StructField,
    StructType,
)

_CONNECT_INTS = {BaseType.INTEGER: "int32", BaseType.BIGINT: "int64"}


def json_type(sql_type: SqlType) -> dict[str, Any]:
    """The JSON Schema of one SQL type (not nullable), as ksqlDB's JSON_SR serializer writes it."""
    base = sql_type.base
    if base in _CONNECT_INTS:
        return {"type": "integer", "connect.type": _CONNECT_INTS[base]}
    if base is BaseType.DOUBLE:
        return {"type": "number", "connect.type": "float64"}
    if isinstance(sql_type, DecimalType):
        return {"type": "number", "title": "org.apache.kafka.connect.data.Decimal",
                "connect.parameters": {"scale": str(sql_type.scale),
                                       "connect.decimal.precision": str(sql_type.precision)}}
    if base is BaseType.BOOLEAN:
        return {"type": "boolean"}
    if base is BaseType.STRING:
        return {"type": "string"}
    if base is BaseType.BYTES:
        return {"type": "string", "connect.type": "bytes"}
    if base is BaseType.DATE:
        return {"type": "integer", "connect.type": "int32", "title": "org.apache.kafka.connect.data.Date"}
    if base is BaseType.TIME:
        return {"type": "integer", "connect.type": "int32", "title": "org.apache.kafka.connect.data.Time"}
    if base is BaseType.TIMESTAMP:
        return {"type": "integer", "connect.type": "int64", "title": "org.apache.kafka.connect.data.Timestamp"}
    if isinstance(sql_type, ArrayType):
        return {"type": "array", "items": _optional(json_type(sql_type.element))}
    if isinstance(sql_type, MapType):
        return {"type": "object", "additionalProperties": _optional(json_type(sql_type.value)),
                "connect.type": "map"}
    if isinstance(sql_type, StructType):
        return _object([(f.name, f.type) for f in sql_type.fields])
    raise FormatError(f"The JSON_SR format cannot carry the type {sql_type.sql()}")


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [{"type": "null"}, schema]}


def _object(columns: Sequence[tuple[str, SqlType]]) -> dict[str, Any]:
    return {"type": "object", "properties": {
        name: {**_optional(json_type(sql_type)), "connect.index": i} for i, (name, sql_type) in enumerate(columns)}}


def sql_type_of(schema: Any) -> SqlType:
    """The SQL type of a JSON Schema (FormatError when it has none)."""
    if not isinstance(schema, dict):
        raise FormatError(f"JSON schema {schema!r} has no SQL type")
    for key in ("oneOf", "anyOf"):
        if key in schema:
            branches = [b for b in schema[key] if not (isinstance(b, dict) and b.get("type") == "null")]
            if len(branches) != 1:
                raise FormatError(f"JSON schema {key} {schema[key]} has no SQL type: only null and one type")
            return sql_type_of(branches[0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) != 1:
            raise FormatError(f"JSON schema type {kind} has no SQL type")
        kind = kinds[0]
    connect = schema.get("connect.type")
    if kind == "integer":
        return INTEGER if connect in ("int8", "int16", "int32") else BIGINT
    if kind == "number":
        return DOUBLE
    if kind == "boolean":
        return BOOLEAN
    if kind == "string":
        return BYTES if connect == "bytes" else STRING
    if kind == "array":
        return ArrayType(sql_type_of(schema.get("items", {"type": "string"})))
    if kind == "object" or "properties" in schema:
        if "properties" not in schema and isinstance(schema.get("additionalProperties"), dict):
            return MapType(STRING, sql_type_of(schema["additionalProperties"]))
        return StructType(tuple(StructField(str(name).upper(), sql_type_of(inner))
                                for name, inner in (schema.get("properties") or {}).items()))
    raise FormatError(f"JSON schema {schema!r} has no SQL type")


def columns_of(schema: Any, *, unwrapped_name: str = "ROWVAL") -> list[tuple[str, SqlType]]:
    """The columns a JSON Schema gives a stream: an object's properties, or one column for another type."""
    if isinstance(schema, dict) and schema.get("type") == "object" and "properties" in schema:
        props = schema["properties"]
        ordered = sorted(props.items(), key=lambda item: item[1].get("connect.index", 0)
                         if isinstance(item[1], dict) else 0)
        return [(str(name).upper(), sql_type_of(inner)) for name, inner in ordered]
    return [(unwrapped_name, sql_type_of(schema))]


@register_format
class JsonSrFormat(RegisteredFormat):
    """ksqlDB's ``JSON_SR``; see the module docstring."""

    name: ClassVar[str] = "JSON_SR"
    schema_type: ClassVar[str] = "JSON"

    def validate(self) -> None:
        super().validate()
        inner_props = {"WRAP_SINGLE_VALUE": self.wrapped} if self.role == "value" and len(self.columns) == 1 else {}
        self.json = JsonFormat(self.columns, inner_props, self.role)
        for _, sql_type in self.columns:
            json_type(sql_type)

    def registered_schema(self) -> Schema:
        schema = _object(self.columns) if self.wrapped else _optional(json_type(self.columns[0][1]))
        return Schema(orjson.dumps(schema).decode(), self.schema_type)

    def parse(self, schema: Schema) -> Any:
        try:
            return orjson.loads(schema.text)
        except orjson.JSONDecodeError as exc:
            raise FormatError(f"JSON schema cannot be used: {exc}") from None

    def decode(self, data: pa.Array, columns: Sequence[Column] | None = None, *, topic: str = "") -> Decoded:
        data = binary_input(data)
        _, ids, framed = wire_ids(data)
        valid = np.asarray(data.is_valid(), dtype=bool) if data.null_count else np.ones(len(data), bool)
        errors: dict[int, str] = {int(r): deserialize_error(self.role, topic, "Unknown magic byte!")
                                  for r in np.nonzero(valid & ~framed)[0]}
        for schema_id in np.unique(ids[framed]).tolist():
            try:
                self.reader(schema_id)
            except (RegistryError, FormatError) as exc:
                reason = deserialize_error(self.role, topic, f"Error retrieving JSON schema for id {schema_id}: "
                                           f"{getattr(exc, 'message', exc)}")
                for row in np.nonzero(ids == schema_id)[0].tolist():
                    errors[row] = reason
                framed[ids == schema_id] = False
        # An explicit stop: pyarrow 24 fails "Negative buffer resize" without one on some arrays.
        payload = keep_only(pc.binary_slice(data, HEADER_BYTES, 2**31 - 1), framed)
        decoded = self.json.decode(payload, columns, topic=topic)
        errors.update(zip(decoded.error_rows.tolist(), decoded.error_reasons, strict=True))
        error_rows = np.array(sorted(errors), dtype=np.int64)
        nulls = np.setdiff1d(decoded.null_rows, error_rows)
        return Decoded(decoded.table, error_rows, tuple(errors[r] for r in error_rows.tolist()), nulls)

    def encode(self, table: pa.Table) -> pa.Array:
        schema_id, _ = self.writing()
        values = self.json.encode(table)
        header = pa.scalar(wire_header(schema_id), pa.binary())
        return pc.binary_join_element_wise(header, values.cast(pa.binary()), pa.scalar(b"", pa.binary()))
