"""Writes the golden cases of issue 14's second conformance batch: HAVING on SESSION windows, headers
through aggregations and joins, joins of windowed sources (conform_session_having.json,
conform_headers_stateful.json, conform_windowed_joins.json).

Expected outputs come from ksqlDB's rules (Kafka Streams underneath), spelled
out here, never from running Headwater:

- SESSION aggregation, per record (``KStreamSessionWindowAggregate``): the
  sessions of the record's key within the inactivity gap of it are merged
  with it; each merged session is removed and forwarded as ``Change(null,
  old)``, then the merged session as ``Change(new, null)``. HAVING is a
  ``KTableFilter`` with old values sent: a change is forwarded when its new
  value passes (an update) or else when its old value passed (a tombstone),
  and dropped when neither does. So a merged session leaves a tombstone only
  if it qualified, and a new session that fails HAVING emits nothing. A
  tombstone carries the removed session's end as its timestamp, an update the
  new session's end.
- Headers: Kafka Streams forwards every result with the record context of the
  input record being processed (``record.withValue(...)``; the caches keep
  that context per entry), so an aggregation's updates and tombstones, and a
  join's results, carry the headers of the input record that caused them (for
  a join: the record that arrived and found its match).
- Joins of windowed sources (ksqlDB's ``JoinNode``): both sides windowed or
  neither (else "Can not join windowed source to non-windowed source.");
  the join key is the windowed key (key and window), the result is windowed
  like its sources; a windowed source is never repartitioned ("Implicit
  repartitioning of windowed sources is not supported.").

Run ``python -m tests.sql.golden.make_conformb_cases`` after changing a spec
and commit the JSON it writes; the runner only reads the JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

CASES = Path(__file__).parent / "cases"
Case = dict[str, Any]

#: Cases that state ksqlDB's behaviour Headwater does not have yet: name -> reason.
PENDING: dict[str, str] = {}


def stream(name: str, columns: str, topic: str, extra: str = "") -> str:
    return (f"CREATE STREAM {name} ({columns}) WITH (kafka_topic='{topic}', value_format='JSON', "
            f"partitions=1{extra});")


def table(name: str, columns: str, topic: str) -> str:
    return f"CREATE TABLE {name} ({columns}) WITH (kafka_topic='{topic}', value_format='JSON', partitions=1);"


def rec(topic: str, key: Any, value: Any, ts: int, **extra: Any) -> dict[str, Any]:
    return {"topic": topic, "key": key, "value": value, "timestamp": ts, **extra}


def win(start: int, end: int) -> dict[str, Any]:
    return {"window": {"start": start, "end": end}}


# -- HAVING on SESSION windows ----------------------------------------------------------------------
GAP_MS = 5000
S_KV = stream("S", "ID INT KEY, V INT", "s")


def session_model(records: list[tuple[int, int, int]], having: Callable[[int, int], bool]) -> list[dict[str, Any]]:
    """Kafka Streams' session aggregation of (key, ts, v) records (COUNT and SUM), through a HAVING filter
    with old values sent. Returns the sink records."""
    sessions: dict[int, list[tuple[int, int, int, int]]] = {}  # key -> [(start, end, count, sum)]
    out = []
    for key, ts, v in records:
        mine = sessions.setdefault(key, [])
        merged = sorted(s for s in mine if s[1] >= ts - GAP_MS and s[0] <= ts + GAP_MS)
        start, end, n, total = ts, ts, 1, v
        for s in merged:
            mine.remove(s)
            start, end, n, total = min(start, s[0]), max(end, s[1]), n + s[2], total + s[3]
            if having(s[2], s[3]):
                out.append(rec("C", key, None, s[1]) | win(s[0], s[1]))
        mine.append((start, end, n, total))
        if having(n, total):
            out.append(rec("C", key, {"N": n, "S": total}, end) | win(start, end))
    return out


def session_having_cases() -> list[Case]:
    cases = []
    specs = [
        ("COUNT(*) > 1", lambda n, s: n > 1, "an update that comes to qualify; the qualified session it replaces "
         "leaves a tombstone", [(1, 0, 1), (1, 1000, 1), (1, 2000, 1), (2, 500, 1)]),
        ("COUNT(*) < 2", lambda n, s: n < 2, "a qualified session merged away leaves a tombstone, the failing "
         "merged session nothing", [(1, 0, 1), (1, 1000, 1), (1, 2000, 1)]),
        ("SUM(V) > 10", lambda n, s: s > 10, "a record bridging a qualified and a failing session: one tombstone",
         [(1, 0, 20), (1, 8000, 1), (1, 4000, 1)]),
        ("SUM(V) > 10", lambda n, s: s > 10, "a record inside a qualified session: tombstone, then the update of "
         "the same window", [(1, 0, 5), (1, 3000, 6), (1, 1000, 1)]),
        ("SUM(V) > 10", lambda n, s: s > 10, "sessions of several keys, in and out of qualifying",
         [(1, 0, 11), (2, 0, 1), (1, 1000, -5), (2, 1000, 20), (1, 9000, 3), (2, 2000, -30), (1, 3000, 9)]),
        ("SUM(V) > 10", lambda n, s: s > 10, "a late record bridging two qualified sessions: two tombstones",
         [(1, 0, 11), (1, 8000, 12), (1, 4000, 0)]),
        ("COUNT(*) >= 1", lambda n, s: True, "HAVING that always holds: every merged session leaves a tombstone",
         [(1, 0, 1), (1, 8000, 1), (1, 4000, 1)]),
    ]
    for having_sql, having, what, records in specs:
        inputs = [rec("s", k, {"V": v}, ts) for k, ts, v in records]
        cases.append({
            "name": f"SESSION HAVING {having_sql}: {what}",
            "statements": [S_KV, "CREATE TABLE C AS SELECT ID, COUNT(*) AS N, SUM(V) AS S FROM S "
                                 f"WINDOW SESSION (5 SECONDS) GROUP BY ID HAVING {having_sql};"],
            "inputs": inputs,
            "outputs": session_model(records, having),
        })
    return cases


# -- headers through aggregations and joins ------------------------------------------------------------
H1 = [{"KEY": "trace", "VALUE": "AQI="}]
H2 = [{"KEY": "trace", "VALUE": "AwQ="}, {"KEY": "n", "VALUE": None}]


def header_cases() -> list[Case]:
    s_g = stream("S", "ID INT KEY, G STRING, V INT", "s")
    inputs = [rec("s", 1, {"G": "a", "V": 1}, 1, headers=H1), rec("s", 2, {"G": "a", "V": 2}, 2),
              rec("s", 3, {"G": "b", "V": 3}, 3, headers=H2)]
    cases = [{
        "name": "an aggregation's update carries the headers of the record that caused it",
        "statements": [s_g, "CREATE TABLE C AS SELECT G, SUM(V) AS T FROM S GROUP BY G;"],
        "inputs": inputs,
        "outputs": [rec("C", "a", {"T": 1}, 1, headers=H1), rec("C", "a", {"T": 3}, 2, headers=[]),
                    rec("C", "b", {"T": 3}, 3, headers=H2)],
    }, {
        "name": "a HAVING tombstone carries the headers of the record that caused it",
        "statements": [s_g, "CREATE TABLE C AS SELECT G, SUM(V) AS T FROM S GROUP BY G HAVING SUM(V) < 2;"],
        "inputs": inputs,
        "outputs": [rec("C", "a", {"T": 1}, 1, headers=H1), rec("C", "a", None, 2, headers=[])],
    }, {
        "name": "a TUMBLING aggregation's updates carry their records' headers",
        "statements": [s_g, "CREATE TABLE C AS SELECT G, COUNT(*) AS N FROM S WINDOW TUMBLING (SIZE 10 SECONDS) "
                            "GROUP BY G;"],
        "inputs": inputs,
        "outputs": [rec("C", "a", {"N": 1}, 1, headers=H1) | win(0, 10000),
                    rec("C", "a", {"N": 2}, 2, headers=[]) | win(0, 10000),
                    rec("C", "b", {"N": 1}, 3, headers=H2) | win(0, 10000)],
    }, {
        "name": "a SESSION aggregation's tombstone and update carry the headers of the merging record",
        "statements": [s_g, "CREATE TABLE C AS SELECT G, COUNT(*) AS N FROM S WINDOW SESSION (5 SECONDS) GROUP BY G;"],
        "inputs": [rec("s", 1, {"G": "a", "V": 1}, 1, headers=H1), rec("s", 2, {"G": "a", "V": 2}, 2, headers=H2)],
        "outputs": [rec("C", "a", {"N": 1}, 1, headers=H1) | win(1, 1), rec("C", "a", None, 1, headers=H2) | win(1, 1),
                    rec("C", "a", {"N": 2}, 2, headers=H2) | win(1, 2)],
    }, {
        "name": "an aggregation over a table: the update carries the table record's headers",
        "statements": [table("T", "ID INT PRIMARY KEY, G STRING, V INT", "t"),
                       "CREATE TABLE C AS SELECT G, SUM(V) AS T FROM T GROUP BY G;"],
        "inputs": [rec("t", 1, {"G": "a", "V": 1}, 1, headers=H1), rec("t", 2, {"G": "a", "V": 2}, 2, headers=H2)],
        "outputs": [rec("C", "a", {"T": 1}, 1, headers=H1), rec("C", "a", {"T": 3}, 2, headers=H2)],
    }, {
        "name": "a HEADER('k') column in an aggregation",
        "statements": [stream("S", "ID INT KEY, G STRING, TR BYTES HEADER('trace')", "s"),
                       "CREATE TABLE C AS SELECT G, COUNT(TR) AS N, COUNT(*) AS M FROM S GROUP BY G;"],
        "inputs": [rec("s", 1, {"G": "a"}, 1, headers=H1), rec("s", 2, {"G": "a"}, 2)],
        "outputs": [rec("C", "a", {"N": 1, "M": 1}, 1, headers=H1), rec("C", "a", {"N": 1, "M": 2}, 2, headers=[])],
    }, {
        "name": "GROUP BY a HEADER('k') column",
        "statements": [stream("S", "ID INT KEY, G STRING, TR BYTES HEADER('trace')", "s"),
                       "CREATE TABLE C AS SELECT TO_BASE64(TR) AS K, COUNT(*) AS N FROM S GROUP BY TO_BASE64(TR);"],
        "inputs": [rec("s", 1, {"G": "a"}, 1, headers=H1), rec("s", 2, {"G": "a"}, 2, headers=H1)],
        "outputs": [rec("C", "AQI=", {"N": 1}, 1, headers=H1), rec("C", "AQI=", {"N": 2}, 2, headers=H1)],
    }]
    s_j = stream("S", "ID INT KEY, V INT", "s")
    t_j = table("T", "ID INT PRIMARY KEY, F INT", "t")
    t2_j = table("T2", "ID INT PRIMARY KEY, G INT", "t2")
    s2_j = stream("S2", "ID INT KEY, W INT", "s2")
    cases += [{
        "name": "a stream-table join's result carries the stream record's headers",
        "statements": [s_j, t_j, "CREATE STREAM J AS SELECT S.ID, V, F FROM S JOIN T ON S.ID = T.ID;"],
        "inputs": [rec("t", 1, {"F": 10}, 0, headers=H1), rec("s", 1, {"V": 5}, 10, headers=H2),
                   rec("s", 1, {"V": 6}, 11)],
        "outputs": [rec("J", 1, {"V": 5, "F": 10}, 10, headers=H2), rec("J", 1, {"V": 6, "F": 10}, 11, headers=[])],
    }, {
        "name": "a table-table join's result carries the headers of the update that caused it",
        "statements": [t_j, t2_j, "CREATE TABLE J AS SELECT T.ID, F, G FROM T JOIN T2 ON T.ID = T2.ID;"],
        "inputs": [rec("t", 1, {"F": 10}, 0, headers=H1), rec("t2", 1, {"G": 20}, 5, headers=H2),
                   rec("t", 1, {"F": 11}, 6)],
        "outputs": [rec("J", 1, {"F": 10, "G": 20}, 5, headers=H2), rec("J", 1, {"F": 11, "G": 20}, 6, headers=[])],
    }, {
        "name": "a stream-stream join's result carries the headers of the record that found the match",
        "statements": [s_j, s2_j, "CREATE STREAM J AS SELECT S.ID, V, W FROM S JOIN S2 WITHIN 10 SECONDS "
                                  "ON S.ID = S2.ID;"],
        "inputs": [rec("s", 1, {"V": 5}, 10, headers=H1), rec("s2", 1, {"W": 7}, 12, headers=H2)],
        "outputs": [rec("J", 1, {"V": 5, "W": 7}, 12, headers=H2)],
    }, {
        "name": "HEADERS and HEADER('k') columns selected through a join",
        "statements": [stream("S", "ID INT KEY, V INT, H ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS, "
                                   "TR BYTES HEADER('trace')", "s"), t_j,
                       "CREATE STREAM J AS SELECT S.ID, H, TR, F FROM S JOIN T ON S.ID = T.ID;"],
        "inputs": [rec("t", 1, {"F": 10}, 0), rec("s", 1, {"V": 5}, 10, headers=H1)],
        "outputs": [rec("J", 1, {"H": [{"KEY": "trace", "VALUE": "AQI="}], "TR": "AQI=", "F": 10}, 10, headers=H1)],
    }]
    return cases


FILES: dict[str, Callable[[], list[Case]]] = {
    "conform_session_having": session_having_cases,
    "conform_headers_stateful": header_cases,
}


def main() -> None:
    for stem, build in FILES.items():
        tests = build()
        for test in tests:
            if test["name"] in PENDING:
                test["pending"] = PENDING[test["name"]]
        body = {"comments": f"Written by make_conformb_cases.py ({build.__name__}); see its docstring.", "tests": tests}
        (CASES / f"{stem}.json").write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        print(f"{stem}: {len(tests)} cases")


if __name__ == "__main__":
    main()
