"""The Elasticsearch sink against an Elasticsearch-compatible server (tests/connect/search_server.py)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

import orjson
import pytest

from headwater.connect.elasticsearch import ElasticsearchSinkConnector
from headwater.connect.runtime import ConnectRuntime
from headwater.log import Log, Record
from tests.connect.conftest import wait_until
from tests.connect.search_server import SearchServer, search_server

Factory = Callable[[], ConnectRuntime]


@pytest.fixture
def es() -> Iterator[SearchServer]:
    with search_server() as server:
        yield server


def sink(es: SearchServer, **extra: str) -> dict[str, str]:
    return {"connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
            "connection.url": es.url, "topics": "PAGES_PER_USER", "type.name": "",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false", "retry.backoff.ms": "10", **extra}


def table_changes(log: Log, changes: list[tuple[bytes, bytes | None]], topic: str = "PAGES_PER_USER") -> None:
    log.create_topic(topic, 1, exist_ok=True)
    log.append(topic, 0, [Record(value, key) for key, value in changes])


def test_documents_by_key_updates_and_tombstone_deletes(es: SearchServer, connect_log: Log,
                                                         runtime_factory: Factory) -> None:
    table_changes(connect_log, [(b"u1", b'{"PAGES": 1}'), (b"u2", b'{"PAGES": 5}'), (b"u1", b'{"PAGES": 2}'),
                                (b"u2", None)])
    runtime = runtime_factory()
    runtime.create("es", sink(es, **{"behavior.on.null.values": "delete"}))
    wait_until(lambda: es.indexes.get("pages_per_user") == {"u1": {"PAGES": 2}}, what="u1 updated, u2 deleted")
    table_changes(connect_log, [(b"u3", b'{"PAGES": 7}')])
    wait_until(lambda: "u3" in es.indexes["pages_per_user"], what="a later change")


def test_key_ignore_ids_and_retries_after_rejections(es: SearchServer, connect_log: Log,
                                                      runtime_factory: Factory) -> None:
    es.fail_next(2, 429)
    table_changes(connect_log, [(b"k", orjson.dumps({"N": i})) for i in range(5)], topic="clicks")
    runtime = runtime_factory()
    runtime.create("es", sink(es, topics="clicks", **{"key.ignore": "true"}))
    wait_until(lambda: len(es.indexes.get("clicks", {})) == 5, what="5 documents")
    assert sorted(es.indexes["clicks"]) == [f"clicks+0+{i}" for i in range(5)]
    assert es.bulk_requests >= 3  # two refused, then accepted


def test_windowed_keys_become_key_at_window_start(es: SearchServer, connect_log: Log,
                                                   runtime_factory: Factory) -> None:
    start = 1_700_000_000_000
    table_changes(connect_log, [(b"u1" + struct.pack(">q", start), b'{"N": 3}')], topic="per_min")
    runtime = runtime_factory()
    runtime.create("es", sink(es, topics="per_min", **{
        "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter", "key.window.type": "TUMBLING"}))
    wait_until(lambda: es.indexes.get("per_min") == {f"u1@{start}": {"N": 3}}, what="the windowed document")


def test_a_mapping_conflict_fails_the_record_or_is_dropped(es: SearchServer, connect_log: Log,
                                                           runtime_factory: Factory) -> None:
    table_changes(connect_log, [(b"a", b'{"N": 1}'), (b"b", b'{"N": "not a number"}'), (b"c", b'{"N": 3}')],
                  topic="mixed")
    runtime = runtime_factory()
    runtime.create("es", sink(es, topics="mixed", **{"behavior.on.malformed.documents": "warn"}))
    wait_until(lambda: sorted(es.indexes.get("mixed", {})) == ["a", "c"], what="a and c, b dropped")
    runtime.create("es-strict", sink(es, topics="mixed2"))
    table_changes(connect_log, [(b"a", b'{"N": 1}'), (b"b", b'{"N": "oops"}')], topic="mixed2")
    wait_until(lambda: (runtime.status("es-strict")["tasks"] or [{}])[0].get("state") == "FAILED",
               what="the task failing on the refused document")
    assert "mapper_parsing_exception" in runtime.status("es-strict")["tasks"][0]["trace"]


def test_credentials_of_sinks_and_converters_are_hidden(connect_log: Log, runtime_factory: Factory) -> None:
    runtime = runtime_factory()
    runtime.create("es-secret", {"connector.class": "ElasticsearchSinkConnector", "topics": "x",
                                 "connection.url": "http://127.0.0.1:9", "connection.password": "es-pw",
                                 "value.converter": "io.confluent.connect.avro.AvroConverter",
                                 "value.converter.basic.auth.user.info": "user:registry-pw"})
    runtime.create("s3-secret", {"connector.class": "S3SinkConnector", "topics": "x", "s3.bucket.name": "b",
                                 "flush.size": "1", "store.url": "http://127.0.0.1:9",
                                 "aws.secret.access.key": "aws-pw"})
    shown = {**runtime.info("es-secret")["config"], **runtime.info("s3-secret")["config"]}
    assert shown["connection.password"] == shown["aws.secret.access.key"] == "[hidden]"
    assert shown["value.converter.basic.auth.user.info"] == "[hidden]"


SCHEMA = {"type": "struct", "name": "pages.Row", "optional": False, "fields": [
    {"field": "USER", "type": "string", "optional": True},
    {"field": "PAGES", "type": "int64", "optional": True, "default": 0},
    {"field": "SHARE", "type": "float64", "optional": True},
    {"field": "SEEN", "type": "int64", "optional": True, "name": "org.apache.kafka.connect.data.Timestamp"},
    {"field": "TAGS", "type": "array", "optional": True, "items": {"type": "string", "optional": True}},
    {"field": "WHERE", "type": "struct", "optional": True, "fields": [
        {"field": "CITY", "type": "string", "optional": True}, {"field": "OK", "type": "boolean", "optional": True}]},
    {"field": "SMALL", "type": "int16", "optional": True}]}


def enveloped(payload: dict[str, object]) -> bytes:
    return orjson.dumps({"schema": SCHEMA, "payload": payload})


def test_the_index_is_mapped_from_the_value_schema_before_the_first_write(
        es: SearchServer, connect_log: Log, runtime_factory: Factory) -> None:
    row = {"USER": "ada", "PAGES": 3, "SHARE": 0.5, "SEEN": 1_700_000_000_000, "TAGS": ["a"],
           "WHERE": {"CITY": "Oslo", "OK": True}, "SMALL": 2}
    table_changes(connect_log, [(b"ada", enveloped(row))], topic="mapped")
    runtime = runtime_factory()
    runtime.create("es", sink(es, topics="mapped", **{"value.converter.schemas.enable": "true"}))
    wait_until(lambda: "ada" in es.indexes.get("mapped", {}), what="the document")
    text = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    assert es.explicit["mapped"] == {"properties": {
        "USER": text, "PAGES": {"type": "long", "null_value": 0}, "SHARE": {"type": "double"},
        "SEEN": {"type": "date"}, "TAGS": text,
        "WHERE": {"properties": {"CITY": text, "OK": {"type": "boolean"}}}, "SMALL": {"type": "short"}}}
    # The mapping holds: a value a dynamic mapping would take is refused as Elasticsearch refuses it.
    table_changes(connect_log, [(b"bob", orjson.dumps({"schema": SCHEMA, "payload": {**row, "USER": "bob"}})),
                                (b"eve", orjson.dumps({"payload": {"PAGES": "many"}, "schema": {
                                    "type": "struct", "optional": False, "fields": [
                                        {"field": "PAGES", "type": "string", "optional": True}]}}))],
                  topic="mapped")
    wait_until(lambda: (runtime.status("es")["tasks"] or [{}])[0].get("state") == "FAILED", what="eve refused")
    assert "failed to parse field [PAGES] of type [long]" in runtime.status("es")["tasks"][0]["trace"]
    assert sorted(es.indexes["mapped"]) == ["ada", "bob"]


def test_schema_ignore_and_schemaless_values_leave_the_mapping_dynamic(
        es: SearchServer, connect_log: Log, runtime_factory: Factory) -> None:
    table_changes(connect_log, [(b"a", enveloped({"USER": "a", "PAGES": 1}))], topic="ignored")
    table_changes(connect_log, [(b"a", b'{"N": 1}')], topic="schemaless")
    runtime = runtime_factory()
    runtime.create("es-ignore", sink(es, topics="ignored", **{"value.converter.schemas.enable": "true",
                                                              "schema.ignore": "true"}))
    runtime.create("es-schemaless", sink(es, topics="schemaless"))
    wait_until(lambda: "a" in es.indexes.get("ignored", {}) and "a" in es.indexes.get("schemaless", {}),
               what="two documents")
    assert es.explicit == {}


def test_data_streams_get_create_ops_and_a_timestamp(es: SearchServer, connect_log: Log,
                                                     runtime_factory: Factory) -> None:
    connect_log.create_topic("clicks", 1, exist_ok=True)
    connect_log.append("clicks", 0, [Record(b'{"N": 1}', b"k1", 1_700_000_000_000),
                                     Record(b'{"N": 2, "AT": "2024-05-01T00:00:00Z"}', b"k2", 1_700_000_000_001),
                                     Record(b'{"N": 3, "@timestamp": 5}', b"k3", 1_700_000_000_002)])
    runtime = runtime_factory()
    runtime.create("es", sink(es, topics="clicks", **{"data.stream.type": "LOGS", "data.stream.dataset": "web",
                                                      "data.stream.timestamp.field": "AT"}))
    wait_until(lambda: len(es.indexes.get("logs-web-clicks", {})) == 3, what="three documents in the stream")
    docs = es.indexes["logs-web-clicks"]
    assert "logs-web-clicks" in es.data_streams
    assert es.explicit == {"logs-web-clicks": {"properties": {"@timestamp": {"type": "date"}}}}  # no mapping put
    assert [docs[k]["@timestamp"] for k in ("k1", "k2", "k3")] == [1_700_000_000_000, "2024-05-01T00:00:00Z", 5]
    # A replay (the same ids) answers 409 per document, which the sink counts as written.
    runtime.close()
    runtime = runtime_factory()
    runtime.create("es-again", sink(es, topics="clicks", **{"data.stream.type": "LOGS",
                                                            "data.stream.dataset": "web"}))
    wait_until(lambda: runtime.offsets("es-again")["offsets"] != [], what="the replay committed")
    assert len(es.indexes["logs-web-clicks"]) == 3


def test_data_stream_settings_are_checked(es: SearchServer) -> None:
    def errors(**extra: str) -> dict[str, list[str]]:
        return ElasticsearchSinkConnector.validate(sink(es, **extra))

    assert errors(**{"data.stream.type": "METRICS", "data.stream.dataset": "cpu"}) == {}
    assert "data.stream.dataset" in errors(**{"data.stream.type": "LOGS"})
    assert "data.stream.dataset" in errors(**{"data.stream.type": "LOGS", "data.stream.dataset": "Web-1"})
    assert "data.stream.type" in errors(**{"data.stream.type": "TRACES", "data.stream.dataset": "x"})
    assert "write.method" in errors(**{"data.stream.type": "LOGS", "data.stream.dataset": "x",
                                       "write.method": "upsert"})
