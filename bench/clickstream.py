"""The clickstream records every benchmark uses: headwater's generator with one fixed seed.

``python -m bench.clickstream`` prints three records.
"""

from __future__ import annotations

import pyarrow as pa

from headwater.datagen.clickstream import T0_MS
from headwater.datagen.clickstream import generate as _generate

SEED = 20261122

__all__ = ["SEED", "T0_MS", "generate"]


def generate(n: int, *, users: int = 5000, rate_per_s: int = 2000, disorder_ms: int = 2000) -> pa.Table:
    """``n`` records (timestamp, key, value): userid 1..users, ~rate_per_s per second of event time."""
    return _generate(n, seed=SEED, users=users, rate_per_s=rate_per_s, disorder_ms=disorder_ms)


if __name__ == "__main__":
    for row in generate(3).to_pylist():
        print(row["value"].decode())
