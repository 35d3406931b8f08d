"""JSON format throughput: decode 3 columns, decode every column, encode, over clickstream records.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.formats_json [records] [batch_rows]``
(defaults 2,000,000 records in batches of 200,000, as the log hands them to a
query). Each figure is the best of three passes over all batches, warm. The
last line is one JSON object.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

from bench.clickstream import generate
from headwater.formats import create_format
from headwater.sql.types import BIGINT, INTEGER, STRING, SqlType

CLICKSTREAM: list[tuple[str, SqlType]] = [
    ("IP", STRING),
    ("USERID", INTEGER),
    ("REMOTE_USER", STRING),
    ("TIME", STRING),
    ("_TIME", BIGINT),
    ("REQUEST", STRING),
    ("STATUS", INTEGER),
    ("BYTES", BIGINT),
    ("REFERRER", STRING),
    ("AGENT", STRING),
]
THREE: list[tuple[str, SqlType]] = [("USERID", INTEGER), ("REQUEST", STRING), ("STATUS", INTEGER)]


def best_rate(records: int, run: Callable[[], None], passes: int = 3) -> float:
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return records / best


def main(records: int = 2_000_000, batch_rows: int = 200_000) -> dict[str, int]:
    values = generate(records).column("value").combine_chunks()
    batches = [values.slice(start, batch_rows) for start in range(0, records, batch_rows)]
    fmt = create_format("JSON", CLICKSTREAM)
    errors = sum(fmt.decode(batch, THREE, topic="clickstream").num_errors for batch in batches[:1])
    if errors:
        raise SystemExit(f"bench: {errors} clickstream records failed to decode")

    def decode(columns: list[tuple[str, SqlType]]) -> Callable[[], None]:
        def run() -> None:
            for batch in batches:
                fmt.decode(batch, columns, topic="clickstream")

        return run

    three = best_rate(records, decode(THREE))
    print(f"decode 3 columns: {three:,.0f} records/s")
    every = best_rate(records, decode(CLICKSTREAM))
    print(f"decode all {len(CLICKSTREAM)} columns: {every:,.0f} records/s")
    tables = [fmt.decode(batch, topic="clickstream").table for batch in batches]
    encoded_bytes = sum(len(fmt.encode(table).buffers()[2]) for table in tables[:1])
    if not encoded_bytes:
        raise SystemExit("bench: encoding produced no bytes")

    def encode_all() -> None:
        for table in tables:
            fmt.encode(table)

    encode = best_rate(records, encode_all)
    print(f"encode {len(CLICKSTREAM)} columns: {encode:,.0f} records/s")
    result = {
        "decode_3_columns_records_per_s": round(three),
        "decode_all_columns_records_per_s": round(every),
        "encode_records_per_s": round(encode),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
