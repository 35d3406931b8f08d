"""Input headers on stateful outputs (``engine/record_headers.py``) and the join runs that keep them
unambiguous (``join_sources.runs``)."""

from __future__ import annotations

import pyarrow as pa

from headwater.engine.join_sources import Piece, runs
from headwater.engine.record_headers import any_headers, with_input_headers
from headwater.log import Fetched
from headwater.log.base import HEADER_TYPE, RECORD_SCHEMA
from headwater.sql.planner import RECORD_HEADERS


def fetched(offsets: list[int], headers: list[list[tuple[str, bytes]] | None], partition: int = 0) -> Fetched:
    rows = [{"offset": o, "timestamp": o, "key": None, "value": b"{}",
             "headers": None if h is None else [{"key": k, "value": v} for k, v in h]}
            for o, h in zip(offsets, headers, strict=True)]
    return Fetched("t", partition, pa.RecordBatch.from_pylist(rows, RECORD_SCHEMA), offsets[-1] + 1, offsets[-1] + 1)


def test_outputs_take_the_headers_of_their_record_by_offset() -> None:
    batch = fetched([10, 11, 13], [[("a", b"1")], None, [("b", b"2"), ("c", None)]])
    out = pa.table({"o0": [1, 2, 3, 4], "__offset": pa.array([13, 10, 12, -1], pa.int64())})
    got = with_input_headers(out, batch).column(RECORD_HEADERS).to_pylist()
    assert got == [[{"key": "b", "value": b"2"}, {"key": "c", "value": None}], [{"key": "a", "value": b"1"}],
                   None, None]  # offset 12 is not in the batch (compacted), -1 is no record's
    assert with_input_headers(out, batch).schema.field(RECORD_HEADERS).type == HEADER_TYPE


def test_a_batch_without_headers_leaves_the_outputs_alone() -> None:
    batch = fetched([0, 1], [None, []])
    out = pa.table({"o0": [1], "__offset": pa.array([1], pa.int64())})
    assert not any_headers(batch.records.column("headers"))
    assert with_input_headers(out, batch) is out


def piece(source: int, partition: int, ts: list[int], with_headers: bool) -> Piece:
    offsets = list(range(len(ts)))
    batch = fetched(offsets, [[("h", b"x")] if with_headers else None for _ in ts], partition)
    table = pa.table({"__ts": pa.array(ts, pa.int64()), "__offset": pa.array(offsets, pa.int64()),
                      "p": [partition] * len(ts)})
    return Piece(source, batch, table)


def test_a_run_with_headers_stays_within_one_partition() -> None:
    plain = runs([piece(0, 0, [1, 3], False), piece(0, 1, [2, 4], False)], [False])
    assert [(s, t.column("p").to_pylist()) for s, t, _ in plain] == [(0, [0, 1, 0, 1])]
    cut = runs([piece(0, 0, [1, 3], True), piece(0, 1, [2, 4], False)], [False])
    assert [(s, t.column("p").to_pylist(), f.partition) for s, t, f in cut] == [
        (0, [0], 0), (0, [1], 1), (0, [0], 0), (0, [1], 1)]
