"""ksqlDB's connector statements: entity shapes, names as ksqlDB resolves them, one runtime with the REST API."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.errors import SqlSemanticError
from headwater.log import Log, Record
from headwater.session import Session
from tests.connect.conftest import lines, wait_until


@pytest.fixture
def session(connect_log: Log) -> Session:
    opened = Session(connect_log)
    yield opened
    opened.close()


def create_sql(name: str, path: Path, extra: str = "") -> str:
    return (f"CREATE SINK CONNECTOR {name} WITH ('connector.class'='FileStreamSink', 'topics'='events', "
            f"'file'='{path}', 'tasks.max'=1{extra});")


def test_create_show_describe_drop(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "o.txt"
    [created] = session.execute(create_sql("file_sink", out))
    assert created["@type"] == "connector_info"
    assert created["info"]["name"] == "FILE_SINK"  # unquoted: upper-cased, as ksqlDB
    assert created["info"]["config"]["tasks.max"] == "1"  # literals become Connect's strings
    assert created["info"]["type"] == "sink"
    [quoted] = session.execute(create_sql('"lower_sink"', out))
    assert quoted["info"]["name"] == "lower_sink"
    session.connect.wait_for("FILE_SINK")

    [listed] = session.execute("SHOW CONNECTORS;")
    assert listed["@type"] == "connector_list"
    by_name = {c["name"]: c for c in listed["connectors"]}
    assert by_name["FILE_SINK"] == {"name": "FILE_SINK", "type": "sink",
                                    "className": "org.apache.kafka.connect.file.FileStreamSinkConnector",
                                    "state": "RUNNING (1/1 tasks RUNNING)"}
    assert session.execute("SHOW SOURCE CONNECTORS;")[0]["connectors"] == []
    assert len(session.execute("LIST SINK CONNECTORS;")[0]["connectors"]) == 2

    session.execute("CREATE STREAM events (n INT) WITH (kafka_topic='events', value_format='json', partitions=1);")
    [described] = session.execute("DESCRIBE CONNECTOR file_sink;")
    assert described["@type"] == "connector_description"
    assert described["connectorClass"] == "org.apache.kafka.connect.file.FileStreamSinkConnector"
    assert described["status"]["connector"]["state"] == "RUNNING"
    assert described["topics"] == ["events"]
    assert [s["name"] for s in described["sources"]] == ["EVENTS"]  # the streams on the connector's topics

    [dropped] = session.execute("DROP CONNECTOR file_sink;")
    assert dropped == {"@type": "drop_connector", "statementText": "DROP CONNECTOR file_sink;",
                       "connectorName": "FILE_SINK", "warnings": []}
    [warning] = session.execute("DROP CONNECTOR IF EXISTS file_sink;")
    assert warning["@type"] == "warning_entity"
    assert session.connect.names() == ["lower_sink"]


def test_errors_and_if_not_exists(session: Session, tmp_path: Path) -> None:
    session.execute(create_sql("dup", tmp_path / "o.txt"))
    with pytest.raises(SqlSemanticError, match='Failed to create connector: .*"error_code":409'):
        session.execute(create_sql("dup", tmp_path / "o.txt"))
    [warning] = session.execute(create_sql("IF NOT EXISTS dup", tmp_path / "o.txt"))
    assert warning["@type"] == "warning_entity" and "already exists" in warning["message"]
    with pytest.raises(SqlSemanticError, match="Failed to drop connector: .*Connector NOPE not found"):
        session.execute("DROP CONNECTOR nope;")
    with pytest.raises(SqlSemanticError, match="Connector NOPE not found"):
        session.execute("DESCRIBE CONNECTOR nope;")
    with pytest.raises(SqlSemanticError, match="error_code\":400"):
        session.execute("CREATE SINK CONNECTOR broken WITH ('connector.class'='FileStreamSink');")
    with pytest.raises(SqlSemanticError, match="not a source connector"):
        session.execute(f"CREATE SOURCE CONNECTOR wrong WITH ('connector.class'='FileStreamSink', "
                        f"'topics'='events', 'file'='{tmp_path / 'w.txt'}');")
    assert session.connect.names() == ["DUP"]


def test_connectors_come_back_with_a_new_session_on_the_same_log(connect_log: Log, tmp_path: Path) -> None:
    out = tmp_path / "o.txt"
    first = Session(connect_log)
    try:
        first.execute(create_sql("kept", out))
        first.connect.wait_for("KEPT")
    finally:
        first.close()
    connect_log.create_topic("events", 1, exist_ok=True)
    connect_log.append("events", 0, [Record(b'{"n": 1}')])
    second = Session(connect_log)  # nothing asks for the runtime: the session restores it by itself
    try:
        wait_until(lambda: lines(out) == ['{"n":1}'], what="the restored sink to write")
        assert second.connect.names() == ["KEPT"]
    finally:
        second.close()
