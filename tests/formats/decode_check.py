"""The check that a format's column plans decode exactly as its record-by-record path."""

from __future__ import annotations

from typing import Any


def assert_same_decode(got: Any, want: Any) -> None:
    """Two decodes of the same records: the same table (column by column, then schema), error rows and reasons."""
    for name in want.table.column_names:
        a, b = got.table.column(name).to_pylist(), want.table.column(name).to_pylist()
        diff = [(row, x, y) for row, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        assert not diff, (name, diff[:3])
    assert got.table.schema == want.table.schema
    assert got.error_rows.tolist() == want.error_rows.tolist()
    assert got.error_reasons == want.error_reasons
