"""The NONE format: the key or value is not deserialized, and carries no column.

ksqlDB uses it for keyless streams (``KEY_FORMAT='NONE'``). Decoding yields no
column; encoding writes a null for every row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from headwater.formats.base import (
    Column,
    Decoded,
    Format,
    FormatError,
    binary_input,
    format_columns,
    register_format,
    table_of,
)


@register_format
class NoneFormat(Format):
    """ksqlDB's ``NONE`` format."""

    name = "NONE"

    def accepted_properties(self) -> frozenset[str]:
        return frozenset()

    def validate(self) -> None:
        super().validate()
        if self.columns:
            raise FormatError(
                f"The '{self.name}' format can only be used when no columns are defined. "
                f"Got: {format_columns(self.columns)}"
            )

    def decode(self, data: pa.Array, columns: Sequence[Column] | None = None, *, topic: str = "") -> Decoded:
        data = binary_input(data)
        self.select(columns)
        nulls = np.flatnonzero(data.is_null().to_numpy(zero_copy_only=False)) if data.null_count else np.empty(0, np.int64)
        return Decoded(table=table_of([], len(data)), null_rows=nulls.astype(np.int64))

    def encode(self, table: pa.Table) -> pa.Array:
        return pa.nulls(table.num_rows, pa.binary())
