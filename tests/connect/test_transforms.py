"""Single message transforms and predicates behave as Connect's (schemaless and with schemas)."""

from __future__ import annotations

import datetime as dt

import pytest

from headwater.connect.api import ConnectError
from headwater.connect.data import ConnectSchema, Field, SinkRecord, SourceRecord
from headwater.connect.transform_chain import TransformChain
from headwater.connect.transforms import TransformError

T = "org.apache.kafka.connect.transforms."


def record(value: object, key: object = None, topic: str = "orders", headers=(), value_schema=None) -> SinkRecord:
    return SinkRecord(topic, 2, 41, 1_700_000_000_000, key, value, None, value_schema, tuple(headers))


def test_insert_field_adds_topic_partition_offset_timestamp_and_static() -> None:
    c = TransformChain({"transforms": "ins", "transforms.ins.type": T + "InsertField$Value",
                        "transforms.ins.topic.field": "t", "transforms.ins.partition.field": "p",
                        "transforms.ins.offset.field": "o!", "transforms.ins.timestamp.field": "ts",
                        "transforms.ins.static.field": "source", "transforms.ins.static.value": "web"})
    out = c.apply(record({"id": 1}))
    assert out.value == {"id": 1, "t": "orders", "p": 2, "o": 41, "ts": 1_700_000_000_000, "source": "web"}


def test_insert_field_keeps_the_schema_in_step() -> None:
    schema = ConnectSchema("struct", fields=(Field("id", ConnectSchema("int32")),))
    c = TransformChain({"transforms": "a", "transforms.a.type": "InsertField$Value", "transforms.a.topic.field": "t"})
    out = c.apply(record({"id": 1}, value_schema=schema))
    assert [f.name for f in out.value_schema.fields] == ["id", "t"]


def test_replace_field_include_exclude_and_renames() -> None:
    value = {"a": 1, "b": 2, "c": 3}
    inc = TransformChain({"transforms": "r", "transforms.r.type": T + "ReplaceField$Value",
                          "transforms.r.include": "a,b", "transforms.r.renames": "a:alpha"})
    assert inc.apply(record(value)).value == {"alpha": 1, "b": 2}
    exc = TransformChain({"transforms": "r", "transforms.r.type": T + "ReplaceField$Value",
                          "transforms.r.exclude": "b"})
    assert exc.apply(record(value)).value == {"a": 1, "c": 3}
    with pytest.raises(ConnectError, match="old:new"):
        TransformChain({"transforms": "r", "transforms.r.type": "ReplaceField$Value", "transforms.r.renames": "x"})


def test_value_to_key_then_extract_field_from_key() -> None:
    c = TransformChain({"transforms": "vk,ek", "transforms.vk.type": T + "ValueToKey", "transforms.vk.fields": "id",
                        "transforms.ek.type": T + "ExtractField$Key", "transforms.ek.field": "id"})
    out = c.apply(record({"id": 9, "name": "x"}))
    assert out.key == 9
    assert out.value == {"id": 9, "name": "x"}


def test_extract_field_value_and_refusal_of_non_structs() -> None:
    c = TransformChain({"transforms": "e", "transforms.e.type": T + "ExtractField$Value", "transforms.e.field": "a"})
    assert c.apply(record({"a": {"b": 1}})).value == {"b": 1}
    with pytest.raises(TransformError, match="Only Struct"):
        c.apply(record("plain"))


def test_timestamp_converter_between_unix_string_and_timestamp() -> None:
    to_string = TransformChain({"transforms": "ts", "transforms.ts.type": T + "TimestampConverter$Value",
                                "transforms.ts.field": "at", "transforms.ts.target.type": "string",
                                "transforms.ts.format": "yyyy-MM-dd'T'HH:mm:ss.SSS"})
    assert to_string.apply(record({"at": 1_700_000_000_123})).value == {"at": "2023-11-14T22:13:20.123"}
    to_unix = TransformChain({"transforms": "ts", "transforms.ts.type": "TimestampConverter$Value",
                              "transforms.ts.field": "at", "transforms.ts.target.type": "unix",
                              "transforms.ts.format": "yyyy-MM-dd HH:mm:ss",
                              "transforms.ts.unix.precision": "seconds"})
    assert to_unix.apply(record({"at": "2023-11-14 22:13:20"})).value == {"at": 1_700_000_000}
    whole = TransformChain({"transforms": "ts", "transforms.ts.type": "TimestampConverter$Value",
                            "transforms.ts.target.type": "Timestamp"})
    assert whole.apply(record(0)).value == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(ConnectError, match="target.type"):
        TransformChain({"transforms": "ts", "transforms.ts.type": "TimestampConverter$Value",
                        "transforms.ts.target.type": "weird"})


def test_filter_with_predicates_and_negate() -> None:
    base = {"transforms": "drop", "transforms.drop.type": T + "Filter",
            "predicates": "isTest,tomb,hdr",
            "predicates.isTest.type": T + "predicates.TopicNameMatches", "predicates.isTest.pattern": "test-.*",
            "predicates.tomb.type": T + "predicates.RecordIsTombstone",
            "predicates.hdr.type": T + "predicates.HasHeaderKey", "predicates.hdr.name": "skip"}
    by_topic = TransformChain({**base, "transforms.drop.predicate": "isTest"})
    assert by_topic.apply(record({"a": 1}, topic="test-1")) is None
    assert by_topic.apply(record({"a": 1}, topic="prod")) is not None
    negated = TransformChain({**base, "transforms.drop.predicate": "isTest", "transforms.drop.negate": "true"})
    assert negated.apply(record({"a": 1}, topic="test-1")) is not None
    assert negated.apply(record({"a": 1}, topic="prod")) is None
    tombstones = TransformChain({**base, "transforms.drop.predicate": "tomb"})
    assert tombstones.apply(record(None)) is None
    assert tombstones.apply(record({})) is not None
    headers = TransformChain({**base, "transforms.drop.predicate": "hdr"})
    assert headers.apply(record({}, headers=[("skip", b"1")])) is None
    assert headers.apply(record({}, headers=[("other", b"1")])) is not None


def test_transforms_work_on_source_records_too() -> None:
    c = TransformChain({"transforms": "i", "transforms.i.type": "InsertField$Value", "transforms.i.topic.field": "t"})
    out = c.apply(SourceRecord({"f": 1}, {"p": 2}, "logs", {"line": "x"}))
    assert out.value == {"line": "x", "t": "logs"}


def test_unknown_transform_and_missing_predicate_are_config_errors() -> None:
    with pytest.raises(ConnectError, match="could not be found"):
        TransformChain({"transforms": "x", "transforms.x.type": "com.example.Nope"})
    with pytest.raises(ConnectError, match="predicate"):
        TransformChain({"transforms": "x", "transforms.x.type": "Filter", "transforms.x.predicate": "missing"})


UNWRAP = {"transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState"}


def envelope(op: str, before: dict | None, after: dict | None) -> dict:
    return {"before": before, "after": after, "op": op, "ts_ms": 5,
            "source": {"connector": "postgresql", "table": "customers", "lsn": 77, "ts_ms": 4}}


def test_extract_new_record_state_flattens_and_drops_deletes_by_default() -> None:
    c = TransformChain(UNWRAP)
    assert c.apply(record(envelope("c", None, {"id": 1, "name": "a"}))).value == {"id": 1, "name": "a"}
    assert c.apply(record(envelope("d", {"id": 1}, None))) is None
    tombstone = record(None, key={"id": 1})
    assert c.apply(tombstone) is tombstone


def test_extract_new_record_state_rewrite_and_add_fields() -> None:
    c = TransformChain({**UNWRAP, "transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
                        "transforms.unwrap.add.fields": "op,table,source.ts_ms",
                        "transforms.unwrap.add.headers": "op"})
    deleted = c.apply(record(envelope("d", {"id": 1, "name": "a"}, None)))
    assert deleted.value == {"id": 1, "name": "a", "__deleted": "true", "__op": "d", "__table": "customers",
                             "__source_ts_ms": 4}
    assert ("__op", b"d") in deleted.headers
    assert c.apply(record(None)) is None  # rewrite drops tombstones
    legacy = TransformChain({**UNWRAP, "transforms.unwrap.drop.tombstones": "false",
                             "transforms.unwrap.delete.handling.mode": "rewrite"})
    assert legacy.apply(record(None)) is not None
    to_tombstone = TransformChain({**UNWRAP, "transforms.unwrap.delete.tombstone.handling.mode": "delete-to-tombstone"})
    assert to_tombstone.apply(record(envelope("d", {"id": 1}, None))).value is None
