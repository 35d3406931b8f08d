"""The clickstream demo's whole statements.sql (3 sources, 11 derived streams and tables), unchanged, on
topics filled by ``headwater generate``: every query runs, and the windowed tables agree with the input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from headwater.log import Log
from headwater.session import Session

SCRIPT = Path(__file__).parent / "sql" / "data" / "clickstream_statements.sql"
CLICKS = 3000


def generate(log_dir: Path, quickstart: str, count: int) -> None:
    subprocess.run([sys.executable, "-m", "headwater.cli", "generate", quickstart, "--count", str(count),
                    "--log", str(log_dir), "--seed", "3"], check=True, capture_output=True, timeout=120)


def values(log: Log, topic: str) -> list[dict[str, object]]:
    batch = log.read(topic, 0, log.beginning_offset(topic, 0), max_records=10 * CLICKS).records
    return [json.loads(v) for v in batch.column("value").to_pylist() if v is not None]


def total(session: Session, table: str, column: str) -> int:
    result = session.query(f"SELECT {column} FROM {table};")
    return sum(int(row[0]) for row in result.rows)  # type: ignore[union-attr]


def test_the_demo_script_runs_unchanged_on_generated_clicks(tmp_path: Path) -> None:
    for quickstart, count in (("clickstream_codes", 50), ("clickstream_users", 100), ("clickstream", CLICKS)):
        generate(tmp_path, quickstart, count)
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as session:
        created = session.execute(SCRIPT.read_text())
        assert len(created) == 14
        session.wait_until_processed(timeout_s=120)
        assert {q.id: q.state.name for q in session.queries.values()} == {
            q.id: "RUNNING" for q in session.queries.values()}
        assert len(session.queries) == 11

        clicks = values(session.log, "clickstream")
        joined = values(session.log, "USER_CLICKSTREAM")
        assert len(clicks) == len(joined) == CLICKS
        known = [r for r in joined if r["USERNAME"] is not None]
        # Only clicks of users missing from the users table are dropped by GROUP BY username, and logged.
        problems = values(session.log, "default_ksql_processing_log")
        reasons = {p["message"]["recordProcessingError"]["errorMessage"] for p in problems}  # type: ignore[index]
        assert reasons <= {"Group-by column with null value found: record dropped."}

        assert known
        # Each click counts once in a tumbling window and in 12 hopping windows (60 s advancing by 5 s).
        assert total(session, "EVENTS_PER_MIN", "EVENTS") == CLICKS
        html = sum(1 for c in clicks if "html" in str(c["request"]))
        assert html and total(session, "PAGES_PER_MIN", "PAGES") == 12 * html
        errors = sum(1 for c in clicks if int(c["status"]) > 400)  # type: ignore[call-overload]
        assert errors and total(session, "ERRORS_PER_MIN", "ERRORS") == 12 * errors
        # Sessions and per-minute bandwidth over the joined stream cover every click of a known user.
        assert total(session, "CLICK_USER_SESSIONS", "EVENTS") == len(known)
        assert total(session, "BANDWIDTH_PER_MIN", "TOTAL_BYTES") == sum(int(r["BYTES"]) for r in known)  # type: ignore[call-overload]
        assert total(session, "USER_SESSION_BANDWIDTH", "TOTAL_BYTES") == sum(int(r["BYTES"]) for r in known)  # type: ignore[call-overload]
