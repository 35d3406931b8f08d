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


def _fill(root: str, topic: str, n: int, chunk: int, rate_per_s: int) -> None:
    from headwater.log.embedded import EmbeddedLog

    with EmbeddedLog(root) as log:
        log.create_topic(topic, 1, exist_ok=True)
        table = generate(n, rate_per_s=rate_per_s)
        for start in range(0, n, chunk):
            log.append(topic, 0, table.slice(start, chunk))


def fill_log(root: str, topic: str, n: int, chunk: int = 50_000, rate_per_s: int = 2000) -> None:
    """Append ``n`` records to ``topic`` of the embedded log at ``root``, in a separate process.

    Generating 2,000,000 records takes about 600 MB; doing it in a child keeps
    that out of the benchmark's own peak RSS, which should measure the engine.
    """
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=_fill, args=(root, topic, n, chunk, rate_per_s))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"generating the benchmark data failed (exit code {child.exitcode})")
