"""The command log never stops a start: refused statements are not recorded, and a record that is not a
command (or a command that fails on replay) is skipped with a clear log line."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

from headwater.engine.commands import topic_name
from headwater.errors import SqlError
from headwater.log import Record
from headwater.session import Session

COMMANDS = topic_name("default_")


def recorded(session: Session) -> list[str]:
    fetched = session.log.read(COMMANDS, 0, session.log.beginning_offset(COMMANDS, 0), max_records=1000)
    return [orjson.loads(v)["statement"] for v in fetched.records.column("value").to_pylist()]


def test_a_statement_refused_for_its_topic_name_is_not_recorded(tmp_path: Path) -> None:
    with Session(str(tmp_path)) as session:
        session.execute("CREATE STREAM ok (a INT) WITH (kafka_topic='ok', value_format='json', partitions=1);")
        for bad in ("CREATE STREAM s (a INT) WITH (kafka_topic='a b', value_format='json', partitions=1);",
                    "CREATE STREAM s2 WITH (kafka_topic='c/d') AS SELECT a FROM ok;"):
            with pytest.raises(SqlError, match="invalid topic name"):
                session.execute(bad)
        assert len(recorded(session)) == 1
    with Session(str(tmp_path)) as session:  # the next start works and has what was accepted
        assert [s.name for s in session.catalog] == ["OK"]


def test_records_that_are_not_commands_and_commands_that_fail_are_skipped_on_start(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Session(str(tmp_path)) as session:
        session.execute("CREATE STREAM a (x INT) WITH (kafka_topic='a', value_format='json', partitions=1);")
        session.log.append(COMMANDS, 0, [
            Record(b"not json"),
            Record(b'{"streamsProperties": {}}'),
            Record(b'["statement"]'),
            Record(b'{"statement": 42}'),
            Record(None),
            # Recorded by an older version that did not check topic names before recording.
            Record(orjson.dumps({"statement": "CREATE STREAM bad (x INT) WITH (kafka_topic='a b', "
                                              "value_format='json', partitions=1);", "streamsProperties": {}})),
        ])
        session.execute("CREATE STREAM b (x INT) WITH (kafka_topic='b', value_format='json', partitions=1);"
                        "CREATE STREAM c AS SELECT x FROM b;")
    with caplog.at_level(logging.WARNING), Session(str(tmp_path)) as session:
        assert sorted(s.name for s in session.catalog) == ["A", "B", "C"]
        [query] = session.queries.values()
        session.execute("INSERT INTO b (x) VALUES (7);")
        session.wait_until_processed()
        assert query.stats.records_out == 1
    skipped = [r.getMessage() for r in caplog.records if "command log" in r.getMessage()]
    assert len(skipped) == 6
    assert sum("not a command" in m for m in skipped) == 5
    assert any("invalid topic name" in m and "CREATE STREAM bad" in m for m in skipped)
