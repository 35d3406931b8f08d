"""PROTOBUF / PROTOBUF_NOSR carry DECIMAL, DATE, TIME and TIMESTAMP as ksqlDB's well-known messages."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest
from google.protobuf import message_factory

from headwater.formats import create_format
from headwater.formats.protobuf_schema import build, columns_of, proto_text
from headwater.registry.store import LogSchemaRegistry
from headwater.sql.types import DATE, INTEGER, STRING, TIME, TIMESTAMP, ArrayType, DecimalType, MapType

COLUMNS = [("ID", INTEGER), ("AMOUNT", DecimalType(10, 3)), ("D", DATE), ("T", TIME), ("TS", TIMESTAMP),
           ("RATES", ArrayType(DecimalType(4, 2))), ("LIMITS", MapType(STRING, DecimalType(6, 0)))]
ROWS = [
    {"ID": 1, "AMOUNT": decimal.Decimal("-1234567.891"), "D": dt.date(2024, 2, 29), "T": dt.time(23, 59, 58, 125000),
     "TS": dt.datetime(2023, 11, 14, 22, 13, 20, 123000), "RATES": [decimal.Decimal("0.05"), decimal.Decimal("-9.99")],
     "LIMITS": [("eu", decimal.Decimal("100000"))]},
    {"ID": 2, "AMOUNT": None, "D": dt.date(1, 1, 1), "T": dt.time(0, 0), "TS": None, "RATES": [], "LIMITS": []},
]


def test_the_schema_names_ksqldb_messages_and_infers_back() -> None:
    text = proto_text(COLUMNS, None)
    for line in ('import "confluent/type/decimal.proto";', 'import "google/type/date.proto";',
                 'import "google/type/timeofday.proto";', 'import "google/protobuf/timestamp.proto";',
                 'confluent.type.Decimal AMOUNT = 2 [(confluent.field_meta) = { params: [{ key: "precision", '
                 'value: "10" }, { key: "scale", value: "3" }] }];', "google.type.Date D = 3;",
                 "google.type.TimeOfDay T = 4;"):
        assert line in text
    assert columns_of(build(text)[0]) == COLUMNS


@pytest.mark.parametrize("name", ["PROTOBUF", "PROTOBUF_NOSR"])
def test_round_trip(name: str, registry: LogSchemaRegistry) -> None:
    props = {} if name == "PROTOBUF_NOSR" else {"SCHEMA_REGISTRY": registry, "KAFKA_TOPIC": "typed"}
    fmt = create_format(name, COLUMNS, props)
    table = pa.Table.from_pylist(ROWS, schema=pa.schema([(n, t.to_arrow()) for n, t in COLUMNS]))
    decoded = fmt.decode(fmt.encode(table), topic="typed")  # type: ignore[attr-defined]
    assert decoded.num_errors == 0
    got = decoded.table.to_pylist()
    assert got[0] == ROWS[0] | {"LIMITS": [("eu", decimal.Decimal("100000"))]}
    assert got[1] == ROWS[1]


def test_the_wire_form_is_confluents_decimal_and_an_impossible_date_is_an_error_row() -> None:
    fmt = create_format("PROTOBUF_NOSR", COLUMNS)
    descriptor = build(proto_text(COLUMNS, None))[0]
    message = message_factory.GetMessageClass(descriptor)()
    message.AMOUNT.value, message.AMOUNT.scale = (-1234567891).to_bytes(5, "big", signed=True), 3
    message.D.year, message.D.month, message.D.day = 2024, 13, 1
    good = message_factory.GetMessageClass(descriptor)()
    good.AMOUNT.value, good.AMOUNT.scale = b"\x01\x00", 1  # 256 at scale 1: 25.6, read at the column's scale
    decoded = fmt.decode(pa.array([message.SerializeToString(), good.SerializeToString()], pa.binary()), topic="t")
    assert decoded.error_rows.tolist() == [0]
    assert "month must be in 1..12" in decoded.error_reasons[0]
    assert decoded.table.column("AMOUNT").to_pylist() == [None, decimal.Decimal("25.600")]
