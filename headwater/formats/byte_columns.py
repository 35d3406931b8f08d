"""Reading one field of many binary records at once: the numpy and Arrow steps that the column-by-column
decoders (``avro_columns.py``, ``protobuf_columns.py``) share.

Positions are int64 indexes into a batch's data buffer padded with :data:`PADDING` zero bytes
(:func:`padded`), so a read of up to ten bytes past a record never leaves the buffer; callers check
positions against their records' ends and send records that overran to their record-by-record path.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

PADDING = 16


def padded(raw: np.ndarray) -> np.ndarray:
    """A batch's data buffer with :data:`PADDING` zero bytes after it."""
    return np.concatenate([raw, np.zeros(PADDING, np.uint8)])


def read_varints(buf: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(raw uint64 values, sizes, ok)`` of the base-128 varints starting at positions ``at``; each step
    reads one more byte of only the varints still going, so the usual one- or two-byte ones cost one or
    two steps. ``ok`` is false for a varint longer than ten bytes or past 64 bits."""
    byte = buf[at].astype(np.uint64)
    raw = byte & np.uint64(0x7F)
    sizes = np.ones(len(at), np.int64)
    ok = np.ones(len(at), bool)
    live = np.nonzero(byte & np.uint64(0x80))[0]
    for step in range(1, 10):
        if not len(live):
            break
        byte = buf[at[live] + step].astype(np.uint64)
        raw[live] |= (byte & np.uint64(0x7F)) << np.uint64(7 * step)
        sizes[live] += 1
        if step == 9:
            ok[live[byte > 1]] = False  # the 10th byte of a 64-bit varint holds one bit
        live = live[(byte & np.uint64(0x80)) != 0]
    ok[live] = False
    return raw, sizes, ok


def zigzag(raw: np.ndarray) -> np.ndarray:
    """Zigzag-decoded int64 of raw uint64 varints."""
    return (raw >> np.uint64(1)).astype(np.int64) ^ -(raw & np.uint64(1)).astype(np.int64)


def fixed_width(buf: np.ndarray, at: np.ndarray, dtype: str) -> np.ndarray:
    """Little-endian fixed-width values (``"<f4"``, ``"<i8"``, ...) starting at positions ``at``."""
    width = np.dtype(dtype).itemsize
    raw = buf[at[:, None] + np.arange(width)]
    return np.ascontiguousarray(raw).view(dtype).reshape(-1)


def ranges(data: pa.Buffer, starts: np.ndarray, lengths: np.ndarray, present: np.ndarray | None) -> pa.Array:
    """The values ``data[starts[i]:starts[i] + lengths[i]]`` (ascending, non-overlapping ranges) as one
    binary array (null where ``present`` is false): one over ``data`` whose values alternate range and
    gap, of which Arrow's ``take`` keeps the ranges."""
    n = len(starts)
    large = len(data) >= 2**31
    bounds = np.empty(2 * n + 1, np.int64 if large else np.int32)
    bounds[0 : 2 * n : 2] = starts
    bounds[1 : 2 * n : 2] = starts + lengths
    bounds[2 * n] = bounds[2 * n - 1] if n else 0
    both = pa.Array.from_buffers(pa.large_binary() if large else pa.binary(), 2 * n,
                                 [None, pa.py_buffer(bounds), data])
    index = pa.array(np.arange(0, 2 * n, 2), mask=None if present is None else ~present)
    values = both.take(index)
    return values.cast(pa.binary()) if large else values


def not_utf8(values: pa.Array) -> np.ndarray:
    """The mask of the binary values that are not UTF-8 (asked only when a batch has one: a loop is fine)."""
    wrong = np.zeros(len(values), bool)
    for row, value in enumerate(values.to_pylist()):
        if value is not None:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                wrong[row] = True
    return wrong


def as_strings(values: pa.Array, bad: np.ndarray) -> pa.Array:
    """Binary ``values`` as strings; rows that are not UTF-8 are marked in ``bad`` (their value is junk)."""
    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:
        bad |= not_utf8(values)
        return values.cast(pa.string(), safe=False)
