"""Synthetic clickstream records, deterministic for a seed, about 250-300 bytes each.

Shaped like kafka-connect-datagen's ``clickstream`` quickstart (ip, userid,
time, _time, request, status and bytes as strings, referrer, agent) and drawing
from its value sets (``headwater.datagen.quickstarts``), but built for volume:
userid 1..``users`` and event time advancing ``rate_per_s`` records per
second with up to ``disorder_ms`` of disorder. Built with Arrow compute: no Python
loop per record. The benchmarks (bench/clickstream.py) and ``headwater tour``
use it; the datagen connector and ``headwater generate`` use the quickstart itself.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.datagen.quickstarts import (
    CLICKSTREAM_AGENTS,
    CLICKSTREAM_BYTES,
    CLICKSTREAM_IPS,
    CLICKSTREAM_REQUESTS,
    CLICKSTREAM_STATUSES,
)

T0_MS = 1_790_000_040_000  # a minute boundary

# The value sets of kafka-connect-datagen's clickstream quickstart, shared with the connector.
IPS = CLICKSTREAM_IPS
REQUESTS = CLICKSTREAM_REQUESTS
STATUSES = CLICKSTREAM_STATUSES
BYTES = CLICKSTREAM_BYTES
AGENTS = CLICKSTREAM_AGENTS


def _pick(rng: np.random.Generator, options: list[str], n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(
        pa.array(rng.integers(0, len(options), n).astype(np.int32)), pa.array(options)
    ).cast(pa.string())


def generate(
    n: int,
    *,
    seed: int,
    users: int = 5000,
    rate_per_s: int = 2000,
    disorder_ms: int = 2000,
    start_ms: int = T0_MS,
) -> pa.Table:
    """``n`` records as a table with the log's append columns: timestamp, key (ip), value (JSON)."""
    rng = np.random.default_rng(seed)
    event_ms = start_ms + (np.arange(n, dtype=np.int64) * 1000) // rate_per_s
    if disorder_ms:
        event_ms = event_ms - rng.integers(0, disorder_ms + 1, n)
    ip = _pick(rng, IPS, n)
    userid = pa.array(rng.integers(1, users + 1, n)).cast(pa.string())
    seconds = pa.array(event_ms // 1000).cast(pa.string())
    parts = [
        '{"ip":"', ip,
        '","userid":', userid,
        ',"remote_user":"-","time":"', seconds,
        '","_time":', pa.array(event_ms).cast(pa.string()),
        ',"request":"', _pick(rng, REQUESTS, n),
        '","status":"', _pick(rng, STATUSES, n),
        '","bytes":"', _pick(rng, BYTES, n),
        '","referrer":"-","agent":"', _pick(rng, AGENTS, n),
        '"}',
    ]
    value = pc.binary_join_element_wise(*[p if isinstance(p, pa.Array) else pa.scalar(p) for p in parts], "")
    return pa.table(
        {
            "timestamp": pa.array(event_ms),
            "key": ip.cast(pa.binary()),
            "value": value.cast(pa.binary()),
        }
    )
