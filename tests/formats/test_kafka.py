"""The KAFKA format: Kafka's primitive serializers, byte for byte."""

from __future__ import annotations

import struct
from typing import Any

import pyarrow as pa
import pytest

from headwater.formats import create_format
from headwater.sql.types import BIGINT, BYTES, DOUBLE, INTEGER, STRING, SqlType

# (type, value, bytes Kafka's serializer writes)
SERIALIZED: list[tuple[SqlType, Any, bytes]] = [
    (INTEGER, 7, b"\x00\x00\x00\x07"),
    (INTEGER, -2, b"\xff\xff\xff\xfe"),
    (INTEGER, 2**31 - 1, b"\x7f\xff\xff\xff"),
    (BIGINT, 2**40, b"\x00\x00\x01\x00\x00\x00\x00\x00"),
    (BIGINT, -1, b"\xff" * 8),
    (DOUBLE, 1.5, struct.pack(">d", 1.5)),
    (DOUBLE, -0.0, struct.pack(">d", -0.0)),
    (STRING, "héllo", "héllo".encode()),
    (STRING, "", b""),
    (BYTES, b"\x00\xff", b"\x00\xff"),
]


@pytest.mark.parametrize(("sql_type", "value", "raw"), SERIALIZED)
@pytest.mark.parametrize("role", ["key", "value"])
def test_values_round_trip_through_kafkas_serializers(sql_type: SqlType, value: Any, raw: bytes, role: str) -> None:
    fmt = create_format("KAFKA", [("K", sql_type)], role=role)  # type: ignore[arg-type]
    table = pa.table({"K": pa.array([value, None], sql_type.to_arrow())})
    encoded = fmt.encode(table)
    assert encoded.to_pylist() == [raw, None]
    decoded = fmt.decode(encoded, topic="t")
    assert decoded.errors() == [] and decoded.null_rows.tolist() == [1]
    assert decoded.table.equals(table)


@pytest.mark.parametrize(
    ("sql_type", "raw", "reason"),
    [
        (INTEGER, b"\x00\x01", "Size of data received by IntegerDeserializer is not 4"),
        (INTEGER, b"", "Size of data received by IntegerDeserializer is not 4"),
        (INTEGER, b"\x00" * 8, "Size of data received by IntegerDeserializer is not 4"),
        (BIGINT, b"\x00" * 4, "Size of data received by LongDeserializer is not 8"),
        (DOUBLE, b"\x00" * 9, "Size of data received by Deserializer is not 8"),
    ],
)
def test_a_value_of_the_wrong_size_fails_alone(sql_type: SqlType, raw: bytes, reason: str) -> None:
    layout = {INTEGER.base: ">i", BIGINT.base: ">q", DOUBLE.base: ">d"}[sql_type.base]
    good = struct.pack(layout, 5)
    fmt = create_format("KAFKA", [("K", sql_type)], role="key")
    decoded = fmt.decode(pa.array([good, raw, None, good], pa.binary()), topic="t")
    assert decoded.errors() == [(1, f"Failed to deserialize key from topic: t. {reason}")]
    assert decoded.table.column("K").to_pylist() == [5, None, None, 5]


def test_strings_that_are_not_utf8_decode_with_replacement_characters_as_java_does() -> None:
    decoded = create_format("KAFKA", [("K", STRING)], role="key").decode(pa.array([b"a\xffb", b"ok"]))
    assert decoded.errors() == []
    assert decoded.table.column("K").to_pylist() == ["a\ufffdb", "ok"]


def test_a_sliced_batch_decodes_its_own_rows() -> None:
    data = create_format("KAFKA", [("K", INTEGER)]).encode(pa.table({"K": pa.array(range(10), pa.int32())}))
    decoded = create_format("KAFKA", [("K", INTEGER)]).decode(data.slice(3, 4))
    assert decoded.table.column("K").to_pylist() == [3, 4, 5, 6]


def test_a_large_batch_decodes_with_numpy() -> None:
    n = 200_000
    fmt = create_format("KAFKA", [("K", BIGINT)], role="key")
    encoded = fmt.encode(pa.table({"K": pa.array(range(n), pa.int64())}))
    decoded = fmt.decode(encoded)
    assert decoded.num_errors == 0
    assert decoded.table.column("K").to_pylist()[-3:] == [n - 3, n - 2, n - 1]
