"""The AVRO format's column-by-column decoder (formats/avro_columns.py) against fastavro record by record:
same values, same error rows, same reasons, for well-formed records of several schemas side by side and
for arbitrary bytes."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import fastavro
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.errors import FormatError
from headwater.formats import avro as avro_module
from headwater.formats import create_format
from headwater.formats.avro_columns import compile_plan
from headwater.formats.registered import wire_header
from headwater.registry.base import Schema
from headwater.registry.store import LogSchemaRegistry
from headwater.sql.types import BIGINT, BOOLEAN, BYTES, DATE, DOUBLE, INTEGER, STRING, TIME, TIMESTAMP, ArrayType
from tests.formats.decode_check import assert_same_decode

COLUMNS = [("ID", BIGINT), ("SMALL", INTEGER), ("NAME", STRING), ("OK", BOOLEAN), ("SCORE", DOUBLE),
           ("RATIO", DOUBLE), ("RAW", BYTES), ("CODE", BYTES), ("COLOUR", STRING), ("DAY", DATE),
           ("AT", TIMESTAMP), ("CLOCK", TIME), ("MISSING", STRING)]
V1 = {"type": "record", "name": "V", "fields": [
    {"name": "id", "type": "long"},
    {"name": "skipped", "type": ["null", "string"]},
    {"name": "small", "type": ["int", "null"]},
    {"name": "name", "type": ["null", "string"]},
    {"name": "ok", "type": "boolean"},
    {"name": "score", "type": ["null", "double"]},
    {"name": "ratio", "type": "float"},
    {"name": "raw", "type": ["null", "bytes"]},
    {"name": "code", "type": {"type": "fixed", "name": "Code", "size": 3}},
    {"name": "colour", "type": ["null", {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}]},
    {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}]},
    {"name": "at", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
    {"name": "clock", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "skipped_long", "type": "long"},
]}
LAST = {"type": "record", "name": "L", "fields": [{"name": "name", "type": "string"}]}  # a string last
V2 = {"type": "record", "name": "V", "fields": [  # an older schema: fewer fields, another order
    {"name": "NAME", "type": "string"}, {"name": "ID", "type": "long"}, {"name": "SMALL", "type": "long"}]}


def _v1(i: int) -> dict[str, Any]:
    return {"id": i * 1_000_003 - 7, "skipped": None if i % 3 else "x" * i, "small": None if i % 4 == 0 else -i,
            "name": None if i % 5 == 0 else f"n{i}é" * (i % 7), "ok": i % 2 == 0, "score": None if i % 2 else i / 3,
            "ratio": i / 4, "raw": None if i % 6 == 0 else bytes(range(i % 200)), "code": b"abc",
            "colour": None if i % 3 == 0 else ("RED", "GREEN")[i % 2], "day": 19000 + i,
            "at": 1_700_000_000_000 + i, "clock": i * 1000, "skipped_long": -(2**62)}


def _record(schema_id: int, schema: Any, value: Any) -> bytes:
    out = io.BytesIO()
    out.write(wire_header(schema_id))
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), value)
    return out.getvalue()


def _both(registry: LogSchemaRegistry, data: pa.Array, columns: Any = None,
          monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[Any, Any]:
    """The decode by column plans and the decode record by record (plans disabled) of the same records."""
    fast = create_format("AVRO", COLUMNS, {"SCHEMA_REGISTRY": registry, "KAFKA_TOPIC": "cols"})
    slow = create_format("AVRO", COLUMNS, {"SCHEMA_REGISTRY": registry, "KAFKA_TOPIC": "cols"})
    got = fast.decode(data, columns, topic="cols")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(avro_module, "compile_plan", lambda *args, **kwargs: None)
        want = slow.decode(data, columns, topic="cols")
    return got, want


def _same(got: Any, want: Any) -> None:
    assert_same_decode(got, want)
    assert got.null_rows.tolist() == want.null_rows.tolist()


def test_plans_cover_ksqldb_schemas_and_decline_the_rest() -> None:
    selected = [(i, name, t) for i, (name, t) in enumerate(COLUMNS)]
    parsed = fastavro.parse_schema(V1, _write_hint=False)
    plan = compile_plan(parsed, selected, wrapped=True)
    assert plan is not None
    assert [f.column for f in plan.fields][:3] == ["ID", None, "SMALL"]
    with_array = dict(V1, fields=[*V1["fields"], {"name": "tags", "type": {"type": "array", "items": "string"}}])
    assert compile_plan(fastavro.parse_schema(with_array, _write_hint=False), selected, wrapped=True) is None
    # A field whose type would need a conversion the record-by-record path makes: declined, not guessed.
    as_string = [(0, "ID", STRING)]
    assert compile_plan(parsed, as_string, wrapped=True) is None
    assert compile_plan(fastavro.parse_schema("string"), [(0, "V", STRING)], wrapped=False) is not None
    assert compile_plan(parsed, [(0, "TAGS", ArrayType(STRING))], wrapped=True) is not None  # absent: null


def test_two_schemas_interleaved_read_as_fastavro_reads_them(registry: LogSchemaRegistry) -> None:
    id1 = registry.register("cols-value", Schema(orjson.dumps(V1).decode(), "AVRO"))
    id2 = registry.register("other-value", Schema(orjson.dumps(V2).decode(), "AVRO"))
    values: list[bytes | None] = []
    for i in range(300):
        if i % 10 == 9:
            values.append(None)
        elif i % 4 == 3:
            values.append(_record(id2, V2, {"NAME": f"old{i}", "ID": i, "SMALL": i}))
        else:
            values.append(_record(id1, V1, _v1(i)))
    got, want = _both(registry, pa.array(values, pa.binary()))
    assert got.num_errors == 0
    _same(got, want)
    row = got.table.slice(1, 1).to_pylist()[0]
    assert row["ID"] == 1_000_003 - 7 and row["NAME"] == "n1é" and row["COLOUR"] == "GREEN"
    assert row["DAY"] == dt.date(1970, 1, 1) + dt.timedelta(days=19001) and row["MISSING"] is None
    three = [("SMALL", INTEGER), ("NAME", STRING), ("AT", TIMESTAMP)]
    _same(*_both(registry, pa.array(values, pa.binary()), three))


def test_bad_records_go_alone_with_fastavros_reasons(registry: LogSchemaRegistry) -> None:
    id1 = registry.register("cols-value", Schema(orjson.dumps(V1).decode(), "AVRO"))
    id2 = registry.register("other-value", Schema(orjson.dumps(V2).decode(), "AVRO"))
    last = registry.register("last-value", Schema(orjson.dumps(LAST).decode(), "AVRO"))
    good = _record(id1, V1, _v1(1))
    bad_utf8 = _record(id1, V1, _v1(2) | {"name": "zz"}).replace(b"zz", b"\xff\xfe")
    def variant(name: str, avro: Any, value: Any) -> bytes:  # a record written with another type for a field
        fields = [dict(f, type=avro) if f["name"] == name else f for f in V1["fields"]]
        return _record(id1, dict(V1, fields=fields), _v1(3) | {name: value})

    big = variant("small", ["long", "null"], 2**40)
    third_branch = variant("skipped", ["null", "string", "int"], 5)
    third_symbol = variant("colour", ["null", {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}],
                           "BLUE")
    values = [good, good[:-3], good + b"\x00", b"\x01" + good[1:], wire_header(999_999) + good[5:], bad_utf8,
              good, good[:5], big, good, third_branch, third_symbol, good[:-1] + b"\x80",
              _record(id2, V2, {"NAME": "x" * 70, "ID": 1, "SMALL": 2})[:6],  # cut inside a 2-byte length
              _record(last, LAST, {"name": "x" * 70})[:6], _record(last, LAST, {"name": "x" * 70})[:-1]]
    got, want = _both(registry, pa.array(values, pa.binary()))
    _same(got, want)
    assert got.error_rows.tolist() == [1, 2, 3, 4, 5, 7, 8, 10, 11, 12, 13, 14, 15]
    assert "Unknown magic byte" in got.error_reasons[2] and "999999" in got.error_reasons[3]
    assert "bytes left after the record" in got.error_reasons[1]
    ids = got.table.column("ID").to_pylist()
    assert [ids[row] for row in (0, 6, 9)] == [1_000_003 - 7] * 3 and ids[1] is None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.none(), st.binary(max_size=80), st.integers(0, 299), st.tuples(st.integers(0, 299),
                                                                                          st.integers(5, 120))),
                max_size=25))
def test_arbitrary_bytes_read_as_fastavro_reads_them(registry: LogSchemaRegistry, items: list[Any]) -> None:
    id1 = registry.register("cols-value", Schema(orjson.dumps(V1).decode(), "AVRO"))
    values: list[bytes | None] = []
    for item in items:
        if isinstance(item, int):  # a good record
            values.append(_record(id1, V1, _v1(item)))
        elif isinstance(item, tuple):  # a good record cut short
            values.append(_record(id1, V1, _v1(item[0]))[: item[1]])
        elif isinstance(item, bytes):  # arbitrary bytes behind a valid header
            values.append(wire_header(id1) + item)
        else:
            values.append(None)
    _same(*_both(registry, pa.array(values, pa.binary())))


ENCODED = [("ID", BIGINT), ("SMALL", INTEGER), ("NAME", STRING), ("OK", BOOLEAN), ("SCORE", DOUBLE),
           ("RAW", BYTES), ("DAY", DATE), ("AT", TIMESTAMP), ("CLOCK", TIME)]
REQUIRED_FIRST = {"type": "record", "name": "W", "fields": [  # a schema given by id: other spellings and unions
    {"name": "id", "type": "long"}, {"name": "Small", "type": ["int", "null"]}, {"name": "name", "type": "string"},
    {"name": "ok", "type": ["boolean", "null"]}, {"name": "score", "type": ["null", "double"]},
    {"name": "raw", "type": ["bytes", "null"]}, {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "at", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
    {"name": "clock", "type": ["null", {"type": "int", "logicalType": "time-millis"}]}]}


def _table(rows: int, nulls: bool) -> pa.Table:
    def maybe(i: int, value: Any) -> Any:
        return None if nulls and i % 3 == 0 else value

    data = {"ID": [(-1) ** i * i * 2**40 for i in range(rows)], "SMALL": [maybe(i, -(2**31) + i) for i in range(rows)],
            "NAME": [f"é{i}" * (i % 90) for i in range(rows)], "OK": [maybe(i, i % 2 == 0) for i in range(rows)],
            "SCORE": [maybe(i, i / 7) for i in range(rows)], "RAW": [maybe(i, bytes([i % 256]) * i) for i in range(rows)],
            "DAY": [maybe(i, dt.date(2024, 1, 1) + dt.timedelta(days=i)) for i in range(rows)],
            "AT": [maybe(i, dt.datetime(2024, 1, 1) + dt.timedelta(milliseconds=i * 977)) for i in range(rows)],
            "CLOCK": [maybe(i, dt.time(i % 24, i % 60)) for i in range(rows)]}
    return pa.table({name: pa.array(data[name], sql_type.to_arrow()) for name, sql_type in ENCODED})


@pytest.mark.parametrize("schema_id", [False, True], ids=["ksqldb-schema", "schema-by-id"])
def test_encode_by_columns_writes_fastavros_bytes(registry: LogSchemaRegistry, schema_id: bool) -> None:
    props: dict[str, Any] = {"SCHEMA_REGISTRY": registry, "KAFKA_TOPIC": "enc"}
    if schema_id:
        props["VALUE_SCHEMA_ID"] = registry.register("by-id-value", Schema(orjson.dumps(REQUIRED_FIRST).decode(),
                                                                           "AVRO"))
    table = _table(200, nulls=not schema_id)
    got = create_format("AVRO", ENCODED, props).encode(table)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(avro_module, "compile_encoder", lambda *args, **kwargs: None)
        want = create_format("AVRO", ENCODED, props).encode(table)
    assert got.to_pylist() == want.to_pylist()
    assert create_format("AVRO", ENCODED, props).decode(got, topic="enc").table.equals(table)
    if schema_id:  # a null where the schema has no null: fastavro's error, not a wrong record
        with pytest.raises(FormatError, match="Failed to serialize AVRO value"):
            create_format("AVRO", ENCODED, props).encode(_table(5, nulls=True))
