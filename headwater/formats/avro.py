"""AVRO: Confluent's wire format (magic byte 0, 4-byte schema id, Avro binary) through a schema registry.

Decoding reads each record with the schema its id names (the registry is
asked once per id), so records written with older or newer schemas of the
subject decode side by side; fields match columns by name, case-insensitively
(ksqlDB upper-cases Avro field names), a column missing from a writer schema
is null. Records are grouped by id; a group whose writer schema a column plan
covers is read field by field with numpy (``avro_columns.py``), the rest (and
records a plan cannot read cleanly) by fastavro's ``schemaless_reader`` one by
one; measured in bench/formats_avro.py. A record that is not in the wire
format, names an unknown id, or does not fit its column types is an error
row with Confluent's/ksqlDB's wording; the others decode.

Encoding writes ksqlDB's schema for the columns (``formats/avro_schema.py``; column by column by
``avro_column_encoder.py`` when it covers the schema, else fastavro per record),
registered on first use under ``<topic>-key`` / ``<topic>-value`` (or the
schema ``KEY_SCHEMA_ID`` / ``VALUE_SCHEMA_ID`` names, used as it is).

Properties: ``WRAP_SINGLE_VALUE``, ``KEY_SCHEMA_ID``/``VALUE_SCHEMA_ID``,
``KEY_SCHEMA_FULL_NAME``/``VALUE_SCHEMA_FULL_NAME``/``VALUE_AVRO_SCHEMA_FULL_NAME``
(the WITH clause's names), and two the engine sets: ``SCHEMA_REGISTRY`` (a
:class:`headwater.registry.SchemaRegistry`) and ``KAFKA_TOPIC``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import fastavro
import numpy as np
import orjson
import pyarrow as pa

from headwater.errors import FormatError
from headwater.formats.avro_column_encoder import EncoderPlan, compile_encoder, encode_columns
from headwater.formats.avro_columns import ColumnPlan, compile_plan, decode_columns
from headwater.formats.byte_columns import padded
from headwater.formats.avro_schema import DEFAULT_KEY_NAME, DEFAULT_VALUE_NAME, writer_schema
from headwater.formats.base import (
    Column,
    Decoded,
    binary_bytes,
    binary_input,
    column_of,
    deserialize_error,
    register_format,
    table_of,
)
from headwater.formats.records import assemble_columns, record_columns
from headwater.formats.registered import HEADER_BYTES, RegisteredFormat, wire_header, wire_ids
from headwater.registry.base import RegistryError, Schema
from headwater.sql.types import ArrayType, MapType, SqlType, StructType

def _python_for_avro(sql_type: SqlType) -> Callable[[Any], Any] | None:
    """A function making an Arrow ``to_pylist`` value writable by fastavro (maps come as pairs)."""
    if isinstance(sql_type, MapType):
        inner = _python_for_avro(sql_type.value)
        return lambda value: None if value is None else {
            k: (inner(v) if inner is not None and v is not None else v) for k, v in value}
    if isinstance(sql_type, ArrayType):
        inner = _python_for_avro(sql_type.element)
        if inner is None:
            return None
        return lambda value: None if value is None else [None if v is None else inner(v) for v in value]
    if isinstance(sql_type, StructType):
        fields = [(f.name, _python_for_avro(f.type)) for f in sql_type.fields]
        if all(f is None for _, f in fields):
            return None
        return lambda value: None if value is None else {
            name: (fn(value.get(name)) if fn is not None and value.get(name) is not None else value.get(name))
            for name, fn in fields}
    return None


_OBJECT_REPR = re.compile(r" (?:from|in) <[^<>]* at 0x[0-9a-f]+>")


@register_format
class AvroFormat(RegisteredFormat):
    """Avro in Confluent's wire format; see the module docstring."""

    name: ClassVar[str] = "AVRO"
    schema_type: ClassVar[str] = "AVRO"

    def accepted_properties(self) -> frozenset[str]:
        extra = {"VALUE_AVRO_SCHEMA_FULL_NAME"} if self.role == "value" else set()
        return super().accepted_properties() | extra

    def validate(self) -> None:
        super().validate()
        prefix = "KEY" if self.role == "key" else "VALUE"
        default = DEFAULT_KEY_NAME if self.role == "key" else DEFAULT_VALUE_NAME
        self.full_name = str(self.properties.get(f"{prefix}_SCHEMA_FULL_NAME")
                             or self.properties.get("VALUE_AVRO_SCHEMA_FULL_NAME") or default)
        self._plans: dict[tuple[int, tuple[tuple[str, str], ...]], ColumnPlan | None] = {}
        self._encoder: tuple[int, EncoderPlan | None] | None = None
        if self.columns:
            self.schema_json = writer_schema(self.columns, wrapped=self.wrapped, full_name=self.full_name)

    def registered_schema(self) -> Schema:
        """The schema this format writes, as registered."""
        return Schema(orjson.dumps(self.schema_json).decode(), self.schema_type)

    def parse(self, schema: Schema) -> Any:
        try:
            return fastavro.parse_schema(orjson.loads(schema.text), _write_hint=False)
        except Exception as exc:  # noqa: BLE001 - fastavro raises several types for a bad schema
            raise FormatError(f"Avro schema cannot be used: {type(exc).__name__}: {exc}") from None

    # -- decode -------------------------------------------------------------------------------
    def decode(self, data: pa.Array, columns: Sequence[Column] | None = None, *, topic: str = "") -> Decoded:
        data = binary_input(data)
        selected = self.select(columns)
        n = len(data)
        offsets, ids, framed = wire_ids(data)
        valid = np.asarray(data.is_valid(), dtype=bool) if data.null_count else np.ones(n, bool)
        errors: dict[int, str] = {}
        for row in np.nonzero(valid & ~framed)[0].tolist():
            errors[row] = deserialize_error(self.role, topic, "Unknown magic byte!")
        raw = binary_bytes(data)
        buf: np.ndarray | None = None
        pieces: list[tuple[np.ndarray, dict[str, pa.Array]]] = []  # rows and their columns
        for schema_id in np.unique(ids[framed]).tolist():
            rows = np.nonzero(ids == schema_id)[0]
            try:
                parsed = self.reader(schema_id)
            except (RegistryError, FormatError, ValueError) as exc:
                reason = deserialize_error(self.role, topic, f"Error retrieving Avro schema for id {schema_id}: "
                                           f"{getattr(exc, 'message', exc)}")
                for row in rows.tolist():
                    errors[row] = reason
                continue
            plan = self._plan(schema_id, parsed, selected)
            if plan is None:
                pieces.append(self._decode_slowly(data, offsets, schema_id, parsed, rows, selected, errors, topic))
                continue
            if buf is None:
                buf = padded(raw)
            arrays, bad = decode_columns(plan, buf, offsets[rows] + HEADER_BYTES, offsets[rows + 1])
            if bad.any():
                keep = pa.array(~bad)
                arrays = {name: array.filter(keep) for name, array in arrays.items()}
                pieces.append(self._decode_slowly(data, offsets, schema_id, parsed, rows[bad], selected, errors,
                                                  topic))
                rows = rows[~bad]
            pieces.append((rows, arrays))
        arrays_out = assemble_columns(n, pieces, selected)
        error_rows = np.array(sorted(errors), dtype=np.int64)
        return Decoded(table_of(arrays_out, n), error_rows, tuple(errors[r] for r in error_rows.tolist()),
                       np.nonzero(~valid)[0].astype(np.int64))

    def _plan(self, schema_id: int, parsed: Any, selected: list[tuple[int, str, SqlType]]) -> ColumnPlan | None:
        key = (schema_id, tuple((name, sql_type.sql()) for _, name, sql_type in selected))
        if key not in self._plans:
            self._plans[key] = compile_plan(parsed, selected, wrapped=self.wrapped)
        return self._plans[key]

    def _decode_slowly(self, data: pa.BinaryArray, offsets: np.ndarray, schema_id: int, parsed: Any,
                       rows: np.ndarray, selected: list[tuple[int, str, SqlType]], errors: dict[int, str],
                       topic: str) -> tuple[np.ndarray, dict[str, pa.Array]]:
        """The records at ``rows``, of one writer schema, read one by one by fastavro (a schema the column
        plans do not cover, or records they could not read cleanly); a failure's reason goes in ``errors``."""
        decoded: list[Any] = [None] * len(rows)
        local: dict[int, str] = {}
        names: list[str] | None = None  # a union or other top-level type: look at the records' keys instead
        if isinstance(parsed, dict) and parsed.get("type") == "record":
            names = [str(f["name"]) for f in parsed.get("fields", ())]
        buffer = io.BytesIO(binary_bytes(data).tobytes())
        read = fastavro.schemaless_reader
        for at, row in enumerate(rows.tolist()):
            buffer.seek(offsets[row] + HEADER_BYTES)
            try:
                decoded[at] = read(buffer, parsed, None)
            except Exception as exc:  # noqa: BLE001 - any decoder failure is this record's, not the batch's
                detail = _OBJECT_REPR.sub("", str(exc))  # fastavro names its buffer object: noise in a log
                local[at] = deserialize_error(self.role, topic, f"Error deserializing Avro message for id "
                                              f"{schema_id}: {type(exc).__name__}: {detail}")
                decoded[at] = None
                continue
            if buffer.tell() != offsets[row + 1]:
                local[at] = deserialize_error(self.role, topic, f"Error deserializing Avro message for id "
                                              f"{schema_id}: {offsets[row + 1] - buffer.tell()} bytes left "
                                              "after the record")
                decoded[at] = None
        arrays = record_columns(decoded, selected, local, role=self.role, topic=topic, wrapped=self.wrapped,
                                field_names=names)
        for at, reason in local.items():
            errors[int(rows[at])] = reason
        return rows, dict(arrays)

    # -- encode -------------------------------------------------------------------------------
    def encode(self, table: pa.Table) -> pa.Array:
        schema_id, parsed = self.writing()
        header = wire_header(schema_id)
        if self._encoder is None or self._encoder[0] != schema_id:
            columns = [(name, sql_type.to_arrow()) for name, sql_type in self.columns]
            self._encoder = (schema_id, compile_encoder(parsed, columns, self._field_names(parsed),
                                                        wrapped=self.wrapped))
        if self._encoder[1] is not None:
            encoded = encode_columns(self._encoder[1], table, header)
            if encoded is not None:
                return encoded
        columns = [(name, column_of(table, name).to_pylist(), _python_for_avro(sql_type))
                   for name, sql_type in self.columns]
        columns = [(name, values if fix is None else [fix(v) for v in values], None) for name, values, fix in columns]
        fields = self._field_names(parsed)
        out: list[bytes] = []
        write = fastavro.schemaless_writer
        buffer = io.BytesIO()
        for row in range(table.num_rows):
            if self.wrapped:
                record: Any = {fields.get(name, name): values[row] for name, values, _ in columns}
            else:
                record = columns[0][1][row]
            buffer.seek(0)
            buffer.truncate()
            buffer.write(header)
            try:
                write(buffer, parsed, record)
            except (ValueError, TypeError, OverflowError, KeyError, AttributeError) as exc:
                raise FormatError(f"Failed to serialize {self.name} {self.role}: {type(exc).__name__}: {exc}") from None
            out.append(buffer.getvalue())
        return pa.array(out, pa.binary())

    def _field_names(self, parsed: Any) -> dict[str, str]:
        """Column name -> the writer schema's field name (a schema given by id may spell them otherwise)."""
        if not isinstance(parsed, dict) or parsed.get("type") != "record":
            return {}
        by_upper = {str(f["name"]).upper(): str(f["name"]) for f in parsed.get("fields", ())}
        return {name: by_upper.get(name.upper(), name) for name, _ in self.columns}
