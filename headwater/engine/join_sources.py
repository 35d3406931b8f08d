"""Decoding the sources of a join, and ordering their records the way Kafka Streams does.

Each source decodes into its own columns (``s<i>_c<j>``, ``s<i>__rowtime``...,
see ``headwater/sql/join_planner.py``) plus ``__ts`` and ``__offset``. A table
source keeps its tombstones: a record with a null value is a deletion of its
key (``__del``), where a stream ignores it. ``__key`` of a table record is its
primary key (with the window, for a windowed table: ``join_planner.windowed_key``).

Records of several topics are processed in timestamp order across topics
and offset order within a partition, as a Kafka Streams task picks the
partition whose head record has the smallest timestamp: see :func:`runs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from headwater.engine.codec import SourceDecoder
from headwater.engine.processing_log import ProcessingError
from headwater.engine.record_headers import any_headers
from headwater.engine.repartition import restore_original_key
from headwater.log import Fetched
from headwater.sql.join_planner import JoinSource
from headwater.sql.planner import DELETED, ROWOFFSET, ROWPARTITION, ROWTIME, WINDOW_END, WINDOW_START


@dataclass(frozen=True)
class Piece:
    """The decoded records of one fetched batch for one join source."""

    source: int
    fetched: Fetched
    table: pa.Table | None  # None: a batch of the source's own topic, to repartition (not decoded here)


class JoinDecoder:
    """Decodes a fetched batch of any of the join's topics into one piece per source reading that topic."""

    def __init__(self, sources: Sequence[JoinSource], repartitioned: Mapping[int, str] | None = None,
                 carry_key: set[int] | None = None) -> None:
        """``repartitioned`` maps a source to the repartition topic the join reads it from instead;
        for the sources in ``carry_key`` the original record key travels in a header."""
        self.sources = list(sources)
        self.repartitioned = dict(repartitioned or {})
        self._carry_key = {self.repartitioned[i] for i in carry_key or ()}
        self._decoders = [SourceDecoder(s.source, s.inputs) for s in self.sources]
        self.by_topic: dict[str, list[int]] = {}
        self.to_repartition: dict[str, list[int]] = {}
        for s in self.sources:
            self.by_topic.setdefault(self.input_topic(s.index), []).append(s.index)
            if s.index in self.repartitioned:
                self.to_repartition.setdefault(s.source.topic, []).append(s.index)

    def input_topic(self, i: int) -> str:
        """The topic the join reads source ``i`` from: its own, or its repartition topic."""
        return self.repartitioned.get(i, self.sources[i].source.topic)

    @property
    def topics(self) -> list[str]:
        return list(dict.fromkeys([*self.by_topic, *self.to_repartition]))

    def decode(self, fetched: Fetched) -> tuple[list[Piece], list[ProcessingError]]:
        pieces: list[Piece] = [Piece(i, fetched, None) for i in self.to_repartition.get(fetched.topic, [])]
        errors: list[ProcessingError] = []
        own = restore_original_key(fetched) if fetched.topic in self._carry_key else fetched
        for i in self.by_topic.get(fetched.topic, []):
            table, errs = self._decode_restored(i, own)
            pieces.append(Piece(i, own, table))
            errors.extend(errs)
        return pieces, errors

    def decode_source(self, i: int, fetched: Fetched) -> tuple[pa.Table, list[ProcessingError]]:
        """Source ``i``'s records of ``fetched`` (a repartition topic's with their original key restored)."""
        if fetched.topic in self._carry_key:
            fetched = restore_original_key(fetched)
        return self._decode_restored(i, fetched)

    def _decode_restored(self, i: int, fetched: Fetched) -> tuple[pa.Table, list[ProcessingError]]:
        join_source = self.sources[i]
        decoder = self._decoders[i]
        table, errors = decoder.decode(fetched)
        # The decoder keeps a table's tombstones (key decoded, values null) and flags them in DELETED.
        deleted = table.column(DELETED) if DELETED in table.column_names else None
        table = _rename(table, join_source)
        if not join_source.source.is_table:
            return table, errors
        key_alias = join_source.key_alias
        assert key_alias is not None and deleted is not None
        key = table.column(key_alias)
        if join_source.source.window is not None:  # a windowed table's rows are keyed by key and window
            key = pa.StructArray.from_arrays(
                [key.combine_chunks(), *(table.column(join_source.meta(m)).combine_chunks()
                                         for m in (WINDOW_START, WINDOW_END))],
                names=["K", "WS", "WE"])
        return table.append_column("__key", key).append_column("__del", deleted), errors


def _rename(table: pa.Table, join_source: JoinSource) -> pa.Table:
    """The decoder's pseudo columns under the source's names, plus ``__ts`` and ``__offset``."""
    names = {ROWTIME: join_source.meta(ROWTIME), ROWPARTITION: join_source.meta(ROWPARTITION),
             ROWOFFSET: join_source.meta(ROWOFFSET)}
    if join_source.source.window is not None:
        names |= {WINDOW_START: join_source.meta(WINDOW_START), WINDOW_END: join_source.meta(WINDOW_END)}
    renamed = table.rename_columns([names.get(n, n) for n in table.column_names])
    wanted = [i.alias for i in join_source.inputs]
    extra = [n for n in renamed.column_names if n.startswith("c")]  # a TIMESTAMP column the decoder added
    renamed = renamed.drop_columns(extra) if extra else renamed
    for alias in wanted:
        if alias not in renamed.column_names:  # a header or key column a format does not provide
            renamed = renamed.append_column(alias, pa.nulls(renamed.num_rows))
    ordered = renamed.select(wanted + list(names.values()))
    return ordered.append_column("__ts", ordered.column(names[ROWTIME])).append_column(
        "__offset", ordered.column(names[ROWOFFSET]))


def runs(pieces: Sequence[Piece], tables_first: Sequence[bool]) -> list[tuple[int, pa.Table, Fetched]]:
    """The records of ``pieces`` as (source, records, a fetched batch they came from), in processing order.

    The order is the one a Kafka Streams task processes them in: within a
    piece (one partition) records stay in offset order; across pieces the one
    whose next record has the smallest timestamp goes first (a record's
    effective time is the running maximum in its partition, so a late record
    does not jump ahead of its predecessors); on equal times a table's records
    go before a stream's, so a stream record sees the table update with its
    own timestamp. Consecutive records of the same source form one run, even
    from several partitions: a run is joined in one vectorized pass.
    """
    pieces = [p for p in pieces if p.table is not None and p.table.num_rows]
    if len(pieces) == 1:
        return [(pieces[0].source, pieces[0].table, pieces[0].fetched)]  # type: ignore[list-item]
    if not pieces:
        return []
    keys_t, keys_side, keys_piece, keys_row = [], [], [], []
    for p, piece in enumerate(pieces):
        assert piece.table is not None
        n = piece.table.num_rows
        ts = np.asarray(piece.table.column("__ts").to_numpy(zero_copy_only=False), dtype=np.int64)
        keys_t.append(np.maximum.accumulate(ts))
        keys_side.append(np.full(n, 0 if tables_first[piece.source] else 1, dtype=np.int8))
        keys_piece.append(np.full(n, p, dtype=np.int32))
        keys_row.append(np.arange(n, dtype=np.int64))
    t, side, piece_ids, rows = (np.concatenate(x) for x in (keys_t, keys_side, keys_piece, keys_row))
    order = np.lexsort((rows, piece_ids, side, t))
    piece_ids, rows = piece_ids[order], rows[order]
    source_of = np.array([p.source for p in pieces])[piece_ids]
    # A piece whose records have headers makes runs of its own: a result's headers are found by its
    # record's offset in the run's batch (``record_headers.py``), unambiguous within one partition.
    with_headers = np.array([any_headers(p.fetched.records.column("headers")) for p in pieces])
    if with_headers.any():
        crossing = (np.diff(piece_ids) != 0) & (with_headers[piece_ids[1:]] | with_headers[piece_ids[:-1]])
        source_of = source_of.astype(np.int64) + np.r_[0, np.cumsum(crossing)] * (int(source_of.max()) + 1)
    # Per source, its pieces' records as one table; a record's index there is its piece's base + row.
    combined: dict[int, tuple[pa.Table, np.ndarray]] = {}
    for source in dict.fromkeys(p.source for p in pieces):
        members = [i for i, p in enumerate(pieces) if p.source == source]
        bases = np.zeros(len(pieces), dtype=np.int64)
        total = 0
        for i in members:
            bases[i] = total
            total += pieces[i].table.num_rows  # type: ignore[union-attr]
        combined[source] = (pa.concat_tables([pieces[i].table for i in members]), bases)  # type: ignore[misc]
    cuts = np.nonzero(np.diff(source_of))[0] + 1
    out = []
    for start, stop in zip(np.r_[0, cuts], np.r_[cuts, len(order)], strict=True):
        first = pieces[int(piece_ids[start])]
        table, bases = combined[first.source]  # source_of may carry run marks; the piece names the source
        index = bases[piece_ids[start:stop]] + rows[start:stop]
        if index[-1] - index[0] == stop - start - 1 and (np.diff(index) == 1).all():
            records = table.slice(int(index[0]), int(stop - start))
        else:
            records = table.take(pa.array(index))
        out.append((first.source, records, first.fetched))
    return out


__all__ = ["JoinDecoder", "Piece", "runs"]
