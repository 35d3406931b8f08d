"""Stateless persistent query throughput: CSAS with WHERE and a projection over clickstream JSON.

2,000,000 records (bench/clickstream.py) are appended to the embedded log first,
by a child process (not timed, and not in this process's peak RSS); then the query runs from the earliest offset, and the clock stops
when it has committed the last input offset. Output and offsets commit in one
log transaction per batch, as in production.

Usage: python -m bench.sql_stateless [--records N]
Last line: {"records_per_s", "peak_rss_mb", "output_records"}
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

STATEMENTS = """
CREATE STREAM clickstream (_time BIGINT, time VARCHAR, ip VARCHAR, request VARCHAR, status INT, userid INT,
    bytes BIGINT, agent VARCHAR) WITH (kafka_topic='clickstream', value_format='json', partitions=1);
CREATE STREAM errors AS SELECT userid, request, status FROM clickstream WHERE status >= 400 EMIT CHANGES;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="hw-bench-sql-")
    try:
        fill_log(root, "clickstream", args.records)
        log = EmbeddedLog(root)
        with Session(log, properties={"auto.offset.reset": "earliest"}) as session:
            started = time.perf_counter()
            session.execute(STATEMENTS)
            session.wait_until_processed(timeout_s=600)
            elapsed = time.perf_counter() - started
            output = log.end_offset("ERRORS", 0)
        log.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.records:,} records through WHERE + projection in {elapsed:.2f} s; {output:,} output records")
    print(
        json.dumps(
            {
                "records_per_s": round(args.records / elapsed),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "output_records": output,
            }
        )
    )


if __name__ == "__main__":
    main()
