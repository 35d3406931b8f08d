"""Converters: record bytes <-> Connect data, as Kafka Connect's ``key.converter`` / ``value.converter``.

A converter is configured from the connector's ``key.converter.*`` or
``value.converter.*`` keys. ``to_connect`` turns stored bytes into a
(schema, value) pair for a sink task; ``from_connect`` turns what a source task
produced into bytes for the log. Byte layouts match Kafka's: the primitive
converters write big-endian two's complement / IEEE 754 as Kafka's
``IntegerSerializer`` etc., the JSON converter writes Connect's
``{"schema": ..., "payload": ...}`` envelope when ``schemas.enable`` is true.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import struct
from abc import ABC, abstractmethod
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from headwater.connect.api import ConnectError
from headwater.connect.data import ConnectSchema, Field
from headwater.log import Log

TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
DATE = "org.apache.kafka.connect.data.Date"
TIME = "org.apache.kafka.connect.data.Time"
DECIMAL = "org.apache.kafka.connect.data.Decimal"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class ConversionError(ConnectError):
    """Bytes a converter cannot read, or a value it cannot write (goes to the dead-letter topic)."""


class Converter(ABC):
    """One side (key or value) of a connector's record format."""

    def configure(self, config: Mapping[str, str], is_key: bool) -> None:
        self.config = dict(config)
        self.is_key = is_key

    def attach_log(self, log: Log) -> None:  # noqa: B027 - optional hook
        """The worker's log, where converters that need a schema registry find Headwater's own."""

    @abstractmethod
    def to_connect(self, topic: str, data: bytes | None) -> tuple[ConnectSchema | None, Any]: ...

    @abstractmethod
    def from_connect(self, topic: str, schema: ConnectSchema | None, value: Any) -> bytes | None: ...


_OPTIONAL_STRING = ConnectSchema("string", optional=True)
_OPTIONAL_BYTES = ConnectSchema("bytes", optional=True)


class StringConverter(Converter):
    def configure(self, config: Mapping[str, str], is_key: bool) -> None:
        super().configure(config, is_key)
        self.encoding = config.get("converter.encoding", "utf-8")

    def to_connect(self, topic: str, data: bytes | None) -> tuple[ConnectSchema | None, Any]:
        if data is None:
            return _OPTIONAL_STRING, None
        # As Kafka's StringDeserializer (Java's new String(bytes, charset)): bytes that are not valid in the
        # encoding become U+FFFD, so a windowed key (key bytes + 8 binary bytes of window) still reads.
        return _OPTIONAL_STRING, data.decode(self.encoding, errors="replace")

    def from_connect(self, topic: str, schema: ConnectSchema | None, value: Any) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, bytes):
            return value
        text = value if isinstance(value, str) else _java_string(value)
        return text.encode(self.encoding)


class ByteArrayConverter(Converter):
    def to_connect(self, topic: str, data: bytes | None) -> tuple[ConnectSchema | None, Any]:
        return _OPTIONAL_BYTES, data

    def from_connect(self, topic: str, schema: ConnectSchema | None, value: Any) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        raise ConversionError(f"ByteArrayConverter is not compatible with objects of type {type(value).__name__}")


class _NumberConverter(Converter):
    """Kafka's IntegerSerializer & co: fixed-width big-endian."""

    fmt: str
    schema_type: str

    def to_connect(self, topic: str, data: bytes | None) -> tuple[ConnectSchema | None, Any]:
        schema = _NUMBER_SCHEMAS[self.schema_type]
        if data is None:
            return schema, None
        size = struct.calcsize(self.fmt)
        if len(data) != size:
            raise ConversionError(f"{type(self).__name__}: size of data received by the deserializer is not "
                                  f"{size} bytes (topic {topic}, got {len(data)})")
        return schema, struct.unpack(self.fmt, data)[0]

    def from_connect(self, topic: str, schema: ConnectSchema | None, value: Any) -> bytes | None:
        if value is None:
            return None
        try:
            number = float(value) if self.fmt in (">f", ">d") else int(value)
            return struct.pack(self.fmt, number)
        except (TypeError, ValueError, struct.error) as exc:
            raise ConversionError(f"{type(self).__name__}: cannot serialize {value!r} for topic {topic}: "
                                  f"{exc}") from None


_NUMBER_SCHEMAS = {t: ConnectSchema(t, optional=True) for t in ("int16", "int32", "int64", "float32", "float64")}


class ShortConverter(_NumberConverter):
    fmt, schema_type = ">h", "int16"


class IntegerConverter(_NumberConverter):
    fmt, schema_type = ">i", "int32"


class LongConverter(_NumberConverter):
    fmt, schema_type = ">q", "int64"


class FloatConverter(_NumberConverter):
    fmt, schema_type = ">f", "float32"


class DoubleConverter(_NumberConverter):
    fmt, schema_type = ">d", "float64"


class JsonConverter(Converter):
    """Connect's JsonConverter; ``schemas.enable`` (default true) wraps values in the schema envelope."""

    def configure(self, config: Mapping[str, str], is_key: bool) -> None:
        super().configure(config, is_key)
        self.schemas_enable = str(config.get("schemas.enable", "true")).lower() == "true"

    def to_connect(self, topic: str, data: bytes | None) -> tuple[ConnectSchema | None, Any]:
        if data is None:
            return None, None
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ConversionError(f"Converting byte[] to Kafka Connect data failed due to serialization error "
                                  f"of topic {topic}: {exc}") from None
        if not self.schemas_enable:
            return None, parsed
        if not isinstance(parsed, dict) or set(parsed) != {"schema", "payload"}:
            raise ConversionError(
                "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain "
                "additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in "
                "your converter configuration.")
        schema = schema_from_json(parsed["schema"]) if parsed["schema"] is not None else None
        return schema, value_from_json(schema, parsed["payload"])

    def from_connect(self, topic: str, schema: ConnectSchema | None, value: Any) -> bytes | None:
        if value is None and schema is None:
            return None
        payload = value_to_json(schema, value)
        body = {"schema": schema_to_json(schema), "payload": payload} if self.schemas_enable else payload
        try:
            return orjson.dumps(body)
        except TypeError as exc:
            raise ConversionError(f"JsonConverter: cannot serialize the value for topic {topic}: {exc}") from None


# -- the JSON schema envelope -------------------------------------------------------------


def schema_to_json(schema: ConnectSchema | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    out: dict[str, Any] = {"type": schema.type}
    if schema.type == "struct":
        out["fields"] = [{**(schema_to_json(f.schema) or {}), "field": f.name} for f in schema.fields]
    elif schema.type == "array" and schema.value_schema is not None:
        out["items"] = schema_to_json(schema.value_schema)
    elif schema.type == "map":
        out["keys"] = schema_to_json(schema.key_schema)
        out["values"] = schema_to_json(schema.value_schema)
    out["optional"] = schema.optional
    for key in ("name", "version", "doc"):
        if getattr(schema, key) is not None:
            out[key] = getattr(schema, key)
    if schema.default is not None:
        out["default"] = value_to_json(schema, schema.default)
    if schema.parameters:
        out["parameters"] = dict(schema.parameters)
    return out


def schema_from_json(node: Any) -> ConnectSchema:
    if not isinstance(node, dict) or "type" not in node:
        raise ConversionError(f"JsonConverter: a schema must be an object with a \"type\", got {node!r}")
    kind = node["type"]
    fields: tuple[Field, ...] = ()
    value_schema = key_schema = None
    if kind == "struct":
        fields = tuple(Field(f["field"], schema_from_json(f)) for f in node.get("fields") or [])
    elif kind == "array":
        value_schema = schema_from_json(node["items"])
    elif kind == "map":
        key_schema, value_schema = schema_from_json(node["keys"]), schema_from_json(node["values"])
    elif kind not in ("int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string", "bytes"):
        raise ConversionError(f"JsonConverter: unknown schema type {kind!r}")
    schema = ConnectSchema(kind, optional=bool(node.get("optional", False)), name=node.get("name"),
                           version=node.get("version"), doc=node.get("doc"), parameters=node.get("parameters"),
                           fields=fields, value_schema=value_schema, key_schema=key_schema)
    if node.get("default") is not None:
        schema = ConnectSchema(**{**schema.__dict__, "default": value_from_json(schema, node["default"])})
    return schema


def value_to_json(schema: ConnectSchema | None, value: Any) -> Any:
    """Connect data as JSON data (logical types as Connect writes them)."""
    if value is None:
        return None
    name = schema.name if schema else None
    if isinstance(value, dt.datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp() * 1000)
    if isinstance(value, dt.date):
        return (value - _EPOCH.date()).days
    if isinstance(value, dt.time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000
    if isinstance(value, Decimal):
        if name == DECIMAL:
            scale = int((schema.parameters or {}).get("scale", 0)) if schema else 0
            unscaled = int(value.scaleb(scale))
            size = max(1, (unscaled.bit_length() + 8) // 8)
            return base64.b64encode(unscaled.to_bytes(size, "big", signed=True)).decode()
        return float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        if schema is not None and schema.type == "struct":
            return {f.name: value_to_json(f.schema, value.get(f.name)) for f in schema.fields}
        inner = schema.value_schema if schema is not None else None
        return {str(k): value_to_json(inner, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        inner = schema.value_schema if schema is not None else None
        return [value_to_json(inner, v) for v in value]
    return value


def value_from_json(schema: ConnectSchema | None, value: Any) -> Any:
    """JSON data read under ``schema`` as Connect data (logical types become Python objects)."""
    if value is None or schema is None:
        return value
    if schema.name == TIMESTAMP:
        return _EPOCH + dt.timedelta(milliseconds=int(value))
    if schema.name == DATE:
        return _EPOCH.date() + dt.timedelta(days=int(value))
    if schema.name == DECIMAL:
        scale = int((schema.parameters or {}).get("scale", 0))
        unscaled = int.from_bytes(base64.b64decode(value), "big", signed=True)
        return Decimal(unscaled).scaleb(-scale)
    if schema.type == "bytes" and isinstance(value, str):
        return base64.b64decode(value)
    if schema.type == "struct":
        if not isinstance(value, dict):
            raise ConversionError(f"JsonConverter: struct payload must be an object, got {value!r}")
        return {f.name: value_from_json(f.schema, value.get(f.name)) for f in schema.fields}
    if schema.type == "array":
        return [value_from_json(schema.value_schema, v) for v in value]
    if schema.type == "map" and isinstance(value, dict):
        return {k: value_from_json(schema.value_schema, v) for k, v in value.items()}
    return value


def _java_string(value: Any) -> str:
    """How Connect's StringConverter renders a non-string (``toString``), JSON for structures."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value_to_json(None, value)).decode()
    return str(value)


CONVERTERS: dict[str, type[Converter]] = {
    "org.apache.kafka.connect.storage.StringConverter": StringConverter,
    "org.apache.kafka.connect.json.JsonConverter": JsonConverter,
    "org.apache.kafka.connect.converters.ByteArrayConverter": ByteArrayConverter,
    "org.apache.kafka.connect.converters.ShortConverter": ShortConverter,
    "org.apache.kafka.connect.converters.IntegerConverter": IntegerConverter,
    "org.apache.kafka.connect.converters.LongConverter": LongConverter,
    "org.apache.kafka.connect.converters.FloatConverter": FloatConverter,
    "org.apache.kafka.connect.converters.DoubleConverter": DoubleConverter,
}

#: The worker's defaults, as ksqlDB's embedded Connect worker sets them.
DEFAULT_KEY_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
DEFAULT_VALUE_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
DEFAULT_VALUE_CONVERTER_CONFIG = {"schemas.enable": "false"}


#: Converters that talk to a schema registry, by import string (loaded when a config names them).
REGISTRY_CONVERTERS: dict[str, str] = {
    "io.confluent.connect.avro.AvroConverter": "headwater.connect.registry_converters:AvroConverter",
    "io.confluent.connect.json.JsonSchemaConverter": "headwater.connect.registry_converters:JsonSchemaConverter",
    "io.confluent.connect.protobuf.ProtobufConverter": "headwater.connect.protobuf_converter:ProtobufConverter",
}


def converter_class(name: str) -> type[Converter]:
    """The converter for a Java class name or its simple name (``JsonConverter``)."""
    found = CONVERTERS.get(name) or next((c for k, c in CONVERTERS.items() if k.rsplit(".", 1)[-1] == name), None)
    if found is not None:
        return found
    target = REGISTRY_CONVERTERS.get(name) or next(
        (t for k, t in REGISTRY_CONVERTERS.items() if k.rsplit(".", 1)[-1] == name), None)
    if target is None:
        raise ConnectError(f"Class {name} could not be found.")
    module, _, attr = target.partition(":")
    loaded: type[Converter] = getattr(importlib.import_module(module), attr)
    return loaded


def converter_from_config(config: Mapping[str, str], is_key: bool, log: Log | None = None) -> Converter:
    """The key or value converter a connector config asks for (worker defaults otherwise); ``log`` is the
    worker's, where a registry converter without ``schema.registry.url`` keeps its schemas."""
    prefix = "key.converter" if is_key else "value.converter"
    name = config.get(prefix) or (DEFAULT_KEY_CONVERTER if is_key else DEFAULT_VALUE_CONVERTER)
    settings = {} if is_key or config.get(prefix) else dict(DEFAULT_VALUE_CONVERTER_CONFIG)
    settings.update({k[len(prefix) + 1:]: v for k, v in config.items() if k.startswith(prefix + ".")})
    converter = converter_class(name)()
    converter.configure(settings, is_key)
    if log is not None:
        converter.attach_log(log)
    return converter
