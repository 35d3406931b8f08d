"""S3 sink throughput: clickstream records (Avro in the topic) to a real S3 server (SeaweedFS on 127.0.0.1).

Usage: ``PYTHONPATH=. .venv/bin/python -m bench.s3_sink [--records N] [--flush-size N]`` (defaults 50,000
records, 5,000 per object). Runs the whole path of the runtime for each output format: poll, AvroConverter
(Headwater's registry), partitioner, file writer (Avro container / Parquet / JSON), PUT to S3, offset commit.
Figures: records/s and MB/s of Avro input per format; the last line is one JSON object. There is no DuckDB
ceiling here: the cost is Python conversion and the S3 round trips.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import orjson

from bench.clickstream import generate
from headwater.connect.converters import converter_from_config
from headwater.connect.data import ConnectSchema, Field
from headwater.connect.runtime import ConnectRuntime
from headwater.log import Record
from headwater.log.embedded import EmbeddedLog
from tests.connect.seaweed import seaweed_s3

_TYPES = {"IP": "string", "USERID": "int32", "REMOTE_USER": "string", "TIME": "string", "_TIME": "int64",
          "REQUEST": "string", "STATUS": "string", "BYTES": "string", "REFERRER": "string", "AGENT": "string"}
SCHEMA = ConnectSchema("struct", name="clickstream.Click", fields=tuple(
    Field(name.lower(), ConnectSchema(kind, optional=True)) for name, kind in _TYPES.items()))
FORMATS = {"avro": "io.confluent.connect.s3.format.avro.AvroFormat",
           "parquet": "io.confluent.connect.s3.format.parquet.ParquetFormat",
           "json": "io.confluent.connect.s3.format.json.JsonFormat"}


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--flush-size", type=int, default=5_000)
    args = parser.parse_args()
    result: dict[str, float] = {"records": args.records, "flush_size": args.flush_size}
    with tempfile.TemporaryDirectory(prefix="hw-bench-s3-") as root, seaweed_s3(Path(root)) as s3, \
            EmbeddedLog(os.path.join(root, "log")) as log:
        converter = converter_from_config({"value.converter": "io.confluent.connect.avro.AvroConverter"}, False,
                                          log=log)
        values = generate(args.records).column("value").to_pylist()
        records = []
        for raw in values:
            row = {k.lower(): v for k, v in orjson.loads(raw).items()}
            records.append(Record(converter.from_connect("clickstream", SCHEMA, row)))
        log.create_topic("clickstream", 1)
        for start in range(0, len(records), 10_000):
            log.append("clickstream", 0, records[start:start + 10_000])
        megabytes = sum(len(r.value or b"") for r in records) / 1e6
        runtime = ConnectRuntime(log)
        try:
            for name, format_class in FORMATS.items():
                started = time.perf_counter()
                runtime.create(f"s3-{name}", {
                    "connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "clickstream",
                    "topics.dir": name, "format.class": format_class, "flush.size": str(args.flush_size),
                    "value.converter": "io.confluent.connect.avro.AvroConverter", **s3.connector_config()})
                expected = args.records // args.flush_size
                while len(s3.objects(f"{name}/")) < expected:
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
                rate = expected * args.flush_size / elapsed
                print(f"S3 sink {name}: {rate:,.0f} records/s ({rate * megabytes / args.records:,.1f} MB/s of Avro "
                      f"input), {expected} objects")
                result[f"{name}_records_per_s"] = round(rate)
                result[f"{name}_mb_per_s"] = round(rate * megabytes / args.records, 2)
                runtime.delete(f"s3-{name}")
        finally:
            runtime.close()
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
