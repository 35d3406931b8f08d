"""SESSION windows with EMIT CHANGES against Kafka Streams' record-by-record model, across batches and restarts."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import orjson
import pytest

from headwater.log import Record
from headwater.session import Session
from tests.sql.golden.make_part2_cases import CLICKS, T0, sessions

QUERY = ("CREATE TABLE out AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS b, WINDOWSTART AS start FROM clicks "
         "WINDOW SESSION (3 SECONDS) GROUP BY userid;")


def _records(seed: int, n: int) -> list[dict[str, object]]:
    """Mostly in order with a little disorder, sometimes a record far back (bridging sessions)."""
    rng = random.Random(seed)
    out, t = [], 0
    for _ in range(n):
        t += rng.choice([200, 500, 1000, 2500, 4000])
        ts = t - (rng.randrange(8000) if rng.random() < 0.1 else rng.randrange(1500))
        out.append({"topic": "clicks", "timestamp": T0 + max(ts, 0),
                    "value": {"userid": rng.randrange(4), "page": "p", "bytes": rng.randrange(100), "d": 1.0}})
    return out


def _decoded(session: Session) -> list[tuple[int, int, int, object]]:
    got = []
    offset = 0
    while offset < session.log.end_offset("OUT", 0):
        fetched = session.log.read("OUT", 0, offset)
        for row in fetched.records.select(["key", "value"]).to_pylist():
            userid, end, start = struct.unpack(">iqq", row["key"])
            got.append((userid, start, end, None if row["value"] is None else orjson.loads(row["value"])))
        offset = fetched.next_offset
    return got


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_session_changes_match_the_record_by_record_model(tmp_path: Path, seed: int) -> None:
    records = _records(seed, 300)
    expected = [(o["key"], o["window"]["start"], o["window"]["end"], o["value"])
                for o in sessions(records, 3000) if o["topic"] == "OUT"]
    with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
        s.execute(CLICKS + QUERY)
        # Several batches of different sizes, so sessions span batches.
        for lo, hi in ((0, 7), (7, 120), (120, 121), (121, 300)):
            s.log.append("clicks", 0, [Record(orjson.dumps(r["value"]), None, r["timestamp"])  # type: ignore[arg-type]
                                       for r in records[lo:hi]])
            s.wait_until_processed()
        assert _decoded(s) == expected


def test_sessions_resume_after_a_restart(tmp_path: Path) -> None:
    records = _records(7, 200)
    expected = [(o["key"], o["window"]["start"], o["window"]["end"], o["value"])
                for o in sessions(records, 3000) if o["topic"] == "OUT"]
    for lo, hi in ((0, 90), (90, 200)):
        with Session(str(tmp_path), properties={"auto.offset.reset": "earliest"}) as s:
            if lo == 0:
                s.execute(CLICKS + QUERY)
            s.log.append("clicks", 0, [Record(orjson.dumps(r["value"]), None, r["timestamp"])  # type: ignore[arg-type]
                                       for r in records[lo:hi]])
            s.wait_until_processed()
            if hi == 200:
                assert _decoded(s) == expected
