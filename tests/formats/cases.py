"""Helpers for the format tests: decode one record, read decoded rows as Python values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from headwater.formats import Decoded, create_format
from headwater.sql.types import SqlType


def decode_one(
    name: str,
    columns: Sequence[tuple[str, SqlType]],
    record: str | bytes | None,
    *,
    properties: Mapping[str, object] | None = None,
) -> Decoded:
    """Decode one record (text is UTF-8 encoded) with the format ``name`` for ``columns``, topic ``t``."""
    raw = record.encode() if isinstance(record, str) else record
    return create_format(name, columns, properties).decode(pa.array([raw], pa.binary()), topic="t")


def values(decoded: Decoded) -> list[dict[str, Any]]:
    """The decoded rows as dicts of Python values."""
    return decoded.table.to_pylist()
