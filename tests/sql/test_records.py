"""RecordCodec: one record serialised and deserialised with a source's formats (the public serde API)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from headwater.errors import FormatError
from headwater.log import Record
from headwater.session import Session
from headwater.sql.records import RecordCodec


@pytest.fixture
def session(tmp_path: Path) -> Session:
    with Session(str(tmp_path / "log"), properties={"auto.offset.reset": "earliest"}) as opened:
        opened.execute("""
            CREATE STREAM p (id INT KEY, name STRING, d DECIMAL(4, 2)) WITH (kafka_topic='p', format='JSON', partitions=1);
            CREATE STREAM q (k1 STRING KEY, k2 INT KEY, name STRING) WITH (kafka_topic='q', format='DELIMITED', partitions=1);
            CREATE TABLE w (id STRING PRIMARY KEY, c BIGINT) WITH (kafka_topic='w', format='JSON', window_type='SESSION', partitions=1);
            CREATE TABLE h (id STRING PRIMARY KEY, c BIGINT) WITH (kafka_topic='h', format='JSON', window_type='TUMBLING', window_size='10 SECONDS', partitions=1);
        """)
        yield opened  # type: ignore[misc]


def test_round_trips_with_each_sources_formats(session: Session) -> None:
    codec = RecordCodec(session.catalog.get("P"))
    key, value = codec.serialize({"id": 7, "NAME": "x", "d": Decimal("12.30")})
    assert (key, value) == (b"7", b'{"NAME":"x","D":12.30}')
    assert codec.deserialize(key, value) == {"ID": 7, "NAME": "x", "D": Decimal("12.30")}
    delimited = RecordCodec(session.catalog.get("Q"))
    assert delimited.serialize({"K1": "a", "K2": 1, "NAME": "n"}) == (b"a,1", b"n")
    assert delimited.serialize(None, key={"K1": "a", "K2": 1}) == (b"a,1", None)  # a tombstone
    assert delimited.deserialize(b"a,1", None) is None


def test_windowed_keys_carry_their_window(session: Session) -> None:
    sessions = RecordCodec(session.catalog.get("W"))
    key, value = sessions.serialize({"ID": "a", "C": 3}, window=(1000, 2000))
    assert key == b'"a"' + (2000).to_bytes(8, "big") + (1000).to_bytes(8, "big")
    assert sessions.deserialize(key, value) == {"ID": "a", "WINDOWSTART": 1000, "WINDOWEND": 2000, "C": 3}
    tumbling = RecordCodec(session.catalog.get("H"))
    key, value = tumbling.serialize({"ID": "a", "C": 3}, window=(10_000, 20_000))
    assert key == b'"a"' + (10_000).to_bytes(8, "big")
    assert tumbling.deserialize(key, value)["WINDOWEND"] == 20_000  # type: ignore[index]
    with pytest.raises(FormatError, match="windowed"):
        tumbling.serialize({"ID": "a", "C": 3})


def test_json_rows_and_bad_input_are_clear_errors(session: Session) -> None:
    codec = RecordCodec(session.catalog.get("P"))
    assert codec.serialize_json('{"ID": 3, "name": "j", "D": 1.5}') == (b"3", b'{"NAME":"j","D":1.50}')
    with pytest.raises(FormatError, match="INTEGER"):
        codec.serialize_json('{"ID": "x"}')
    with pytest.raises(FormatError):
        codec.deserialize(b"1", b"not json")
    with pytest.raises(FormatError):
        codec.serialize({"ID": "not a number"})


def test_records_written_with_the_codec_are_read_by_queries(session: Session) -> None:
    session.execute("CREATE STREAM big AS SELECT id, name FROM p WHERE d > 10;")
    codec = RecordCodec(session.catalog.get("P"))
    for row in ({"ID": 1, "NAME": "a", "D": Decimal("11.00")}, {"ID": 2, "NAME": "b", "D": Decimal("1.00")}):
        key, value = codec.serialize(row)
        session.log.append("p", 0, [Record(value, key, 5)])
    session.wait_until_processed()
    out = session.log.read("BIG", 0, 0).records.to_pylist()
    sink = RecordCodec(session.catalog.get("BIG"))
    assert [sink.deserialize(r["key"], r["value"]) for r in out] == [{"ID": 1, "NAME": "a"}]
