"""Windowed aggregation throughput over 2,000,000 clickstream JSON records from the embedded log.

Records come from bench/clickstream.py: userid 1..5000, event time about 2,000
records per second with up to 2 s of disorder. Three queries, each timed from
CREATE TABLE until it has committed the last input offset:

(a) TUMBLING 60 s COUNT(*) and SUM(bytes) GROUP BY userid EMIT FINAL
(b) the same with EMIT CHANGES (one output record per input record)
(c) SESSION 30 s, the same aggregates, EMIT CHANGES

Each query runs in its own process on the same filled log, so each figure
(and each ``<query>_peak_rss_mb``) is that query's alone; ``peak_rss_mb`` is
the largest of them.

(d) State size: (b) with RETENTION 2 DAYS over the same number of records spread
across 20 minutes of event time, then across 24 hours (at 2,000,000 records
about 1.7 M live (user, window) rows, against about 100 k). A batch reads and
writes its state by key, so the large state must not slow it down:
``state_24h_over_20min`` is the ratio of the two rates (target >= 0.9).

Usage: python -m bench.sql_windows [--records N] [--only a|b|c|d]
Last line: {"tumbling_final_records_per_s", "tumbling_changes_records_per_s", "session_records_per_s",
            "state_20min_records_per_s", "state_24h_records_per_s", "state_24h_over_20min",
            "state_24h_live_windows", "output_records", "peak_rss_mb"}
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import tempfile
import time

from bench.clickstream import fill_log
from headwater.log.embedded import EmbeddedLog
from headwater.session import Session

SOURCE = (
    "CREATE STREAM clickstream (_time BIGINT, time VARCHAR, ip VARCHAR, request VARCHAR, status INT, userid INT, "
    "bytes BIGINT, agent VARCHAR) WITH (kafka_topic='clickstream', value_format='json', partitions=1);"
)
QUERIES = {
    "tumbling_final": "CREATE TABLE t_final AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS total FROM clickstream "
    "WINDOW TUMBLING (SIZE 60 SECONDS, GRACE PERIOD 2 SECONDS) GROUP BY userid EMIT FINAL;",
    "tumbling_changes": "CREATE TABLE t_changes AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS total FROM clickstream "
    "WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY userid EMIT CHANGES;",
    "session": "CREATE TABLE sessions AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS total FROM clickstream "
    "WINDOW SESSION (30 SECONDS) GROUP BY userid EMIT CHANGES;",
}
SINKS = {"tumbling_final": "T_FINAL", "tumbling_changes": "T_CHANGES", "session": "SESSIONS", "state": "T_STATE"}
#: (d): windows live for the whole 24 h of input.
QUERIES["state"] = ("CREATE TABLE t_state AS SELECT userid, COUNT(*) AS n, SUM(bytes) AS total FROM clickstream "
                    "WINDOW TUMBLING (SIZE 60 SECONDS, RETENTION 2 DAYS) GROUP BY userid EMIT CHANGES;")


def run_query(root: str, name: str, records: int, service_id: str | None = None) -> dict[str, float]:
    """One query in this process, on the filled log: its throughput, output count and this process's peak RSS."""
    log = EmbeddedLog(root)
    # A service id of its own: its own command log, so each query starts from a clean catalog.
    properties = {"auto.offset.reset": "earliest", "ksql.service.id": service_id or f"bench_{name}_"}
    with Session(log, properties=properties) as session:
        session.execute(SOURCE)
        started = time.perf_counter()
        session.execute(QUERIES[name])
        session.wait_until_processed(timeout_s=1800)
        elapsed = time.perf_counter() - started
        out = log.end_offset(SINKS[name], 0)
        live = session.query(f"SELECT WINDOWSTART FROM {SINKS[name]};").num_rows if name == "state" else 0  # type: ignore[union-attr]
        session.execute("TERMINATE ALL;")
    log.close()
    print(f"{name}: {records:,} records in {elapsed:.2f} s, {out:,} output records", flush=True)
    return {"records_per_s": round(records / elapsed), "output_records": out, "live_windows": live,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def state_size(records: int, rounds: int = 2) -> dict[str, float]:
    """(d): the same records over 20 minutes and over 24 hours of event time; runs alternate and the
    best of ``rounds`` counts, so the load of a shared machine weighs on both alike."""
    figures: dict[str, float] = {"peak_rss_mb": 0.0}
    roots = {}
    try:
        for label, seconds in (("20min", 20 * 60), ("24h", 24 * 3600)):
            roots[label] = tempfile.mkdtemp(prefix=f"hw-bench-win-{label}-")
            fill_log(roots[label], "clickstream", records, rate_per_s=max(1, records // seconds))
        for _ in range(rounds):
            for label, root in roots.items():
                # A service id per run: each run starts from a clean catalog and an empty state.
                with multiprocessing.get_context("spawn").Pool(1) as pool:
                    result = pool.apply(run_query, (root, "state", records, f"bench_state_{_}_"))
                key = f"state_{label}_records_per_s"
                figures[key] = max(figures.get(key, 0), result["records_per_s"])
                figures[f"state_{label}_live_windows"] = result["live_windows"]
                figures["peak_rss_mb"] = max(figures["peak_rss_mb"], result["peak_rss_mb"])
    finally:
        for root in roots.values():
            shutil.rmtree(root, ignore_errors=True)
    figures["state_24h_over_20min"] = round(figures["state_24h_records_per_s"] / figures["state_20min_records_per_s"], 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--only", choices=["a", "b", "c", "d"], default=None)
    args = parser.parse_args()
    chosen = [q for q in QUERIES if q != "state"]
    if args.only:
        chosen = [chosen["abc".index(args.only)]] if args.only != "d" else []
    root = tempfile.mkdtemp(prefix="hw-bench-win-")
    figures: dict[str, float] = {}
    outputs = 0
    peak = 0.0
    try:
        if chosen:
            fill_log(root, "clickstream", args.records)
        # Each query runs in a fresh process, so each peak RSS is that query's own.
        context = multiprocessing.get_context("spawn")
        for name in chosen:
            with context.Pool(1) as pool:
                result = pool.apply(run_query, (root, name, args.records))
            figures[f"{name}_records_per_s"] = result["records_per_s"]
            figures[f"{name}_peak_rss_mb"] = result["peak_rss_mb"]
            outputs += int(result["output_records"])
            peak = max(peak, result["peak_rss_mb"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.only in (None, "d"):
        state = state_size(args.records)
        figures.update(state)
        peak = max(peak, state.pop("peak_rss_mb"))
    print(json.dumps({**figures, "output_records": outputs, "peak_rss_mb": peak}))


if __name__ == "__main__":
    main()
