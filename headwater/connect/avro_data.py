"""Connect data <-> Avro, as Confluent's ``AvroData`` maps them (AvroConverter, the S3 sink's Avro files).

Connect to Avro: struct -> record named by the schema's name (else
``io.confluent.connect.avro.ConnectDefault``), optional -> ``["null", T]``
with default null, int8/int16 -> int (with ``connect.type``), int32 int,
int64 long, float32 float, float64 double, Timestamp/Date/Time/Decimal ->
timestamp-millis/date/time-millis/decimal, array, map with string keys ->
map (other keys: an array of key/value records, as AvroData does).
Avro to Connect is the inverse; enums become strings, fixed bytes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from headwater.connect.converters import DATE, DECIMAL, TIME, TIMESTAMP, ConversionError
from headwater.connect.data import ConnectSchema, Field

DEFAULT_RECORD = "io.confluent.connect.avro.ConnectDefault"
_PRIMITIVE_TO_AVRO = {"int32": "int", "int64": "long", "float32": "float", "float64": "double",
                      "boolean": "boolean", "string": "string", "bytes": "bytes"}
_AVRO_TO_PRIMITIVE = {"int": "int32", "long": "int64", "float": "float32", "double": "float64",
                      "boolean": "boolean", "string": "string", "bytes": "bytes"}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class _Namer:
    def __init__(self) -> None:
        self.count = 0
        self.defined: set[str] = set()

    def record_name(self, schema: ConnectSchema) -> str:
        if schema.name:
            return schema.name
        self.count += 1
        return DEFAULT_RECORD if self.count == 1 else f"{DEFAULT_RECORD}{self.count}"


def avro_schema(schema: ConnectSchema, namer: _Namer | None = None) -> Any:
    """The Avro schema for a Connect schema (nullable when optional)."""
    namer = namer or _Namer()
    inner = _avro(schema, namer)
    if schema.optional:
        return ["null", inner]
    return inner


def _avro(schema: ConnectSchema, namer: _Namer) -> Any:
    name = schema.name
    if name == TIMESTAMP:
        return {"type": "long", "logicalType": "timestamp-millis", "connect.name": TIMESTAMP}
    if name == DATE:
        return {"type": "int", "logicalType": "date", "connect.name": DATE}
    if name == TIME:
        return {"type": "int", "logicalType": "time-millis", "connect.name": TIME}
    if name == DECIMAL:
        params = dict(schema.parameters or {})
        scale = int(params.get("scale", 0))
        precision = int(params.get("connect.decimal.precision", 64))
        return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale,
                "connect.name": DECIMAL, "connect.parameters": {"scale": str(scale)}}
    kind = schema.type
    if kind in ("int8", "int16"):
        return {"type": "int", "connect.type": kind}
    if kind in _PRIMITIVE_TO_AVRO:
        return _PRIMITIVE_TO_AVRO[kind]
    if kind == "array":
        if schema.value_schema is None:
            raise ConversionError("AvroConverter: an array schema needs an element schema")
        return {"type": "array", "items": avro_schema(schema.value_schema, namer)}
    if kind == "map":
        if schema.value_schema is None or schema.key_schema is None:
            raise ConversionError("AvroConverter: a map schema needs key and value schemas")
        if schema.key_schema.type == "string" and not schema.key_schema.optional:
            return {"type": "map", "values": avro_schema(schema.value_schema, namer)}
        entry = {"type": "record", "name": f"{DEFAULT_RECORD}MapEntry{namer.count}",
                 "fields": [{"name": "key", "type": avro_schema(schema.key_schema, namer)},
                            {"name": "value", "type": avro_schema(schema.value_schema, namer)}]}
        namer.count += 1
        return {"type": "array", "items": entry}
    if kind == "struct":
        full = namer.record_name(schema)
        if full in namer.defined:
            return full
        namer.defined.add(full)
        fields = []
        for f in schema.fields:
            entry: dict[str, Any] = {"name": f.name, "type": avro_schema(f.schema, namer)}
            if f.schema.optional:
                entry["default"] = None
            elif f.schema.default is not None:
                entry["default"] = f.schema.default
            fields.append(entry)
        namespace, _, short = full.rpartition(".")
        record: dict[str, Any] = {"type": "record", "name": short, "fields": fields}
        if namespace:
            record["namespace"] = namespace
        return record
    raise ConversionError(f"AvroConverter: no Avro type for the Connect schema type {kind!r}")


def inferred_schema(value: Any) -> ConnectSchema:
    """A schema for a schemaless primitive (Confluent's AvroConverter refuses schemaless structures too)."""
    if isinstance(value, bool):
        return ConnectSchema("boolean", optional=True)
    if isinstance(value, int):
        return ConnectSchema("int64", optional=True)
    if isinstance(value, float):
        return ConnectSchema("float64", optional=True)
    if isinstance(value, str):
        return ConnectSchema("string", optional=True)
    if isinstance(value, (bytes, bytearray)):
        return ConnectSchema("bytes", optional=True)
    raise ConversionError("AvroConverter: a value without a schema can only be a primitive; got "
                          f"{type(value).__name__} (use a schemaful converter upstream, or JsonConverter)")


def connect_schema(avro: Any, names: dict[str, Any] | None = None, namespace: str | None = None,
                   optional: bool = False) -> ConnectSchema:
    """The Connect schema of an Avro schema."""
    names = {} if names is None else names
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if len(branches) == 1:
            return connect_schema(branches[0], names, namespace, optional=optional or len(branches) < len(avro))
        raise ConversionError(f"AvroConverter: unions of several types are not supported ({avro})")
    if isinstance(avro, str):
        if avro in _AVRO_TO_PRIMITIVE:
            return ConnectSchema(_AVRO_TO_PRIMITIVE[avro], optional=optional)
        found = names.get(avro) or names.get(f"{namespace}.{avro}")
        if found is None:
            raise ConversionError(f"AvroConverter: unknown Avro type {avro!r}")
        return connect_schema(found, names, namespace, optional)
    kind, logical = avro.get("type"), avro.get("logicalType")
    if isinstance(kind, (dict, list)):
        return connect_schema(kind, names, namespace, optional)
    if logical == "timestamp-millis" and kind == "long":
        return ConnectSchema("int64", optional=optional, name=TIMESTAMP, version=1)
    if logical == "date" and kind == "int":
        return ConnectSchema("int32", optional=optional, name=DATE, version=1)
    if logical == "time-millis" and kind == "int":
        return ConnectSchema("int32", optional=optional, name=TIME, version=1)
    if logical == "decimal" and kind in ("bytes", "fixed"):
        return ConnectSchema("bytes", optional=optional, name=DECIMAL, version=1,
                             parameters={"scale": str(avro.get("scale", 0)),
                                         "connect.decimal.precision": str(avro.get("precision", 64))})
    if kind == "int" and avro.get("connect.type") in ("int8", "int16"):
        return ConnectSchema(str(avro["connect.type"]), optional=optional)
    if kind in _AVRO_TO_PRIMITIVE:
        return ConnectSchema(_AVRO_TO_PRIMITIVE[kind], optional=optional)
    if kind == "enum":
        return ConnectSchema("string", optional=optional)
    if kind == "fixed":
        return ConnectSchema("bytes", optional=optional)
    if kind == "array":
        return ConnectSchema("array", optional=optional, value_schema=connect_schema(avro["items"], names, namespace))
    if kind == "map":
        return ConnectSchema("map", optional=optional, key_schema=ConnectSchema("string"),
                             value_schema=connect_schema(avro["values"], names, namespace))
    if kind in ("record", "error"):
        short = str(avro["name"])
        space = avro.get("namespace", namespace)
        full = short if "." in short or not space else f"{space}.{short}"
        names[full] = avro
        inner = full.rpartition(".")[0] or None
        fields = tuple(Field(str(f["name"]), connect_schema(f["type"], names, inner)) for f in avro.get("fields", ()))
        return ConnectSchema("struct", optional=optional, name=None if full == DEFAULT_RECORD else full,
                             fields=fields)
    raise ConversionError(f"AvroConverter: unsupported Avro schema {avro!r}")


def to_avro_value(schema: ConnectSchema | None, value: Any) -> Any:
    """A Connect value as fastavro writes it for :func:`avro_schema` (maps with non-string keys as entries)."""
    if value is None or schema is None:
        return value
    if schema.name in (TIMESTAMP, DATE, TIME):
        if isinstance(value, int) and schema.name == TIMESTAMP:
            return _EPOCH + dt.timedelta(milliseconds=value)
        return value
    if schema.name == DECIMAL and not isinstance(value, Decimal):
        return Decimal(str(value))
    if schema.type == "struct":
        if not isinstance(value, dict):
            raise ConversionError(f"AvroConverter: a struct value must be a mapping, got {type(value).__name__}")
        return {f.name: to_avro_value(f.schema, value.get(f.name)) for f in schema.fields}
    if schema.type == "array":
        return [to_avro_value(schema.value_schema, v) for v in value]
    if schema.type == "map":
        pairs = value.items() if isinstance(value, dict) else value
        if schema.key_schema is not None and schema.key_schema.type == "string" and not schema.key_schema.optional:
            return {str(k): to_avro_value(schema.value_schema, v) for k, v in pairs}
        return [{"key": to_avro_value(schema.key_schema, k), "value": to_avro_value(schema.value_schema, v)}
                for k, v in pairs]
    return value
