"""Kafka's default partitioner, vectorized: murmur2(key) & 0x7fffffff % partitions.

The embedded log and Kafka must put a key in the same partition, so this is
the exact hash of Kafka's Java client (and librdkafka's ``murmur2_random``).
Keys are hashed in groups of equal length with numpy, so there is no Python
loop per record.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_SEED = np.uint32(0x9747B28C)
_M = np.uint32(0x5BD1E995)


def murmur2(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Kafka's murmur2 of each non-null key, as uint32 (null keys hash to 0)."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks() if keys.num_chunks != 1 else keys.chunk(0)
    keys = keys.cast(pa.binary())
    n = len(keys)
    out = np.zeros(n, dtype=np.uint32)
    if n == 0:
        return out
    _validity, offsets_buf, data_buf = keys.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1, offset=keys.offset * 4)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    valid = ~np.asarray(keys.is_null(), dtype=bool)
    with np.errstate(over="ignore"):
        for length in np.unique(lengths[valid]):
            idx = np.nonzero((lengths == length) & valid)[0]
            length = int(length)
            rows = data[offsets[idx][:, None] + np.arange(length)] if length else np.zeros((len(idx), 0), np.uint8)
            h = np.full(len(idx), _SEED ^ np.uint32(length), dtype=np.uint32)
            blocks = length // 4
            if blocks:
                words = rows[:, : blocks * 4].astype(np.uint32).reshape(len(idx), blocks, 4)
                k_all = words[:, :, 0] | (words[:, :, 1] << 8) | (words[:, :, 2] << 16) | (words[:, :, 3] << 24)
                for b in range(blocks):
                    k = k_all[:, b] * _M
                    k ^= k >> np.uint32(24)
                    k *= _M
                    h *= _M
                    h ^= k
            tail = length % 4
            base = blocks * 4
            if tail >= 3:
                h ^= rows[:, base + 2].astype(np.uint32) << np.uint32(16)
            if tail >= 2:
                h ^= rows[:, base + 1].astype(np.uint32) << np.uint32(8)
            if tail >= 1:
                h ^= rows[:, base].astype(np.uint32)
                h *= _M
            h ^= h >> np.uint32(13)
            h *= _M
            h ^= h >> np.uint32(15)
            out[idx] = h
    return out


def partition_for_keys(keys: pa.Array | pa.ChunkedArray, partitions: int, null_key_partition: int) -> np.ndarray:
    """The partition of each record: murmur2 for keys, ``null_key_partition`` for null keys."""
    hashes = murmur2(keys)
    targets = ((hashes & np.uint32(0x7FFFFFFF)) % np.uint32(partitions)).astype(np.int64)
    nulls = np.asarray(
        (keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys).is_null(), dtype=bool
    )
    targets[nulls] = null_key_partition
    return targets
