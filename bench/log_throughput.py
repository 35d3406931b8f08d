"""Embedded log throughput: durable appends and transactions, then a sequential read, of clickstream records.

Usage: python -m bench.log_throughput [--records N] [--batch N] [--small-batch N] [--small-count N] [--dir PATH]

Measured in one run, on the same disk:

- ``append``: plain appends of ``--batch`` records (frame fdatasync; the
  index commit is not fsynced, tail recovery re-derives it after a power cut);
- ``transact``: the same batches as transactions that also commit a group
  offset (frame fdatasync + fsynced index commit: ``synchronous=FULL``);
- ``small_*``: appends and transactions of ``--small-batch`` records, where the
  cost of each fsync shows most (a collector group commit, a query commit);
- ``ceiling``: the same frame bytes written to one plain file with one
  fdatasync per batch (what any durable append must pay at least), and the
  ratio of ``append`` to it.

The last line printed is one JSON object:
{"append_records_per_s", "append_mb_per_s", "transact_records_per_s", "small_appends_per_s",
 "small_transactions_per_s", "ceiling_records_per_s", "append_vs_ceiling", "read_records_per_s",
 "read_mb_per_s", "peak_rss_mb"}
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time

import pyarrow as pa

from bench.clickstream import generate
from headwater.log import TopicPartition
from headwater.log.embedded import EmbeddedLog


def _ceiling(root: str, batches: list[pa.Table]) -> float:
    """Seconds to write the batches' bytes to one file, one fdatasync per batch."""
    path = os.path.join(root, "ceiling.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        start = time.perf_counter()
        for batch in batches:
            for chunk in batch.to_batches():
                os.write(fd, chunk.serialize())
            os.fdatasync(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)
        os.unlink(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--small-batch", type=int, default=100)
    parser.add_argument("--small-count", type=int, default=500, help="small appends (and transactions) to time")
    parser.add_argument("--dir", default=None, help="data directory (default: a fresh temporary one)")
    args = parser.parse_args()

    table = generate(args.records)
    payload_mb = (table.column("value").nbytes + table.column("key").nbytes) / 1e6
    batches = [table.slice(i, args.batch) for i in range(0, table.num_rows, args.batch)]
    small = [table.slice(i * args.small_batch, args.small_batch) for i in range(args.small_count)]
    root = args.dir or tempfile.mkdtemp(prefix="hw-bench-log-")
    try:
        with EmbeddedLog(root) as log:
            log.create_topic("clickstream", 1)
            log.create_topic("transacted", 1)
            log.create_topic("small", 1)
            start = time.perf_counter()
            for batch in batches:
                log.append("clickstream", 0, batch)
            append_s = time.perf_counter() - start

            start = time.perf_counter()
            for i, batch in enumerate(batches):
                log.transact([("transacted", 0, batch)], group="bench",
                             offsets={TopicPartition("clickstream", 0): (i + 1) * args.batch})
            transact_s = time.perf_counter() - start

            start = time.perf_counter()
            for batch in small:
                log.append("small", 0, batch)
            small_append_s = time.perf_counter() - start
            start = time.perf_counter()
            for i, batch in enumerate(small):
                log.transact([("small", 0, batch)], group="bench-small",
                             offsets={TopicPartition("clickstream", 0): i + 1})
            small_transact_s = time.perf_counter() - start

            start = time.perf_counter()
            offset, read = 0, 0
            while True:
                fetched = log.read("clickstream", 0, offset, max_records=args.batch, max_bytes=64 << 20)
                if not len(fetched):
                    break
                read += len(fetched)
                offset = fetched.next_offset
            read_s = time.perf_counter() - start
        ceiling_s = _ceiling(root, batches)
        if read != args.records:
            raise SystemExit(f"read back {read} records, appended {args.records}")
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)

    print(f"appended {args.records:,} records ({payload_mb:.0f} MB) in {append_s:.2f} s, as transactions in "
          f"{transact_s:.2f} s, raw fdatasync'd writes in {ceiling_s:.2f} s; read back in {read_s:.2f} s; "
          f"{args.small_count} appends of {args.small_batch} in {small_append_s:.2f} s, "
          f"as transactions in {small_transact_s:.2f} s")
    print(
        json.dumps(
            {
                "append_records_per_s": round(args.records / append_s),
                "append_mb_per_s": round(payload_mb / append_s, 1),
                "transact_records_per_s": round(args.records / transact_s),
                "small_appends_per_s": round(args.small_count / small_append_s),
                "small_transactions_per_s": round(args.small_count / small_transact_s),
                "ceiling_records_per_s": round(args.records / ceiling_s),
                "append_vs_ceiling": round(ceiling_s / append_s, 2),
                "read_records_per_s": round(args.records / read_s),
                "read_mb_per_s": round(payload_mb / read_s, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
