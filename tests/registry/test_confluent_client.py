"""Headwater's registry through confluent-kafka's SchemaRegistryClient, AvroSerializer and AvroDeserializer."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import fastavro
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from headwater.log import Record, open_log
from headwater.registry.base import Schema as HeadwaterSchema
from headwater.registry.store import LogSchemaRegistry
from headwater.server import ServerConfig
from tests.server.live import start_server

USER = {"type": "record", "name": "User", "namespace": "demo",
        "fields": [{"name": "name", "type": "string"}, {"name": "age", "type": "int"}]}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[SchemaRegistryClient]:
    """confluent-kafka's client on a real Headwater server's registry (base URL with the /registry path)."""
    server = start_server(ServerConfig(log_url=str(tmp_path / "log")))
    try:
        yield SchemaRegistryClient({"url": f"{server.url}/registry"})
    finally:
        server.stop()


def test_register_fetch_and_ids(client: SchemaRegistryClient) -> None:
    schema_id = client.register_schema("users-value", Schema(json.dumps(USER), "AVRO"))
    again = client.register_schema("users-value", Schema(json.dumps(USER, indent=2), "AVRO"))
    assert again == schema_id  # the same schema (whitespace aside) keeps its id
    other = client.register_schema("people-value", Schema(json.dumps(USER), "AVRO"))
    assert other == schema_id  # ids are global: another subject reuses it
    assert json.loads(client.get_schema(schema_id).schema_str) == USER
    latest = client.get_latest_version("users-value")
    assert (latest.version, latest.schema_id) == (1, schema_id)
    assert sorted(client.get_subjects()) == ["people-value", "users-value"]
    assert client.get_versions("users-value") == [1]
    found = client.lookup_schema("users-value", Schema(json.dumps(USER), "AVRO"))
    assert found.version == 1
    with pytest.raises(SchemaRegistryError) as missing:
        client.get_latest_version("nobody-value")
    assert (missing.value.http_status_code, missing.value.error_code) == (404, 40401)
    with pytest.raises(SchemaRegistryError) as no_id:
        client.get_schema(999)
    assert no_id.value.error_code == 40403
    with pytest.raises(SchemaRegistryError) as bad:
        client.register_schema("bad-value", Schema('{"type": "no_such_type"}', "AVRO"))
    assert (bad.value.http_status_code, bad.value.error_code) == (422, 42201)


def test_compatibility_levels(client: SchemaRegistryClient) -> None:
    client.register_schema("users-value", Schema(json.dumps(USER), "AVRO"))
    assert client.get_compatibility() == "BACKWARD"
    # BACKWARD: a new field needs a default so the new schema can read old data.
    no_default = {**USER, "fields": [*USER["fields"], {"name": "email", "type": "string"}]}
    with_default = {**USER, "fields": [*USER["fields"], {"name": "email", "type": "string", "default": ""}]}
    assert not client.test_compatibility("users-value", Schema(json.dumps(no_default), "AVRO"))
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("users-value", Schema(json.dumps(no_default), "AVRO"))
    assert (refused.value.http_status_code, refused.value.error_code) == (409, 409)
    assert client.test_compatibility("users-value", Schema(json.dumps(with_default), "AVRO"))
    assert client.register_schema("users-value", Schema(json.dumps(with_default), "AVRO")) > 0
    # FORWARD on the subject: the old schema must read new data; dropping a field without default breaks it.
    client.set_compatibility("users-value", "FORWARD")
    assert client.get_compatibility("users-value") == "FORWARD"
    dropped = {**USER, "fields": [USER["fields"][0], {"name": "email", "type": "string", "default": ""}]}
    assert not client.test_compatibility("users-value", Schema(json.dumps(dropped), "AVRO"))
    # int -> long is a promotion a reader of long accepts (BACKWARD), not the reverse (FORWARD).
    widened = {**with_default, "fields": [USER["fields"][0], {"name": "age", "type": "long"},
                                          with_default["fields"][2]]}
    assert not client.test_compatibility("users-value", Schema(json.dumps(widened), "AVRO"))
    client.set_compatibility("users-value", "BACKWARD")
    assert client.test_compatibility("users-value", Schema(json.dumps(widened), "AVRO"))
    client.set_compatibility("users-value", "NONE")
    assert client.test_compatibility("users-value", Schema(json.dumps({"type": "string"}), "AVRO"))


def test_transitive_checks_every_version(client: SchemaRegistryClient) -> None:
    client.set_compatibility("t-value", "BACKWARD")
    v1 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}
    v2 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "int",
                                                                                   "default": 0}]}
    v3 = {"type": "record", "name": "R", "fields": [{"name": "b", "type": "int", "default": 0},
                                                    {"name": "c", "type": "int", "default": 0}]}
    client.register_schema("t-value", Schema(json.dumps(v1), "AVRO"))
    client.register_schema("t-value", Schema(json.dumps(v2), "AVRO"))
    v4 = {"type": "record", "name": "R", "fields": [{"name": "b", "type": "int"}]}
    # v4 reads v2 (b is there) but not v1 (b missing, no default): BACKWARD accepts, BACKWARD_TRANSITIVE refuses.
    assert client.test_compatibility("t-value", Schema(json.dumps(v4), "AVRO"))
    client.set_compatibility("t-value", "BACKWARD_TRANSITIVE")
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("t-value", Schema(json.dumps(v4), "AVRO"))
    assert refused.value.error_code == 409
    assert client.register_schema("t-value", Schema(json.dumps(v3), "AVRO")) > 0


def test_soft_and_hard_delete(client: SchemaRegistryClient) -> None:
    first = client.register_schema("d-value", Schema(json.dumps(USER), "AVRO"))
    with pytest.raises(SchemaRegistryError) as not_soft:
        client.delete_subject("d-value", permanent=True)
    assert not_soft.value.error_code == 40405
    assert client.delete_subject("d-value") == [1]
    assert "d-value" not in client.get_subjects()
    with pytest.raises(SchemaRegistryError) as gone:
        client.get_latest_version("d-value")
    assert gone.value.error_code == 40401
    assert json.loads(client.get_schema(first).schema_str) == USER  # ids stay readable after a soft delete
    assert client.delete_subject("d-value", permanent=True) == [1]
    with pytest.raises(SchemaRegistryError) as twice:
        client.delete_subject("d-value")
    assert twice.value.error_code == 40401


def test_serializer_and_deserializer_round_trip(client: SchemaRegistryClient) -> None:
    serializer = AvroSerializer(client, json.dumps(USER))
    deserializer = AvroDeserializer(client)
    context = SerializationContext("users", MessageField.VALUE)
    data = serializer({"name": "Ada", "age": 36}, context)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == client.get_latest_version("users-value").schema_id
    assert deserializer(data, context) == {"name": "Ada", "age": 36}
    plain = fastavro.schemaless_reader(io.BytesIO(data[5:]), fastavro.parse_schema(USER), None)
    assert plain == {"name": "Ada", "age": 36}


def test_state_survives_a_restart(tmp_path: Path) -> None:
    log = open_log(str(tmp_path))
    try:
        registry = LogSchemaRegistry(log)
        registry.set_compatibility("NONE", "a-value")
        first = registry.register("a-value", registry_schema(USER))
        registry.delete_subject("a-value")
        second = registry.register("b-value", registry_schema({"type": "string"}))
        reopened = LogSchemaRegistry(log)
        assert reopened.schema(first).text == json.dumps(USER, separators=(",", ":"))
        assert reopened.subjects() == ["b-value"] and reopened.subjects(deleted=True) == ["a-value", "b-value"]
        assert reopened.version("b-value").schema_id == second
        assert reopened.compatibility("a-value") == "NONE"
        assert reopened.register("c-value", registry_schema({"type": "long"})) == second + 1
    finally:
        log.close()


def registry_schema(avro: object) -> HeadwaterSchema:
    return HeadwaterSchema(json.dumps(avro))


def test_an_inferred_stream_writes_avro_the_confluent_deserializer_reads(tmp_path: Path) -> None:
    server = start_server(ServerConfig(log_url=str(tmp_path / "log"),
                                       ksql_properties={"auto.offset.reset": "earliest"}))
    try:
        client = SchemaRegistryClient({"url": f"{server.url}/registry"})
        serializer = AvroSerializer(client, json.dumps(USER))
        context = SerializationContext("users", MessageField.VALUE)
        log, session = server.state.log, server.state.session
        log.create_topic("users", 1)
        log.append("users", 0, [Record(serializer({"name": n, "age": a}, context))
                                for n, a in (("ada", 36), ("bob", 17), ("cy", 51))])
        session.execute("CREATE STREAM USERS WITH (kafka_topic='users', value_format='AVRO');")
        session.execute("CREATE STREAM ADULTS AS SELECT UCASE(NAME) AS NAME, AGE FROM USERS WHERE AGE >= 18;")
        session.wait_until_processed(timeout_s=20)
        out = log.read("ADULTS", 0, 0).records.column("value").to_pylist()
        deserializer = AvroDeserializer(client)
        rows = [deserializer(v, SerializationContext("ADULTS", MessageField.VALUE)) for v in out]
        assert rows == [{"NAME": "ADA", "AGE": 36}, {"NAME": "CY", "AGE": 51}]
    finally:
        server.stop()
