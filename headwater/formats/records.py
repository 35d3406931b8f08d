"""Decoded records (Python dicts or values per row) to typed Arrow columns, for the formats whose decoder
yields Python objects (AVRO, PROTOBUF): fields match columns case-insensitively, each column is built as one
array, and only when that fails are rows tried one by one, so a value that does not fit its column makes
an error row and the others decode."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.formats.base import Role, deserialize_error
from headwater.sql.types import ArrayType, MapType, SqlType, StructType


def value_adapter(sql_type: SqlType) -> Callable[[Any], Any] | None:
    """A function making a decoded value fit ``sql_type`` in Arrow (None when it already does)."""
    if isinstance(sql_type, StructType):
        fields = [(f.name, f.name.upper(), value_adapter(f.type)) for f in sql_type.fields]

        def struct(value: Any) -> Any:
            if not isinstance(value, dict):
                return value
            upper = {str(k).upper(): v for k, v in value.items()}
            return {name: (adapt(upper.get(key)) if adapt is not None and upper.get(key) is not None
                           else upper.get(key)) for name, key, adapt in fields}

        return struct
    if isinstance(sql_type, ArrayType):
        inner = value_adapter(sql_type.element)
        if inner is None:
            return None
        return lambda value: [None if v is None else inner(v) for v in value] if isinstance(value, list) else value
    if isinstance(sql_type, MapType):
        inner = value_adapter(sql_type.value)
        if inner is None:
            return None
        return lambda value: ({k: None if v is None else inner(v) for k, v in value.items()}
                              if isinstance(value, dict) else value)
    return None


def record_columns(decoded: list[Any], selected: list[tuple[int, str, SqlType]], errors: dict[int, str], *,
                   role: Role, topic: str, wrapped: bool,
                   field_names: Iterable[str] | None = None) -> list[tuple[str, pa.Array]]:
    """The selected columns of decoded records (dicts by field name when ``wrapped``, else the values);
    a record that does not fit gets its reason in ``errors`` and is null in every column. ``field_names``,
    when the caller knows them (the writer schemas' fields), saves looking at every record's keys."""
    arrays: list[tuple[str, pa.Array]] = []
    if wrapped and any(v is not None and not isinstance(v, dict) for v in decoded):
        for row, value in enumerate(decoded):
            if value is not None and not isinstance(value, dict):
                errors[row] = deserialize_error(role, topic, f"Expected a record for the columns "
                                                f"{[c for _, c, _ in selected]}, got {type(value).__name__}")
                decoded[row] = None
    keys: dict[str, str] = {}
    if wrapped and field_names is not None:
        for key in field_names:
            keys.setdefault(key.upper(), key)
    elif wrapped:
        for value in decoded:
            if value is not None:
                for key in value:
                    keys.setdefault(str(key).upper(), key)
    for _, name, sql_type in selected:
        if wrapped:
            key = keys.get(name.upper(), name)
            values = [None if v is None else v.get(key) for v in decoded]
        else:
            values = decoded
        adapt = value_adapter(sql_type)
        if adapt is not None:
            values = [None if v is None else adapt(v) for v in values]
        arrays.append((name, _array(values, sql_type, name, errors, role, topic)))
    if errors:
        rows = sorted(errors)
        arrays = [(name, _nulled(array, rows)) for name, array in arrays]
    return arrays


def _array(values: list[Any], sql_type: SqlType, name: str, errors: dict[int, str], role: Role,
           topic: str) -> pa.Array:
    arrow_type = sql_type.to_arrow()
    try:
        return pa.array(values, arrow_type)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        pass
    fitted: list[Any] = []
    for row, value in enumerate(values):
        try:
            pa.array([value], arrow_type)
            fitted.append(value)
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            errors.setdefault(row, deserialize_error(role, topic, f"Cannot read field {name} as "
                                                     f"{sql_type.sql()}: {exc}"))
            fitted.append(None)
    return pa.array(fitted, arrow_type)


def _nulled(array: pa.Array, rows: list[int]) -> pa.Array:
    mask = np.zeros(len(array), bool)
    mask[rows] = True
    return pc.if_else(pa.array(mask), pa.nulls(len(array), array.type), array)


def assemble_columns(n: int, pieces: list[tuple[np.ndarray, dict[str, pa.Array]]],
                     selected: list[tuple[int, str, SqlType]]) -> list[tuple[str, pa.Array]]:
    """The selected columns of ``n`` rows from pieces covering some of them each (rows in no piece: null)."""
    if len(pieces) == 1 and len(pieces[0][0]) == n:  # one schema, every record read: rows are 0..n-1
        arrays = pieces[0][1]
        return [(name, arrays[name]) for _, name, _ in selected]
    index = np.full(n, sum(len(rows) for rows, _ in pieces), np.int64)  # the trailing null
    start = 0
    for rows, _ in pieces:
        index[rows] = np.arange(start, start + len(rows))
        start += len(rows)
    take = pa.array(index)
    out = []
    for _, name, sql_type in selected:
        arrow_type = sql_type.to_arrow()
        parts = [arrays.get(name, pa.nulls(len(rows), arrow_type)) for rows, arrays in pieces]
        out.append((name, pa.concat_arrays([*parts, pa.nulls(1, arrow_type)]).take(take)))
    return out
