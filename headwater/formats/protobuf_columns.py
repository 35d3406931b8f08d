"""Protobuf messages of one type decoded column by column with numpy, straight into Arrow arrays.

Fields of a message come in any order and may repeat, so the decoder walks the records' fields step by
step: step k reads the k-th (tag, value) of every record still going, at once, and a selected field's
column takes the value read (the last occurrence wins, as protobuf's parsers do); fields not selected
are skipped by their wire type. A :class:`MessagePlan` is compiled once per (message type, selected
columns).

It covers selected scalar fields (int32, int64, uint32, uint64, sint32, sint64, fixed and sfixed 32/64,
bool, float, double, string, bytes, enum) that are not repeated and whose column has the type ksqlDB
gives them; unset fields read as their proto3 defaults, as the record-by-record path reads them.
:func:`compile_plan` returns None for anything else (a selected message, map or repeated field), and
the caller parses those records with protobuf one by one. A record the plan cannot read cleanly (a
truncated or overlong varint, a length past its end, a group or unknown wire type, a selected field
with another wire type, an unknown enum number, a uint64 past BIGINT, a string that is not UTF-8) is
reported as *bad* and goes the slow way too, so its error (or value) is the one protobuf gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from headwater.formats.byte_columns import as_strings, fixed_width, ranges, read_varints, zigzag
from headwater.formats.protobuf_schema import repeated
from headwater.sql.types import SqlType

_T = FieldDescriptor
#: field type -> (wire type, the column types it fills)
_SCALARS: dict[int, tuple[int, tuple[pa.DataType, ...]]] = {
    _T.TYPE_INT32: (0, (pa.int32(), pa.int64())), _T.TYPE_SINT32: (0, (pa.int32(), pa.int64())),
    _T.TYPE_SFIXED32: (5, (pa.int32(), pa.int64())), _T.TYPE_UINT32: (0, (pa.int64(),)),
    _T.TYPE_FIXED32: (5, (pa.int64(),)), _T.TYPE_INT64: (0, (pa.int64(),)), _T.TYPE_SINT64: (0, (pa.int64(),)),
    _T.TYPE_SFIXED64: (1, (pa.int64(),)), _T.TYPE_UINT64: (0, (pa.int64(),)), _T.TYPE_FIXED64: (1, (pa.int64(),)),
    _T.TYPE_BOOL: (0, (pa.bool_(),)), _T.TYPE_FLOAT: (5, (pa.float64(),)), _T.TYPE_DOUBLE: (1, (pa.float64(),)),
    _T.TYPE_STRING: (2, (pa.string(),)), _T.TYPE_BYTES: (2, (pa.binary(),)), _T.TYPE_ENUM: (0, (pa.string(),)),
}


@dataclass(frozen=True)
class _Field:
    number: int
    kind: int  # FieldDescriptor.TYPE_*
    wire: int
    column: str
    arrow_type: pa.DataType
    symbols: tuple[tuple[int, str], ...] = ()  # enum numbers and names


@dataclass(frozen=True)
class MessagePlan:
    fields: tuple[_Field, ...]
    columns: tuple[tuple[str, pa.DataType], ...]


def compile_plan(message: Descriptor, selected: Sequence[tuple[int, str, SqlType]], *,
                 wrapped: bool) -> MessagePlan | None:
    """The plan reading ``selected`` from messages of type ``message``, None if it cannot."""
    columns = tuple((name, sql_type.to_arrow()) for _, name, sql_type in selected)
    if wrapped:
        by_upper: dict[str, FieldDescriptor] = {}
        for field in message.fields:
            by_upper.setdefault(field.name.upper(), field)
        chosen = [(by_upper.get(name.upper()), name, arrow_type) for name, arrow_type in columns]
    else:
        if len(columns) != 1 or not message.fields:
            return None
        chosen = [(message.fields[0], columns[0][0], columns[0][1])]
    fields = []
    for field, name, arrow_type in chosen:
        if field is None:
            continue  # no such field: the column is null
        scalar = _SCALARS.get(field.type)
        if scalar is None or repeated(field) or arrow_type not in scalar[1]:
            return None
        symbols = tuple((v.number, v.name) for v in field.enum_type.values) if field.type == _T.TYPE_ENUM else ()
        fields.append(_Field(field.number, field.type, scalar[0], name, arrow_type, symbols))
    return MessagePlan(tuple(fields), columns)


def decode_columns(plan: MessagePlan, buf: np.ndarray, starts: np.ndarray,
                   ends: np.ndarray) -> tuple[dict[str, pa.Array], np.ndarray]:
    """The plan's columns for the messages ``buf[starts[i]:ends[i]]`` (``buf`` from
    ``byte_columns.padded``; records ascending, not overlapping), and the mask of the records it could not
    read cleanly (their values are meaningless)."""
    n = len(starts)
    pos = starts.astype(np.int64).copy()
    ends = ends.astype(np.int64)
    bad = np.zeros(n, bool)
    # Per selected field: the raw value (varint or fixed bits as uint64) or (start, length) of its last occurrence.
    raw_values = {f.number: np.zeros(n, np.uint64) for f in plan.fields}
    spans = {f.number: (starts.astype(np.int64).copy(), np.zeros(n, np.int64)) for f in plan.fields if f.wire == 2}
    by_number = {f.number: f for f in plan.fields}
    active = np.nonzero(pos < ends)[0]
    while len(active):
        tags, sizes, ok = read_varints(buf, pos[active])
        bad[active[~ok]] = True
        at = pos[active] + sizes
        wire = (tags & np.uint64(7)).astype(np.int64)
        number = (tags >> np.uint64(3)).astype(np.int64)
        bad[active[(number == 0) | ~np.isin(wire, (0, 1, 2, 5))]] = True
        after = at.copy()
        values = np.zeros(len(active), np.uint64)
        lengths = np.zeros(len(active), np.int64)
        is_varint = wire == 0
        if is_varint.any():
            got, got_sizes, got_ok = read_varints(buf, at[is_varint])
            values[is_varint] = got
            after[is_varint] += got_sizes
            bad[active[is_varint][~got_ok]] = True
        for kind, width, dtype in ((1, 8, "<u8"), (5, 4, "<u4")):
            is_fixed = wire == kind
            if is_fixed.any():
                values[is_fixed] = fixed_width(buf, at[is_fixed], dtype).astype(np.uint64)
                after[is_fixed] += width
        is_len = wire == 2
        if is_len.any():
            got, got_sizes, got_ok = read_varints(buf, at[is_len])
            begin = at[is_len] + got_sizes
            room = np.maximum(ends[active[is_len]] - begin, 0)
            too_long = ~got_ok | (got > room.astype(np.uint64)) | (begin > ends[active[is_len]])
            bad[active[is_len][too_long]] = True
            length = np.where(too_long, 0, np.minimum(got, room.astype(np.uint64)).astype(np.int64))
            lengths[is_len] = length
            at[is_len] = np.minimum(begin, ends[active[is_len]])
            after[is_len] = at[is_len] + length
        for num, f in by_number.items():
            hit = number == num
            if not hit.any():
                continue
            bad[active[hit & (wire != f.wire)]] = True
            hit &= wire == f.wire
            rows = active[hit]
            if f.wire == 2:
                spans[num][0][rows] = at[hit]
                spans[num][1][rows] = lengths[hit]
            else:
                raw_values[num][rows] = values[hit]
        bad[active[after > ends[active]]] = True
        pos[active] = np.minimum(after, ends[active])
        active = active[(pos[active] < ends[active]) & ~bad[active]]
    data = pa.py_buffer(buf)
    out: dict[str, pa.Array] = {}
    for f in plan.fields:
        if f.wire == 2:
            values = ranges(data, spans[f.number][0], spans[f.number][1], None)
            out[f.column] = as_strings(values, bad) if f.arrow_type == pa.string() else values
        else:
            out[f.column] = _scalar(f, raw_values[f.number], bad)
    for name, arrow_type in plan.columns:
        if name not in out:
            out[name] = pa.nulls(n, arrow_type)
    return out, bad


def _scalar(f: _Field, raw: np.ndarray, bad: np.ndarray) -> pa.Array:
    low = (raw & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    kind = f.kind
    if kind in (_T.TYPE_INT32, _T.TYPE_SFIXED32):
        values: np.ndarray = low.view(np.int32)
    elif kind == _T.TYPE_SINT32:
        values = zigzag(low.astype(np.uint64)).astype(np.int32)
    elif kind in (_T.TYPE_UINT32, _T.TYPE_FIXED32):
        values = low.astype(np.int64)
    elif kind in (_T.TYPE_INT64, _T.TYPE_SFIXED64):
        values = raw.view(np.int64)
    elif kind == _T.TYPE_SINT64:
        values = zigzag(raw)
    elif kind in (_T.TYPE_UINT64, _T.TYPE_FIXED64):
        bad |= raw >= np.uint64(2**63)
        values = raw.view(np.int64)
    elif kind == _T.TYPE_BOOL:
        values = raw != 0
    elif kind == _T.TYPE_FLOAT:
        values = low.view(np.float32).astype(np.float64)
    elif kind == _T.TYPE_DOUBLE:
        values = raw.view(np.float64)
    else:  # enum: the number (int32) to its name
        numbers = low.view(np.int32).astype(np.int64)
        known = np.array([number for number, _ in f.symbols], np.int64)
        names = pa.array([name for _, name in f.symbols], pa.string())
        order = np.argsort(known, kind="stable")
        known_sorted = known[order]
        position = np.clip(np.searchsorted(known_sorted, numbers), 0, max(len(known) - 1, 0))
        found = (known_sorted[position] == numbers) if len(known) else np.zeros(len(numbers), bool)
        bad |= ~found
        return names.take(pa.array(order[position] if len(known) else position))
    return pa.array(values, f.arrow_type) if f.arrow_type != pa.int32() else pa.array(values.astype(np.int32))
