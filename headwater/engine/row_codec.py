"""Fixed-width rows as bytes: the changelog encoding of a store whose columns are all fixed width.

A row is a null bitmap (one bit per column, little-endian bit order) then each column's
value little-endian at its own width (a null column is zeros). Encoding and decoding are
numpy over whole columns: no Python per row. Equal rows give equal bytes, so a packed key
identifies its row for compaction. Stores with a VARCHAR, DECIMAL, LIST... column use JSON
(``engine/state.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

#: DuckDB type -> (numpy dtype, Arrow type).
_FIXED: dict[str, tuple[str, pa.DataType]] = {
    "TINYINT": ("<i1", pa.int8()), "SMALLINT": ("<i2", pa.int16()), "INTEGER": ("<i4", pa.int32()),
    "BIGINT": ("<i8", pa.int64()), "UTINYINT": ("<u1", pa.uint8()), "USMALLINT": ("<u2", pa.uint16()),
    "UINTEGER": ("<u4", pa.uint32()), "UBIGINT": ("<u8", pa.uint64()), "FLOAT": ("<f4", pa.float32()),
    "DOUBLE": ("<f8", pa.float64()), "BOOLEAN": ("<u1", pa.bool_()),
}


class FixedRowCodec:
    """Packs and unpacks the columns ``names`` of DuckDB ``types`` (all in ``_FIXED``)."""

    def __init__(self, names: Sequence[str], types: Sequence[str]) -> None:
        self.names = list(names)
        self.arrow = [_FIXED[t][1] for t in types]
        bitmap = (len(self.names) + 7) // 8
        fields: list[tuple[str, str] | tuple[str, str, tuple[int]]] = [("__valid", "<u1", (bitmap,))]
        fields += [(f"c{i}", _FIXED[t][0]) for i, t in enumerate(types)]
        self.dtype = np.dtype(fields)

    @staticmethod
    def for_types(names: Sequence[str], types: Sequence[str]) -> FixedRowCodec | None:
        if not names or any(t not in _FIXED for t in types):
            return None
        return FixedRowCodec(names, types)

    def encode(self, table: pa.Table, prefix: bytes = b"") -> pa.Array:
        """One binary value per row of ``table`` (which has at least the columns ``names``), after ``prefix``."""
        n = table.num_rows
        packed = np.zeros(n, dtype=self.dtype)
        valid = np.zeros((n, len(self.names)), dtype=bool)
        for i, name in enumerate(self.names):
            column = table.column(name)
            valid[:, i] = np.asarray(column.is_valid(), dtype=bool)
            values = column.fill_null(False if pa.types.is_boolean(column.type) else 0).to_numpy()
            packed[f"c{i}"] = values
        packed["__valid"] = np.packbits(valid, axis=1, bitorder="little")
        width = len(prefix) + self.dtype.itemsize
        out = np.empty((n, width), dtype=np.uint8)
        out[:, :len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
        out[:, len(prefix):] = packed.view(np.uint8).reshape(n, self.dtype.itemsize)
        data = pa.py_buffer(out.tobytes())
        offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
        return pa.Array.from_buffers(pa.binary(), n, [None, offsets, data])

    def decode(self, values: pa.Array | pa.ChunkedArray, skip: int = 0) -> pa.Table:
        """The rows of non-null binary ``values`` (each ``skip`` bytes of prefix, then a packed row)."""
        array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        if not len(array):
            return pa.table({name: pa.array([], kind) for name, kind in zip(self.names, self.arrow, strict=True)})
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset: array.offset + len(array) + 1]
        raw = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]]
        width = self.dtype.itemsize + skip
        rows = raw.reshape(len(array), width)[:, skip:].copy().view(self.dtype).reshape(len(array))
        valid = np.unpackbits(rows["__valid"], axis=1, count=len(self.names), bitorder="little").astype(bool)
        columns = {}
        for i, (name, kind) in enumerate(zip(self.names, self.arrow, strict=True)):
            data = rows[f"c{i}"]
            if pa.types.is_boolean(kind):
                data = data.astype(bool)
            columns[name] = pa.array(data, kind, mask=~valid[:, i])
        return pa.table(columns)
