"""AVRO, JSON_SR, PROTOBUF and PROTOBUF_NOSR on arbitrary bytes: every record decodes or has a reason; a
round trip through encode gives the rows back."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.formats import create_format
from headwater.formats.registered import wire_header
from headwater.registry.store import LogSchemaRegistry
from headwater.sql.types import BIGINT, DOUBLE, INTEGER, STRING, TIMESTAMP, ArrayType, MapType, StructField, StructType

COLUMNS = [("ID", BIGINT), ("NAME", STRING), ("SCORE", DOUBLE), ("TAGS", ArrayType(STRING)),
           ("ATTRS", MapType(STRING, INTEGER)), ("ADDR", StructType((StructField("CITY", STRING),))),
           ("AT", TIMESTAMP)]
FORMATS = ["AVRO", "JSON_SR", "PROTOBUF", "PROTOBUF_NOSR"]


def make(name: str, registry: LogSchemaRegistry, topic: str) -> object:
    props = {} if name == "PROTOBUF_NOSR" else {"SCHEMA_REGISTRY": registry, "KAFKA_TOPIC": topic}
    return create_format(name, COLUMNS, props)


ROWS = [
    {"ID": 1, "NAME": "ada", "SCORE": 1.5, "TAGS": ["a", "b"], "ATTRS": [("k", 1)], "ADDR": {"CITY": "Oslo"},
     "AT": dt.datetime(2024, 1, 2, 3, 4, 5, 6000)},
    {"ID": 2, "NAME": "bob", "SCORE": None, "TAGS": [], "ATTRS": [], "ADDR": None, "AT": None},
]


@pytest.mark.parametrize("name", FORMATS)
def test_round_trip(name: str, registry: LogSchemaRegistry) -> None:
    fmt = make(name, registry, f"rt-{name.lower()}")
    table = pa.Table.from_pylist(ROWS, schema=pa.schema([(n, t.to_arrow()) for n, t in COLUMNS]))
    encoded = fmt.encode(table)  # type: ignore[attr-defined]
    decoded = fmt.decode(encoded, topic="t")  # type: ignore[attr-defined]
    assert decoded.num_errors == 0
    got = decoded.table.to_pylist()
    assert got[0] == ROWS[0] | {"ATTRS": [("k", 1)]}
    if name.startswith("PROTOBUF"):  # proto3: unset scalars read as defaults, as in ksqlDB
        assert got[1] == ROWS[1] | {"SCORE": 0.0}
    else:
        assert got[1] == ROWS[1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(FORMATS), values=st.lists(st.one_of(
    st.none(), st.binary(max_size=40), st.binary(max_size=40).map(lambda b: wire_header(1) + b),
    st.binary(max_size=40).map(lambda b: wire_header(2) + b"\x00" + b)), min_size=1, max_size=8))
def test_arbitrary_bytes_decode_or_give_a_reason(name: str, values: list[bytes | None],
                                                  registry: LogSchemaRegistry) -> None:
    fmt = make(name, registry, f"fuzz-{name.lower()}")
    if name != "PROTOBUF_NOSR":
        fmt.register_schema()  # type: ignore[attr-defined]
    decoded = fmt.decode(pa.array(values, pa.binary()), topic="fuzz")  # type: ignore[attr-defined]
    assert decoded.table.num_rows == len(values)
    assert len(decoded.error_reasons) == len(decoded.error_rows)
    for row in decoded.error_rows.tolist():
        assert all(decoded.table.column(i)[row].as_py() is None for i in range(decoded.table.num_columns))
    assert set(decoded.null_rows.tolist()) == {i for i, v in enumerate(values) if v is None}
