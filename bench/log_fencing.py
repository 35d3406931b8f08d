"""Cost of fencing on the embedded log: transactions of a fenced writer vs anonymous ones.

Each transaction appends a batch to one partition and commits a group's offset,
as a query's commit does. The fenced writer (a ``transactional_id``) checks its
epoch before writing and again inside the committing SQLite transaction; the
ceiling is the same transactions without an id (no epoch check).

Usage: python -m bench.log_fencing [--transactions N] [--records R]
Last line: {"transactions", "records_per_tx", "fenced_tx_per_s", "anonymous_tx_per_s", "ratio"}
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time

from headwater.log import Record, TopicPartition
from headwater.log.embedded import EmbeddedLog


def run(log: EmbeddedLog, topic: str, transactions: int, batch: list[Record], transactional_id: str) -> float:
    source = TopicPartition("source", 0)
    started = time.perf_counter()
    for i in range(transactions):
        log.transact([(topic, 0, batch)], group=f"g-{topic}", offsets={source: i + 1},
                     transactional_id=transactional_id)
    return transactions / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--records", type=int, default=100)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="hw-bench-fencing-")
    try:
        with EmbeddedLog(root) as log:
            for name in ("source", "fenced", "anonymous"):
                log.create_topic(name)
            batch = [Record(b'{"userid": %d, "bytes": 1234}' % i, b"k%d" % i) for i in range(args.records)]
            run(log, "anonymous", 50, batch, "")  # warm-up: segment files, SQLite pages
            # Interleaved rounds, median of each: the machine's load drifts during a run.
            rounds = 10
            fenced_rates, anonymous_rates = [], []
            for _ in range(rounds):
                fenced_rates.append(run(log, "fenced", args.transactions // rounds, batch, "query-1"))
                anonymous_rates.append(run(log, "anonymous", args.transactions // rounds, batch, ""))
            fenced, anonymous = statistics.median(fenced_rates), statistics.median(anonymous_rates)
        print(f"fenced: {fenced:,.0f} tx/s, anonymous: {anonymous:,.0f} tx/s")
        print(json.dumps({"transactions": args.transactions, "records_per_tx": args.records,
                          "fenced_tx_per_s": round(fenced), "anonymous_tx_per_s": round(anonymous),
                          "ratio": round(fenced / anonymous, 3)}))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
