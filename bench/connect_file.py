"""Connector throughput: clickstream JSON records through the file sink, and lines through the file source.

Usage: python -m bench.connect_file [--records N]
The last line printed is one JSON object:
{"file_sink_records_per_s", "file_source_records_per_s"}
Both run the whole path of the runtime: sink = poll, JsonConverter (schemaless), put, fsync, offset commit;
source = tail, StringConverter, one log transaction with the source offsets per poll.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time

from bench.clickstream import generate
from headwater.connect.runtime import ConnectRuntime
from headwater.log.embedded import EmbeddedLog


def _wait(check: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="hw-bench-connect-")
    try:
        with EmbeddedLog(os.path.join(root, "log")) as log:
            log.create_topic("clickstream", 1)
            table = generate(args.records)
            for i in range(0, table.num_rows, 10_000):
                log.append("clickstream", 0, table.slice(i, 10_000))
            runtime = ConnectRuntime(log, worker_id="bench:0")
            out = os.path.join(root, "out.txt")
            start = time.perf_counter()
            runtime.create("sink", {"connector.class": "FileStreamSink", "topics": "clickstream", "file": out})
            group = "connect-sink"
            from headwater.log import TopicPartition

            tp = TopicPartition("clickstream", 0)
            _wait(lambda: log.committed(group, [tp])[tp] == args.records, 600)
            sink_s = time.perf_counter() - start

            source = os.path.join(root, "in.log")
            with open(source, "w") as handle:
                handle.writelines(f"line {i}\n" for i in range(args.records))
            start = time.perf_counter()
            runtime.create("tail", {"connector.class": "FileStreamSource", "file": source, "topic": "lines",
                                    "value.converter": "org.apache.kafka.connect.storage.StringConverter"})
            _wait(lambda: "lines" in log.list_topics() and log.end_offset("lines", 0) >= args.records, 600)
            source_s = time.perf_counter() - start
            runtime.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.records:,} records: file sink {sink_s:.2f} s, file source {source_s:.2f} s")
    print(json.dumps({"file_sink_records_per_s": round(args.records / sink_s),
                      "file_source_records_per_s": round(args.records / source_s)}))


if __name__ == "__main__":
    main()
