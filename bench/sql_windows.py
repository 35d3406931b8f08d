"""Windowed aggregation throughput over 2,000,000 clickstream JSON records from the embedded log.

Records come from bench/clickstream.py: userid 1..5000, event time about 2,000
records per second with up to 2 s of disorder. Three queries, each timed from
CREATE TABLE until it has committed the last input offset:

(a) TUMBLING 60 s COUNT(*) and SUM(bytes) GROUP BY userid EMIT FINAL
(b) the same with EMIT CHANGES (one output record per input record)
(c) SESSION 30 s, the same aggregates, EMIT CHANGES

Usage: python -m bench.sql_windows [--records N] [--only a|b|c]
Last line: {"tumbling_final_records_per_s", "tumbling_changes_records_per_s", "session_records_per_s",
            "output_records", "peak_rss_mb"}
"""

from __future__ import annotations

import argparse
import json
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
    try:
        fill_log(root, "clickstream", args.records)
        log = EmbeddedLog(root)
        with Session(log, properties={"auto.offset.reset": "earliest"}) as session:
            session.execute(SOURCE)
            for name in chosen:
                started = time.perf_counter()
                session.execute(QUERIES[name])
                session.wait_until_processed(timeout_s=1800)
                elapsed = time.perf_counter() - started
                out = log.end_offset(SINKS[name], 0)
                outputs += out
                figures[f"{name}_records_per_s"] = round(args.records / elapsed)
                print(f"{name}: {args.records:,} records in {elapsed:.2f} s, {out:,} output records")
                session.execute("TERMINATE ALL;")
        log.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({**figures, "output_records": outputs,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
