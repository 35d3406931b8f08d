"""Confluent's schema-registry converters: ``io.confluent.connect.avro.AvroConverter`` and
``io.confluent.connect.json.JsonSchemaConverter`` (Connect schemas as JSON Schemas the way Confluent's
JsonSchemaData writes them: ``connect.type`` for integer widths and bytes, ``title`` for logical names,
``oneOf`` null for optional fields) (``protobuf_converter.py`` holds the ProtobufConverter).

Configured as Confluent's: ``schema.registry.url`` (comma-separated; ``basic.auth.user.info`` for
credentials) names an external registry; without it the converter uses Headwater's own registry, the
``_schemas`` topic of the worker's log. Subjects follow the TopicNameStrategy (``<topic>-key`` /
``<topic>-value``); ``auto.register.schemas`` (default true) registers the schema of what a source writes,
``use.latest.version`` writes with the subject's latest schema instead.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping
from typing import Any

import fastavro
import orjson

from headwater.connect.avro_data import avro_schema, connect_schema, inferred_schema, to_avro_value
from headwater.connect.converters import ConversionError, Converter, value_from_json, value_to_json
from headwater.connect.data import ConnectSchema, Field
from headwater.log import Log
from headwater.registry.base import RegistryError, Schema, SchemaRegistry
from headwater.registry.remote import RemoteSchemaRegistry
from headwater.registry.store import local_registry

_HEADER = 5


class RegistryConverter(Converter):
    """What every schema-registry converter shares: the registry, the subject, the wire header."""

    def configure(self, config: Mapping[str, str], is_key: bool) -> None:
        super().configure(config, is_key)
        url = config.get("schema.registry.url")
        self._registry: SchemaRegistry | None = (
            RemoteSchemaRegistry(url, user_info=config.get("basic.auth.user.info") or None) if url else None)
        self.auto_register = str(config.get("auto.register.schemas", "true")).lower() == "true"
        self.use_latest = str(config.get("use.latest.version", "false")).lower() == "true"
        self._lock = threading.Lock()
        self._readers: dict[int, Any] = {}
        #: (topic, id(schema)) -> (schema, its id, what the format built): Connect schemas (dict parameters) are
        #: not hashable, and a task passes the same schema object for a run of records.
        self._writers: dict[tuple[str, int], tuple[ConnectSchema, int, Any]] = {}

    def reader(self, schema_id: int, build: Callable[[int], Any]) -> Any:
        """What ``build`` made of the writer schema ``schema_id``, built once per id."""
        with self._lock:
            found = self._readers.get(schema_id)
        if found is None:
            found = build(schema_id)
            with self._lock:
                self._readers[schema_id] = found
        return found

    def writer(self, topic: str, schema: ConnectSchema, build: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
        """The registered id of ``schema`` for ``topic`` and what ``build`` made of it, built once per schema."""
        with self._lock:
            found = self._writers.get((topic, id(schema)))
        if found is None or found[0] is not schema:
            found = (schema, *build())
            with self._lock:
                if len(self._writers) > 1024:
                    self._writers.clear()
                self._writers[(topic, id(schema))] = found
        return found[1], found[2]

    def attach_log(self, log: Log) -> None:
        if self._registry is None:
            self._registry = local_registry(log)

    @property
    def registry(self) -> SchemaRegistry:
        if self._registry is None:
            raise ConversionError(f"{type(self).__name__}: no schema.registry.url and no log to keep schemas in")
        return self._registry

    def subject(self, topic: str) -> str:
        return f"{topic}-{'key' if self.is_key else 'value'}"

    def schema_id(self, topic: str, schema: Schema) -> int:
        subject = self.subject(topic)
        try:
            if self.use_latest:
                return self.registry.version(subject).schema_id
            if self.auto_register:
                return self.registry.register(subject, schema)
            return self.registry.version(subject).schema_id
        except RegistryError as exc:
            raise ConversionError(f"Failed to serialize the {'key' if self.is_key else 'value'} for topic {topic}: "
                                  f"error registering the schema under {subject}: {exc.message}") from None

    def payload(self, topic: str, data: bytes) -> tuple[int, memoryview]:
        if len(data) < _HEADER or data[0] != 0:
            raise ConversionError(f"Converting byte[] to Kafka Connect data failed due to serialization error of "
                                  f"topic {topic}: Unknown magic byte!")
        return int.from_bytes(data[1:5], "big"), memoryview(data)[_HEADER:]


class AvroConverter(RegistryConverter):
    """Avro in Confluent's wire format, Connect data mapped as Confluent's AvroData does."""

    def to_connect(self, topic: str, data: bytes | None) -> tuple[ConnectSchema | None, Any]:
        if data is None:
            return None, None
        schema_id, body = self.payload(topic, data)

        def build(schema_id: int) -> tuple[Any, ConnectSchema]:
            try:
                schema = self.registry.schema(schema_id)
            except RegistryError as exc:
                raise ConversionError(f"Converting byte[] to Kafka Connect data failed due to serialization error "
                                      f"of topic {topic}: error retrieving Avro schema for id {schema_id}: "
                                      f"{exc.message}") from None
            avro = orjson.loads(schema.text)
            return fastavro.parse_schema(avro, _write_hint=False), connect_schema(avro)

        parsed, connect = self.reader(schema_id, build)
        try:
            value = fastavro.schemaless_reader(io.BytesIO(body), parsed, None)
        except Exception as exc:  # noqa: BLE001 - any decoder failure is this record's
            raise ConversionError(f"Converting byte[] to Kafka Connect data failed due to serialization error of "
                                  f"topic {topic}: Error deserializing Avro message for id {schema_id}: "
                                  f"{type(exc).__name__}: {exc}") from None
        return connect, value

    def from_connect(self, topic: str, schema: ConnectSchema | None, value: Any) -> bytes | None:
        if value is None and (schema is None or schema.optional):
            return None
        if schema is None:
            schema = inferred_schema(value)
        def build() -> tuple[int, Any]:
            avro = avro_schema(schema)
            return (self.schema_id(topic, Schema(orjson.dumps(avro).decode())),
                    fastavro.parse_schema(avro, _write_hint=False))

        schema_id, parsed = self.writer(topic, schema, build)
        out = io.BytesIO()
        out.write(b"\x00" + schema_id.to_bytes(4, "big"))
        try:
            fastavro.schemaless_writer(out, parsed, to_avro_value(schema, value))
        except (ValueError, TypeError, OverflowError, KeyError, AttributeError) as exc:
            raise ConversionError(f"Failed to serialize Avro data for topic {topic}: {type(exc).__name__}: "
                                  f"{exc}") from None
        return out.getvalue()


def json_schema(schema: ConnectSchema) -> dict[str, Any]:
    """The JSON Schema of a Connect schema."""
    inner = _json_schema(schema)
    return {"oneOf": [{"type": "null"}, inner]} if schema.optional else inner


def _json_schema(schema: ConnectSchema) -> dict[str, Any]:
    kind = schema.type
    out: dict[str, Any]
    if kind in ("int8", "int16", "int32", "int64"):
        out = {"type": "integer", "connect.type": kind}
    elif kind in ("float32", "float64"):
        out = {"type": "number", "connect.type": kind}
    elif kind == "boolean":
        out = {"type": "boolean"}
    elif kind == "string":
        out = {"type": "string"}
    elif kind == "bytes":
        out = {"type": "string", "connect.type": "bytes"}
    elif kind == "array" and schema.value_schema is not None:
        out = {"type": "array", "items": json_schema(schema.value_schema)}
    elif kind == "map" and schema.value_schema is not None:
        out = {"type": "object", "additionalProperties": json_schema(schema.value_schema), "connect.type": "map"}
    elif kind == "struct":
        out = {"type": "object", "properties": {
            f.name: {**json_schema(f.schema), "connect.index": i} for i, f in enumerate(schema.fields)}}
    else:
        raise ConversionError(f"JsonSchemaConverter: no JSON Schema for the Connect schema {kind!r}")
    if schema.name:
        out["title"] = schema.name
    if schema.parameters:
        out["connect.parameters"] = dict(schema.parameters)
    return out


def connect_of_json(node: Any, optional: bool = False) -> ConnectSchema:
    """The Connect schema of a JSON Schema."""
    if not isinstance(node, dict):
        return ConnectSchema("string", optional=True)
    for key in ("oneOf", "anyOf"):
        if key in node:
            branches = [b for b in node[key] if not (isinstance(b, dict) and b.get("type") == "null")]
            if len(branches) == 1:
                return connect_of_json(branches[0], optional=True)
            raise ConversionError(f"JsonSchemaConverter: unions of several types are not supported ({node[key]})")
    kind, connect = node.get("type"), node.get("connect.type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        optional = optional or len(kinds) < len(kind)
        kind = kinds[0] if len(kinds) == 1 else "string"
    name = node.get("title") if isinstance(node.get("title"), str) else None
    params = node.get("connect.parameters") if isinstance(node.get("connect.parameters"), dict) else None
    if kind == "integer":
        return ConnectSchema(connect if connect in ("int8", "int16", "int32", "int64") else "int64", optional,
                             name=name, parameters=params)
    if kind == "number":
        return ConnectSchema("float32" if connect == "float32" else "float64", optional, name=name,
                             parameters=params)
    if kind == "boolean":
        return ConnectSchema("boolean", optional)
    if kind == "string":
        return ConnectSchema("bytes" if connect == "bytes" else "string", optional, name=name)
    if kind == "array":
        return ConnectSchema("array", optional, value_schema=connect_of_json(node.get("items", {})))
    if kind == "object" and "properties" not in node and isinstance(node.get("additionalProperties"), dict):
        return ConnectSchema("map", optional, key_schema=ConnectSchema("string"),
                             value_schema=connect_of_json(node["additionalProperties"]))
    if kind == "object" or "properties" in node:
        props = node.get("properties") or {}
        ordered = sorted(props.items(), key=lambda item: item[1].get("connect.index", 0)
                         if isinstance(item[1], dict) else 0)
        return ConnectSchema("struct", optional, name=name,
                             fields=tuple(Field(str(k), connect_of_json(v)) for k, v in ordered))
    return ConnectSchema("string", True)


class JsonSchemaConverter(RegistryConverter):
    """JSON in Confluent's wire format with a registered JSON Schema."""

    def to_connect(self, topic: str, data: bytes | None) -> tuple[ConnectSchema | None, Any]:
        if data is None:
            return None, None
        schema_id, body = self.payload(topic, data)

        def build(schema_id: int) -> ConnectSchema:
            try:
                registered = self.registry.schema(schema_id)
            except RegistryError as exc:
                raise ConversionError(f"Converting byte[] to Kafka Connect data failed due to serialization error "
                                      f"of topic {topic}: error retrieving JSON schema for id {schema_id}: "
                                      f"{exc.message}") from None
            return connect_of_json(orjson.loads(registered.text))

        found = self.reader(schema_id, build)
        try:
            value = orjson.loads(bytes(body))
        except orjson.JSONDecodeError as exc:
            raise ConversionError(f"Converting byte[] to Kafka Connect data failed due to serialization error of "
                                  f"topic {topic}: {exc}") from None
        return found, value_from_json(found, value)

    def from_connect(self, topic: str, schema: ConnectSchema | None, value: Any) -> bytes | None:
        if value is None and (schema is None or schema.optional):
            return None
        if schema is None:
            schema = inferred_schema(value)
        schema_id, _ = self.writer(
            topic, schema, lambda: (self.schema_id(topic, Schema(orjson.dumps(json_schema(schema)).decode(), "JSON")),
                                    None))
        try:
            body = orjson.dumps(value_to_json(schema, value))
        except TypeError as exc:
            raise ConversionError(f"JsonSchemaConverter: cannot serialize the value for topic {topic}: {exc}") from None
        return b"\x00" + schema_id.to_bytes(4, "big") + body
