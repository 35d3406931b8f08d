"""Datagen's clickstream records feed the clickstream demo's statements as Connect's datagen would."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from headwater.cli import app
from headwater.session import Session


def test_generated_clickstream_runs_the_demo_statements(tmp_path: Path) -> None:
    log_dir = str(tmp_path / "log")
    result = CliRunner().invoke(app, ["generate", "clickstream", "--count", "2000", "--seed", "3", "--log", log_dir])
    assert result.exit_code == 0, result.output
    with Session(log_dir, properties={"auto.offset.reset": "earliest"}) as session:
        session.execute("""
            CREATE STREAM clickstream (_time bigint, time varchar, ip varchar, request varchar, status int,
                userid int, bytes bigint, agent varchar) WITH (kafka_topic='clickstream', value_format='json');
            CREATE TABLE events_per_min AS SELECT userid AS k1, AS_VALUE(userid) AS userid,
                WINDOWSTART AS EVENT_TS, COUNT(*) AS events
                FROM clickstream WINDOW TUMBLING (SIZE 60 SECOND) GROUP BY userid;
            CREATE TABLE errors_per_min AS SELECT status AS k1, AS_VALUE(status) AS status,
                WINDOWSTART AS EVENT_TS, COUNT(*) AS errors
                FROM clickstream WINDOW HOPPING (SIZE 60 SECOND, ADVANCE BY 5 SECOND) WHERE status > 400
                GROUP BY status;
        """)
        session.wait_until_processed()
        events = session.query("SELECT k1, events FROM events_per_min;").rows
        errors = session.query("SELECT k1 FROM errors_per_min;").rows
    assert isinstance(events, list) and isinstance(errors, list)
    # status and bytes arrive as JSON strings, as from datagen, and are read as INT / BIGINT.
    assert sum(int(str(count)) for _, count in events) == 2000
    assert {user for user, _ in events} <= set(range(-1, 40))
    assert {status for (status,) in errors} == {404, 405, 406, 407}
