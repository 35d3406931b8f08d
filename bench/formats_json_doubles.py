"""JSON encode throughput of doubles nested in an ARRAY<DOUBLE>, written as Java's ``Double.toString``.

Run: ``PYTHONPATH=. .venv/bin/python -m bench.formats_json_doubles [records] [batch_rows]``
(defaults 1,000,000 records of an INT and 5 doubles, in batches of 200,000). Three kinds of batch:
every double from 1e-3 to 1e7 (DuckDB writes them as Java does: its writer alone), one double of
the batch from 1e7 on (the batch takes the path that pairs each double with its Java text), and one
double in five from 1e7 on. ``duckdb_ceiling`` is DuckDB's ``to_json`` of the same rows, with its own
text for every double; each ratio is a rate over that ceiling. Best of three passes, warm; the last
line is one JSON object.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from headwater.formats import create_format, duck
from headwater.sql.types import DOUBLE, INTEGER, ArrayType

WIDTH = 5


def _rate(records: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return records / best


def main(records: int = 1_000_000, batch_rows: int = 200_000) -> dict[str, float]:
    rng = np.random.default_rng(0)
    fmt = create_format("JSON", [("ID", INTEGER), ("L", ArrayType(DOUBLE))])

    def batches(values: np.ndarray) -> list[pa.Table]:
        out = []
        for start in range(0, records, batch_rows):
            rows = min(batch_rows, records - start)
            offsets = np.arange(0, rows * WIDTH + 1, WIDTH, dtype=np.int32)
            chunk = values[start * WIDTH:(start + rows) * WIDTH]
            out.append(pa.table({"ID": pa.array(np.arange(rows, dtype=np.int32)),
                                 "L": pa.ListArray.from_arrays(pa.array(offsets), pa.array(chunk))}))
        return out

    plain = rng.random(records * WIDTH) * 1000 + 1
    one = plain.copy()
    one[::batch_rows * WIDTH] *= 1e9
    fifth = plain.copy()
    fifth[::WIDTH] *= 1e9
    result: dict[str, float] = {}
    plain_tables = batches(plain)
    ceiling = _rate(records, lambda: [duck.run("SELECT CAST(to_json(struct_pack(ID := ID, L := L)) AS VARCHAR) "
                                               "FROM t", t=b) for b in plain_tables])
    result["duckdb_ceiling_records_per_s"] = round(ceiling)
    for name, values in (("in_range", plain), ("one_per_batch", one), ("one_in_five", fifth)):
        tables = batches(values)
        rate = _rate(records, lambda tables=tables: [fmt.encode(t) for t in tables])
        result[f"{name}_records_per_s"] = round(rate)
        result[f"{name}_ratio_to_ceiling"] = round(rate / ceiling, 2)
        print(f"encode, {name.replace('_', ' ')}: {rate:,.0f} records/s ({rate / ceiling:.2f} of DuckDB's to_json)")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
