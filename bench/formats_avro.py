"""AVRO format throughput over clickstream records in Confluent's wire format, and the decoders we weighed.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.formats_avro [records] [batch_rows]`` (defaults 200,000
records in batches of 50,000). Figures (best of three, warm):

- ``decode_3_columns`` / ``decode_all_columns``: ``AvroFormat.decode`` into Arrow (what a query pays);
- ``fastavro_schemaless_loop``: the baseline alone, ``schemaless_reader`` per record on one buffer, no Arrow;
- ``fastavro_block``: the same payloads framed as one Avro container block and read by ``fastavro.reader``
  (its C loop; no per-record boundary check, which is why the format does not use it);
- ``encode``: ``AvroFormat.encode``;
- ``protobuf_decode_3_columns`` / ``json_sr_decode_3_columns``: the other registry formats on the same rows;
- ``json_decode_3_columns``: the JSON format on the same records, a DuckDB batch query (``json_transform``)
  and the project's ceiling; ``ratio_vs_json`` = Avro decode 3 columns / that.

Before the column plans (formats/avro_columns.py, avro_column_encoder.py) AVRO read records one by one with
fastavro's ``schemaless_reader``: about ``fastavro_schemaless_loop`` less the Arrow conversion.

The last line is one JSON object (records/s and MB/s of Avro payload).
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable

import fastavro
import orjson

from bench.clickstream import generate
from bench.formats_json import CLICKSTREAM, THREE, best_rate
from headwater.connect.avro_container import avro_long
from headwater.formats import create_format
from headwater.log import open_log
from headwater.registry.store import LogSchemaRegistry


def _block_reader(payloads: list[bytes], schema: object) -> Callable[[], int]:
    """A container file of one block holding every payload (5-byte header stripped)."""
    head = io.BytesIO()
    fastavro.writer(head, schema, [], sync_marker=b"\x00" * 16)  # header only (no records)
    body = b"".join(p[5:] for p in payloads)
    data = head.getvalue() + avro_long(len(payloads)) + avro_long(len(body)) + body + b"\x00" * 16

    def run() -> int:
        return sum(1 for _ in fastavro.reader(io.BytesIO(data)))

    return run


def main(records: int = 200_000, batch_rows: int = 50_000) -> dict[str, float]:
    values = generate(records).column("value").combine_chunks()
    json_fmt = create_format("JSON", CLICKSTREAM)
    with tempfile.TemporaryDirectory() as tmp:
        log = open_log(os.path.join(tmp, "log"))
        try:
            registry = LogSchemaRegistry(log)
            props = {"SCHEMA_REGISTRY": registry, "KAFKA_TOPIC": "clickstream"}
            fmt = create_format("AVRO", CLICKSTREAM, props)
            tables = [json_fmt.decode(values.slice(s, batch_rows), topic="clickstream").table
                      for s in range(0, records, batch_rows)]
            encoded = [fmt.encode(t) for t in tables]
            payload_bytes = sum(len(e.buffers()[2]) for e in encoded)
            check = fmt.decode(encoded[0], THREE, topic="clickstream")
            if check.num_errors or check.table.num_rows != tables[0].num_rows:
                raise SystemExit(f"bench: {check.num_errors} Avro records failed to decode")

            def decode(columns: list) -> Callable[[], None]:
                def run() -> None:
                    for batch in encoded:
                        fmt.decode(batch, columns, topic="clickstream")
                return run

            mb = payload_bytes / 1e6
            three = best_rate(records, decode(THREE))
            print(f"AvroFormat decode 3 columns: {three:,.0f} records/s ({three * mb / records:,.1f} MB/s)")
            every = best_rate(records, decode(CLICKSTREAM))
            print(f"AvroFormat decode all {len(CLICKSTREAM)} columns: {every:,.0f} records/s")
            parsed = fastavro.parse_schema(orjson.loads(fmt.registered_schema().text))
            payloads = [p for e in encoded for p in e.to_pylist()]
            whole = b"".join(p for p in payloads)

            def loop() -> None:
                buffer = io.BytesIO(whole)
                position = 0
                for p in payloads:
                    buffer.seek(position + 5)
                    fastavro.schemaless_reader(buffer, parsed, None)
                    position += len(p)

            baseline = best_rate(records, loop)
            print(f"fastavro schemaless_reader loop (no Arrow): {baseline:,.0f} records/s")
            block = best_rate(records, _block_reader(payloads, parsed))
            print(f"fastavro container block reader (no Arrow): {block:,.0f} records/s")

            def encode_all() -> None:
                for table in tables:
                    fmt.encode(table)

            encode = best_rate(records, encode_all)
            print(f"AvroFormat encode: {encode:,.0f} records/s")
            others = {}
            for name in ("PROTOBUF", "JSON_SR"):
                other = create_format(name, CLICKSTREAM, props | {"KAFKA_TOPIC": f"clickstream-{name.lower()}"})
                other_encoded = [other.encode(t) for t in tables]

                def decode_other(other: object = other, batches: list = other_encoded) -> None:
                    for batch in batches:
                        other.decode(batch, THREE, topic="clickstream")  # type: ignore[attr-defined]

                others[name] = best_rate(records, decode_other)
                print(f"{name} decode 3 columns: {others[name]:,.0f} records/s")

            def json_three() -> None:
                for s in range(0, records, batch_rows):
                    json_fmt.decode(values.slice(s, batch_rows), THREE, topic="clickstream")

            ceiling = best_rate(records, json_three)
            print(f"JSON decode 3 columns (DuckDB json_transform): {ceiling:,.0f} records/s")
        finally:
            log.close()
    result = {
        "records": records,
        "avro_bytes_per_record": round(payload_bytes / records, 1),
        "decode_3_columns_records_per_s": round(three),
        "decode_3_columns_mb_per_s": round(three * mb / records, 1),
        "decode_all_columns_records_per_s": round(every),
        "fastavro_schemaless_loop_records_per_s": round(baseline),
        "fastavro_block_records_per_s": round(block),
        "encode_records_per_s": round(encode),
        "encode_mb_per_s": round(encode * mb / records, 1),
        "protobuf_decode_3_columns_records_per_s": round(others["PROTOBUF"]),
        "json_sr_decode_3_columns_records_per_s": round(others["JSON_SR"]),
        "json_decode_3_columns_records_per_s": round(ceiling),
        "ratio_vs_json": round(three / ceiling, 3),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
