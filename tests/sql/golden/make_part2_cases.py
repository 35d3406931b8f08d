"""Writes the part-2 golden cases (aggregates_*, windows_*, tables_*.json) from readable specs.

Expected outputs are computed here, record by record, from ksqlDB's semantics:
the UDAF models of ``tests/sql/aggregates/reference.py`` (transcribed from
ksqlDB's Java) and Kafka Streams' window rules, never by running Headwater.
Run ``python -m tests.sql.golden.make_part2_cases`` after changing a spec and
commit the JSON it writes; the golden runner only reads the JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.sql.aggregates import reference as ref

CASES = Path(__file__).parent / "cases"
T0 = 1_790_000_040_000  # a minute boundary
CLICKS = ("CREATE STREAM clicks (userid INT, page STRING, bytes BIGINT, d DOUBLE) "
          "WITH (kafka_topic='clicks', value_format='JSON', partitions=1);")
USERS = ("CREATE TABLE users (id STRING PRIMARY KEY, region STRING, x INT, y DOUBLE) "
         "WITH (kafka_topic='users', value_format='JSON', partitions=1);")
LOG = "default_ksql_processing_log"
LATE = {"level": "ERROR", "message": {"type": 1}}


def click(t: int, userid: int | None, page: str | None = "home", bytes_: int | None = 100,
          d: float | None = 1.0) -> dict[str, Any]:
    return {"topic": "clicks", "timestamp": T0 + t,
            "value": {"userid": userid, "page": page, "bytes": bytes_, "d": d}}


def user(t: int, key: str, region: str | None = None, x: int | None = None, y: float | None = None,
         *, delete: bool = False) -> dict[str, Any]:
    value = None if delete else {"region": region, "x": x, "y": y}
    return {"topic": "users", "key": key, "timestamp": T0 + t, "value": value}


# -- aggregate functions ------------------------------------------------------------------------
class Sum(ref.Udaf):
    def initialize(self) -> Any:
        return 0

    def aggregate(self, value: Any, agg: Any) -> Any:
        return agg if value is None else agg + value

    def undo(self, value: Any, agg: Any) -> Any:
        return agg if value is None else agg - value


class Count(ref.Udaf):
    def __init__(self, star: bool = False) -> None:
        self.star = star

    def initialize(self) -> Any:
        return 0

    def aggregate(self, value: Any, agg: Any) -> Any:
        return agg + 1 if self.star or value is not None else agg

    def undo(self, value: Any, agg: Any) -> Any:
        return agg - 1 if self.star or value is not None else agg


class Avg(ref.Udaf):
    def initialize(self) -> Any:
        return (0.0, 0)

    def aggregate(self, value: Any, agg: Any) -> Any:
        return agg if value is None else (agg[0] + value, agg[1] + 1)

    def undo(self, value: Any, agg: Any) -> Any:
        return agg if value is None else (agg[0] - value, agg[1] - 1)

    def map(self, agg: Any) -> Any:
        return 0.0 if agg[1] == 0 else agg[0] / agg[1]


class Extreme(ref.Udaf):
    def __init__(self, pick: Callable[[Any, Any], Any]) -> None:
        self.pick = pick

    def initialize(self) -> Any:
        return None

    def aggregate(self, value: Any, agg: Any) -> Any:
        if value is None:
            return agg
        return value if agg is None else self.pick(agg, value)


def rounded(udaf: ref.Udaf, digits: int = 6) -> ref.Udaf:
    class Rounded(type(udaf)):  # type: ignore[misc]
        def map(self, agg: Any) -> Any:
            v = super().map(agg)
            return v if v is None or math.isnan(v) else round(v, digits)

    out = Rounded.__new__(Rounded)
    out.__dict__.update(udaf.__dict__)
    return out


def histogram_json(agg: Any) -> Any:
    return {str(k): v for k, v in agg.items()}


#: name -> (SQL call, udaf factory, the argument taken from a record's value, map of the result to JSON)
FUNCTIONS: dict[str, tuple[str, Callable[[], ref.Udaf], Callable[[dict[str, Any]], Any], Callable[[Any], Any]]] = {
    "COUNT(*)": ("COUNT(*)", lambda: Count(True), lambda v: 1, lambda r: r),
    "COUNT(col)": ("COUNT(bytes)", Count, lambda v: v["bytes"], lambda r: r),
    "SUM BIGINT": ("SUM(bytes)", Sum, lambda v: v["bytes"], lambda r: r),
    "SUM DOUBLE": ("SUM(d)", Sum, lambda v: v["d"], lambda r: r),
    "AVG": ("AVG(bytes)", Avg, lambda v: v["bytes"], lambda r: r),
    "MIN BIGINT": ("MIN(bytes)", lambda: Extreme(min), lambda v: v["bytes"], lambda r: r),
    "MAX BIGINT": ("MAX(bytes)", lambda: Extreme(max), lambda v: v["bytes"], lambda r: r),
    "MIN STRING": ("MIN(page)", lambda: Extreme(min), lambda v: v["page"], lambda r: r),
    "MAX DOUBLE": ("MAX(d)", lambda: Extreme(max), lambda v: v["d"], lambda r: r),
    "COUNT_DISTINCT": ("COUNT_DISTINCT(page)", ref.CountDistinct, lambda v: v["page"], lambda r: r),
    "COLLECT_LIST": ("COLLECT_LIST(page)", ref.CollectList, lambda v: v["page"], lambda r: r),
    "COLLECT_SET": ("COLLECT_SET(page)", ref.CollectSet, lambda v: v["page"], lambda r: r),
    "TOPK": ("TOPK(bytes, 2)", lambda: ref.TopK(2), lambda v: v["bytes"], lambda r: r),
    "TOPKDISTINCT": ("TOPKDISTINCT(bytes, 2)", lambda: ref.TopKDistinct(2), lambda v: v["bytes"], lambda r: r),
    "HISTOGRAM": ("HISTOGRAM(page)", ref.Histogram, lambda v: v["page"], histogram_json),
    "EARLIEST_BY_OFFSET": ("EARLIEST_BY_OFFSET(bytes)", lambda: ref.ByOffset(False), lambda v: v["bytes"],
                           lambda r: r),
    "EARLIEST_BY_OFFSET keeping nulls": ("EARLIEST_BY_OFFSET(bytes, false)",
                                         lambda: ref.ByOffset(False, None, False), lambda v: v["bytes"], lambda r: r),
    "EARLIEST_BY_OFFSET n": ("EARLIEST_BY_OFFSET(bytes, 2)", lambda: ref.ByOffset(False, 2), lambda v: v["bytes"],
                             lambda r: r),
    "LATEST_BY_OFFSET": ("LATEST_BY_OFFSET(bytes)", lambda: ref.ByOffset(True), lambda v: v["bytes"], lambda r: r),
    "LATEST_BY_OFFSET keeping nulls": ("LATEST_BY_OFFSET(bytes, false)", lambda: ref.ByOffset(True, None, False),
                                       lambda v: v["bytes"], lambda r: r),
    "LATEST_BY_OFFSET n": ("LATEST_BY_OFFSET(bytes, 2)", lambda: ref.ByOffset(True, 2), lambda v: v["bytes"],
                           lambda r: r),
    "LATEST_BY_OFFSET n keeping nulls": ("LATEST_BY_OFFSET(bytes, 2, false)", lambda: ref.ByOffset(True, 2, False),
                                         lambda v: v["bytes"], lambda r: r),
    "STDDEV_SAMP": ("ROUND(STDDEV_SAMP(bytes), 6)", lambda: rounded(ref.StdDev(True)), lambda v: v["bytes"],
                    lambda r: r),
    "STDDEV_POP": ("ROUND(STDDEV_POP(d), 6)", lambda: rounded(ref.StdDev(False)), lambda v: v["d"], lambda r: r),
    "CORRELATION": ("ROUND(CORRELATION(bytes, d), 6)", lambda: rounded(ref.Correlation()),
                    lambda v: (v["bytes"], v["d"]), lambda r: r),
}

#: Two input sets per function: plain values over two groups, and one with nulls in every column.
INPUTS = {
    "two groups": [click(0, 1, "home", 100, 1.5), click(1000, 2, "cart", 40, 2.0), click(2000, 1, "faq", 300, 4.0),
                   click(3000, 1, "home", 100, 8.5), click(4000, 2, "home", 60, 0.5)],
    "nulls": [click(0, 1, None, None, None), click(1000, 1, "home", 50, 2.0), click(2000, 1, None, None, None),
              click(3000, 1, "cart", 70, 6.0), click(4000, 1, "home", 90, 4.0)],
}


def expected_changes(udaf_factory: Callable[[], ref.Udaf], arg: Callable[[dict[str, Any]], Any],
                     to_json: Callable[[Any], Any], records: list[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    """EMIT CHANGES without caching: one update per record, the group's result after it."""
    state: dict[Any, Any] = {}
    out = []
    for r in records:
        v = r["value"]
        udaf = udaf_factory()
        g = v["userid"]
        state[g] = udaf.aggregate(arg(v), state.get(g, udaf.initialize()))
        out.append({"topic": topic, "key": g, "value": {"R": to_json(udaf.map(state[g]))}, "timestamp": r["timestamp"]})
    return out


def function_cases() -> list[dict[str, Any]]:
    cases = []
    for name, (call, factory, arg, to_json) in FUNCTIONS.items():
        for inputs_name, records in INPUTS.items():
            if name == "CORRELATION" and inputs_name == "two groups":
                records = [*records, click(5000, 2, "x", 80, 3.0), click(6000, 1, "x", 20, 1.0)]
            outputs = expected_changes(factory, arg, to_json, records, "OUT")
            having = ""
            if name == "CORRELATION":
                # Fewer than two points give NaN, which JSON cannot carry: HAVING holds those rows back.
                having = " HAVING COUNT(bytes) >= 2"
                seen: dict[Any, int] = {}
                for r, o in zip(records, outputs, strict=True):
                    g = r["value"]["userid"]
                    seen[g] = seen.get(g, 0) + (r["value"]["bytes"] is not None)
                    if seen[g] < 2:
                        o["value"] = None
            cases.append({
                "name": f"{name} per record over {inputs_name}",
                "statements": [CLICKS, f"CREATE TABLE out AS SELECT userid, {call} AS r FROM clicks GROUP BY userid"
                                       f"{having};"],
                "inputs": records,
                "outputs": having_gate(outputs) if having else outputs,
            })
    return cases


# -- GROUP BY, HAVING, WHERE --------------------------------------------------------------------
def group_by_cases() -> list[dict[str, Any]]:
    recs = INPUTS["two groups"]
    cases: list[dict[str, Any]] = []

    def case(name: str, sql: str, records: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> None:
        cases.append({"name": name, "statements": [CLICKS, sql], "inputs": records, "outputs": outputs})

    counts: dict[Any, int] = {}
    out = []
    for r in recs:
        p = r["value"]["page"]
        counts[p] = counts.get(p, 0) + 1
        out.append({"topic": "OUT", "key": p, "value": {"N": counts[p]}})
    case("GROUP BY a STRING column", "CREATE TABLE out AS SELECT page, COUNT(*) AS n FROM clicks GROUP BY page;",
         recs, out)

    sums: dict[Any, int] = {}
    out = []
    for r in recs:
        k = r["value"]["userid"] % 2
        sums[k] = sums.get(k, 0) + r["value"]["bytes"]
        out.append({"topic": "OUT", "key": k, "value": {"B": sums[k]}})
    case("GROUP BY an expression, aliased in the projection",
         "CREATE TABLE out AS SELECT userid % 2 AS parity, SUM(bytes) AS b FROM clicks GROUP BY userid % 2;",
         recs, out)

    state: dict[Any, list[int]] = {}
    out = []
    for r in recs:
        k = (r["value"]["userid"], r["value"]["page"])
        s = state.setdefault(k, [0, 0])
        s[0] += 1
        s[1] += r["value"]["bytes"]
        out.append({"topic": "OUT", "key": {"USERID": k[0], "PAGE": k[1]}, "value": {"N": s[0], "B": s[1]}})
    case("GROUP BY two columns into a JSON key",
         "CREATE TABLE out WITH (key_format='JSON') AS SELECT userid, page, COUNT(*) AS n, SUM(bytes) AS b "
         "FROM clicks GROUP BY userid, page;", recs, out)

    counts2: dict[Any, int] = {}
    out = []
    for r in recs:
        g = r["value"]["userid"]
        counts2[g] = counts2.get(g, 0) + 1
        out.append({"topic": "OUT", "key": g, "value": {"N": counts2[g]} if counts2[g] > 1 else None})
    case("HAVING false emits a tombstone for the group",
         "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid HAVING COUNT(*) > 1;",
         recs, having_gate(out))

    out = []
    state2: dict[Any, list[int]] = {}
    for r in recs:
        g = r["value"]["userid"]
        s = state2.setdefault(g, [0, 0])
        s[0] += r["value"]["bytes"]
        s[1] += 1
        out.append({"topic": "OUT", "key": g, "value": {"PER": s[0] // s[1], "TWICE": 2 * s[0], "USERID2": g}})
    case("arithmetic over aggregates and AS_VALUE of the key",
         "CREATE TABLE out AS SELECT userid, SUM(bytes) / COUNT(*) AS per, SUM(bytes) * 2 AS twice, "
         "AS_VALUE(userid) AS userid2 FROM clicks GROUP BY userid;", recs, out)

    out = []
    sums3: dict[Any, int] = {}
    for r in recs:
        if r["value"]["bytes"] < 100:
            continue
        g = r["value"]["userid"]
        sums3[g] = sums3.get(g, 0) + r["value"]["bytes"] * 2
        out.append({"topic": "OUT", "key": g, "value": {"B": sums3[g]}})
    case("WHERE filters before grouping; aggregate of an expression",
         "CREATE TABLE out AS SELECT userid, SUM(bytes * 2) AS b FROM clicks WHERE bytes >= 100 GROUP BY userid;",
         recs, out)

    nulls = [click(0, 1), click(1000, None), click(2000, 1)]
    case("a null group key drops the record to the processing log",
         "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid;", nulls,
         [{"topic": "OUT", "key": 1, "value": {"N": 1}}, {"topic": "OUT", "key": 1, "value": {"N": 2}},
          {"topic": LOG, "value": {"level": "ERROR", "message": {"type": 1, "recordProcessingError": {
              "errorMessage": "Group-by column with null value found: record dropped."}}}}])

    out = []
    st: dict[Any, list[Any]] = {}
    for r in recs:
        g = r["value"]["userid"]
        s = st.setdefault(g, [0, None, None])
        s[0] += 1
        s[1] = r["value"]["bytes"] if s[1] is None else max(s[1], r["value"]["bytes"])
        s[2] = r["value"]["bytes"] if s[2] is None else min(s[2], r["value"]["bytes"])
        out.append({"topic": "OUT", "key": g, "value": {"N": s[0], "HI": s[1], "LO": s[2], "SPREAD": s[1] - s[2]}})
    case("several aggregates and an expression mixing two of them",
         "CREATE TABLE out AS SELECT userid, COUNT(*) AS n, MAX(bytes) AS hi, MIN(bytes) AS lo, "
         "MAX(bytes) - MIN(bytes) AS spread FROM clicks GROUP BY userid;", recs, out)

    out = []
    n4: dict[Any, int] = {}
    for r in recs:
        g = r["value"]["userid"]
        n4[g] = n4.get(g, 0) + 1
        out.append({"topic": "OUT", "key": g, "value": {"N": n4[g]}, "timestamp": r["timestamp"]})
    case("the output timestamp is the input record's",
         "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid;", recs, out)

    out = []
    n5: dict[Any, int] = {}
    for r in recs:
        g = r["value"]["userid"]
        n5[g] = n5.get(g, 0) + 1
        out.append({"topic": "OUT", "key": g, "value": {"N": n5[g]} if r["value"]["bytes"] > 50 or n5[g] > 2 else None})
    case("HAVING over an aggregate not in the projection",
         "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid "
         "HAVING MAX(bytes) > 50 OR COUNT(*) > 2;", recs,
         having_gate([{"topic": "OUT", "key": o["key"], "value": o["value"]} for o in _having_max(recs)]))

    out = []
    wrap: dict[Any, int] = {}
    for r in recs:
        g = r["value"]["userid"]
        wrap[g] = wrap.get(g, 0) + 1
        out.append({"topic": "OUT", "key": g, "value": wrap[g]})
    case("a single value column unwrapped (WRAP_SINGLE_VALUE=false)",
         "CREATE TABLE out WITH (wrap_single_value=false) AS SELECT userid, COUNT(*) AS n FROM clicks "
         "GROUP BY userid;", recs, out)

    out = []
    lower: dict[Any, int] = {}
    for r in recs:
        k = r["value"]["page"].upper()
        lower[k] = lower.get(k, 0) + 1
        out.append({"topic": "OUT", "key": k, "value": {"N": lower[k]}})
    case("GROUP BY a function call", "CREATE TABLE out AS SELECT UCASE(page) AS p, COUNT(*) AS n FROM clicks "
         "GROUP BY UCASE(page);", recs, out)
    return cases


def having_gate(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """HAVING as ksqlDB applies it (a KTable filter): an update failing it (a null value) is a
    tombstone only when its key's (and window's) last update qualified; otherwise it is not emitted."""
    shown: set[Any] = set()
    out = []
    for o in outputs:
        key = (json.dumps(o["key"]), json.dumps(o.get("window"), sort_keys=True))
        if o["value"] is not None:
            shown.add(key)
        elif key in shown:
            shown.discard(key)
        else:
            continue
        out.append(o)
    return out


def _having_max(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    st: dict[Any, list[int]] = {}
    out = []
    for r in recs:
        g = r["value"]["userid"]
        s = st.setdefault(g, [0, 0])
        s[0] += 1
        s[1] = max(s[1], r["value"]["bytes"])
        keep = s[1] > 50 or s[0] > 2
        out.append({"key": g, "value": {"N": s[0]} if keep else None})
    return out


# -- windows -------------------------------------------------------------------------------------
def tumbling(records: list[dict[str, Any]], size: int, grace: int, final: bool = False,
             value: Callable[[int, int, int, int], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Kafka Streams' TUMBLING aggregation of COUNT(*) and SUM(bytes) per userid (caching off)."""
    value = value or (lambda n, b, ws, we: {"N": n, "B": b})
    stream_time = -(1 << 62)
    state: dict[tuple[int, int], list[int]] = {}
    out = []
    emitted: set[tuple[int, int]] = set()
    for r in records:
        ts = r["timestamp"]
        stream_time = max(stream_time, ts)
        ws = ts - ts % size
        g = r["value"]["userid"]
        if ws + size + grace <= stream_time:
            out.append({"topic": LOG, "value": LATE})
        else:
            s = state.setdefault((g, ws), [0, 0, ts])
            s[0] += 1
            s[1] += r["value"]["bytes"]
            s[2] = max(s[2], ts)  # the output's timestamp: the newest of the window (Kafka Streams)
            if not final:
                out.append({"topic": "OUT", "key": g, "window": {"start": ws, "end": ws + size},
                            "value": value(s[0], s[1], ws, ws + size), "timestamp": s[2]})
        if final:
            for (g2, w2), s2 in sorted(state.items(), key=lambda kv: kv[0][1]):
                if (g2, w2) not in emitted and w2 + size + grace <= stream_time:
                    emitted.add((g2, w2))
                    out.append({"topic": "OUT", "key": g2, "window": {"start": w2, "end": w2 + size},
                                "value": value(s2[0], s2[1], w2, w2 + size)})
    return _logs_last(out)


def _logs_last(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runner compares per topic: order within each topic is what matters."""
    return [o for o in out if o["topic"] != LOG] + [o for o in out if o["topic"] == LOG]


def window_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    m = 60_000

    def case(name: str, sql: str, records: list[dict[str, Any]], outputs: list[dict[str, Any]],
             file: str = "tumbling") -> None:
        cases.append({"file": file, "name": name, "statements": [CLICKS, sql], "inputs": records, "outputs": outputs})

    basic = [click(0, 1, bytes_=278), click(10_000, 1, bytes_=1289), click(59_000, 1, bytes_=2048),
             click(61_000, 1, bytes_=4096)]
    tum = "CREATE TABLE out AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM clicks WINDOW TUMBLING (SIZE {size}{extra}) GROUP BY userid{emit};"
    case("bandwidth per minute: one update per record, windowed key",
         tum.format(size="60 SECONDS", extra="", emit=""), basic, tumbling(basic, m, 86_400_000))
    case("EMIT CHANGES said explicitly", tum.format(size="1 MINUTE", extra="", emit=" EMIT CHANGES"), basic,
         tumbling(basic, m, 86_400_000))
    two_users = [click(0, 1), click(5_000, 2), click(30_000, 1), click(65_000, 2), click(70_000, 1)]
    case("two keys in two windows", tum.format(size="60 SECONDS", extra="", emit=""), two_users,
         tumbling(two_users, m, 86_400_000))
    case("a 10 second window", tum.format(size="10 SECONDS", extra="", emit=""), two_users,
         tumbling(two_users, 10_000, 86_400_000))
    final_in = [click(0, 1), click(20_000, 1), click(30_000, 2), click(60_000, 1), click(125_000, 2)]
    case("EMIT FINAL emits each window once when stream time passes end + grace",
         tum.format(size="60 SECONDS", extra=", GRACE PERIOD 0 SECONDS", emit=" EMIT FINAL"), final_in,
         tumbling(final_in, m, 0, final=True))
    case("EMIT FINAL waits for the grace period",
         tum.format(size="60 SECONDS", extra=", GRACE PERIOD 10 SECONDS", emit=" EMIT FINAL"),
         [*final_in, click(200_000, 3)], tumbling([*final_in, click(200_000, 3)], m, 10_000, final=True))
    # Grace edges: stream time 70 s; window [0, 60) closes at 60 + grace.
    for grace, label in ((10_000, "a record when stream time is exactly end + grace is late"),
                         (10_001, "a record when stream time is one ms before end + grace is on time")):
        recs = [click(0, 1), click(70_000, 1), click(30_000, 1)]
        case(f"grace edge: {label}",
             tum.format(size="60 SECONDS", extra=f", GRACE PERIOD {grace} MILLISECONDS", emit=""), recs,
             tumbling(recs, m, grace))
    late = [click(0, 1), click(90_000, 1), click(10_000, 1), click(50_000, 2), click(95_000, 2)]
    case("late records are dropped and logged, later ones still count",
         tum.format(size="60 SECONDS", extra=", GRACE PERIOD 0 SECONDS", emit=""), late, tumbling(late, m, 0))
    case("out-of-order records within grace update their window",
         tum.format(size="60 SECONDS", extra=", GRACE PERIOD 30 SECONDS", emit=""),
         [click(0, 1), click(65_000, 1), click(50_000, 1), click(89_999, 1), click(40_000, 1)],
         tumbling([click(0, 1), click(65_000, 1), click(50_000, 1), click(89_999, 1), click(40_000, 1)], m, 30_000))
    case("WINDOWSTART and WINDOWEND in the projection",
         "CREATE TABLE out AS SELECT userid, WINDOWSTART AS ws, WINDOWEND AS we, COUNT(*) AS n, SUM(bytes) AS b "
         "FROM clicks WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY userid;", basic,
         tumbling(basic, m, 86_400_000, value=lambda n, b, ws, we: {"WS": ws, "WE": we, "N": n, "B": b}))
    case("the clickstream demo's bandwidth_per_min",
         "CREATE TABLE out AS SELECT userid AS k, AS_VALUE(userid) AS userid, WINDOWSTART AS event_ts, "
         "SUM(bytes) AS total_bytes FROM clicks WINDOW TUMBLING (SIZE 60 SECOND) GROUP BY userid EMIT CHANGES;",
         basic, tumbling(basic, m, 86_400_000,
                         value=lambda n, b, ws, we: {"USERID": 1, "EVENT_TS": ws, "TOTAL_BYTES": b}))
    case("retention as long as size + grace is accepted",
         tum.format(size="60 SECONDS", extra=", RETENTION 70 SECONDS, GRACE PERIOD 10 SECONDS", emit=""),
         two_users, tumbling(two_users, m, 10_000))
    case("HAVING over a windowed aggregate",
         "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks WINDOW TUMBLING (SIZE 60 SECONDS) "
         "GROUP BY userid HAVING COUNT(*) >= 2;", basic,
         having_gate([{**o, "value": {"N": o["value"]["N"]} if o["value"]["N"] >= 2 else None}
                      for o in tumbling(basic, m, 86_400_000)]))
    case("a window with a ROWTIME from the TIMESTAMP property",
         "CREATE STREAM timed (userid INT, bytes BIGINT, t BIGINT) WITH (kafka_topic='timed', value_format='JSON', "
         "partitions=1, timestamp='t');\n"
         "CREATE TABLE out AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM timed "
         "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY userid;",
         [{"topic": "timed", "timestamp": 0, "value": {"userid": 1, "bytes": 5, "t": T0 + 1000}},
          {"topic": "timed", "timestamp": 0, "value": {"userid": 1, "bytes": 7, "t": T0 + 61_000}}],
         [{"topic": "OUT", "key": 1, "window": {"start": T0, "end": T0 + m}, "value": {"N": 1, "B": 5},
           "timestamp": T0 + 1000},
          {"topic": "OUT", "key": 1, "window": {"start": T0 + m, "end": T0 + 2 * m}, "value": {"N": 1, "B": 7},
           "timestamp": T0 + 61_000}])
    # The website pipeline's 5 second summary.
    web = [click(0, 1, "SHOPPING_CART", 5), click(1000, 1, "FAQ", 7), click(2000, 1, "SHOPPING_CART", 9)]
    page_sum: dict[str, int] = {}
    web_out = []
    for r in web:
        p = r["value"]["page"]
        page_sum[p] = page_sum.get(p, 0) + r["value"]["bytes"]
        web_out.append({"topic": "OUT", "key": p, "window": {"start": T0, "end": T0 + 5000},
                        "value": {"WINDOW_START": T0, "DURATION": page_sum[p]}})
    case("the website pipeline's 5-second window summary",
         "CREATE TABLE out AS SELECT page, WINDOWSTART AS window_start, SUM(bytes) AS duration FROM clicks "
         "WINDOW TUMBLING (SIZE 5 SECONDS) GROUP BY page;", web, web_out)

    # HOPPING
    def hopping(records: list[dict[str, Any]], size: int, adv: int, grace: int = 86_400_000) -> list[dict[str, Any]]:
        stream_time = -(1 << 62)
        state: dict[tuple[int, int], int] = {}
        newest: dict[tuple[int, int], int] = {}
        out = []
        for r in records:
            ts = r["timestamp"]
            stream_time = max(stream_time, ts)
            g = r["value"]["userid"]
            # Kafka Streams' windowsFor: the multiples of the advance in (ts - size, ts], oldest first.
            starts = sorted(s for s in range(ts - ts % adv, ts - size, -adv) if s >= 0)
            for ws in starts:
                if ws + size + grace <= stream_time:
                    out.append({"topic": LOG, "value": LATE})
                    continue
                state[(g, ws)] = state.get((g, ws), 0) + 1
                newest[(g, ws)] = max(newest.get((g, ws), ts), ts)
                out.append({"topic": "OUT", "key": g, "window": {"start": ws, "end": ws + size},
                            "value": {"N": state[(g, ws)]}, "timestamp": newest[(g, ws)]})
        return _logs_last(out)

    hop = "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks WINDOW HOPPING (SIZE {s}, ADVANCE BY {a}{g}) GROUP BY userid;"
    hop_in = [click(0, 1), click(25_000, 1), click(61_000, 2), click(119_000, 1)]
    case("HOPPING 60 s advancing 30 s: each record in two windows",
         hop.format(s="60 SECONDS", a="30 SECONDS", g=""), hop_in, hopping(hop_in, m, 30_000), "hopping")
    case("HOPPING 60 s advancing 20 s: three windows per record",
         hop.format(s="60 SECONDS", a="20 SECONDS", g=""), hop_in, hopping(hop_in, m, 20_000), "hopping")
    case("HOPPING whose advance equals its size behaves as TUMBLING",
         hop.format(s="60 SECONDS", a="60 SECONDS", g=""), hop_in, hopping(hop_in, m, m), "hopping")
    case("HOPPING with an advance that does not divide the size",
         hop.format(s="50 SECONDS", a="20 SECONDS", g=""), hop_in, hopping(hop_in, 50_000, 20_000), "hopping")
    hop_late = [click(0, 1), click(100_000, 1), click(45_000, 1), click(15_000, 1)]
    case("HOPPING with grace: only the windows that closed drop the record",
         hop.format(s="60 SECONDS", a="30 SECONDS", g=", GRACE PERIOD 10 SECONDS"), hop_late,
         hopping(hop_late, m, 30_000, 10_000), "hopping")
    case("HOPPING with WINDOWSTART in the projection",
         "CREATE TABLE out AS SELECT userid, WINDOWSTART AS ws, COUNT(*) AS n FROM clicks "
         "WINDOW HOPPING (SIZE 60 SECONDS, ADVANCE BY 30 SECONDS) GROUP BY userid;", hop_in,
         [{**o, "value": {"WS": o["window"]["start"], **o["value"]}} for o in hopping(hop_in, m, 30_000)], "hopping")
    hop_final = [click(0, 1), click(40_000, 1), click(95_000, 1), click(200_000, 2)]
    final_out = []
    st: dict[int, int] = {}
    for r in hop_final[:3]:
        ts = r["timestamp"]
        for ws in range(ts - ts % 30_000, ts - m, -30_000):
            st[ws] = st.get(ws, 0) + 1
    for ws in sorted(st):
        if ws + m <= T0 + 200_000:
            final_out.append({"topic": "OUT", "key": 1, "window": {"start": ws, "end": ws + m}, "value": {"N": st[ws]}})
    case("HOPPING with EMIT FINAL", hop.format(s="60 SECONDS", a="30 SECONDS", g=", GRACE PERIOD 0 SECONDS")
         .replace(" GROUP BY userid;", " GROUP BY userid EMIT FINAL;"), hop_final, final_out, "hopping")
    return cases


# -- sessions -----------------------------------------------------------------------------------
def sessions(records: list[dict[str, Any]], gap: int, grace: int = 86_400_000, final: bool = False
             ) -> list[dict[str, Any]]:
    """Kafka Streams' session aggregation of COUNT(*) and SUM(bytes), caching off: per record, a
    tombstone for each session the record merged away, then the merged session."""
    stream_time = -(1 << 62)
    state: dict[int, list[list[int]]] = {}  # userid -> [start, end, n, b]
    out: list[dict[str, Any]] = []
    for r in records:
        ts = r["timestamp"]
        stream_time = max(stream_time, ts)
        g = r["value"]["userid"]
        sessions_of = state.setdefault(g, [])
        overlapping = [s for s in sessions_of if s[0] - gap <= ts <= s[1] + gap]
        start = min([ts] + [s[0] for s in overlapping])
        end = max([ts] + [s[1] for s in overlapping])
        if end + grace < stream_time:
            out.append({"topic": LOG, "value": LATE})
            continue
        n = 1 + sum(s[2] for s in overlapping)
        b = r["value"]["bytes"] + sum(s[3] for s in overlapping)
        for s in sorted(overlapping):
            sessions_of.remove(s)
            if not final:
                out.append({"topic": "OUT", "key": g, "window": {"start": s[0], "end": s[1]}, "value": None,
                            "timestamp": s[1]})
        sessions_of.append([start, end, n, b])
        if not final:
            # Kafka Streams forwards a session change (tombstones too) with the session's end as the timestamp.
            out.append({"topic": "OUT", "key": g, "window": {"start": start, "end": end},
                        "value": {"N": n, "B": b, "START": start}, "timestamp": end})
    return _logs_last(out)


def session_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    sql = ("CREATE TABLE out AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS b, WINDOWSTART AS start FROM clicks "
           "WINDOW SESSION ({gap}{grace}) GROUP BY userid;")

    def case(name: str, records: list[dict[str, Any]], gap: int, grace: int | None = None) -> None:
        g = f"{gap} MILLISECONDS"
        gr = "" if grace is None else f", GRACE PERIOD {grace} MILLISECONDS"
        cases.append({"file": "session", "name": name, "statements": [CLICKS, sql.format(gap=g, grace=gr)],
                      "inputs": records,
                      "outputs": sessions(records, gap, 86_400_000 if grace is None else grace)})

    case("the clickstream demo's user sessions: 0, 20, 45 then 100 s with a 30 s gap",
         [click(0, 1, bytes_=278), click(20_000, 1, bytes_=1289), click(45_000, 1, bytes_=2048),
          click(100_000, 1, bytes_=4096)], 30_000)
    case("a record extending a session replaces it: tombstone then the longer session",
         [click(0, 1), click(5_000, 1), click(9_000, 1)], 10_000)
    case("a record between two sessions merges them: two tombstones then one session",
         [click(0, 1), click(30_000, 1), click(15_000, 1)], 20_000)
    case("a gap exactly equal to the inactivity gap still joins the session",
         [click(0, 1), click(10_000, 1)], 10_000)
    case("a gap one ms longer than the inactivity gap starts a new session",
         [click(0, 1), click(10_001, 1)], 10_000)
    case("sessions are per key", [click(0, 1), click(1_000, 2), click(2_000, 1), click(50_000, 2)], 10_000)
    case("an out-of-order record inside a session", [click(0, 1), click(8_000, 1), click(4_000, 1)], 5_000)
    case("an out-of-order record before a session extends its start",
         [click(10_000, 1), click(20_000, 1), click(5_000, 1)], 6_000)
    case("session grace edge: end + grace equal to stream time is still on time",
         [click(0, 1), click(100_000, 2), click(40_000, 1)], 10_000, 60_000)
    case("session grace edge: end + grace one ms before stream time is late",
         [click(0, 1), click(100_001, 2), click(40_000, 1)], 10_000, 60_000)
    case("many records of one session, one update each",
         [click(i * 1000, 1, bytes_=i) for i in range(8)], 2_000)
    case("interleaved keys with sessions closing and opening",
         [click(0, 1), click(1000, 2), click(3000, 1), click(20_000, 2), click(21_000, 1), click(22_000, 2)], 5_000)
    return cases


# -- tables --------------------------------------------------------------------------------------
def table_aggregate(records: list[dict[str, Any]], fns: dict[str, tuple[Callable[[], ref.Udaf], Any]],
                    group: Callable[[dict[str, Any]], Any], where: Callable[[dict[str, Any]], bool] = lambda v: True,
                    having: Callable[[dict[str, Any]], bool] = lambda r: True) -> list[dict[str, Any]]:
    """Kafka Streams' table aggregation (caching off, 3.5+): a change retracts the key's prior row from
    its group (one update), then adds the new row to its group (another update); a change within its
    group is one record, so one update. HAVING (a KTable filter) emits a tombstone only for a group
    whose last update qualified."""
    prior: dict[str, dict[str, Any]] = {}
    state: dict[Any, dict[str, Any]] = {}
    shown: set[Any] = set()
    out = []

    def emit(g: Any, ts: int) -> None:
        result = {name: fn().map(state[g][name]) for name, (fn, _) in fns.items()}
        if having(result):
            shown.add(g)
        elif g in shown:
            shown.discard(g)
            result = None
        else:
            return
        out.append({"topic": "OUT", "key": g, "value": result, "timestamp": ts})

    for r in records:
        key, v = r["key"], r["value"]
        old = prior.pop(key, None)
        joins = v is not None and where(v) and group(v) is not None
        if old is not None:
            g = group(old)
            for name, (fn, arg) in fns.items():
                state[g][name] = fn().undo(arg(old), state[g][name])
            if not (joins and group(v) == g):
                emit(g, r["timestamp"])
        if joins:
            prior[key] = v
            g = group(v)
            s = state.setdefault(g, {name: fn().initialize() for name, (fn, _) in fns.items()})
            for name, (fn, arg) in fns.items():
                s[name] = fn().aggregate(arg(v), s[name])
            emit(g, r["timestamp"])
    return out


def table_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    changes = [user(0, "1", "a", 1, 1.0), user(1, "2", "a", 2, 3.0), user(2, "1", "b", 5, 2.0),
               user(3, "2", delete=True), user(4, "3", "b", 7, 4.0), user(5, "3", "b", 9, 8.0),
               user(6, "1", "a", 4, 6.0)]

    def case(name: str, sql: str, records: list[dict[str, Any]], outputs: list[dict[str, Any]],
             file: str = "aggregates") -> None:
        cases.append({"file": file, "name": name, "statements": [USERS, sql], "inputs": records, "outputs": outputs})

    region = lambda v: v["region"]  # noqa: E731
    table_fns: dict[str, tuple[str, Callable[[], ref.Udaf], Any]] = {
        "COUNT(*)": ("COUNT(*)", lambda: Count(True), lambda v: 1),
        "COUNT(col)": ("COUNT(x)", Count, lambda v: v["x"]),
        "SUM": ("SUM(x)", Sum, lambda v: v["x"]),
        "AVG": ("AVG(y)", Avg, lambda v: v["y"]),
        "COLLECT_LIST": ("COLLECT_LIST(x)", ref.CollectList, lambda v: v["x"]),
        "COLLECT_SET": ("COLLECT_SET(region)", ref.CollectSet, lambda v: v["region"]),
        "HISTOGRAM": ("HISTOGRAM(CAST(x AS STRING))", ref.Histogram,
                      lambda v: None if v["x"] is None else str(v["x"])),
        "STDDEV_POP": ("ROUND(STDDEV_POP(y), 6)", lambda: rounded(ref.StdDev(False)), lambda v: v["y"]),
        "STDDEV_SAMP": ("ROUND(STDDEV_SAMP(y), 6)", lambda: rounded(ref.StdDev(True)), lambda v: v["y"]),
    }
    for name, (call, fn, arg) in table_fns.items():
        outs = table_aggregate(changes, {"R": (fn, arg)}, region)
        for o in outs:
            if name == "HISTOGRAM":
                o["value"] = {"R": histogram_json(o["value"]["R"])}
        case(f"{name} over a table retracts rows that move or disappear",
             f"CREATE TABLE out AS SELECT region, {call} AS r FROM users GROUP BY region;", changes, outs)
    with_nulls = [user(0, "1", "a", None, None), user(1, "2", "a", 3, 1.0), user(2, "1", "a", 4, 3.0),
                  user(3, "2", "a", None, None)]
    for name in ("COUNT(col)", "SUM", "AVG", "COLLECT_LIST"):
        call, fn, arg = table_fns[name]
        case(f"{name} over a table with null values",
             f"CREATE TABLE out AS SELECT region, {call} AS r FROM users GROUP BY region;", with_nulls,
             table_aggregate(with_nulls, {"R": (fn, arg)}, region))
    case("several aggregates over a table",
         "CREATE TABLE out AS SELECT region, COUNT(*) AS n, SUM(x) AS total, AVG(y) AS mean FROM users "
         "GROUP BY region;", changes,
         table_aggregate(changes, {"N": (lambda: Count(True), lambda v: 1), "TOTAL": (Sum, lambda v: v["x"]),
                                   "MEAN": (Avg, lambda v: v["y"])}, region))
    case("WHERE over a table: a row that stops matching leaves its group",
         "CREATE TABLE out AS SELECT region, COUNT(*) AS n FROM users WHERE x > 3 GROUP BY region;", changes,
         table_aggregate(changes, {"N": (lambda: Count(True), lambda v: 1)}, region, where=lambda v: v["x"] > 3))
    case("HAVING over a table aggregate: a group falling below emits a tombstone",
         "CREATE TABLE out AS SELECT region, COUNT(*) AS n FROM users GROUP BY region HAVING COUNT(*) > 1;", changes,
         table_aggregate(changes, {"N": (lambda: Count(True), lambda v: 1)}, region, having=lambda r: r["N"] > 1))
    case("GROUP BY an expression over a table",
         "CREATE TABLE out AS SELECT x % 2 AS odd, COUNT(*) AS n FROM users GROUP BY x % 2;", changes,
         table_aggregate(changes, {"N": (lambda: Count(True), lambda v: 1)}, lambda v: v["x"] % 2))
    same_group = [user(0, "1", "a", 1), user(1, "1", "a", 5), user(2, "1", "a", 2)]
    case("an update within the same group emits one update (Kafka Streams 3.5+)",
         "CREATE TABLE out AS SELECT region, SUM(x) AS r FROM users GROUP BY region;", same_group,
         table_aggregate(same_group, {"R": (Sum, lambda v: v["x"])}, region))
    null_group = [user(0, "1", "a", 1), user(1, "1", None, 2), user(2, "1", "a", 3)]
    case("a row moving to a null group leaves its group and is logged",
         "CREATE TABLE out AS SELECT region, COUNT(*) AS r FROM users GROUP BY region;", null_group,
         [*table_aggregate(null_group, {"R": (lambda: Count(True), lambda v: 1)}, region),
          {"topic": LOG, "value": {"level": "ERROR", "message": {"type": 1}}}])
    deletes_unknown = [user(0, "9", delete=True), user(1, "1", "a", 1)]
    case("a tombstone for a key never seen changes nothing",
         "CREATE TABLE out AS SELECT region, COUNT(*) AS r FROM users GROUP BY region;", deletes_unknown,
         table_aggregate(deletes_unknown, {"R": (lambda: Count(True), lambda v: 1)}, region))

    # Stateless queries over a table.
    def table_filter(records: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool],
                     project: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"topic": "OUT", "key": r["key"],
                 "value": project(r["value"]) if r["value"] is not None and keep(r["value"]) else None,
                 "timestamp": r["timestamp"]} for r in records]

    case("a table filter emits a tombstone for a row that stops matching",
         "CREATE TABLE out AS SELECT * FROM users WHERE x > 2;", changes,
         table_filter(changes, lambda v: v["x"] > 2, lambda v: {"REGION": v["region"], "X": v["x"], "Y": v["y"]}),
         "stateless")
    case("a table projection passes tombstones on",
         "CREATE TABLE out AS SELECT id, UCASE(region) AS r, x + 1 AS x1 FROM users;", changes,
         table_filter(changes, lambda v: True, lambda v: {"R": v["region"].upper(), "X1": v["x"] + 1}), "stateless")
    case("a table filter on a string column",
         "CREATE TABLE out AS SELECT id, x FROM users WHERE region = 'b';", changes,
         table_filter(changes, lambda v: v["region"] == "b", lambda v: {"X": v["x"]}), "stateless")
    case("a filter over a key column of a table",
         "CREATE TABLE out AS SELECT id, region FROM users WHERE id <> '2';", changes,
         [{"topic": "OUT", "key": r["key"],
           "value": {"REGION": r["value"]["region"]} if r["value"] is not None and r["key"] != "2" else None}
          for r in changes], "stateless")
    case("a null-key table record is dropped to the processing log",
         "CREATE TABLE out AS SELECT id, x FROM users;",
         [user(0, "1", "a", 1), {"topic": "users", "key": None, "value": {"region": "a", "x": 2}}],
         [{"topic": "OUT", "key": "1", "value": {"X": 1}},
          {"topic": LOG, "value": {"level": "ERROR", "message": {"type": 0, "deserializationError": {
              "target": "key"}}}}], "stateless")
    return cases


# -- errors ---------------------------------------------------------------------------------------
ERRORS: list[tuple[str, str, str]] = [
    ("an aggregate in WHERE", "SELECT userid, COUNT(*) AS n FROM clicks WHERE COUNT(*) > 1 GROUP BY userid",
     "Aggregate functions are not allowed in the WHERE clause"),
    ("a non-aggregate column not in GROUP BY", "SELECT userid, page, COUNT(*) AS n FROM clicks GROUP BY userid",
     "Non-aggregate SELECT expression(s) not part of GROUP BY: PAGE"),
    ("a non-aggregate column in HAVING not in GROUP BY",
     "SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid HAVING page = 'x'",
     "Non-aggregate HAVING expression not part of GROUP BY: PAGE"),
    ("nested aggregates", "SELECT userid, SUM(COUNT(*)) AS n FROM clicks GROUP BY userid",
     "Aggregate functions can not be nested: SUM(COUNT())"),
    ("an aggregate in GROUP BY", "SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid, COUNT(*)",
     "GROUP BY does not support aggregate functions: COUNT is an aggregate function."),
    ("EMIT FINAL without a window", "SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid EMIT FINAL",
     "EMIT FINAL is only supported for windowed aggregations."),
    ("the grouping key missing from the projection", "SELECT COUNT(*) AS n FROM clicks GROUP BY userid",
     "Key missing from projection"),
    ("a HAVING that is not a boolean", "SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid HAVING SUM(bytes)",
     "Type error in HAVING expression: Should evaluate to boolean but is BIGINT."),
    ("SUM of a STRING", "SELECT userid, SUM(page) AS n FROM clicks GROUP BY userid",
     "Function 'SUM' does not accept parameters (STRING)."),
    ("TOPK with a column for k", "SELECT userid, TOPK(bytes, userid) AS n FROM clicks GROUP BY userid",
     "This argument must be a literal."),
    ("TOPK with k of 0", "SELECT userid, TOPK(bytes, 0) AS n FROM clicks GROUP BY userid",
     "k must be 1 or greater"),
    ("LATEST_BY_OFFSET with n of 0", "SELECT userid, LATEST_BY_OFFSET(bytes, 0) AS n FROM clicks GROUP BY userid",
     "latestN must be 1 or greater"),
    ("CORRELATION with one argument", "SELECT userid, CORRELATION(bytes) AS n FROM clicks GROUP BY userid",
     "Function 'CORRELATION' does not accept parameters (BIGINT)."),
    ("an unknown column in GROUP BY", "SELECT userid, COUNT(*) AS n FROM clicks GROUP BY nope",
     "Column 'NOPE' cannot be resolved."),
    ("HOPPING advance larger than the size",
     "SELECT userid, COUNT(*) AS n FROM clicks WINDOW HOPPING (SIZE 10 SECONDS, ADVANCE BY 20 SECONDS) "
     "GROUP BY userid", "Window advance must be positive and not larger than the window size"),
    ("retention shorter than size + grace",
     "SELECT userid, COUNT(*) AS n FROM clicks WINDOW TUMBLING (SIZE 10 SECONDS, RETENTION 15 SECONDS, "
     "GRACE PERIOD 10 SECONDS) GROUP BY userid",
     "Retention (15000 ms) must not be smaller than the window size plus grace period (20000 ms)."),
    ("retention shorter than the window",
     "SELECT userid, COUNT(*) AS n FROM clicks WINDOW TUMBLING (SIZE 10 SECONDS, RETENTION 5 SECONDS) "
     "GROUP BY userid", "Retention (5000 ms) must not be smaller than the window size plus grace period (10000 ms)."),
    ("WINDOWSTART in a query without a window",
     "SELECT userid, WINDOWSTART AS ws, COUNT(*) AS n FROM clicks GROUP BY userid",
     "Non-aggregate SELECT expression(s) not part of GROUP BY: WINDOWSTART"),
    ("SELECT * with GROUP BY", "SELECT * FROM clicks GROUP BY userid",
     "SELECT * is not supported in an aggregation query."),
    ("an unknown aggregate function", "SELECT userid, FOO(bytes) AS n FROM clicks GROUP BY userid",
     "Can't find any functions with the name 'FOO'"),
]

TABLE_ERRORS: list[tuple[str, str, str]] = [
    ("a windowed aggregation over a table",
     "CREATE TABLE out AS SELECT region, COUNT(*) AS n FROM users WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY region;",
     "Windowing not supported for table aggregations."),
    ("MIN over a table", "CREATE TABLE out AS SELECT region, MIN(x) AS n FROM users GROUP BY region;",
     "The aggregation function MIN cannot be applied to a table source, only to a stream source."),
    ("MAX over a table", "CREATE TABLE out AS SELECT region, MAX(x) AS n FROM users GROUP BY region;",
     "The aggregation function MAX cannot be applied to a table source, only to a stream source."),
    ("TOPK and EARLIEST_BY_OFFSET over a table",
     "CREATE TABLE out AS SELECT region, TOPK(x, 2) AS t, EARLIEST_BY_OFFSET(x) AS e FROM users GROUP BY region;",
     "The aggregation functions TOPK, EARLIEST_BY_OFFSET cannot be applied to a table source, only to a stream "
     "source."),
    ("LATEST_BY_OFFSET over a table",
     "CREATE TABLE out AS SELECT region, LATEST_BY_OFFSET(x) AS l FROM users GROUP BY region;",
     "The aggregation function LATEST_BY_OFFSET cannot be applied to a table source"),
    ("COUNT_DISTINCT over a table",
     "CREATE TABLE out AS SELECT region, COUNT_DISTINCT(x) AS c FROM users GROUP BY region;",
     "The aggregation function COUNT_DISTINCT cannot be applied to a table source"),
    ("TOPKDISTINCT over a table",
     "CREATE TABLE out AS SELECT region, TOPKDISTINCT(x, 2) AS c FROM users GROUP BY region;",
     "The aggregation function TOPKDISTINCT cannot be applied to a table source"),
    ("CREATE STREAM AS SELECT over a table", "CREATE STREAM out AS SELECT * FROM users;",
     "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead."),
    ("CREATE STREAM AS SELECT with GROUP BY",
     "CREATE STREAM out AS SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid;",
     "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead."),
    ("CREATE TABLE AS SELECT over a stream without GROUP BY", "CREATE TABLE out AS SELECT * FROM clicks;",
     "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead."),
    ("PARTITION BY over a table", "CREATE TABLE out AS SELECT id, x FROM users PARTITION BY x;",
     "Cannot repartition a TABLE source"),
    ("a table projection without the key", "CREATE TABLE out AS SELECT region, x FROM users;",
     "Key missing from projection"),
]


def error_cases() -> list[dict[str, Any]]:
    cases = []
    for name, select, message in ERRORS:
        cases.append({"name": name, "statements": [CLICKS, f"CREATE TABLE out AS {select};"],
                      "expectedException": {"type": "SqlSemanticError", "message": message}})
    for name, statement, message in TABLE_ERRORS:
        cases.append({"name": name, "statements": [CLICKS, USERS, statement],
                      "expectedException": {"type": "SqlSemanticError", "message": message}})
    return cases


def describe_cases() -> list[dict[str, Any]]:
    """DESCRIBE of windowed tables (the key, WINDOW TYPE), DESCRIBE EXTENDED figures, windowed sources."""
    key = {"name": "USERID", "type": "KEY", "schema": {"type": "INTEGER"}}
    cases: list[dict[str, Any]] = []
    for kind, window in (("TUMBLING", "TUMBLING (SIZE 60 SECONDS)"),
                         ("HOPPING", "HOPPING (SIZE 60 SECONDS, ADVANCE BY 10 SECONDS)"),
                         ("SESSION", "SESSION (30 SECONDS)")):
        cases.append({
            "name": f"DESCRIBE of a {kind} table: the key column and its window type",
            "statements": [CLICKS, f"CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks WINDOW {window} "
                                   "GROUP BY userid;", "DESCRIBE out;"],
            "responses": [None, None, {"@type": "sourceDescription", "sourceDescription": {
                "name": "OUT", "type": "TABLE", "windowType": kind, "keyFormat": "KAFKA", "valueFormat": "JSON",
                "fields": [key, {"name": "N", "schema": {"type": "BIGINT"}}]}}],
        })
    cases.append({
        "name": "DESCRIBE of a table without a window has no window type",
        "statements": [CLICKS, "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid;",
                       "DESCRIBE out;"],
        "responses": [None, None, {"sourceDescription": {"windowType": None, "fields": [
            key, {"name": "N", "schema": {"type": "BIGINT"}}]}}],
    })
    cases.append({
        "name": "DESCRIBE EXTENDED shows each reading query's committed offsets",
        "statements": [CLICKS, "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks "
                               "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY userid;", "DESCRIBE clicks EXTENDED;"],
        "responses": [None, None, {"sourceDescription": {"extended": True, "readQueries": [{"id": "CTAS_OUT_1"}],
                                                         "queryOffsetSummaries": [{
            "groupId": "_confluent-ksql-default_query_CTAS_OUT_1",
            "topicSummaries": [{"kafkaTopic": "clicks", "offsets": [
                {"partition": 0, "logStartOffset": 0, "logEndOffset": 0, "consumerOffset": 0}]}]}]}}],
    })
    cases.append({
        "name": "DESCRIBE EXTENDED of a windowed table counts the messages written",
        "statements": [CLICKS, "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks "
                               "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY userid;", "DESCRIBE out EXTENDED;"],
        "responses": [None, None, {"sourceDescription": {"windowType": "TUMBLING", "extended": True,
                                                         "writeQueries": [{"id": "CTAS_OUT_1"}]}}],
    })
    for kind, props in (("TUMBLING", "window_type='Tumbling', window_size='1 MINUTE'"),
                        ("SESSION", "window_type='SESSION'")):
        cases.append({
            "name": f"a table declared over a {kind} windowed topic",
            "statements": [f"CREATE TABLE w (userid INT PRIMARY KEY, n BIGINT) WITH (kafka_topic='w', "
                           f"value_format='JSON', partitions=1, {props});", "DESCRIBE w;"],
            "responses": [None, {"sourceDescription": {"windowType": kind}}],
        })
    for name, props, message in (
        ("WINDOW_TYPE TUMBLING without WINDOW_SIZE", "window_type='TUMBLING'",
         "TUMBLING windows require 'WINDOW_SIZE' to be provided in the WITH clause."),
        ("an unknown WINDOW_TYPE", "window_type='SLIDING', window_size='1 MINUTE'",
         "Invalid value for WINDOW_TYPE: SLIDING."),
        ("WINDOW_SIZE on a SESSION table", "window_type='SESSION', window_size='1 MINUTE'",
         "'WINDOW_SIZE' should not be set for SESSION windows."),
    ):
        cases.append({"name": name, "statements": [
            f"CREATE TABLE w (userid INT PRIMARY KEY, n BIGINT) WITH (kafka_topic='w', value_format='JSON', "
            f"partitions=1, {props});"], "expectedException": {"type": "SqlSemanticError", "message": message}})
    cases.append({
        "name": "EXPLAIN of a windowed aggregation shows its window type and the aggregation steps",
        "statements": [CLICKS, "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks "
                               "WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 30 SECONDS) GROUP BY userid;",
                       "EXPLAIN CTAS_OUT_1;"],
        "responses": [None, None, {"@type": "queryDescription", "queryDescription": {
            "id": "CTAS_OUT_1", "windowType": "HOPPING", "sources": ["CLICKS"], "sinks": ["OUT"],
            "fields": [{"name": "USERID", "type": "KEY"}, {"name": "N"}], "queryType": "PERSISTENT"}}],
    })
    recs = [click(0, 1), click(10_000, 1), click(61_000, 1)]
    windowed = tumbling(recs, 60_000, 86_400_000, value=lambda n, b, ws, we: {"N": n})
    cases.append({
        "name": "a query over a windowed table keeps the window in its output key",
        "statements": [CLICKS, "CREATE TABLE per_min AS SELECT userid, COUNT(*) AS n FROM clicks "
                               "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY userid;",
                       "CREATE TABLE out AS SELECT userid, n * 10 AS n10, WINDOWEND - WINDOWSTART AS len "
                       "FROM per_min WHERE n < 2;"],
        "inputs": recs,
        "outputs": [{**o, "topic": "PER_MIN"} for o in windowed] + [
            {"topic": "OUT", "key": o["key"], "window": o["window"],
             "value": {"N10": o["value"]["N"] * 10, "LEN": 60_000} if o["value"]["N"] < 2 else None}
            for o in windowed],
    })
    return cases


def query_cases() -> list[dict[str, Any]]:
    """Push queries with GROUP BY (no sink topic) and pull queries on materialized tables."""
    recs = INPUTS["two groups"]
    cases: list[dict[str, Any]] = []
    counts: dict[int, list[int]] = {}
    rows = []
    for r in recs:
        s = counts.setdefault(r["value"]["userid"], [0, 0])
        s[0] += 1
        s[1] += r["value"]["bytes"]
        rows.append([r["value"]["userid"], s[0], s[1]])
    cases.append({"name": "a push query with GROUP BY streams every update",
                  "statements": [CLICKS], "inputs": recs,
                  "queries": [{"sql": "SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM clicks GROUP BY userid "
                                      "EMIT CHANGES;", "rows": rows}]})
    cases.append({"name": "a push query with GROUP BY and LIMIT stops after LIMIT rows",
                  "statements": [CLICKS], "inputs": recs,
                  "queries": [{"sql": "SELECT userid, COUNT(*) AS n, SUM(bytes) AS b FROM clicks GROUP BY userid "
                                      "EMIT CHANGES LIMIT 2;", "rows": rows[:2]}]})
    basic = [click(0, 1, bytes_=278), click(10_000, 1, bytes_=1289), click(59_000, 1, bytes_=2048),
             click(61_000, 1, bytes_=4096)]
    cases.append({"name": "a windowed push query shows WINDOWSTART",
                  "statements": [CLICKS], "inputs": basic,
                  "queries": [{"sql": "SELECT userid, WINDOWSTART AS ws, SUM(bytes) AS b FROM clicks WINDOW TUMBLING "
                                      "(SIZE 60 SECONDS) GROUP BY userid EMIT CHANGES;",
                               "rows": [[1, T0, 278], [1, T0, 1567], [1, T0, 3615], [1, T0 + 60_000, 4096]]}]})
    sess = [click(0, 1, bytes_=278), click(20_000, 1, bytes_=1289), click(45_000, 1, bytes_=2048),
            click(100_000, 1, bytes_=4096)]
    cases.append({"name": "a session push query shows each merged session (tombstones are not shown)",
                  "statements": [CLICKS], "inputs": sess,
                  "queries": [{"sql": "SELECT userid, WINDOWSTART AS ws, SUM(bytes) AS b FROM clicks "
                                      "WINDOW SESSION (30 SECONDS) GROUP BY userid EMIT CHANGES;",
                               "rows": [[1, T0, 278], [1, T0, 1567], [1, T0, 3615], [1, T0 + 100_000, 4096]]}]})
    changes = [user(0, "1", "a", 1), user(1, "2", "a", 2), user(2, "1", "b", 5), user(3, "2", delete=True)]
    cases.append({"name": "a push query with GROUP BY over a table retracts",
                  "statements": [USERS], "inputs": changes,
                  "queries": [{"sql": "SELECT region, COUNT(*) AS n FROM users GROUP BY region EMIT CHANGES;",
                               "rows": [["a", 1], ["a", 2], ["a", 1], ["b", 1], ["a", 0]]}]})
    cases.append({"name": "a push query over a table shows live rows, not deletions",
                  "statements": [USERS], "inputs": changes,
                  "queries": [{"sql": "SELECT id, region, x FROM users WHERE x > 1 EMIT CHANGES;",
                               "rows": [["2", "a", 2], ["1", "b", 5]]}]})
    cases.append({"name": "pull queries on a windowed table: key, WINDOWSTART range, full scan",
                  "statements": [CLICKS, "CREATE TABLE out AS SELECT userid, SUM(bytes) AS b FROM clicks "
                                         "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY userid;"],
                  "inputs": [*basic, click(62_000, 2, bytes_=1)],
                  "outputs": [{"topic": "OUT", "key": o["key"], "value": {"B": o["value"]["B"]}}
                              for o in tumbling([*basic, click(62_000, 2, bytes_=1)], 60_000, 86_400_000)],
                  "queries": [
                      {"sql": "SELECT * FROM out WHERE userid = 1;",
                       "rows": [[1, T0, T0 + 60_000, 3615], [1, T0 + 60_000, T0 + 120_000, 4096]]},
                      {"sql": f"SELECT userid, b FROM out WHERE userid = 1 AND WINDOWSTART >= {T0 + 60_000};",
                       "rows": [[1, 4096]]},
                      {"sql": "SELECT userid, b FROM out WHERE userid IN (2);", "rows": [[2, 1]]},
                  ]})
    ret = [click(0, 1), click(100_000, 1), click(180_000, 2)]
    cases.append({"name": "retention: a window past end + retention is gone from pull queries",
                  "statements": [CLICKS, "CREATE TABLE out AS SELECT userid, COUNT(*) AS n FROM clicks WINDOW "
                                         "TUMBLING (SIZE 60 SECONDS, RETENTION 2 MINUTES, GRACE PERIOD 0 SECONDS) "
                                         "GROUP BY userid;"],
                  "inputs": ret,
                  "outputs": [{"topic": "OUT", "key": o["key"], "value": {"N": o["value"]["N"]}}
                              for o in tumbling(ret, 60_000, 0)],
                  "queries": [{"sql": "SELECT userid, WINDOWSTART, n FROM out;",
                               "rows": [[1, T0 + 60_000, 1], [2, T0 + 180_000, 1]]}]})
    return cases


def write(name: str, comment: str, tests: list[dict[str, Any]]) -> int:
    tests = [{k: v for k, v in t.items() if k != "file"} for t in tests]
    (CASES / f"{name}.json").write_text(json.dumps({"comments": [comment], "tests": tests}, indent=1) + "\n")
    return len(tests)


def main() -> None:
    windows = window_cases()
    tables = table_cases()
    total = 0
    total += write("aggregates_functions", "Every aggregate function, EMIT CHANGES per record (generated by "
                   "make_part2_cases.py from ksqlDB's UDAF models).", function_cases())
    total += write("aggregates_group_by", "GROUP BY, HAVING, WHERE and expressions over aggregates "
                   "(generated by make_part2_cases.py).", group_by_cases())
    total += write("aggregates_errors", "Errors of aggregations, windows and table queries "
                   "(generated by make_part2_cases.py).", error_cases())
    for file in ("tumbling", "hopping"):
        total += write(f"windows_{file}", f"{file.upper()} windows: windowed keys, grace edges, late records, "
                       "EMIT FINAL (generated by make_part2_cases.py).", [c for c in windows if c["file"] == file])
    total += write("windows_session", "SESSION windows, caching off: per record a tombstone for each merged "
                   "session, then the merged one (generated by make_part2_cases.py).", session_cases())
    total += write("tables_aggregates", "Aggregations over tables with retraction (generated by "
                   "make_part2_cases.py).", [c for c in tables if c["file"] == "aggregates"])
    total += write("tables_stateless", "Stateless queries over tables: tombstones and filters (generated by "
                   "make_part2_cases.py).", [c for c in tables if c["file"] == "stateless"])
    total += write("windows_describe", "DESCRIBE of windowed tables, DESCRIBE EXTENDED, windowed sources "
                   "(generated by make_part2_cases.py).", describe_cases())
    total += write("aggregates_queries", "Push queries with GROUP BY and pull queries on materialized tables "
                   "(generated by make_part2_cases.py).", query_cases())
    print(f"{total} part-2 cases written")


if __name__ == "__main__":
    main()
