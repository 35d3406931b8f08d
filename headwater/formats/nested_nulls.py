"""Which rows of a nested Arrow array (LIST, MAP, STRUCT) hold a null somewhere inside.

The JSON decoder's fast path turns a value it cannot convert into a null;
inside an array, a map or a struct that null hides in a child array. These
rows are the suspects it re-examines.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def nested_null_rows(array: pa.Array) -> np.ndarray:
    """A boolean per row: true where the (non-null) row holds a null element, map value or field, at any depth."""
    mask = np.zeros(len(array), dtype=bool)
    kind = array.type
    if pa.types.is_map(kind):
        # A map is a list of (key, value) structs; keys are never null.
        entries = pa.struct([pa.field("key", kind.key_type, nullable=False), pa.field("value", kind.item_type)])
        array, kind = array.view(pa.list_(pa.field("entries", entries, nullable=False))), None
    if kind is None or pa.types.is_list(kind) or pa.types.is_large_list(kind):
        flat = pc.list_flatten(array)
        if kind is None:
            flat = flat.field("value")
        inside = _nulls_within(flat)
        if inside.any():
            parents = pc.list_parent_indices(array).to_numpy()
            mask[parents[inside]] = True
    elif pa.types.is_struct(kind):
        for child in array.flatten():
            mask |= _nulls_within(child)
        if array.null_count:
            mask &= array.is_valid().to_numpy(zero_copy_only=False)
    return mask


def _nulls_within(array: pa.Array) -> np.ndarray:
    """True where the value is null or holds a null inside."""
    mask = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else np.zeros(len(array), bool)
    if pa.types.is_nested(array.type):
        mask = mask | nested_null_rows(array)
    return mask
