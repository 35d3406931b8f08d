"""Avro records encoded column by column: the mirror of formats/avro_columns.py for what the AVRO format
writes.

Each writer field becomes one or two binary arrays of per-record pieces (the union branch and the value
or length prefix built with numpy; a string's bytes are its Arrow array as it is), and one Arrow ``take``
interleaves every piece of record 0, then of record 1, ..., behind the wire header: the taken array's
data buffer is the records laid end to end.

:func:`compile_encoder` covers records (or an unwrapped single value) of boolean, int, long, double,
string and bytes fields and the logical types date, time-millis and timestamp-millis, each possibly in a
union with null, whose column has exactly the field's type: what ksqlDB registers for flat columns. For
anything else it returns None and the caller writes with fastavro record by record; it also does so
for a batch with a null in a field that is not a union (fastavro names the error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.formats.avro_columns import fits_column, resolve_type, split_optional
from headwater.formats.base import column_of

_ENCODABLE = frozenset({"boolean", "int", "long", "double", "string", "bytes"})


@dataclass(frozen=True)
class _Field:
    column: str
    kind: str
    null_branch: int | None


@dataclass(frozen=True)
class EncoderPlan:
    """The writer fields in order, each with the column that fills it."""

    fields: tuple[_Field, ...]


def compile_encoder(writer: Any, columns: Sequence[tuple[str, pa.DataType]], field_names: Mapping[str, str], *,
                    wrapped: bool) -> EncoderPlan | None:
    """The plan writing ``columns`` (named in the writer as ``field_names`` says) with the parsed
    ``writer`` schema, None if it cannot."""
    arrow_of = dict(columns)
    if wrapped:
        if not isinstance(writer, dict) or writer.get("type") != "record":
            return None
        column_of = {field_names.get(name, name): name for name, _ in columns}
        writer_fields = [(column_of.get(str(f["name"])), f["type"]) for f in writer.get("fields", ())]
    else:
        if len(columns) != 1:
            return None
        writer_fields = [(columns[0][0], writer)]
    fields = []
    for column, avro in writer_fields:
        if column is None:
            return None
        optional = split_optional(avro)
        if optional is None:
            return None
        avro, null_branch = optional
        resolved = resolve_type(avro, {})
        if resolved is None:
            return None
        kind, logical, _, _ = resolved
        if kind not in _ENCODABLE or not fits_column(kind, logical, arrow_of[column]):
            return None
        fields.append(_Field(column, kind, null_branch))
    return EncoderPlan(tuple(fields))


def _varint_pieces(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(bytes matrix n x 10, sizes)`` of the zigzag varints of int64 ``values``."""
    v = values.astype(np.int64)
    z = ((v << 1) ^ (v >> 63)).view(np.uint64)
    sizes = np.ones(len(z), np.int64)
    for k in range(1, 10):
        sizes += z >= np.uint64(1 << (7 * k))
    shifts = np.arange(10, dtype=np.uint64) * np.uint64(7)
    groups = ((z[:, None] >> shifts) & np.uint64(0x7F)).astype(np.uint8)
    groups |= (np.arange(10) < (sizes[:, None] - 1)).astype(np.uint8) << 7
    return groups, sizes


def _piece(matrix: np.ndarray, sizes: np.ndarray) -> pa.Array:
    """A binary array whose value ``i`` is ``matrix[i, :sizes[i]]``."""
    offsets = np.zeros(len(sizes) + 1, np.int32)
    np.cumsum(sizes, out=offsets[1:])
    data = matrix[np.arange(matrix.shape[1]) < sizes[:, None]]
    return pa.Array.from_buffers(pa.binary(), len(sizes), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _numbers(array: pa.Array, kind: str) -> np.ndarray:
    """An int, long or temporal column's values as int64 (nulls as 0)."""
    if pa.types.is_temporal(array.type):
        array = array.view(pa.int32() if array.type.bit_width == 32 else pa.int64())
    return np.asarray(pc.fill_null(array, 0).to_numpy(zero_copy_only=False), np.int64)


def encode_columns(plan: EncoderPlan, table: pa.Table, header: bytes) -> pa.Array | None:
    """The records of ``table`` with ``header`` in front of each, None when a non-union field has a null
    (the caller's record-by-record writer reports it)."""
    n = table.num_rows
    heads = np.tile(np.frombuffer(header, np.uint8), n)
    pieces: list[pa.Array] = [pa.Array.from_buffers(pa.binary(), n, [
        None, pa.py_buffer(np.arange(0, len(heads) + 1, len(header), dtype=np.int32)), pa.py_buffer(heads)])]
    total = len(heads)
    for f in plan.fields:
        array = column_of(table, f.column)
        present = np.asarray(array.is_valid(), bool) if array.null_count else np.ones(n, bool)
        if f.null_branch is None and not present.all():
            return None
        if f.kind in ("string", "bytes"):
            lengths = pc.fill_null(pc.binary_length(array), 0).to_numpy(zero_copy_only=False)
            value, sizes = _varint_pieces(lengths)
        elif f.kind == "boolean":
            value = np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), np.uint8)[:, None]
            sizes = np.ones(n, np.int64)
        elif f.kind == "double":
            doubles = np.asarray(pc.fill_null(array, 0.0).to_numpy(zero_copy_only=False), "<f8")
            value, sizes = doubles.view(np.uint8).reshape(n, 8), np.full(n, 8, np.int64)
        else:
            numbers = _numbers(array, f.kind)
            if f.kind == "int" and len(numbers) and (numbers.min() < -(2**31) or numbers.max() >= 2**31):
                return None
            value, sizes = _varint_pieces(numbers)
        if f.null_branch is not None:
            branch = np.where(present, 2 * (1 - f.null_branch), 2 * f.null_branch).astype(np.uint8)
            value = np.concatenate([branch[:, None], value], axis=1)
            sizes = np.where(present, sizes + 1, 1)
        pieces.append(_piece(value, sizes))
        total += int(sizes.sum())
        if f.kind in ("string", "bytes"):
            pieces.append(pc.fill_null(array.cast(pa.binary()), b""))
            total += int(lengths.sum())
    if total >= 2**31:
        return None  # past int32 offsets: the record-by-record writer handles such a batch
    every = pa.concat_arrays(pieces)
    width = len(pieces)
    order = (np.arange(width)[None, :] * n + np.arange(n)[:, None]).reshape(-1)
    laid = every.take(pa.array(order))
    offsets = np.frombuffer(laid.buffers()[1], np.int32)[laid.offset : laid.offset + len(laid) + 1][::width]
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(np.ascontiguousarray(offsets)),
                                                 laid.buffers()[2]])
