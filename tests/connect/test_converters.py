"""Converters produce the bytes Kafka's serializers and Connect's JsonConverter produce, and read them back."""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal

import orjson
import pytest

from headwater.connect.converters import (
    ConversionError,
    converter_class,
    converter_from_config,
    schema_from_json,
)
from headwater.connect.data import ConnectSchema, Field


def make(name: str, is_key: bool = False, **settings: str):
    converter = converter_class(name)()
    converter.configure(settings, is_key)
    return converter


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("org.apache.kafka.connect.converters.IntegerConverter", 1, b"\x00\x00\x00\x01"),
    ("org.apache.kafka.connect.converters.IntegerConverter", -2, b"\xff\xff\xff\xfe"),
    ("org.apache.kafka.connect.converters.ShortConverter", 258, b"\x01\x02"),
    ("org.apache.kafka.connect.converters.LongConverter", 2**40, struct.pack(">q", 2**40)),
    ("org.apache.kafka.connect.converters.DoubleConverter", 1.5, struct.pack(">d", 1.5)),
    ("org.apache.kafka.connect.converters.FloatConverter", 0.25, struct.pack(">f", 0.25)),
])
def test_primitive_converters_are_big_endian_like_kafka_serializers(name: str, value: object, expected: bytes) -> None:
    converter = make(name)
    assert converter.from_connect("t", None, value) == expected
    assert converter.to_connect("t", expected)[1] == value
    assert converter.to_connect("t", None)[1] is None


def test_integer_converter_refuses_bytes_of_the_wrong_size() -> None:
    with pytest.raises(ConversionError, match="not 4 bytes"):
        make("IntegerConverter").to_connect("codes", b"\x00\x01")


def test_string_and_byte_array_converters() -> None:
    string = make("org.apache.kafka.connect.storage.StringConverter")
    assert string.from_connect("t", None, "héllo") == "héllo".encode()
    assert string.to_connect("t", "héllo".encode())[1] == "héllo"
    assert string.from_connect("t", None, 42) == b"42"
    # As Kafka's (Java's new String(bytes, UTF_8)): invalid bytes become U+FFFD, the record is not refused.
    assert string.to_connect("t", b"\xff\xfe")[1] == "\ufffd\ufffd"
    windowed = b"UAE" + (1_700_000_000_000).to_bytes(8, "big")  # a TimeWindowed key: key + 8-byte window start
    assert string.to_connect("t", windowed)[1].startswith("UAE")
    raw = make("org.apache.kafka.connect.converters.ByteArrayConverter")
    assert raw.to_connect("t", b"\x00\x01")[1] == b"\x00\x01"
    assert raw.from_connect("t", None, b"\x02") == b"\x02"


def test_schemaless_json_round_trip() -> None:
    json = make("org.apache.kafka.connect.json.JsonConverter", **{"schemas.enable": "false"})
    assert json.to_connect("t", b'{"a": 1, "b": [true, null]}') == (None, {"a": 1, "b": [True, None]})
    assert orjson.loads(json.from_connect("t", None, {"a": 1})) == {"a": 1}
    with pytest.raises(ConversionError, match="serialization error"):
        json.to_connect("t", b"{not json")


def test_json_with_schemas_writes_connects_envelope() -> None:
    schema = ConnectSchema("struct", name="orders", fields=(
        Field("id", ConnectSchema("int32")),
        Field("at", ConnectSchema("int64", optional=True, name="org.apache.kafka.connect.data.Timestamp", version=1)),
        Field("price", ConnectSchema("bytes", name="org.apache.kafka.connect.data.Decimal",
                                     parameters={"scale": "2"})),
    ))
    value = {"id": 7, "at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "price": Decimal("12.34")}
    json = make("JsonConverter")
    data = orjson.loads(json.from_connect("t", schema, value))
    assert data["schema"]["type"] == "struct"
    assert data["schema"]["fields"][0] == {"type": "int32", "optional": False, "field": "id"}
    assert data["payload"]["id"] == 7
    assert data["payload"]["at"] == 1704164645000
    back_schema, back = json.to_connect("t", orjson.dumps(data))
    assert back == value
    assert back_schema.field("price").schema.parameters == {"scale": "2"}


def test_json_with_schemas_refuses_plain_json_with_connects_message() -> None:
    with pytest.raises(ConversionError, match="set schemas.enable=false"):
        make("JsonConverter").to_connect("t", b'{"a": 1}')


def test_schema_from_json_rejects_unknown_types() -> None:
    with pytest.raises(ConversionError, match="unknown schema type"):
        schema_from_json({"type": "uuid"})


def test_defaults_are_the_embedded_workers_string_keys_and_schemaless_json_values() -> None:
    key = converter_from_config({}, is_key=True)
    value = converter_from_config({}, is_key=False)
    assert key.to_connect("t", b"k")[1] == "k"
    assert value.to_connect("t", b'{"x": 1}')[1] == {"x": 1}
    configured = converter_from_config({"value.converter": "org.apache.kafka.connect.json.JsonConverter",
                                        "value.converter.schemas.enable": "true"}, is_key=False)
    with pytest.raises(ConversionError):
        configured.to_connect("t", b'{"x": 1}')
