"""Avro records of one writer schema decoded column by column with numpy, straight into Arrow arrays.

Every record of a batch written with the same schema has its fields in the same order, so the decoder
walks the fields once and reads field ``k`` of all records together: one vectorized varint read for the
union branches, one for the lengths or values, one gather for the string bytes. A :class:`ColumnPlan` is
compiled once per (writer schema, selected columns).

It covers what ksqlDB and most producers write: records of null, boolean, int, long, float, double,
string, bytes, enum and fixed fields, the logical types date, time-millis and timestamp-millis, each
possibly in a union with null. :func:`compile_plan` returns None for anything else (arrays, maps, nested
records, decimals, other unions, a column whose type needs a conversion), and the caller reads those
records with fastavro one by one. A record the plan cannot read cleanly (a truncated body, bytes left
after it, a union branch or enum index out of range, an int out of range, a string that is not UTF-8)
is reported as *bad* and goes the slow way too, so its error reason is the one fastavro gives; the plan
never decides alone that a record is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from headwater.formats.byte_columns import as_strings, fixed_width, ranges, read_varints, zigzag
from headwater.sql.types import SqlType

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "string", "bytes"})
_INT32 = (-(2**31), 2**31 - 1)
# datetime's range, which fastavro's logical readers need (a value outside it fails there).
_TIMESTAMP_MS = (-62135596800000, 253402300799999)
_DATE_DAYS = (-719162, 2932896)
_TIME_MS = (0, 86399999)


@dataclass(frozen=True)
class _Field:
    """One writer field: how to read (or skip) it, and the column it fills (None: skipped)."""

    kind: str  # an Avro primitive, "enum" or "fixed"
    null_branch: int | None  # the null's index in a two-branch union, None when not a union
    logical: str | None = None
    symbols: tuple[str, ...] = ()
    size: int = 0
    column: str | None = None
    arrow_type: pa.DataType | None = None


@dataclass(frozen=True)
class ColumnPlan:
    """The fields of a writer schema in order and the selected columns they fill (absent columns: null)."""

    fields: tuple[_Field, ...]
    columns: tuple[tuple[str, pa.DataType], ...]


def split_optional(avro: Any) -> tuple[Any, int | None] | None:
    """A field's type and the branch of its null in a ``[null, T]`` union (None when not a union); None for
    any other union, which the column plans leave to fastavro."""
    if not isinstance(avro, list):
        return avro, None
    if len(avro) != 2 or "null" not in avro or avro[0] == avro[1]:
        return None
    null_branch = avro.index("null")
    return avro[1 - null_branch], null_branch


def resolve_type(avro: Any, named: dict[str, Any]) -> tuple[str, str | None, tuple[str, ...], int] | None:
    """``(kind, logical type, enum symbols, fixed size)`` of a non-union Avro type, None if unsupported."""
    if isinstance(avro, str):
        if avro in _PRIMITIVES:
            return avro, None, (), 0
        if avro in named:
            return resolve_type(named[avro], named)
        return None
    if not isinstance(avro, dict):
        return None
    kind = avro.get("type")
    if kind in _PRIMITIVES:
        logical = avro.get("logicalType")
        return str(kind), (str(logical) if logical is not None else None), (), 0
    if kind in ("enum", "fixed"):
        named[str(avro.get("name"))] = avro
        if kind == "enum":
            return "enum", None, tuple(str(s) for s in avro.get("symbols", ())), 0
        logical = avro.get("logicalType")
        return "fixed", (str(logical) if logical is not None else None), (), int(avro.get("size", 0))
    return None


def fits_column(kind: str, logical: str | None, arrow_type: pa.DataType) -> bool:
    """Whether a writer type fills a column of ``arrow_type`` exactly as the record-by-record path does."""
    if logical is not None:
        return (logical, kind, arrow_type) in {("date", "int", pa.date32()), ("time-millis", "int", pa.time32("ms")),
                                               ("timestamp-millis", "long", pa.timestamp("ms"))}
    allowed = {pa.bool_(): ("boolean",), pa.int32(): ("int", "long"), pa.int64(): ("int", "long"),
               pa.float64(): ("float", "double"), pa.string(): ("string", "enum"), pa.binary(): ("bytes", "fixed")}
    return kind == "null" or kind in allowed.get(arrow_type, ())


def compile_plan(writer: Any, selected: Sequence[tuple[int, str, SqlType]], *, wrapped: bool) -> ColumnPlan | None:
    """The plan reading ``selected`` from records of the parsed ``writer`` schema, None if it cannot."""
    named: dict[str, Any] = {}
    columns = tuple((name, sql_type.to_arrow()) for _, name, sql_type in selected)
    if wrapped:
        if not isinstance(writer, dict) or writer.get("type") != "record":
            return None
        by_upper: dict[str, str] = {}
        for name, _ in columns:
            by_upper.setdefault(name.upper(), name)
        writer_fields = [(str(f["name"]), f["type"]) for f in writer.get("fields", ())]
    else:
        if len(columns) != 1:
            return None
        by_upper = {"": columns[0][0]}
        writer_fields = [("", writer)]
    arrow_of = dict(columns)
    fields: list[_Field] = []
    filled: set[str] = set()
    for field_name, avro in writer_fields:
        optional = split_optional(avro)
        if optional is None:
            return None
        avro, null_branch = optional
        resolved = resolve_type(avro, named)
        if resolved is None:
            return None
        kind, logical, symbols, size = resolved
        column = by_upper.get(field_name.upper())
        if column in filled:
            column = None  # two writer fields differing only in case: the first fills the column
        arrow_type = arrow_of[column] if column is not None else None
        if arrow_type is not None and not fits_column(kind, logical, arrow_type):
            return None
        if column is not None:
            filled.add(column)
        fields.append(_Field(kind, null_branch, logical, symbols, size, column, arrow_type))
    return ColumnPlan(tuple(fields), columns)


def decode_columns(plan: ColumnPlan, buf: np.ndarray, starts: np.ndarray,
                   ends: np.ndarray) -> tuple[dict[str, pa.Array], np.ndarray]:
    """The plan's columns for the records ``buf[starts[i]:ends[i]]`` (``buf`` from ``byte_columns.padded``; records
    in ascending order, not overlapping), and the mask of the records it could not read cleanly (their
    values in the columns are meaningless)."""
    n = len(starts)
    data = pa.py_buffer(buf)
    pos = starts.astype(np.int64).copy()
    ends = ends.astype(np.int64)
    bad = np.zeros(n, bool)
    out: dict[str, pa.Array] = {}
    for f in plan.fields:
        present: np.ndarray | None = None
        rows: np.ndarray | slice = slice(None)
        if f.null_branch is not None:
            branch = buf[pos]
            bad |= (branch != 0) & (branch != 2)  # zigzag 0 and 1
            present = branch != 2 * f.null_branch
            pos += 1
            rows = np.nonzero(present)[0]
        if f.kind == "null":
            if f.column is not None:
                out[f.column] = pa.nulls(n, f.arrow_type)
            continue
        at = pos[rows].copy()  # not a view: pos moves on below
        if f.kind in ("string", "bytes", "fixed"):
            if f.kind == "fixed":
                start = at
                _flag(bad, rows, present, start + f.size > ends[rows])
                lengths = np.minimum(np.full(len(at), f.size, np.int64), ends[rows] - start)
            else:
                raw, sizes, ok = read_varints(buf, at)
                lengths = zigzag(raw)
                start = at + sizes
                # A length past the record, or the length's own bytes past it: the record is cut short.
                _flag(bad, rows, present, ~ok | (lengths < 0) | (start > ends[rows])
                      | (lengths > np.maximum(ends[rows] - start, 0)))
                start = np.minimum(start, ends[rows])
                lengths = np.clip(lengths, 0, ends[rows] - start)
            pos[rows] = start + lengths
            if f.column is not None:
                all_lengths = lengths if present is None else _scatter(n, rows, lengths, 0)
                all_starts = start if present is None else _scatter(n, rows, start, 0)
                if present is not None:  # a null's empty range sits where its record's field is
                    all_starts[~present] = pos[~present]
                values = ranges(data, all_starts, all_lengths, present)
                out[f.column] = as_strings(values, bad) if f.arrow_type == pa.string() else values
        elif f.kind == "boolean":
            values = buf[at]
            _flag(bad, rows, present, values > 1)
            pos[rows] = at + 1
            if f.column is not None:
                out[f.column] = _numeric(n, rows, present, values.astype(bool), f.arrow_type)
        elif f.kind in ("float", "double"):
            width = 4 if f.kind == "float" else 8
            pos[rows] = at + width
            if f.column is not None:
                values = fixed_width(buf, at, "<f4" if width == 4 else "<f8")
                out[f.column] = _numeric(n, rows, present, values.astype(np.float64), f.arrow_type)
        else:  # int, long, enum
            raw, sizes, ok = read_varints(buf, at)
            values = zigzag(raw)
            pos[rows] = at + sizes
            limits = _range(f)
            if limits is not None:
                ok &= (values >= limits[0]) & (values <= limits[1])
            if f.column is not None and f.arrow_type == pa.int32() and f.kind == "long":
                ok &= (values >= _INT32[0]) & (values <= _INT32[1])
            _flag(bad, rows, present, ~ok)
            if f.column is not None:
                if f.kind == "enum":
                    index = _scatter(n, rows, np.where(ok, values, 0), 0) if present is not None else np.where(ok, values, 0)
                    mask = None if present is None else ~present
                    out[f.column] = pa.array(f.symbols, pa.string()).take(pa.array(index, mask=mask))
                else:
                    out[f.column] = _numeric(n, rows, present, values, f.arrow_type)
        over = pos > ends
        bad |= over
        np.minimum(pos, ends, out=pos)
    bad |= pos != ends
    for name, arrow_type in plan.columns:
        if name not in out:
            out[name] = pa.nulls(n, arrow_type)
    return out, bad


def _flag(bad: np.ndarray, rows: np.ndarray | slice, present: np.ndarray | None, wrong: np.ndarray) -> None:
    """Mark as bad the records whose value (at ``rows``, the records where the field is present) is wrong."""
    if present is None:
        bad |= wrong
    else:
        bad[rows[wrong]] = True  # type: ignore[index]


def _range(f: _Field) -> tuple[int, int] | None:
    if f.kind == "enum":
        return 0, len(f.symbols) - 1
    if f.logical == "timestamp-millis" and f.column is not None:
        return _TIMESTAMP_MS
    if f.logical == "date" and f.column is not None:
        return _DATE_DAYS
    if f.logical == "time-millis" and f.column is not None:
        return _TIME_MS
    if f.kind == "int":
        return _INT32
    return None


def _scatter(n: int, rows: np.ndarray, values: np.ndarray, fill: Any) -> np.ndarray:
    full = np.full(n, fill, values.dtype)
    full[rows] = values
    return full


def _numeric(n: int, rows: np.ndarray | slice, present: np.ndarray | None, values: np.ndarray,
             arrow_type: pa.DataType) -> pa.Array:
    if present is None:
        full = values
        mask = None
    else:
        full = _scatter(n, rows, values, 0)  # type: ignore[arg-type]
        mask = ~present
    if pa.types.is_temporal(arrow_type):
        # numpy's dtype, not DataType.to_pandas_dtype(): pyarrow 24 (the lowest allowed) needs pandas for that
        storage, dtype = (pa.int32(), np.int32) if arrow_type.bit_width == 32 else (pa.int64(), np.int64)
        return pa.array(full.astype(dtype), storage, mask=mask).view(arrow_type)
    if arrow_type == pa.int32():
        full = full.astype(np.int32)
    return pa.array(full, arrow_type, mask=mask)
