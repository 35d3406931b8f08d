"""AvroConverter with Headwater's registry: a datagen source writes Avro, a file sink and a stream read it."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import fastavro
import pytest

from headwater.connect.converters import ConversionError, converter_from_config
from headwater.connect.data import ConnectSchema, Field
from headwater.connect.runtime import ConnectRuntime
from headwater.log import Log, Record
from headwater.registry.store import local_registry
from headwater.session import Session
from tests.connect.conftest import lines, wait_until

AVRO = "io.confluent.connect.avro.AvroConverter"


def test_round_trip_registers_under_the_topic_subject(connect_log: Log) -> None:
    converter = converter_from_config({"value.converter": AVRO}, is_key=False, log=connect_log)
    schema = ConnectSchema("struct", name="shop.Order", fields=(
        Field("id", ConnectSchema("int64")), Field("note", ConnectSchema("string", optional=True)),
        Field("tags", ConnectSchema("map", key_schema=ConnectSchema("string"),
                                    value_schema=ConnectSchema("int32")))))
    data = converter.from_connect("orders", schema, {"id": 7, "note": None, "tags": {"a": 1}})
    assert data is not None and data[0] == 0
    registered = local_registry(connect_log).version("orders-value")
    assert int.from_bytes(data[1:5], "big") == registered.schema_id
    plain = fastavro.schemaless_reader(io.BytesIO(data[5:]), fastavro.parse_schema(json.loads(
        registered.schema.text)), None)
    assert plain == {"id": 7, "note": None, "tags": {"a": 1}}
    back_schema, back = converter.to_connect("orders", data)
    assert back == {"id": 7, "note": None, "tags": {"a": 1}}
    assert back_schema is not None and back_schema.name == "shop.Order"
    with pytest.raises(ConversionError, match="Unknown magic byte"):
        converter.to_connect("orders", b'{"id": 7}')


def test_datagen_avro_to_a_file_sink_and_an_inferred_stream(
        connect_log: Log, runtime_factory: Callable[[], ConnectRuntime], tmp_path: Path) -> None:
    runtime = runtime_factory()
    runtime.create("gen", {"connector.class": "DatagenConnector", "kafka.topic": "pageviews",
                           "quickstart": "pageviews", "iterations": "20", "max.interval": "1",
                           "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                           "value.converter": AVRO})
    wait_until(lambda: "pageviews" in connect_log.list_topics()
               and connect_log.end_offset("pageviews", 0) >= 20, what="20 Avro records")
    out = tmp_path / "out.txt"
    runtime.create("sink", {"connector.class": "FileStreamSink", "topics": "pageviews", "file": str(out),
                            "value.converter": AVRO})
    wait_until(lambda: len(lines(out)) == 20, what="20 lines")
    first = json.loads(lines(out)[0])
    assert set(first) == {"viewtime", "userid", "pageid"}
    runtime.close()
    with Session(connect_log, properties={"auto.offset.reset": "earliest"}) as session:
        session.execute("CREATE STREAM PAGEVIEWS WITH (kafka_topic='pageviews', value_format='AVRO');")
        described = session.execute("DESCRIBE PAGEVIEWS;")[0]["sourceDescription"]["fields"]
        assert [f["name"] for f in described] == ["VIEWTIME", "USERID", "PAGEID"]
        rows = session.query("SELECT USERID, PAGEID FROM PAGEVIEWS EMIT CHANGES LIMIT 20;")
        got = list(rows.rows(timeout_s=5.0))
        rows.close()
        assert [r[1] for r in got] == [json.loads(x)["pageid"] for x in lines(out)]


def test_json_schema_converter_round_trip_and_a_json_sr_stream_reads_it(connect_log: Log) -> None:
    converter = converter_from_config({"value.converter": "io.confluent.connect.json.JsonSchemaConverter"},
                                      is_key=False, log=connect_log)
    schema = ConnectSchema("struct", name="Click", fields=(
        Field("id", ConnectSchema("int32")), Field("page", ConnectSchema("string", optional=True))))
    connect_log.create_topic("clicks", 1)
    values = [converter.from_connect("clicks", schema, {"id": i, "page": f"/p{i}"}) for i in range(3)]
    assert all(v is not None and v[0] == 0 for v in values)
    back_schema, back = converter.to_connect("clicks", values[1])
    assert back == {"id": 1, "page": "/p1"} and back_schema is not None and back_schema.field("id") is not None
    connect_log.append("clicks", 0, [Record(v) for v in values])
    with Session(connect_log, properties={"auto.offset.reset": "earliest"}) as session:
        session.execute("CREATE STREAM CLICKS WITH (kafka_topic='clicks', value_format='JSON_SR');")
        query = session.query("SELECT ID, PAGE FROM CLICKS EMIT CHANGES LIMIT 3;")
        rows = list(query.rows(timeout_s=5.0))
        query.close()
    assert rows == [[0, "/p0"], [1, "/p1"], [2, "/p2"]]


def test_protobuf_converter_round_trip_and_a_protobuf_stream_reads_it(connect_log: Log) -> None:
    converter = converter_from_config({"value.converter": "io.confluent.connect.protobuf.ProtobufConverter"},
                                      is_key=False, log=connect_log)
    schema = ConnectSchema("struct", name="shop.Order", fields=(
        Field("id", ConnectSchema("int64")), Field("item", ConnectSchema("string", optional=True)),
        Field("tags", ConnectSchema("array", value_schema=ConnectSchema("string")))))
    connect_log.create_topic("orders", 1)
    values = [converter.from_connect("orders", schema, {"id": i, "item": f"i{i}", "tags": ["a"] * i})
              for i in range(1, 4)]
    back_schema, back = converter.to_connect("orders", values[0])
    assert back == {"id": 1, "item": "i1", "tags": ["a"]}
    assert back_schema is not None and back_schema.name == "shop.Order"
    assert "message Order" in local_registry(connect_log).version("orders-value").schema.text
    connect_log.append("orders", 0, [Record(v) for v in values])
    with Session(connect_log, properties={"auto.offset.reset": "earliest"}) as session:
        session.execute("CREATE STREAM ORDERS WITH (kafka_topic='orders', value_format='PROTOBUF');")
        query = session.query("SELECT ID, ITEM, TAGS FROM ORDERS EMIT CHANGES LIMIT 3;")
        rows = list(query.rows(timeout_s=5.0))
        query.close()
    assert rows == [[1, "i1", ["a"]], [2, "i2", ["a", "a"]], [3, "i3", ["a", "a", "a"]]]
