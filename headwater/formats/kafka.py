"""The KAFKA format: Kafka's own serializers for one primitive column.

INT is 4 bytes big-endian (``IntegerSerializer``), BIGINT 8 bytes big-endian
(``LongSerializer``), DOUBLE 8 bytes IEEE 754 big-endian
(``DoubleSerializer``), STRING UTF-8 (``StringSerializer``; bytes that are not
UTF-8 decode to U+FFFD, as Java's decoder does), BYTES the raw bytes. A value
of the wrong size fails with Kafka's message, e.g. ``Size of data received by
IntegerDeserializer is not 4``. Decoding and encoding view the binary
column's buffers with numpy: no Python per record.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from headwater.formats import duck
from headwater.formats.base import (
    Column,
    Decoded,
    Format,
    FormatError,
    binary_bytes,
    binary_input,
    binary_offsets,
    column_of,
    deserialize_error,
    register_format,
    replace_rows,
    table_of,
)
from headwater.sql.types import BaseType

# base type -> (size, big-endian dtype, Kafka deserializer name in its error)
_FIXED = {
    BaseType.INTEGER: (4, ">i4", "IntegerDeserializer"),
    BaseType.BIGINT: (8, ">i8", "LongDeserializer"),
    BaseType.DOUBLE: (8, ">f8", "Deserializer"),  # Kafka's DoubleDeserializer says just "Deserializer"
}
_SUPPORTED = (BaseType.INTEGER, BaseType.BIGINT, BaseType.DOUBLE, BaseType.STRING, BaseType.BYTES)


@register_format
class KafkaFormat(Format):
    """ksqlDB's ``KAFKA`` format."""

    name = "KAFKA"
    supports_multiple_columns = False

    def validate(self) -> None:
        super().validate()
        for _, sql_type in self.columns:
            if sql_type.base not in _SUPPORTED:
                raise FormatError(f"The '{self.name}' format does not support type '{sql_type.base.value}'")

    def decode(self, data: pa.Array, columns: Sequence[Column] | None = None, *, topic: str = "") -> Decoded:
        data = binary_input(data)
        selected = self.select(columns)
        valid = data.is_valid().to_numpy(zero_copy_only=False)
        null_rows = np.flatnonzero(~valid)
        if not selected:
            return Decoded(table=table_of([], len(data)), null_rows=null_rows)
        _, name, sql_type = selected[0]
        base = sql_type.base
        error_rows = np.empty(0, np.int64)
        reasons: tuple[str, ...] = ()
        if base in _FIXED:
            array, error_rows = _fixed(data, valid, *_FIXED[base][:2])
            message = deserialize_error(self.role, topic, f"Size of data received by {_FIXED[base][2]} is not {_FIXED[base][0]}")
            reasons = (message,) * len(error_rows)
        elif base is BaseType.STRING:
            array, bad = duck.utf8(data)
            if len(bad):
                replaced = [data[int(i)].as_py().decode("utf-8", errors="replace") for i in bad]
                array = replace_rows(array, bad, pa.array(replaced, pa.string()))
        else:
            array = data
        return Decoded(
            table=table_of([(name, array.cast(sql_type.to_arrow()))], len(data)),
            error_rows=error_rows,
            error_reasons=reasons,
            null_rows=null_rows,
        )

    def encode(self, table: pa.Table) -> pa.Array:
        if not self.columns:
            return pa.nulls(table.num_rows, pa.binary())
        name, sql_type = self.columns[0]
        array = column_of(table, name).cast(sql_type.to_arrow())
        if sql_type.base in _FIXED:
            size, dtype, _ = _FIXED[sql_type.base]
            return _encode_fixed(array, size, dtype)
        return array.cast(pa.binary())


def _fixed(data: pa.BinaryArray, valid: np.ndarray, size: int, dtype: str) -> tuple[pa.Array, np.ndarray]:
    """Fixed-size big-endian numbers: the values (null where absent or wrong-sized) and the wrong-sized rows."""
    offsets = binary_offsets(data)
    lengths = np.diff(offsets)
    good = valid & (lengths == size)
    bad = np.flatnonzero(valid & (lengths != size))
    raw = binary_bytes(data)
    native = np.dtype(dtype).newbyteorder("=")
    values = np.zeros(len(data), native)
    if len(data) and good.all() and offsets[-1] - offsets[0] == size * len(data):
        # The common case: every row present and well-sized, so the bytes are one contiguous run.
        values[:] = raw[offsets[0] : offsets[-1]].view(dtype)
    elif good.any():
        starts = offsets[:-1][good]
        values[good] = raw[starts[:, None] + np.arange(size)].reshape(-1).view(dtype)
    arrow_type = pa.from_numpy_dtype(native)
    return pa.array(values, arrow_type, mask=~good if not good.all() else None), bad


def _encode_fixed(array: pa.Array, size: int, dtype: str) -> pa.Array:
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    values = array.fill_null(0).to_numpy(zero_copy_only=False)[valid].astype(dtype)
    offsets = np.zeros(len(array) + 1, np.int32)
    np.cumsum(np.where(valid, size, 0), out=offsets[1:])
    validity = None if valid.all() else pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(
        pa.binary(),
        len(array),
        [validity, pa.py_buffer(offsets.tobytes()), pa.py_buffer(values.tobytes())],
        null_count=int((~valid).sum()),
    )
