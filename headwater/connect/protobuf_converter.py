"""``io.confluent.connect.protobuf.ProtobufConverter``: Connect structs as proto3 messages in Confluent's wire
format (message index [0]), the ``.proto`` written as the PROTOBUF format writes it for the same columns and
registered under ``<topic>-key|value``; reading takes the first message of the registered file."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import message_factory
from google.protobuf.message import DecodeError

from headwater.connect.converters import TIMESTAMP, ConversionError
from headwater.connect.data import ConnectSchema, Field
from headwater.connect.registry_converters import RegistryConverter
from headwater.errors import FormatError
from headwater.formats.protobuf import fill_message, zigzag_varint
from headwater.formats.protobuf_schema import build, columns_of, proto_text, to_python
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
    MapType,
    SqlType,
    StructField,
    StructType,
)
from headwater.sql.types import TIMESTAMP as TIMESTAMP_TYPE

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


_SQL_OF_CONNECT = {"int8": INTEGER, "int16": INTEGER, "int32": INTEGER, "int64": BIGINT, "float32": DOUBLE,
                   "float64": DOUBLE, "boolean": BOOLEAN, "string": STRING, "bytes": BYTES}


def sql_type_of_connect(schema: ConnectSchema) -> SqlType:
    """The SQL type a Connect schema is written as in Protobuf."""
    if schema.name == TIMESTAMP:
        return TIMESTAMP_TYPE
    if schema.type in _SQL_OF_CONNECT:
        return _SQL_OF_CONNECT[schema.type]
    if schema.type == "array" and schema.value_schema is not None:
        return ArrayType(sql_type_of_connect(schema.value_schema))
    if schema.type == "map" and schema.value_schema is not None:
        return MapType(STRING, sql_type_of_connect(schema.value_schema))
    if schema.type == "struct":
        return StructType(tuple(StructField(f.name, sql_type_of_connect(f.schema)) for f in schema.fields))
    raise ConversionError(f"ProtobufConverter: no Protobuf type for the Connect schema {schema.type!r}")


def connect_of_sql(sql_type: SqlType, optional: bool = True) -> ConnectSchema:
    base = sql_type.base
    simple = {BaseType.INTEGER: "int32", BaseType.BIGINT: "int64", BaseType.DOUBLE: "float64",
              BaseType.BOOLEAN: "boolean", BaseType.STRING: "string", BaseType.BYTES: "bytes"}.get(base)
    if simple is not None:
        return ConnectSchema(simple, optional)
    if base is BaseType.TIMESTAMP:
        return ConnectSchema("int64", optional, name=TIMESTAMP, version=1)
    if isinstance(sql_type, ArrayType):
        return ConnectSchema("array", optional, value_schema=connect_of_sql(sql_type.element))
    if isinstance(sql_type, MapType):
        return ConnectSchema("map", optional, key_schema=ConnectSchema("string"),
                             value_schema=connect_of_sql(sql_type.value))
    if isinstance(sql_type, StructType):
        return ConnectSchema("struct", optional, fields=tuple(Field(f.name, connect_of_sql(f.type))
                                                               for f in sql_type.fields))
    raise ConversionError(f"ProtobufConverter: no Connect schema for {sql_type.sql()}")


class ProtobufConverter(RegistryConverter):
    """Protobuf in Confluent's wire format (message index [0]) with a registered ``.proto``."""

    def to_connect(self, topic: str, data: bytes | None) -> tuple[ConnectSchema | None, Any]:
        if data is None:
            return None, None
        schema_id, body = self.payload(topic, data)

        def reader_of(schema_id: int) -> tuple[Any, ConnectSchema]:
            messages = build(self.registry.schema(schema_id).text)
            columns = columns_of(messages[0])
            connect = ConnectSchema("struct", True, name=messages[0].full_name, fields=tuple(
                Field(f.name, connect_of_sql(t)) for f, (_, t) in zip(messages[0].fields, columns, strict=True)))
            return message_factory.GetMessageClass(messages[0]), connect

        try:
            found = self.reader(schema_id, reader_of)
            count, position = zigzag_varint(bytes(body), 0)
            for _ in range(count):
                _, position = zigzag_varint(bytes(body), position)
            message = found[0].FromString(bytes(body[position:]))
        except (RegistryError, FormatError, DecodeError) as exc:
            raise ConversionError(f"Converting byte[] to Kafka Connect data failed due to serialization error of "
                                  f"topic {topic}: {getattr(exc, 'message', exc)}") from None
        return found[1], _timestamps(found[1], to_python(message))

    def from_connect(self, topic: str, schema: ConnectSchema | None, value: Any) -> bytes | None:
        if value is None and (schema is None or schema.optional):
            return None
        if schema is None or schema.type != "struct":
            raise ConversionError("ProtobufConverter: values must be structs with a schema")
        struct = schema

        def writer_of() -> tuple[int, Any]:
            try:
                text = proto_text([(f.name, sql_type_of_connect(f.schema)) for f in struct.fields], struct.name)
                descriptor = build(text)[0]
            except FormatError as exc:
                raise ConversionError(f"ProtobufConverter: {exc}") from None
            return self.schema_id(topic, Schema(text, "PROTOBUF")), message_factory.GetMessageClass(descriptor)

        schema_id, message_class = self.writer(topic, schema, writer_of)
        message = message_class()
        try:
            fill_message(message, value)
        except (TypeError, ValueError, OverflowError, AttributeError) as exc:
            raise ConversionError(f"ProtobufConverter: cannot serialize the value for topic {topic}: {exc}") from None
        return b"\x00" + schema_id.to_bytes(4, "big") + b"\x00" + message.SerializeToString()


def _timestamps(schema: ConnectSchema, value: Any) -> Any:
    """Timestamp fields (epoch ms from the decoder) as datetimes, as Connect's Timestamp logical type."""
    if value is None:
        return None
    if schema.name == TIMESTAMP and isinstance(value, int):
        return _EPOCH + dt.timedelta(milliseconds=value)
    if schema.type == "struct" and isinstance(value, dict):
        return {f.name: _timestamps(f.schema, value.get(f.name)) for f in schema.fields}
    if schema.type == "array" and isinstance(value, list) and schema.value_schema is not None:
        return [_timestamps(schema.value_schema, v) for v in value]
    return value
