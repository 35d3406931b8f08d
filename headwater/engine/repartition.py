"""Repartitioning: re-key a stream's records by an expression and send them through an internal topic.

A join (or a GROUP BY) on something other than a stream's record key needs
the records with equal join keys in the same partition, as Kafka Streams
needs them: they are written to ``_confluent-ksql-<service>query_<id>-<name>-repartition``
keyed by the new key (murmur2-partitioned, so the same on Kafka), and the
stateful operator reads that topic instead of the source.

The value bytes and headers are passed through unchanged (decoding them again
downstream is the price; re-encoding would cost more). The original record
key travels in the first header, :data:`ORIGINAL_KEY_HEADER`;
:func:`restore_original_key` puts it back before the source's decoder runs,
so key columns of the source keep their values after the repartition.

:class:`Repartitioner` is independent of joins: give it the source's
decoder for the columns the key expression uses, the DuckDB SQL of the key,
its type and the target partition count.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.codec import SourceDecoder
from headwater.engine.processing_log import RECORD_PROCESSING_ERROR, ProcessingError
from headwater.formats import create_format
from headwater.log import Fetched
from headwater.log.base import HEADER_TYPE
from headwater.log.partitioner import partition_for_keys
from headwater.sql.types import SqlType

ORIGINAL_KEY_HEADER = "__ksql_original_key"
_KAFKA_BASES = {"INTEGER", "BIGINT", "DOUBLE", "STRING", "BOOLEAN"}


def repartition_topic(service_id: str, query_id: str, name: str) -> str:
    """ksqlDB's internal topic name: ``_confluent-ksql-<service id>query_<query id>-<name>-repartition``."""
    return f"_confluent-ksql-{service_id}query_{query_id}-{name}-repartition"


class Repartitioner:
    """Computes the new key of each record of a fetched batch and lays the records out per target partition."""

    def __init__(self, decoder: SourceDecoder, key_sql: str, key_type: SqlType, topic: str, partitions: int, *,
                 carry_key: bool = True) -> None:
        """``carry_key``: keep the original key in a header (the query reads key columns of the source)."""
        self.decoder = decoder
        self.carry_key = carry_key
        self.key_sql = key_sql
        self.topic = topic
        self.partitions = partitions
        base = key_type.sql().split("(")[0].replace("VARCHAR", "STRING")
        self.key_format = create_format("KAFKA" if base in _KAFKA_BASES else "JSON", [("ROWKEY", key_type)],
                                        role="key")

    def repartition(self, con: duckdb.DuckDBPyConnection, batches: list[Fetched], rename: dict[str, str]
                    ) -> tuple[list[tuple[str, int, pa.Table]], list[ProcessingError]]:
        """The appends to the repartition topic for ``batches``; records that fail to decode are logged.

        Records of several input partitions are interleaved by timestamp (a record's effective time
        is the running maximum in its partition), so the repartition topic keeps time order as far
        as the inputs have it. ``rename`` maps the decoder's column names to those ``key_sql`` uses.
        """
        tables, errors = [], []
        for fetched in batches:
            table, errs = self._rekey(con, fetched, rename)
            errors.extend(errs)
            if table is not None and table.num_rows:
                tables.append(table)
        if not tables:
            return [], errors
        table = tables[0] if len(tables) == 1 else _by_time(tables)
        if self.partitions == 1:
            return [(self.topic, 0, table)], errors
        default = batches[0].partition % self.partitions
        targets = partition_for_keys(table.column("key"), self.partitions, default)
        # One copy: records grouped by target partition (stable, so each keeps its order), then sliced.
        order = np.argsort(targets, kind="stable")
        table = table.take(pa.array(order))
        counts = np.bincount(targets, minlength=self.partitions)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return [(self.topic, p, table.slice(int(starts[p]), int(counts[p])))
                for p in range(self.partitions) if counts[p]], errors

    def _rekey(self, con: duckdb.DuckDBPyConnection, fetched: Fetched, rename: dict[str, str]
               ) -> tuple[pa.Table | None, list[ProcessingError]]:
        decoded, errors = self.decoder.decode(fetched)
        if not decoded.num_rows:
            return None, errors
        decoded = decoded.rename_columns([rename.get(n, n) for n in decoded.column_names])
        con.register("__rp", decoded)
        try:
            keys = con.sql(f"SELECT ({self.key_sql}) AS ROWKEY, __offset FROM __rp").to_arrow_table()
        finally:
            con.unregister("__rp")
        nulls = np.asarray(keys.column("ROWKEY").is_null(), dtype=bool)
        if nulls.any():
            # A record with a null join key joins nothing (Kafka Streams skips it): logged, not repartitioned.
            for offset in keys.column("__offset").to_numpy()[nulls].tolist():
                errors.append(ProcessingError(RECORD_PROCESSING_ERROR, "Join key is null: record dropped.",
                                              fetched.topic, fetched.partition, offset))
            keys = keys.filter(pa.array(~nulls))
            if not keys.num_rows:
                return None, errors
        records = fetched.records
        if keys.num_rows != records.num_rows:
            # Rows the decoder kept, by offset (records it dropped went to the processing log).
            wanted = keys.column("__offset").to_numpy()
            offsets = records.column("offset").to_numpy()
            records = records.take(pa.array(np.searchsorted(offsets, wanted)))
        new_keys = self.key_format.encode(keys.select(["ROWKEY"]))
        return pa.table({
            "timestamp": records.column("timestamp"),
            "key": new_keys,
            "value": records.column("value"),
            "headers": (_with_original_key(records.column("key"), records.column("headers")) if self.carry_key
                        else records.column("headers")),
        }), errors


def _by_time(tables: list[pa.Table]) -> pa.Table:
    """Records of several partitions merged by effective time (running maximum per partition)."""
    effective = [np.maximum.accumulate(t.column("timestamp").to_numpy()) for t in tables]
    piece = np.concatenate([np.full(len(e), i, dtype=np.int32) for i, e in enumerate(effective)])
    row = np.concatenate([np.arange(len(e)) for e in effective])
    order = np.lexsort((row, piece, np.concatenate(effective)))
    return pa.concat_tables(tables).take(pa.array(order))


def _with_original_key(keys: pa.Array, headers: pa.Array) -> pa.Array:
    """Headers with the original key first (vectorized when no record has headers, the common case)."""
    n = len(keys)
    lengths = pc.fill_null(pc.list_value_length(headers), 0)
    if not n or pc.max(lengths).as_py() == 0:
        values = pa.StructArray.from_arrays(
            [pa.array([ORIGINAL_KEY_HEADER] * n, pa.string()), keys.cast(pa.binary())],
            fields=list(HEADER_TYPE.value_type))
        return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), values).cast(HEADER_TYPE)
    rows = [[{"key": ORIGINAL_KEY_HEADER, "value": k}] + (h or [])
            for k, h in zip(keys.to_pylist(), headers.to_pylist(), strict=True)]
    return pa.array(rows, HEADER_TYPE)


def restore_original_key(fetched: Fetched) -> Fetched:
    """A repartition topic's batch with the original key and headers back, ready for the source's decoder."""
    records = fetched.records
    headers = records.column("headers")
    if not len(headers):
        return fetched
    first = pc.list_element(headers, 0)
    original = pc.struct_field(first, [1])
    rest = pc.list_slice(headers, 1)
    batch = pa.RecordBatch.from_arrays(
        [records.column("offset"), records.column("timestamp"), original.cast(pa.binary()),
         records.column("value"), rest.cast(HEADER_TYPE)],
        schema=records.schema)
    return Fetched(fetched.topic, fetched.partition, batch, fetched.next_offset, fetched.high_watermark)


__all__ = ["ORIGINAL_KEY_HEADER", "Repartitioner", "repartition_topic", "restore_original_key"]
