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

Usage: python -m bench.sql_windows [--records N] [--only a|b|c]
Last line: {"tumbling_final_records_per_s", "tumbling_changes_records_per_s", "session_records_per_s",
            "output_records", "peak_rss_mb"}
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
SINKS = {"tumbling_final": "T_FINAL", "tumbling_changes": "T_CHANGES", "session": "SESSIONS"}


def run_query(root: str, name: str, records: int) -> dict[str, float]:
    """One query in this process, on the filled log: its throughput, output count and this process's peak RSS."""
    log = EmbeddedLog(root)
    # A service id of its own: its own command log, so each query starts from a clean catalog.
    properties = {"auto.offset.reset": "earliest", "ksql.service.id": f"bench_{name}_"}
    with Session(log, properties=properties) as session:
        session.execute(SOURCE)
        started = time.perf_counter()
        session.execute(QUERIES[name])
        session.wait_until_processed(timeout_s=1800)
        elapsed = time.perf_counter() - started
        out = log.end_offset(SINKS[name], 0)
        session.execute("TERMINATE ALL;")
    log.close()
    print(f"{name}: {records:,} records in {elapsed:.2f} s, {out:,} output records", flush=True)
    return {"records_per_s": round(records / elapsed), "output_records": out,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--only", choices=["a", "b", "c"], default=None)
    args = parser.parse_args()
    chosen = list(QUERIES)
    if args.only:
        chosen = [chosen["abc".index(args.only)]]
    root = tempfile.mkdtemp(prefix="hw-bench-win-")
    figures: dict[str, float] = {}
    outputs = 0
    peak = 0.0
    try:
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
    print(json.dumps({**figures, "output_records": outputs, "peak_rss_mb": peak}))


if __name__ == "__main__":
    main()
