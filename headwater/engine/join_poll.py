"""Polling a join's inputs: one consistent cut of every input partition per poll.

A join orders records of different topics by time before it joins them, so a poll returns
everything it read as ONE item (:func:`poll_fetcher`), cut at the end offsets taken before the
poll (:func:`upto`), with the timestamp of the next unread record of each partition it did not
read to its end (``lagging``). Records held back for a later round are merged with newer ones of
the same partition (:func:`merge_held`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from headwater.engine.join_sources import Piece
from headwater.engine.operator import MAX_POLL_RECORDS
from headwater.log import Fetched, Log, TopicPartition


def upto(fetched: Fetched, ends: dict[TopicPartition, int]) -> Fetched | None:
    """``fetched`` without the records at or past ``ends`` of its partition (None when nothing is left)."""
    end = ends.get(TopicPartition(fetched.topic, fetched.partition))
    if end is None or fetched.next_offset <= end:
        return fetched
    offsets = fetched.records.column("offset").to_numpy()
    keep = int(np.searchsorted(offsets, end))
    if keep == 0:
        return None
    return Fetched(fetched.topic, fetched.partition, fetched.records.slice(0, keep), end, fetched.high_watermark)


def merge_held(held: list[Piece], pieces: list[Piece]) -> list[Piece]:
    """Held-back records first, joined with newer records of the same source and partition."""
    if not held:
        return pieces
    out = list(held)
    for piece in pieces:
        index = next((i for i, h in enumerate(out) if h.source == piece.source
                      and h.fetched.topic == piece.fetched.topic and h.fetched.partition == piece.fetched.partition),
                     None)
        if index is None:
            out.append(piece)
        else:
            h = out[index]
            assert h.table is not None and piece.table is not None
            out[index] = Piece(piece.source, piece.fetched, pa.concat_tables([h.table, piece.table]))
    return out


def poll_fetcher(log: Log, positions: dict[TopicPartition, int], decode: Callable[[Fetched], Any],
                 max_bytes: int, timeout_s: float) -> Callable[[], list[Any]]:
    """Everything one poll returned, decoded, as ONE item ``(items, lagging)``: records of different topics
    fetched together can then be ordered by time before they are joined."""
    positions = dict(positions)

    def fetch() -> list[Any]:
        # A consistent cut: records appended after these ends are left for the next poll, so a
        # record is never processed before one appended earlier to another input partition.
        ends = {tp: log.end_offset(*tp) for tp in positions}
        polled = log.poll(positions, max_records=MAX_POLL_RECORDS, max_bytes=max_bytes, timeout_s=timeout_s)
        batches = [f for f in (upto(f, ends) for f in polled) if f is not None]
        if polled and not batches and ends == {tp: log.end_offset(*tp) for tp in positions}:
            # Records past end offsets that did not move: the broker's end offsets lag (Tansu
            # answers the last batch's base offset + 1); take the records as they are.
            batches = polled
        if not batches:
            return []
        items = []
        for fetched in batches:
            positions[TopicPartition(fetched.topic, fetched.partition)] = fetched.next_offset
            items.append((fetched, decode(fetched)))
        return [(items, _lagging(log, positions, ends))]

    return fetch


def _lagging(log: Log, positions: dict[TopicPartition, int], ends: dict[TopicPartition, int]
             ) -> dict[TopicPartition, int]:
    """The timestamp of the next unread record of each partition this poll did not read up to its end.

    Kafka Streams only processes a record once every input partition has a buffered record (or
    none to read); here the records of other partitions at or after these timestamps wait instead.
    """
    bounds = {}
    for tp, position in positions.items():
        if position < ends.get(tp, position):
            head = log.read(tp.topic, tp.partition, position, max_records=1)
            if len(head):
                bounds[tp] = int(head.records.column("timestamp")[0].as_py())
    return bounds


__all__ = ["merge_held", "poll_fetcher", "upto"]
