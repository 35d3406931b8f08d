"""``ksql.schema.registry.url``: a session keeps its schemas in another registry (here another Headwater's)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from headwater.log import Record
from headwater.server import ServerConfig
from headwater.session import Session
from tests.server.live import start_server

ORDER = {"type": "record", "name": "Order", "fields": [{"name": "id", "type": "long"},
                                                        {"name": "item", "type": "string"}]}


def test_a_session_on_an_external_registry(tmp_path: Path) -> None:
    server = start_server(ServerConfig(log_url=str(tmp_path / "registry-log")))
    try:
        url = f"{server.url}/registry"
        client = SchemaRegistryClient({"url": url})
        serializer = AvroSerializer(client, json.dumps(ORDER))
        context = SerializationContext("orders", MessageField.VALUE)
        with Session(str(tmp_path / "log"), properties={"auto.offset.reset": "earliest",
                                                        "ksql.schema.registry.url": url}) as session:
            session.log.create_topic("orders", 1)
            session.log.append("orders", 0, [Record(serializer({"id": i, "item": f"x{i}"}, context))
                                             for i in range(3)])
            session.execute("CREATE STREAM ORDERS WITH (kafka_topic='orders', value_format='AVRO');")
            session.execute("CREATE STREAM BIG AS SELECT ID, UCASE(ITEM) AS ITEM FROM ORDERS WHERE ID > 0;")
            session.wait_until_processed(timeout_s=20)
            out = session.log.read("BIG", 0, 0).records.column("value").to_pylist()
        assert "BIG-value" in client.get_subjects()  # registered in the external registry, not locally
        deserializer = AvroDeserializer(client)
        assert [deserializer(v, SerializationContext("BIG", MessageField.VALUE)) for v in out] == [
            {"ID": 1, "ITEM": "X1"}, {"ID": 2, "ITEM": "X2"}]
        schema = json.loads(client.get_latest_version("BIG-value").schema.schema_str)
        assert fastavro.schemaless_reader(io.BytesIO(out[0][5:]), fastavro.parse_schema(schema), None) == {
            "ID": 1, "ITEM": "X1"}
    finally:
        server.stop()
