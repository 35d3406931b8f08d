"""Stream-table join throughput: clickstream LEFT JOIN a 5,000-row users table into an output stream.

2,000,000 clicks (bench/clickstream.py, userid 1..5000) are appended to the
embedded log first by a child process; the users table (5,000 JSON rows keyed
by user_id, all with timestamps before the first click) is appended too. Then
the clickstream demo's enrichment query runs from the earliest offsets:

    CREATE STREAM user_clickstream AS SELECT userid, u.username, ip, u.city, request, status, bytes
    FROM clickstream c LEFT JOIN web_users u ON c.userid = u.user_id;

The clock stops when the query has committed the last input offset of both
topics (output and offsets commit in one log transaction per batch).

With both topics at one partition every key is already co-located and the
join reads the clicks directly; ``--table-partitions 2`` makes the clicks go
through the query's repartition topic first (written, fsynced, read back),
as ksqlDB always does for a join on a non-key column.

Usage: python -m bench.sql_joins [--records N] [--users N] [--table-partitions N]
Last line: {"records_per_s", "peak_rss_mb", "output_records"}
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import struct
import tempfile
import time

import pyarrow as pa

from bench.clickstream import T0_MS, fill_log
from headwater.log.embedded import EmbeddedLog
from headwater.session import Session

STATEMENTS = """
CREATE STREAM clickstream (_time BIGINT, time VARCHAR, ip VARCHAR, request VARCHAR, status INT, userid INT,
    bytes BIGINT, agent VARCHAR) WITH (kafka_topic='clickstream', value_format='json', partitions=1);
CREATE TABLE web_users (user_id INT PRIMARY KEY, registered_at BIGINT, username VARCHAR, first_name VARCHAR,
    last_name VARCHAR, city VARCHAR, level VARCHAR) WITH (kafka_topic='clickstream_users', value_format='json',
    partitions=1);
CREATE STREAM user_clickstream AS SELECT userid, u.username, ip, u.city, request, status, bytes
    FROM clickstream c LEFT JOIN web_users u ON c.userid = u.user_id;
"""

CITIES = ["Frankfurt", "Palo Alto", "London", "Raleigh", "New York", "San Diego", "Sydney"]


def users_table(n: int) -> pa.Table:
    """``n`` users keyed by user_id (KAFKA INT), the clickstream demo's web_users columns."""
    values = [
        json.dumps({"registered_at": T0_MS - 86_400_000, "username": f"user_{i}", "first_name": f"First{i}",
                    "last_name": f"Last{i}", "city": CITIES[i % len(CITIES)], "level": "Gold" if i % 3 else "Silver"})
        .encode()
        for i in range(1, n + 1)
    ]
    return pa.table({
        "timestamp": pa.array([T0_MS - 60_000] * n, pa.int64()),
        "key": pa.array([struct.pack(">i", i) for i in range(1, n + 1)], pa.binary()),
        "value": pa.array(values, pa.binary()),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--table-partitions", type=int, default=1)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="hw-bench-joins-")
    try:
        fill_log(root, "clickstream", args.records)
        log = EmbeddedLog(root)
        log.create_topic("clickstream_users", args.table_partitions, exist_ok=True)
        log.produce("clickstream_users", users_table(args.users))
        with Session(log, properties={"auto.offset.reset": "earliest"}) as session:
            started = time.perf_counter()
            session.execute(STATEMENTS.replace("partitions=1);\nCREATE STREAM user",
                                               f"partitions={args.table_partitions});\nCREATE STREAM user"))
            session.wait_until_processed(timeout_s=900)
            elapsed = time.perf_counter() - started
            output = sum(log.end_offset("USER_CLICKSTREAM", p)
                         for p in range(log.describe_topic("USER_CLICKSTREAM").partitions))
        log.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.records:,} clicks LEFT JOIN {args.users:,} users in {elapsed:.2f} s; {output:,} output records")
    print(json.dumps({
        "records_per_s": round(args.records / elapsed),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "output_records": output,
    }))


if __name__ == "__main__":
    main()
