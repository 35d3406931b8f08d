"""Writes the golden cases of issue 14's second conformance batch: HAVING on SESSION windows, headers
through aggregations and joins, joins of windowed sources, push queries with GROUP BY over a join
(conform_session_having.json, conform_headers_stateful.json, conform_windowed_joins.json,
conform_join_aggregate_push.json).

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
  like its sources (a pull query shows WINDOWSTART and WINDOWEND after the
  key); a table-table join's timestamp is the larger of its two rows'.
- A push query with GROUP BY over a join emits the aggregation's updates as
  the persistent statement's sink would get them (rows whose group fails
  HAVING are not shown).

Run ``python -m tests.sql.golden.make_conformb_cases`` after changing a spec
and commit the JSON it writes; the runner only reads the JSON.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from tests.sql.golden.make_conform_cases import write_case_files

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
    # Seeded sequences: two keys, records mostly in time order with some disorder within the gap.
    for seed in range(6):
        rng = random.Random(seed)
        t, records_ = 0, []
        for _ in range(12):
            t += rng.choice((500, 1500, 4000, 7000))
            records_.append((rng.choice((1, 2)), max(0, t - rng.choice((0, 0, 0, 3000))), rng.randint(-5, 15)))
        if seed % 2:
            specs.append(("COUNT(*) >= 2 AND SUM(V) < 20", lambda n, s: n >= 2 and s < 20,
                          f"seeded sequence {seed}", records_))
        else:
            specs.append(("SUM(V) > 10", lambda n, s: s > 10, f"seeded sequence {seed}", records_))
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
                       "CREATE TABLE C AS SELECT FROM_BYTES(TR, 'base64') AS K, COUNT(*) AS N FROM S GROUP BY FROM_BYTES(TR, 'base64');"],
        "inputs": [rec("s", 1, {"G": "a"}, 1, headers=H1), rec("s", 2, {"G": "a"}, 2, headers=H1)],
        "outputs": [rec("C", "AQI=", {"N": 1}, 1, headers=H1), rec("C", "AQI=", {"N": 2}, 2, headers=H1)],
    }]
    cases.append({
        "name": "a stateless query over a table copies each change's headers, its tombstones' too",
        "statements": [table("T", "ID INT PRIMARY KEY, F INT", "t"), "CREATE TABLE O AS SELECT * FROM T WHERE F > 1;"],
        "inputs": [rec("t", 1, {"F": 5}, 1, headers=H1), rec("t", 1, {"F": 0}, 2, headers=H2),
                   rec("t", 2, {"F": 7}, 3), rec("t", 2, None, 4, headers=H1)],
        "outputs": [rec("O", 1, {"F": 5}, 1, headers=H1), rec("O", 1, None, 2, headers=H2),
                    rec("O", 2, {"F": 7}, 3, headers=[]), rec("O", 2, None, 4, headers=H1)],
    })
    cases.append({
        "name": "a HOPPING aggregation: each window's update carries the record's headers",
        "statements": [s_g, "CREATE TABLE C AS SELECT G, COUNT(*) AS N FROM S WINDOW HOPPING (SIZE 10 SECONDS, "
                            "ADVANCE BY 5 SECONDS) GROUP BY G;"],
        "inputs": [rec("s", 1, {"G": "a", "V": 1}, 6000, headers=H1), rec("s", 2, {"G": "a", "V": 2}, 7000)],
        "outputs": [rec("C", "a", {"N": 1}, 6000, headers=H1) | win(0, 10000),
                    rec("C", "a", {"N": 1}, 6000, headers=H1) | win(5000, 15000),
                    rec("C", "a", {"N": 2}, 7000, headers=[]) | win(0, 10000),
                    rec("C", "a", {"N": 2}, 7000, headers=[]) | win(5000, 15000)],
    })
    s_j = stream("S", "ID INT KEY, V INT", "s")
    t_j = table("T", "ID INT PRIMARY KEY, F INT", "t")
    t2_j = table("T2", "ID INT PRIMARY KEY, G INT", "t2")
    s2_j = stream("S2", "ID INT KEY, W INT", "s2")
    cases += [{
        "name": "a stream-table LEFT JOIN's null-padded result carries the stream record's headers",
        "statements": [s_j, t_j, "CREATE STREAM J AS SELECT S.ID, V, F FROM S LEFT JOIN T ON S.ID = T.ID;"],
        "inputs": [rec("s", 1, {"V": 5}, 10, headers=H1)],
        "outputs": [rec("J", 1, {"V": 5, "F": None}, 10, headers=H1)],
    }, {
        "name": "a table-table join's tombstone carries the headers of the delete that caused it",
        "statements": [t_j, t2_j, "CREATE TABLE J AS SELECT T.ID, F, G FROM T JOIN T2 ON T.ID = T2.ID;"],
        "inputs": [rec("t", 1, {"F": 10}, 0), rec("t2", 1, {"G": 20}, 5), rec("t2", 1, None, 6, headers=H2)],
        "outputs": [rec("J", 1, {"F": 10, "G": 20}, 5, headers=[]), rec("J", 1, None, 6, headers=H2)],
    }, {
        "name": "a three-way join's result carries the headers of the record that completed it",
        "statements": [s_j, t_j, t2_j, "CREATE STREAM J AS SELECT S.ID, V, F, G FROM S JOIN T ON S.ID = T.ID "
                                       "JOIN T2 ON S.ID = T2.ID;"],
        "inputs": [rec("t", 1, {"F": 10}, 0, headers=H1), rec("t2", 1, {"G": 20}, 1, headers=H1),
                   rec("s", 1, {"V": 5}, 10, headers=H2)],
        "outputs": [rec("J", 1, {"V": 5, "F": 10, "G": 20}, 10, headers=H2)],
    }, {
        "name": "GROUP BY over a join: each update carries the headers of the stream record behind it",
        "statements": [s_j, t_j, "CREATE TABLE C AS SELECT F, SUM(V) AS T FROM S JOIN T ON S.ID = T.ID GROUP BY F;"],
        "inputs": [rec("t", 1, {"F": 10}, 0, headers=H1), rec("s", 1, {"V": 5}, 10, headers=H2),
                   rec("s", 1, {"V": 6}, 11)],
        "outputs": [rec("C", 10, {"T": 5}, 10, headers=H2), rec("C", 10, {"T": 11}, 11, headers=[])],
    }, {
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
    }, {
        "name": "SELECT * of a join includes the HEADERS columns, prefixed",
        "statements": [stream("S", "ID INT KEY, V INT, H ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS", "s"), t_j,
                       "CREATE STREAM J AS SELECT * FROM S L JOIN T R ON L.ID = R.ID;"],
        "inputs": [rec("t", 1, {"F": 10}, 0), rec("s", 1, {"V": 5}, 10, headers=H1)],
        "outputs": [rec("J", 1, {"L_V": 5, "L_H": [{"KEY": "trace", "VALUE": "AQI="}], "R_ID": 1, "R_F": 10}, 10,
                        headers=H1)],
    }, {
        "name": "a join through a repartition (ON a value column) keeps the stream record's headers",
        "statements": [stream("S", "ID INT KEY, TID INT, V INT", "s"), t_j,
                       "CREATE STREAM J AS SELECT S.TID, V, F FROM S JOIN T ON S.TID = T.ID;"],
        "inputs": [rec("t", 7, {"F": 10}, 0, headers=H1), rec("s", 1, {"TID": 7, "V": 5}, 10, headers=H2),
                   rec("s", 2, {"TID": 7, "V": 6}, 11)],
        "outputs": [rec("J", 7, {"V": 5, "F": 10}, 10, headers=H2), rec("J", 7, {"V": 6, "F": 10}, 11, headers=[])],
    }, {
        "name": "a join of two-partition sources: each result carries its own record's headers",
        "statements": [stream("S", "ID INT KEY, V INT", "s").replace("partitions=1", "partitions=2"),
                       table("T", "ID INT PRIMARY KEY, F INT", "t").replace("partitions=1", "partitions=2"),
                       "CREATE STREAM J AS SELECT S.ID, V, F FROM S JOIN T ON S.ID = T.ID;"],
        "inputs": [rec("t", 1, {"F": 10}, 0, partition=0), rec("t", 2, {"F": 20}, 0, partition=1),
                   rec("s", 1, {"V": 1}, 10, partition=0, headers=H1), rec("s", 2, {"V": 2}, 10, partition=1),
                   rec("s", 1, {"V": 3}, 11, partition=0), rec("s", 2, {"V": 4}, 11, partition=1, headers=H2)],
        "outputs": [rec("J", 1, {"V": 1, "F": 10}, 10, partition=0, headers=H1),
                    rec("J", 1, {"V": 3, "F": 10}, 11, partition=0, headers=[]),
                    rec("J", 2, {"V": 2, "F": 20}, 10, partition=1, headers=[]),
                    rec("J", 2, {"V": 4, "F": 20}, 11, partition=1, headers=H2)],
    }]
    return cases


# -- joins of windowed sources -----------------------------------------------------------------------
def wtable(name: str, columns: str, topic: str, window: str) -> str:
    return (f"CREATE TABLE {name} ({columns}) WITH (kafka_topic='{topic}', value_format='JSON', partitions=1, "
            f"{window});")


TUMBLING_10S = "window_type='TUMBLING', window_size='10 SECONDS'"
W_A = wtable("A", "ID INT PRIMARY KEY, N BIGINT", "a", TUMBLING_10S)
W_B = wtable("B", "ID INT PRIMARY KEY, T BIGINT", "b", TUMBLING_10S)


def windowed_join_cases() -> list[Case]:
    w0, w1 = win(0, 10000), win(10000, 20000)
    inputs = [rec("a", 1, {"N": 1}, 1000) | w0, rec("b", 1, {"T": 5}, 2000) | w0, rec("a", 1, {"N": 2}, 3000) | w0,
              rec("b", 1, {"T": 7}, 12000) | w1, rec("a", 2, {"N": 9}, 12500) | w1, rec("a", 1, {"N": 1}, 13000) | w1,
              rec("b", 2, {"T": 8}, 14000) | w0]
    cases = [{
        "name": "table-table INNER JOIN of TUMBLING windowed tables matches key and window",
        "statements": [W_A, W_B, "CREATE TABLE J AS SELECT A.ID, N, T FROM A JOIN B ON A.ID = B.ID;", "DESCRIBE J;"],
        "responses": [None, None, None, {"sourceDescription": {"windowType": "TUMBLING", "fields": [
            {"name": "A_ID", "type": "KEY"}, {"name": "N"}, {"name": "T"}]}}],
        "inputs": inputs,
        "outputs": [rec("J", 1, {"N": 1, "T": 5}, 2000) | w0, rec("J", 1, {"N": 2, "T": 5}, 3000) | w0,
                    rec("J", 1, {"N": 1, "T": 7}, 13000) | w1],
        "queries": [{"sql": "SELECT * FROM J;", "rows": [[1, 0, 10000, 2, 5], [1, 10000, 20000, 1, 7]]},
                    {"sql": "SELECT * FROM J WHERE A_ID = 1 AND WINDOWSTART = 10000;",
                     "rows": [[1, 10000, 20000, 1, 7]]},
                    {"sql": "SELECT A.ID, WINDOWSTART AS W, N, T FROM A JOIN B ON A.ID = B.ID EMIT CHANGES;",
                     "rows": [[1, 0, 1, 5], [1, 0, 2, 5], [1, 10000, 1, 7]]}],
    }, {
        "name": "table-table LEFT JOIN of TUMBLING windowed tables: a window the right side lacks is null-padded",
        "statements": [W_A, W_B, "CREATE TABLE J AS SELECT A.ID, N, T FROM A LEFT JOIN B ON A.ID = B.ID;"],
        "inputs": inputs,
        "outputs": [rec("J", 1, {"N": 1, "T": None}, 1000) | w0, rec("J", 1, {"N": 1, "T": 5}, 2000) | w0,
                    rec("J", 1, {"N": 2, "T": 5}, 3000) | w0, rec("J", 2, {"N": 9, "T": None}, 12500) | w1,
                    rec("J", 1, {"N": 1, "T": 7}, 13000) | w1],
    }, {
        "name": "a windowed join's WINDOWSTART and WINDOWEND, aliased, in the projection",
        "statements": [W_A, W_B, "CREATE TABLE J AS SELECT A.ID, WINDOWSTART AS WS, WINDOWEND AS WE, N, T FROM A "
                                 "JOIN B ON A.ID = B.ID;"],
        "inputs": inputs[:2],
        "outputs": [rec("J", 1, {"WS": 0, "WE": 10000, "N": 1, "T": 5}, 2000) | w0],
    }, {
        "name": "a windowed table-table join: a deleted window deletes the joined row",
        "statements": [W_A, W_B, "CREATE TABLE J AS SELECT A.ID, N, T FROM A JOIN B ON A.ID = B.ID;"],
        "inputs": [rec("a", 1, {"N": 1}, 1000) | w0, rec("b", 1, {"T": 5}, 2000) | w0, rec("a", 1, None, 3000) | w0],
        "outputs": [rec("J", 1, {"N": 1, "T": 5}, 2000) | w0, rec("J", 1, None, 3000) | w0],
    }, {
        "name": "table-table JOIN of SESSION windowed tables matches the whole session",
        "statements": [wtable("A", "ID INT PRIMARY KEY, N BIGINT", "a", "window_type='SESSION'"),
                       wtable("B", "ID INT PRIMARY KEY, T BIGINT", "b", "window_type='SESSION'"),
                       "CREATE TABLE J AS SELECT A.ID, N, T FROM A JOIN B ON A.ID = B.ID;"],
        "inputs": [rec("a", 1, {"N": 1}, 1000) | win(0, 1000), rec("b", 1, {"T": 5}, 2000) | win(0, 2000),
                   rec("b", 1, {"T": 6}, 2500) | win(0, 1000)],
        "outputs": [rec("J", 1, {"N": 1, "T": 6}, 2500) | win(0, 1000)],
    }, {
        "name": "a join of two windowed aggregations with the same window",
        "statements": [stream("S1", "ID INT KEY, V INT", "s1"), stream("S2", "ID INT KEY, W INT", "s2"),
                       "CREATE TABLE A AS SELECT ID, COUNT(*) AS N FROM S1 WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY ID;",
                       "CREATE TABLE B AS SELECT ID, SUM(W) AS T FROM S2 WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY ID;",
                       "CREATE TABLE J AS SELECT A.ID, N, T FROM A JOIN B ON A.ID = B.ID;"],
        "inputs": [rec("s2", 1, {"W": 5}, 1000), rec("s1", 1, {"V": 1}, 3000), rec("s1", 2, {"V": 1}, 4000),
                   rec("s2", 2, {"W": 8}, 12000), rec("s2", 1, {"W": 7}, 13000), rec("s1", 1, {"V": 1}, 15000)],
        "outputs": [rec("A", 1, {"N": 1}, 3000) | w0, rec("A", 2, {"N": 1}, 4000) | w0,
                    rec("A", 1, {"N": 1}, 15000) | w1,
                    rec("B", 1, {"T": 5}, 1000) | w0, rec("B", 2, {"T": 8}, 12000) | w1,
                    rec("B", 1, {"T": 7}, 13000) | w1,
                    rec("J", 1, {"N": 1, "T": 5}, 3000) | w0, rec("J", 1, {"N": 1, "T": 7}, 15000) | w1],
    }, {
        "name": "a windowed join's WINDOWSTART unaliased is a reserved column name",
        "statements": [W_A, W_B, "CREATE TABLE J AS SELECT A.ID, WINDOWSTART, N, T FROM A JOIN B ON A.ID = B.ID;"],
        "expectedException": {"type": "SqlSemanticError",
                              "message": "Reserved column name in select: `WINDOWSTART`. Please remove or alias the "
                                         "column."},
    }]
    hopping = "window_type='HOPPING', window_size='10 SECONDS'"
    h0, h5 = win(0, 10000), win(5000, 15000)
    cases += [{
        "name": "table-table JOIN of HOPPING windowed tables: overlapping windows of a key stay apart",
        "statements": [wtable("A", "ID INT PRIMARY KEY, N BIGINT", "a", hopping),
                       wtable("B", "ID INT PRIMARY KEY, T BIGINT", "b", hopping),
                       "CREATE TABLE J AS SELECT A.ID, N, T FROM A JOIN B ON A.ID = B.ID;"],
        "inputs": [rec("a", 1, {"N": 1}, 6000) | h0, rec("a", 1, {"N": 1}, 6000) | h5,
                   rec("b", 1, {"T": 5}, 7000) | h5, rec("b", 1, {"T": 6}, 8000) | h0],
        "outputs": [rec("J", 1, {"N": 1, "T": 5}, 7000) | h5, rec("J", 1, {"N": 1, "T": 6}, 8000) | h0],
    }, {
        "name": "table-table RIGHT JOIN of windowed tables",
        "statements": [W_A, W_B, "CREATE TABLE J AS SELECT B.ID, N, T FROM A RIGHT JOIN B ON A.ID = B.ID;"],
        "inputs": [rec("b", 1, {"T": 5}, 1000) | w0, rec("a", 1, {"N": 2}, 2000) | w1,
                   rec("a", 1, {"N": 3}, 3000) | w0],
        "outputs": [rec("J", 1, {"N": None, "T": 5}, 1000) | w0, rec("J", 1, {"N": 3, "T": 5}, 3000) | w0],
    }, {
        "name": "a three-way join of windowed tables",
        "statements": [W_A, W_B, wtable("C", "ID INT PRIMARY KEY, U BIGINT", "c", TUMBLING_10S),
                       "CREATE TABLE J AS SELECT A.ID, N, T, U FROM A JOIN B ON A.ID = B.ID JOIN C ON A.ID = C.ID;"],
        "inputs": [rec("a", 1, {"N": 1}, 1000) | w0, rec("b", 1, {"T": 2}, 2000) | w0,
                   rec("c", 1, {"U": 3}, 3000) | w1, rec("c", 1, {"U": 4}, 4000) | w0],
        "outputs": [rec("J", 1, {"N": 1, "T": 2, "U": 4}, 4000) | w0],
    }, {
        "name": "a windowed join's result feeds a query that keeps the window",
        "statements": [W_A, W_B, "CREATE TABLE J AS SELECT A.ID, N, T FROM A JOIN B ON A.ID = B.ID;",
                       "CREATE TABLE K AS SELECT A_ID, N + T AS S FROM J;"],
        "inputs": [rec("a", 1, {"N": 1}, 1000) | w1, rec("b", 1, {"T": 2}, 2000) | w1],
        "outputs": [rec("J", 1, {"N": 1, "T": 2}, 2000) | w1, rec("K", 1, {"S": 3}, 2000) | w1],
    }]
    for kind, ddl, sql in (
            ("a windowed stream with a windowed table", stream("S", "ID INT KEY, V INT", "s", ", window_type='TUMBLING', "
                                                               "window_size='10 SECONDS'"),
             "CREATE STREAM J AS SELECT S.ID, V, N FROM S JOIN A ON S.ID = A.ID;"),
            ("two windowed streams", stream("S", "ID INT KEY, V INT", "s", ", window_type='TUMBLING', "
                                            "window_size='10 SECONDS'"),
             "CREATE STREAM J AS SELECT S.ID, V, W FROM S JOIN S2 WITHIN 1 MINUTE ON S.ID = S2.ID;")):
        cases.append({
            "name": f"a join of {kind} is refused (not yet supported)",
            "statements": [ddl, W_A, stream("S2", "ID INT KEY, W INT", "s2", ", window_type='TUMBLING', "
                                                                         "window_size='10 SECONDS'"), sql],
            "expectedException": {"type": "SqlSemanticError",
                                  "message": "Windowed sources are supported in table-table joins on their keys only"},
        })
    plain = table("P", "ID INT PRIMARY KEY, X INT", "p")
    for left, right in (("A", "P"), ("P", "A")):
        cases.append({
            "name": f"joining a windowed with a non-windowed table is refused ({left} JOIN {right})",
            "statements": [W_A, plain, f"CREATE TABLE J AS SELECT {left}.ID, N, X FROM {left} JOIN {right} "
                                       f"ON {left}.ID = {right}.ID;"],
            "expectedException": {"type": "SqlSemanticError",
                                  "message": "Can not join windowed source to non-windowed source."},
        })
    cases.append({
        "name": "joining a stream with a windowed table is refused",
        "statements": [stream("S", "ID INT KEY, V INT", "s"), W_A,
                       "CREATE STREAM J AS SELECT S.ID, V, N FROM S JOIN A ON S.ID = A.ID;"],
        "expectedException": {"type": "SqlSemanticError",
                              "message": "Can not join windowed source to non-windowed source."},
    })
    return cases


# -- push queries with GROUP BY over a join ---------------------------------------------------------------
def push_join_aggregate_cases() -> list[Case]:
    s_j = stream("S", "ID INT KEY, NAME STRING, V INT", "s")
    t_j = table("T", "ID INT PRIMARY KEY, NAME STRING, F INT", "t")
    t2_j = table("T2", "ID INT PRIMARY KEY, G STRING", "t2")
    inputs = [rec("t", 1, {"NAME": "t1", "F": 10}, 0), rec("t", 2, {"NAME": "t2", "F": 20}, 0),
              rec("s", 1, {"NAME": "s1", "V": 5}, 10), rec("s", 2, {"NAME": "s2", "V": 6}, 11),
              rec("s", 1, {"NAME": "s3", "V": 7}, 12)]
    return [{
        "name": "a push query with GROUP BY over a stream-table join emits every update",
        "statements": [s_j, t_j],
        "inputs": inputs,
        "queries": [{"sql": "SELECT T.NAME, COUNT(*) AS N, SUM(V) AS TOTAL FROM S JOIN T ON S.ID = T.ID "
                            "GROUP BY T.NAME EMIT CHANGES;",
                     "rows": [["t1", 1, 5], ["t2", 1, 6], ["t1", 2, 12]]}],
    }, {
        "name": "a push query with WHERE, GROUP BY over a join and HAVING",
        "statements": [s_j, t_j],
        "inputs": inputs,
        "queries": [{"sql": "SELECT F, COUNT(*) AS N FROM S JOIN T ON S.ID = T.ID WHERE V > 5 GROUP BY F "
                            "HAVING COUNT(*) >= 1 EMIT CHANGES;",
                     "rows": [[20, 1], [10, 1]]}],
    }, {
        "name": "a push query with a windowed GROUP BY over a join",
        "statements": [s_j, t_j],
        "inputs": inputs,
        "queries": [{"sql": "SELECT T.NAME, WINDOWSTART AS W, COUNT(*) AS N FROM S JOIN T ON S.ID = T.ID "
                            "WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY T.NAME EMIT CHANGES;",
                     "rows": [["t1", 0, 1], ["t2", 0, 1], ["t1", 0, 2]]}],
    }, {
        "name": "a push query with GROUP BY over a table-table join: a row that moves group retracts",
        "statements": [t_j, t2_j],
        "inputs": [rec("t2", 1, {"G": "x"}, 0), rec("t2", 2, {"G": "x"}, 0), rec("t", 1, {"NAME": "a", "F": 1}, 1),
                   rec("t", 2, {"NAME": "b", "F": 2}, 2), rec("t2", 1, {"G": "y"}, 3)],
        "queries": [{"sql": "SELECT G, COUNT(*) AS N, SUM(F) AS S FROM T JOIN T2 ON T.ID = T2.ID GROUP BY G "
                            "EMIT CHANGES;",
                     "rows": [["x", 1, 1], ["x", 2, 3], ["x", 1, 2], ["y", 1, 1]]}],
    }, {
        "name": "a push query with GROUP BY over a join and LIMIT",
        "statements": [s_j, t_j],
        "inputs": inputs,
        "queries": [{"sql": "SELECT T.NAME, COUNT(*) AS N FROM S JOIN T ON S.ID = T.ID GROUP BY T.NAME "
                            "EMIT CHANGES LIMIT 2;",
                     "rows": [["t1", 1], ["t2", 1]]}],
    }]


FILES: dict[str, Callable[[], list[Case]]] = {
    "conform_session_having": session_having_cases,
    "conform_headers_stateful": header_cases,
    "conform_windowed_joins": windowed_join_cases,
    "conform_join_aggregate_push": push_join_aggregate_cases,
}


def main() -> None:
    write_case_files(FILES, "make_conformb_cases.py", PENDING)


if __name__ == "__main__":
    main()
