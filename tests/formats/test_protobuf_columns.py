"""The PROTOBUF format's column-by-column decoder (formats/protobuf_columns.py) against protobuf's parser
record by record: same values, same error rows, same reasons, for well-formed messages and arbitrary
bytes."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from google.protobuf import message_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.formats import create_format
from headwater.formats import protobuf as protobuf_module
from headwater.formats.protobuf_columns import compile_plan
from headwater.formats.protobuf_schema import build
from headwater.formats.registered import wire_header
from headwater.registry.base import Schema
from headwater.registry.store import LogSchemaRegistry
from headwater.sql.types import BIGINT, BOOLEAN, BYTES, DOUBLE, INTEGER, STRING, TIMESTAMP
from tests.formats.decode_check import assert_same_decode

PROTO = """syntax = "proto3";
package t;
import "google/protobuf/timestamp.proto";
enum Colour { RED = 0; GREEN = 1; BLUE = 5; }
message Row {
  int32 i32 = 1; int64 i64 = 2; uint32 u32 = 3; uint64 u64 = 4; sint32 s32 = 5; sint64 s64 = 6;
  fixed32 f32 = 7; fixed64 f64 = 8; sfixed32 sf32 = 9; sfixed64 sf64 = 10; bool flag = 11; float ratio = 12;
  double score = 13; string name = 14; bytes raw = 15; Colour colour = 16;
  repeated string tags = 17; google.protobuf.Timestamp at = 18; Inner inner = 19;
  oneof pick { string left = 20; int64 right = 21; }
  message Inner { string city = 1; }
}
message Other { string name = 1; }
"""
COLUMNS = [("I32", INTEGER), ("I64", BIGINT), ("U32", BIGINT), ("U64", BIGINT), ("S32", INTEGER), ("S64", BIGINT),
           ("F32", BIGINT), ("F64", BIGINT), ("SF32", INTEGER), ("SF64", BIGINT), ("FLAG", BOOLEAN),
           ("RATIO", DOUBLE), ("SCORE", DOUBLE), ("NAME", STRING), ("RAW", BYTES), ("COLOUR", STRING),
           ("LEFT", STRING), ("RIGHT", BIGINT), ("MISSING", STRING)]
ROW = message_factory.GetMessageClass(build(PROTO)[0])


def _row(i: int) -> bytes:
    message = ROW(i32=-i, i64=-(2**40) * i, u32=2**32 - 1 - i, u64=i * 2**33, s32=-i, s64=-(2**50) + i,
                  f32=i, f64=2**40 + i, sf32=-i * 3, sf64=-(2**45), flag=i % 2 == 1, ratio=i / 4, score=i / 3,
                  name=f"n{i}é" * (i % 5), raw=bytes(range(i % 50)), colour=(0, 1, 5)[i % 3],
                  tags=["a", "b"][: i % 3])
    if i % 4 == 0:
        message.inner.city = "Oslo"
    if i % 3 == 0:
        message.left = "l"
    elif i % 3 == 1:
        message.right = i
    return bytes(message.SerializeToString())


def _both(registry: LogSchemaRegistry, data: pa.Array, columns: Any = None) -> tuple[Any, Any]:
    props = {"SCHEMA_REGISTRY": registry, "KAFKA_TOPIC": "pb"}
    got = create_format("PROTOBUF", COLUMNS, props).decode(data, columns, topic="pb")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(protobuf_module, "compile_plan", lambda *args, **kwargs: None)
        want = create_format("PROTOBUF", COLUMNS, props).decode(data, columns, topic="pb")
    return got, want


def _schema_id(registry: LogSchemaRegistry) -> int:
    return registry.register("pb-value", Schema(PROTO, "PROTOBUF"))


def test_plans_cover_scalars_and_decline_messages() -> None:
    message = build(PROTO)[0]
    selected = [(i, name, t) for i, (name, t) in enumerate(COLUMNS)]
    plan = compile_plan(message, selected, wrapped=True)
    assert plan is not None and len(plan.fields) == len(COLUMNS) - 1  # MISSING: no field, a null column
    assert compile_plan(message, [(0, "AT", TIMESTAMP)], wrapped=True) is None
    assert compile_plan(message, [(0, "I32", STRING)], wrapped=True) is None  # a conversion: declined


def test_messages_read_as_protobuf_reads_them(registry: LogSchemaRegistry) -> None:
    header = wire_header(_schema_id(registry))
    values: list[bytes | None] = [None if i % 11 == 10 else header + b"\x00" + _row(i) for i in range(300)]
    values.append(header + b"\x02\x02" + b"\x0a\x01x")  # message indexes [1]: the second message, the slow way
    values.append(header + b"\x00")  # an empty message: every field its default
    got, want = _both(registry, pa.array(values, pa.binary()))
    assert got.num_errors == 0
    assert_same_decode(got, want)
    row = got.table.slice(1, 1).to_pylist()[0]
    assert (row["I32"], row["U32"], row["COLOUR"], row["RIGHT"], row["MISSING"]) == (-1, 2**32 - 2, "GREEN", 1, None)
    assert got.table.slice(301, 1).to_pylist()[0]["NAME"] == ""
    assert_same_decode(*_both(registry, pa.array(values, pa.binary()), [("NAME", STRING), ("SF64", BIGINT)]))


def test_bad_records_go_alone_with_protobufs_reasons(registry: LogSchemaRegistry) -> None:
    header = wire_header(_schema_id(registry)) + b"\x00"
    good = header + _row(7)
    values = [good, good[:-2], header + b"\x72\x02\xff\xfe", header + b"\x80\x01\x02", header + b"\x08",
              header + b"\x0b\x0c", header + b"\x80\x01\x05", good, header + b"\x20" + b"\xff" * 9 + b"\x01",
              header + b"\x0d\x01\x02\x03\x04", header + b"\x8a\x01"]
    got, want = _both(registry, pa.array(values, pa.binary()))
    assert_same_decode(got, want)
    assert 0 not in got.error_rows.tolist() and 7 not in got.error_rows.tolist() and got.num_errors >= 3


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.none(), st.binary(max_size=60), st.integers(0, 299),
                          st.tuples(st.integers(0, 299), st.integers(6, 80))), max_size=25))
def test_arbitrary_bytes_read_as_protobuf_reads_them(registry: LogSchemaRegistry, items: list[Any]) -> None:
    header = wire_header(_schema_id(registry)) + b"\x00"
    values: list[bytes | None] = []
    for item in items:
        if isinstance(item, int):
            values.append(header + _row(item))
        elif isinstance(item, tuple):
            values.append((header + _row(item[0]))[: item[1]])
        elif isinstance(item, bytes):
            values.append(header + item)
        else:
            values.append(None)
    assert_same_decode(*_both(registry, pa.array(values, pa.binary())))
