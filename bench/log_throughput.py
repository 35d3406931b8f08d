"""Embedded log throughput: durable append, then sequential read, of clickstream records.

Usage: python -m bench.log_throughput [--records N] [--batch N] [--dir PATH]
The last line printed is one JSON object:
{"append_records_per_s", "append_mb_per_s", "read_records_per_s", "read_mb_per_s", "peak_rss_mb"}
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time

from bench.clickstream import generate
from headwater.log.embedded import EmbeddedLog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--dir", default=None, help="data directory (default: a fresh temporary one)")
    args = parser.parse_args()

    table = generate(args.records)
    payload_mb = (table.column("value").nbytes + table.column("key").nbytes) / 1e6
    batches = [table.slice(i, args.batch) for i in range(0, table.num_rows, args.batch)]
    root = args.dir or tempfile.mkdtemp(prefix="hw-bench-log-")
    try:
        with EmbeddedLog(root) as log:
            log.create_topic("clickstream", 1)
            start = time.perf_counter()
            for batch in batches:
                log.append("clickstream", 0, batch)
            append_s = time.perf_counter() - start

            start = time.perf_counter()
            offset, read = 0, 0
            while True:
                fetched = log.read("clickstream", 0, offset, max_records=args.batch, max_bytes=64 << 20)
                if not len(fetched):
                    break
                read += len(fetched)
                offset = fetched.next_offset
            read_s = time.perf_counter() - start
        if read != args.records:
            raise SystemExit(f"read back {read} records, appended {args.records}")
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)

    print(f"appended {args.records:,} records ({payload_mb:.0f} MB) in {append_s:.2f} s, read back in {read_s:.2f} s")
    print(
        json.dumps(
            {
                "append_records_per_s": round(args.records / append_s),
                "append_mb_per_s": round(payload_mb / append_s, 1),
                "read_records_per_s": round(args.records / read_s),
                "read_mb_per_s": round(payload_mb / read_s, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
