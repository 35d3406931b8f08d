"""The envelope and the pgoutput decoder without a database."""

from __future__ import annotations

import struct

import orjson
import pytest

from headwater.connect.api import ConnectError
from headwater.connect.cdc.envelope import EnvelopeBuilder, Table
from headwater.connect.cdc.pgoutput import UNCHANGED, Begin, Commit, DecodeError, Relation, Update, decode, lsn_int, \
    lsn_text
from headwater.connect.cdc.types import TypeModes, plain, timestamp_column
from headwater.connect.converters import JsonConverter
from headwater.connect.policy import ConnectPolicy

TABLE = Table("public", "people", (plain("id", "int32", False, int), plain("name", "string", True, str)), ("id",))


def test_a_primary_key_change_is_a_delete_a_tombstone_and_a_create_with_the_other_key_in_a_header() -> None:
    builder = EnvelopeBuilder("postgresql", {"topic.prefix": "pg"})
    source = builder.source(TABLE, 1000, lsn=5)
    records = builder.change(TABLE, "u", {"id": 1, "name": "a"}, {"id": 2, "name": "a"}, source, {"server": "pg"},
                             {"lsn_commit": 5})
    assert [(r.key, r.value and r.value["op"]) for r in records] == [({"id": 1}, "d"), ({"id": 1}, None),
                                                                      ({"id": 2}, "c")]
    assert records[0].headers == (("__debezium.newkey", b'{"id":2}'),)
    assert records[2].headers == (("__debezium.oldkey", b'{"id":1}'),)
    assert {r.topic for r in records} == {"pg.public.people"}


def test_tombstones_off_and_the_schema_envelope_through_the_json_converter() -> None:
    builder = EnvelopeBuilder("mysql", {"topic.prefix": "my", "tombstones.on.delete": "false"})
    table = Table("shop", "people", TABLE.columns, TABLE.key)
    source = builder.source(table, 1000, server_id=1, file="bin.000001", pos=4, row=0)
    (record,) = builder.change(table, "d", {"id": 1, "name": "a"}, None, source, {"server": "my"}, {"pos": 4})
    converter = JsonConverter()
    converter.configure({}, is_key=False)
    body = orjson.loads(converter.from_connect(record.topic, record.value_schema, record.value) or b"")
    assert body["schema"]["name"] == "my.shop.people.Envelope"
    assert [f["field"] for f in body["schema"]["fields"]] == ["before", "after", "source", "op", "ts_ms",
                                                             "transaction"]
    assert body["payload"]["source"]["db"] == "shop" and body["payload"]["source"]["file"] == "bin.000001"
    assert body["payload"]["before"] == {"id": 1, "name": "a"} and body["payload"]["after"] is None


def test_modes_are_checked() -> None:
    with pytest.raises(ConnectError, match="decimal.handling.mode"):
        TypeModes.from_config({"decimal.handling.mode": "exact"})
    column = timestamp_column("t", True, TypeModes(time_precision="connect"), 6, lambda v: v)
    assert column.schema.name == "org.apache.kafka.connect.data.Timestamp"


def _tuple(*values: bytes | None) -> bytes:
    out = struct.pack(">h", len(values))
    for value in values:
        out += b"n" if value is None else b"t" + struct.pack(">i", len(value)) + value
    return out


def test_pgoutput_messages_decode() -> None:
    begin = decode(b"B" + struct.pack(">qqI", 0x16B374D848, 1_000_000, 42))
    assert begin == Begin(0x16B374D848, 1_000_000 + 946_684_800_000_000, 42)
    assert decode(b"C" + struct.pack(">bqqq", 0, 10, 20, 0)) == Commit(10, 20, 946_684_800_000_000)
    relation = decode(b"R" + struct.pack(">I", 7) + b"public\0people\0f" + struct.pack(">h", 1)
                      + struct.pack(">b", 1) + b"id\0" + struct.pack(">Ii", 23, -1))
    assert isinstance(relation, Relation) and relation.columns[0].key and relation.replica_identity == "f"
    update = decode(b"U" + struct.pack(">I", 7) + b"O" + _tuple(b"1", None) + b"N" + struct.pack(">h", 2)
                    + b"t" + struct.pack(">i", 1) + b"1" + b"u")
    assert update == Update(7, "O", ("1", None), ("1", UNCHANGED))
    with pytest.raises(DecodeError):
        decode(b"I" + struct.pack(">I", 7) + b"X")
    assert lsn_text(0x16B374D848) == "16/B374D848" and lsn_int("16/B374D848") == 0x16B374D848


def test_a_confined_server_refuses_cdc_hosts_it_does_not_allow(tmp_path: object) -> None:
    policy = ConnectPolicy.confined(str(tmp_path), ["127.0.0.1"])
    assert policy.check({"database.hostname": "127.0.0.1", "database.port": "5432"}) == {}
    refused = policy.check({"database.hostname": "db.internal", "database.port": "5432"})
    assert "db.internal:5432" in refused["database.hostname"][0]
    assert "connection.uri" in policy.check({"connection.uri": "mongodb://user:pw@127.0.0.1,evil:27017/db"})
    assert policy.check({"connection.uri": "mongodb://127.0.0.1:27017"}) == {}
