"""A read-only Session next to the owner of the service: it reads everything and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.engine.pull import PullResult
from headwater.log import open_log
from headwater.session import ReadOnlySessionError, Session
from tests.engine.owner_process import STATEMENTS, click

REFUSED = [
    "CREATE STREAM more (seq INT) WITH (KAFKA_TOPIC='more', VALUE_FORMAT='JSON', PARTITIONS=1);",
    "CREATE STREAM big AS SELECT * FROM clicks WHERE bytes > 500 EMIT CHANGES;",
    "INSERT INTO copied SELECT seq, userid, bytes FROM clicks EMIT CHANGES;",
    "INSERT INTO clicks (seq, userid, bytes) VALUES (1, 2, 3);",
    "DROP STREAM copied;",
    "TERMINATE CSAS_COPIED_1;",
    "CREATE SINK CONNECTOR s WITH ('connector.class'='FileStreamSink', 'topics'='clicks', 'file'='x');",
]


def rows(result: object) -> list[list[object]]:
    assert isinstance(result, PullResult)
    return sorted(result.rows, key=repr)


def test_a_read_only_session_reads_and_refuses_writes(tmp_path: Path) -> None:
    root = str(tmp_path / "data")
    with Session(root, properties={"auto.offset.reset": "earliest"}) as owner:
        owner.log.create_topic("clicks", 1)
        owner.execute(STATEMENTS)
        owner.log.append("clicks", 0, [click(i) for i in range(500)])
        owner.wait_until_processed(60)
        expected = rows(owner.query("SELECT * FROM per_min WHERE userid = 3;"))
        everything = rows(owner.query("SELECT * FROM per_min;"))
        ends = {t: owner.log.end_offset(t, 0) for t in owner.log.list_topics()}

        with Session(root, read_only=True) as reader:
            assert reader.claim is None and reader.queries.keys() == owner.queries.keys()
            shown = reader.execute("SHOW STREAMS; SHOW TABLES; DESCRIBE per_min; SHOW QUERIES;")
            assert len(shown) == 4 and "PER_MIN" in repr(shown[1]) and "COPIED" in repr(shown[0])
            assert rows(reader.query("SELECT * FROM per_min WHERE userid = 3;")) == expected
            assert rows(reader.query("SELECT * FROM per_min;")) == everything and len(everything) == 40
            printed = list(reader.print_topic("PRINT clicks FROM BEGINNING LIMIT 3;", idle_timeout_s=5))
            assert sum('"seq"' in line for line in printed) == 3, printed
            push = reader.query("SELECT seq FROM clicks EMIT CHANGES LIMIT 2;", {"auto.offset.reset": "earliest"})
            assert [row[0] for row in push.rows(timeout_s=10)] == [0, 1]  # type: ignore[union-attr]
            for statement in REFUSED:
                with pytest.raises(ReadOnlySessionError, match="read-only.*headwater up"):
                    reader.execute(statement)
            with pytest.raises(ReadOnlySessionError, match="connectors"):
                reader.execute("SHOW CONNECTORS;")

            # The owner goes on; a pull query of the reader sees its latest commit.
            owner.log.append("clicks", 0, [click(i) for i in range(500, 800)])
            owner.wait_until_processed(60)
            assert rows(reader.query("SELECT * FROM per_min WHERE userid = 3;")) == rows(
                owner.query("SELECT * FROM per_min WHERE userid = 3;"))

        assert [q.state.name for q in owner.queries.values()] == ["RUNNING", "RUNNING"]  # the reader stopped none
    with open_log(root) as log:  # the reader wrote nothing: no command, no topic, no record
        for topic, end in ends.items():
            if topic not in ("clicks", "COPIED", "PER_MIN") and "changelog" not in topic:
                assert log.end_offset(topic, 0) == end, topic
        assert set(log.list_topics()) == set(ends)
