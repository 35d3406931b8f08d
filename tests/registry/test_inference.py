"""Schema inference keeps the columns it read: a restart does not re-read a subject that has moved on."""

from __future__ import annotations

import json
from pathlib import Path

from headwater.registry.base import Schema
from headwater.session import Session

V1 = {"type": "record", "name": "R", "fields": [
    {"name": "a", "type": "int"}, {"name": "b c", "type": ["null", {"type": "map", "values": "string"}],
                                   "default": None}]}
V2 = {**V1, "fields": [*V1["fields"], {"name": "d", "type": "string", "default": ""}]}


def fields(session: Session, name: str) -> list[str]:
    return [f["name"] for f in session.execute(f"DESCRIBE {name};")[0]["sourceDescription"]["fields"]]


def test_inferred_columns_and_schema_id_are_recorded(tmp_path: Path) -> None:
    url = str(tmp_path / "log")
    with Session(url) as session:
        first = session.schema_registry.register("t-value", Schema(json.dumps(V1)))
        session.execute("CREATE STREAM S WITH (kafka_topic='t', value_format='AVRO', partitions=1);")
        assert fields(session, "S") == ["A", "B C"]
        statement = session.execute("DESCRIBE S;")[0]["sourceDescription"]["statement"]
        assert statement == ("CREATE STREAM S (A INTEGER, `B C` MAP<STRING, STRING>) WITH (KAFKA_TOPIC='t', "
                             f"VALUE_FORMAT='AVRO', PARTITIONS=1, VALUE_SCHEMA_ID={first});")
        session.schema_registry.register("t-value", Schema(json.dumps(V2)))
        session.execute("CREATE STREAM S2 WITH (kafka_topic='t', value_format='AVRO');")
        assert fields(session, "S2") == ["A", "B C", "D"]
    with Session(url) as session:
        assert fields(session, "S") == ["A", "B C"]  # not D: the recorded statement names its columns
        assert fields(session, "S2") == ["A", "B C", "D"]
