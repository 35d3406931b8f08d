"""Between the log's records and the relations DuckDB runs on.

:class:`SourceDecoder` turns a fetched batch into the relation ``src`` of a
plan: only the columns the query uses are decoded (projection pushdown), under
their synthetic names, plus the pseudo columns. Records that fail to decode
become :class:`ProcessingError` entries instead of rows. :class:`SinkEncoder`
does the reverse for a plan's output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.engine.isolation import isolate
from headwater.engine.processing_log import DESERIALIZATION_ERROR, SERIALIZATION_ERROR, ProcessingError
from headwater.formats import create_format, format_class
from headwater.formats.base import Decoded, Format, deserialize_error, registry_properties
from headwater.log import Fetched
from headwater.log.base import HEADER_TYPE
from headwater.sql.functions.date_patterns import strptime_format
from headwater.sql.catalog import Column, DataSource, Namespace
from headwater.sql.planner import (
    DELETED, HEADERS_PASS, NULL_VALUES, RECORD_HEADERS, ROWOFFSET, ROWPARTITION, ROWTIME, WINDOW_END, WINDOW_START,
    InputColumn, OutputColumn,
)
from headwater.sql.types import BaseType, SqlType

def _format_props(source: DataSource, role: str) -> dict[str, object]:
    props: dict[str, object] = {}
    if format_class(source.key_format if role == "key" else source.value_format).uses_registry:
        props.update(registry_properties(source, role))
    if role == "value":
        if source.value_delimiter is not None:
            props["VALUE_DELIMITER"] = source.value_delimiter
        if source.wrap_single_value is not None:
            props["WRAP_SINGLE_VALUE"] = source.wrap_single_value
    elif source.properties.get("KEY_DELIMITER") is not None:
        props["KEY_DELIMITER"] = source.properties["KEY_DELIMITER"]
    return props


def key_format(source: DataSource) -> Format | None:
    keys = source.key_columns
    if not keys:
        return None
    return create_format(source.key_format, [(c.name, c.type) for c in keys], _format_props(source, "key"), role="key")


def value_format(source: DataSource) -> Format:
    values = [(c.name, c.type) for c in source.value_columns]
    return create_format(source.value_format, values, _format_props(source, "value"), role="value")


def register_schemas(sink: DataSource, *, if_absent: bool = False) -> None:
    """Register the key and value schemas a sink writes, for formats with a registry (FormatError if refused);
    with ``if_absent``, only under subjects that hold no schema yet."""
    for fmt in (key_format(sink), value_format(sink)):
        if fmt is not None and fmt.uses_registry:
            fmt.register_schema(if_absent=if_absent)


class SourceDecoder:
    """Decodes batches of one source into the ``src`` relation of a plan."""

    def __init__(self, source: DataSource, inputs: Sequence[InputColumn]) -> None:
        self.source = source
        #: A stream plan that passes null values on (``NULL_VALUES`` among its inputs) gets them as rows.
        self.null_values = NULL_VALUES in inputs
        #: A plan that copies each record's headers to its output (``HEADERS_PASS`` among its inputs).
        self.record_headers = HEADERS_PASS in inputs
        self.inputs = [i for i in inputs if i not in (NULL_VALUES, HEADERS_PASS)]
        if source.timestamp and not any(i.column.name == source.timestamp for i in self.inputs):
            column = source.column(source.timestamp)
            if column is not None:
                self.inputs.append(InputColumn(f"c{len(self.inputs)}", column))
        self.key_format = key_format(source)
        self.value_format = value_format(source)
        self._keys = [i for i in self.inputs if i.column.namespace is Namespace.KEY]
        self._values = [i for i in self.inputs if i.column.namespace is Namespace.VALUE]
        self._headers = [i for i in self.inputs if i.column.namespace in (Namespace.HEADERS, Namespace.HEADER)]
        if source.is_table:  # a table's changes are keyed: every query over it needs the key
            for column in source.key_columns:
                if not any(i.column.name == column.name for i in self.inputs):
                    self.inputs.append(InputColumn(f"c{len(self.inputs)}", column))
            self._keys = [i for i in self.inputs if i.column.namespace is Namespace.KEY]
        self._ts_alias = next((i.alias for i in self.inputs if i.column.name == source.timestamp), None)

    def decode(self, fetched: Fetched) -> tuple[pa.Table, list[ProcessingError]]:
        batch = fetched.records
        n = batch.num_rows
        keep = np.ones(n, dtype=bool)
        errors: list[ProcessingError] = []
        columns: dict[str, pa.Array] = {}
        offsets = batch.column("offset")

        def failed(rows: np.ndarray, reasons: Sequence[str], target: str, raw: pa.Array) -> None:
            for row, reason in zip(rows.tolist(), reasons, strict=True):
                if keep[row]:
                    keep[row] = False
                    value = raw[row].as_py()
                    errors.append(ProcessingError(DESERIALIZATION_ERROR, reason, fetched.topic, fetched.partition,
                                                  offsets[row].as_py(), target, value))

        value_data = batch.column("value")
        tombstones = np.asarray(value_data.is_null(), dtype=bool)
        if self.source.is_table:
            # A table is a changelog: a null value deletes its key, and a record without a key
            # has no row to change (Kafka Streams drops it; here it is also logged).
            null_keys = np.nonzero(np.asarray(batch.column("key").is_null(), dtype=bool))[0]
            failed(null_keys, ["Record with a null key dropped: a table row needs a key."] * len(null_keys), "key",
                   batch.column("key"))
        elif not self.null_values:
            # A stream ignores records with a null value (tombstones have no meaning there).
            keep &= ~tombstones
        if self._values:
            decoded = decode_isolated(self.value_format, value_data,
                                      [(i.column.name, i.column.type) for i in self._values], fetched.topic)
            failed(decoded.error_rows, decoded.error_reasons, "value", value_data)
            for i in self._values:
                columns[i.alias] = decoded.table.column(i.column.name)
        if self._keys and self.key_format is not None:
            key_data = batch.column("key")
            if self.source.window is not None:
                key_data = pc.binary_slice(key_data, 0, -_window_bytes(self.source))
            decoded = decode_isolated(self.key_format, key_data,
                                      [(i.column.name, i.column.type) for i in self._keys], fetched.topic)
            failed(decoded.error_rows, decoded.error_reasons, "key", key_data)
            for i in self._keys:
                columns[i.alias] = decoded.table.column(i.column.name)
        for i in self._headers:
            columns[i.alias] = _header_column(batch.column("headers"), i.column)
        if self.record_headers:
            columns[RECORD_HEADERS] = batch.column("headers")

        rowtime = batch.column("timestamp")
        if self._ts_alias is not None:
            rowtime, bad = _event_time(columns[self._ts_alias], self.source)
            if self.source.is_table or self.null_values:  # a tombstone has no TIMESTAMP column: it keeps the record's time
                rowtime = pa.array(np.where(tombstones, batch.column("timestamp").to_numpy(), rowtime.to_numpy()))
                bad = bad[~tombstones[bad]]
            reasons = [f"Invalid timestamp in column {self.source.timestamp}: null or unparseable"] * len(bad)
            failed(bad, reasons, "value", value_data)
        # Kafka Streams skips a record whose timestamp is negative (an invalid timestamp): so does ksqlDB.
        keep &= np.asarray(pc.fill_null(pc.greater_equal(rowtime, 0), True), dtype=bool)
        columns[ROWTIME] = rowtime
        columns[ROWPARTITION] = pa.array(np.full(n, fetched.partition, dtype=np.int32))
        columns[ROWOFFSET] = offsets
        if self.source.window is not None:
            columns[WINDOW_START], columns[WINDOW_END] = _window_bounds(batch.column("key"), self.source)
        if self.source.is_table or self.null_values:
            columns[DELETED] = pa.array(tombstones)
        table = pa.table(columns)
        if not keep.all():
            table = table.filter(pa.array(keep))
        return table, errors


def decode_isolated(fmt: Format, data: pa.Array | pa.ChunkedArray, columns: Sequence[tuple[str, SqlType]],
                    topic: str) -> Decoded:
    """``fmt.decode`` over the batch; where the format raises instead of reporting a record, the records that
    make it raise are found by bisection and reported as failed rows (null in the table), the rest decoded."""
    if isinstance(data, pa.ChunkedArray):
        data = data.combine_chunks() if data.num_chunks != 1 else data.chunk(0)
    done = isolate(lambda start, stop: fmt.decode(data.slice(start, stop - start), columns, topic=topic), len(data))
    if not done.failed:
        return done.pieces[0][2] if len(done.pieces) == 1 else _joined(done.pieces, [], columns, fmt.role, topic)
    return _joined(done.pieces, done.failed, columns, fmt.role, topic)


def _joined(pieces: list[tuple[int, int, Decoded]], failed: list[tuple[int, str]],
            columns: Sequence[tuple[str, SqlType]], role: str, topic: str) -> Decoded:
    schema = pieces[0][2].table.schema if pieces else pa.schema([(n, t.to_arrow()) for n, t in columns])
    segments: list[tuple[int, Decoded | None, str]] = [(start, d, "") for start, _, d in pieces]
    segments += [(row, None, why) for row, why in failed]
    tables, error_rows, reasons, null_rows = [], [], [], []
    for start, decoded, why in sorted(segments, key=lambda s: s[0]):
        if decoded is None:
            tables.append(pa.table({f.name: pa.nulls(1, f.type) for f in schema}, schema=schema))
            error_rows.append(np.array([start], np.int64))
            reasons.append(deserialize_error(role, topic, why))  # type: ignore[arg-type]
            continue
        tables.append(decoded.table.cast(schema))
        error_rows.append(decoded.error_rows.astype(np.int64) + start)
        reasons.extend(decoded.error_reasons)
        null_rows.append(decoded.null_rows.astype(np.int64) + start)
    rows = np.concatenate(error_rows) if error_rows else np.empty(0, np.int64)
    order = np.argsort(rows, kind="stable")
    return Decoded(pa.concat_tables(tables), rows[order], tuple(reasons[i] for i in order.tolist()),
                   np.concatenate(null_rows) if null_rows else np.empty(0, np.int64))


def _window_bytes(source: DataSource) -> int:
    """A windowed key ends with the window: 8 bytes of start, or a session's end and start (16)."""
    return 16 if source.window is not None and source.window.kind == "SESSION" else 8


def _window_bounds(keys: pa.Array, source: DataSource) -> tuple[pa.Array, pa.Array]:
    """WINDOWSTART and WINDOWEND from the tail of windowed keys (null for a key too short to hold one)."""
    assert source.window is not None
    n = _window_bytes(source)
    tails = pc.binary_slice(pc.fill_null(keys, b""), -n)
    ok_mask = pc.equal(pc.binary_length(tails), n)
    ok = np.asarray(ok_mask, dtype=bool)
    fixed = pc.if_else(ok_mask, tails, pa.scalar(bytes(n), pa.binary())).cast(pa.binary(n))
    if isinstance(fixed, pa.ChunkedArray):
        fixed = fixed.combine_chunks()
    data = fixed.buffers()[1]
    raw = np.frombuffer(data, dtype=">i8", count=len(fixed) * n // 8,
                        offset=fixed.offset * n).reshape(-1, n // 8).astype(np.int64)
    if n == 16:
        end, start = raw[:, 0], raw[:, 1]
    else:
        start = raw[:, 0]
        end = start + (source.window.size_ms or 0)
    return pa.array(start, mask=~ok), pa.array(end, mask=~ok)


def _event_time(values: pa.ChunkedArray | pa.Array, source: DataSource) -> tuple[pa.Array, np.ndarray]:
    """ROWTIME from the TIMESTAMP column (BIGINT ms, TIMESTAMP, or STRING with TIMESTAMP_FORMAT)."""
    column = source.column(source.timestamp or "")
    assert column is not None  # the planner checked the column exists
    base = column.type.base
    if base is BaseType.TIMESTAMP:
        millis = pc.cast(pc.cast(values, pa.timestamp("ms")), pa.int64())
    elif base is BaseType.STRING:
        pattern = _strptime_pattern(source.timestamp_format)
        millis = pc.cast(pc.cast(pc.strptime(values, format=pattern, unit="ms", error_is_null=True), pa.timestamp("ms")), pa.int64())
    else:
        millis = pc.cast(values, pa.int64())
    if isinstance(millis, pa.ChunkedArray):
        millis = millis.combine_chunks()
    bad = np.nonzero(np.asarray(millis.is_null(), dtype=bool))[0]
    return pc.fill_null(millis, 0), bad


def _strptime_pattern(java_pattern: str | None) -> str:
    if not java_pattern:
        return "%Y-%m-%dT%H:%M:%S"
    return strptime_format(java_pattern)


def _header_column(headers: pa.Array, column: Column) -> pa.Array:
    """HEADERS as ARRAY<STRUCT<KEY, VALUE>> (never null), or one HEADER('k') as its last value."""
    rows = headers.to_pylist()
    if column.namespace is Namespace.HEADERS:
        return pa.array(
            [[{"KEY": h["key"], "VALUE": h["value"]} for h in (r or [])] for r in rows], column.type.to_arrow()
        )
    wanted = column.header_key
    last: list[bytes | None] = []
    for r in rows:
        found = None
        for h in r or []:
            if h["key"] == wanted:
                found = h["value"]
        last.append(found)
    return pa.array(last, pa.binary())


class SinkEncoder:
    """Encodes a plan's output relation into log records (timestamp, key, value).

    Windowed tables append the window to the key as ksqlDB's windowed serdes
    do: 8 bytes of window start (big-endian) for TUMBLING and HOPPING, window
    end then start for SESSION. A row whose ``__having`` is false becomes a
    tombstone.
    """

    def __init__(self, sink: DataSource, outputs: Sequence[OutputColumn], windowed: object = None) -> None:
        self.sink = sink
        self.key_format = key_format(sink)
        self.value_format = value_format(sink)
        self.window_kind: str | None = getattr(windowed, "kind", None)
        self._keys = [(f"o{i}", o) for i, o in enumerate(outputs) if o.namespace is Namespace.KEY]
        self._values = [(f"o{i}", o) for i, o in enumerate(outputs) if o.namespace is Namespace.VALUE]

    def encode(self, result: pa.Table, fetched: Fetched | None = None) -> tuple[pa.Table, list[ProcessingError]]:
        """Log records for the rows of ``result``; a row the sink's formats cannot hold is left out and reported.

        The whole batch is encoded at once; only a batch that fails is cut (see ``isolation``), so the
        cost of a bad row is paid by its batch alone.
        """
        done = isolate(lambda start, stop: self._encode(result.slice(start, stop - start)), result.num_rows)
        if not done.failed:
            return done.pieces[0][2] if len(done.pieces) == 1 else pa.concat_tables(p for _, _, p in done.pieces), []
        offsets = result.column(ROWOFFSET).to_pylist() if ROWOFFSET in result.column_names else None
        errors = [
            ProcessingError(SERIALIZATION_ERROR,
                            f"Error serializing message to topic: {self.sink.topic}. {why}",
                            fetched.topic if fetched is not None else self.sink.topic,
                            fetched.partition if fetched is not None else -1,
                            offsets[row] if offsets is not None else -1)
            for row, why in done.failed
        ]
        records = [p for _, _, p in done.pieces]
        if not records:
            return self._encode(result.slice(0, 0)), errors
        return pa.concat_tables(records), errors

    def _encode(self, result: pa.Table) -> pa.Table:
        n = result.num_rows
        values = self.value_format.encode(
            pa.table({o.name: result.column(alias) for alias, o in self._values}) if self._values else pa.table({})
        )
        if "__having" in result.column_names:
            keep = pc.fill_null(result.column("__having"), False)
            values = pc.if_else(keep, values, pa.scalar(None, pa.binary()))
        if self.key_format is not None:
            keys = self.key_format.encode(pa.table({o.name: result.column(alias) for alias, o in self._keys}))
            if self.window_kind is not None:
                keys = _window_key(keys, result, self.window_kind)
        else:
            keys = pa.nulls(n, pa.binary())
        records = {"timestamp": result.column("__ts"), "key": keys, "value": values}
        if RECORD_HEADERS in result.column_names:  # the input records' headers, copied as Kafka Streams does
            records["headers"] = result.column(RECORD_HEADERS).cast(HEADER_TYPE)
        return pa.table(records)


def _window_key(keys: pa.Array, result: pa.Table, kind: str) -> pa.Array:
    def be(column: str) -> pa.Array:
        millis = np.asarray(result.column(column).to_numpy(zero_copy_only=False), dtype=">i8")
        return pa.FixedSizeBinaryArray.from_buffers(pa.binary(8), len(millis), [None, pa.py_buffer(millis.tobytes())])

    parts = [keys, be("we"), be("ws")] if kind == "SESSION" else [keys, be("ws")]
    return pc.binary_join_element_wise(*[p.cast(pa.binary()) for p in parts], pa.scalar(b"", pa.binary()))
