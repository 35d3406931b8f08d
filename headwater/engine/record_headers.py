"""The input record's headers on a stateful query's output, as Kafka Streams forwards them.

Kafka Streams forwards every result with the record context of the input
record being processed (``record.withValue(...)``; its caches keep that
context per entry), so an aggregation's update or tombstone, and a join's
result, carry the headers of the record that caused them. Stateless queries
carry them in the decoded relation (``sql/planner.py`` ``HEADERS_PASS``);
stateful operators know, per output row, the offset of the record that caused
it, and :func:`with_input_headers` looks the headers up there.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.log import Fetched
from headwater.log.base import HEADER_TYPE
from headwater.sql.planner import RECORD_HEADERS, ROWOFFSET


def any_headers(headers: pa.Array | pa.ChunkedArray) -> bool:
    """Whether any record of a batch has a header (most batches have none: nothing to copy)."""
    return bool(pc.sum(pc.list_value_length(headers)).as_py() or 0)


def with_input_headers(out: pa.Table, fetched: Fetched) -> pa.Table:
    """``out`` with :data:`RECORD_HEADERS`: each row the headers of the record of ``fetched`` at its
    ``__offset`` (none for a row whose offset is not in the batch, as a window EMIT FINAL closes)."""
    if ROWOFFSET not in out.column_names or RECORD_HEADERS in out.column_names or not out.num_rows:
        return out
    headers = fetched.records.column("headers")
    if not any_headers(headers):
        return out
    offsets = np.asarray(fetched.records.column("offset").to_numpy(zero_copy_only=False), dtype=np.int64)
    wanted = np.asarray(out.column(ROWOFFSET).fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    at = np.minimum(np.searchsorted(offsets, wanted), len(offsets) - 1)
    found = offsets[at] == wanted
    taken = headers.take(pa.array(at)).cast(HEADER_TYPE)
    if not found.all():
        taken = pc.if_else(pa.array(found), taken, pa.nulls(len(taken), HEADER_TYPE))
    return out.append_column(RECORD_HEADERS, taken)


__all__ = ["any_headers", "with_input_headers"]
