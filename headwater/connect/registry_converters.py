"""Confluent's schema-registry converters: ``io.confluent.connect.avro.AvroConverter`` (JSON Schema and
Protobuf ones beside it as their formats land).

Configured as Confluent's: ``schema.registry.url`` (comma-separated; ``basic.auth.user.info`` for
credentials) names an external registry; without it the converter uses Headwater's own registry, the
``_schemas`` topic of the worker's log. Subjects follow the TopicNameStrategy (``<topic>-key`` /
``<topic>-value``); ``auto.register.schemas`` (default true) registers the schema of what a source writes,
``use.latest.version`` writes with the subject's latest schema instead.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from typing import Any

import fastavro
import orjson

from headwater.connect.avro_data import avro_schema, connect_schema, inferred_schema, to_avro_value
from headwater.connect.converters import ConversionError, Converter
from headwater.connect.data import ConnectSchema
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

    def configure(self, config: Mapping[str, str], is_key: bool) -> None:
        super().configure(config, is_key)
        self._lock = threading.Lock()
        self._readers: dict[int, tuple[Any, ConnectSchema]] = {}
        #: (topic, id(schema)) -> (schema, its id, parsed): Connect schemas (dict parameters) are not hashable,
        #: and a task passes the same schema object for a run of records.
        self._writers: dict[tuple[str, int], tuple[ConnectSchema, int, Any]] = {}

    def to_connect(self, topic: str, data: bytes | None) -> tuple[ConnectSchema | None, Any]:
        if data is None:
            return None, None
        schema_id, body = self.payload(topic, data)
        with self._lock:
            found = self._readers.get(schema_id)
        if found is None:
            try:
                schema = self.registry.schema(schema_id)
            except RegistryError as exc:
                raise ConversionError(f"Converting byte[] to Kafka Connect data failed due to serialization error "
                                      f"of topic {topic}: error retrieving Avro schema for id {schema_id}: "
                                      f"{exc.message}") from None
            avro = orjson.loads(schema.text)
            found = (fastavro.parse_schema(avro, _write_hint=False), connect_schema(avro))
            with self._lock:
                self._readers[schema_id] = found
        parsed, connect = found
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
        with self._lock:
            found = self._writers.get((topic, id(schema)))
        if found is None or found[0] is not schema:
            avro = avro_schema(schema)
            schema_id = self.schema_id(topic, Schema(orjson.dumps(avro).decode()))
            found = (schema, schema_id, fastavro.parse_schema(avro, _write_hint=False))
            with self._lock:
                if len(self._writers) > 1024:
                    self._writers.clear()
                self._writers[(topic, id(schema))] = found
        _, schema_id, parsed = found
        out = io.BytesIO()
        out.write(b"\x00" + schema_id.to_bytes(4, "big"))
        try:
            fastavro.schemaless_writer(out, parsed, to_avro_value(schema, value))
        except (ValueError, TypeError, OverflowError, KeyError, AttributeError) as exc:
            raise ConversionError(f"Failed to serialize Avro data for topic {topic}: {type(exc).__name__}: "
                                  f"{exc}") from None
        return out.getvalue()
