"""PROTOBUF (Confluent's wire format through a schema registry) and PROTOBUF_NOSR (plain Protobuf bytes).

PROTOBUF frames each record as magic byte 0, the 4-byte schema id, then Confluent's message indexes (a
zigzag varint count and the indexes; ``[0]``, the first message, as the single byte 0) and the message.
The registered ``.proto`` text becomes descriptors once per id (``protobuf_schema.py``, protobuf's
descriptor pool and dynamic messages). The records of an id whose message indexes are ``[0]`` are read
column by column when its message's selected fields are scalars (``protobuf_columns.py``); the others,
and the records that plan cannot read cleanly, are parsed one by one by protobuf's parser and assembled
into Arrow columns together (``records.py``). Unset proto3 scalars read as their defaults and
unset messages as null, as in ksqlDB. PROTOBUF_NOSR reads and writes the message ksqlDB would register
for the columns, without a registry or a header. A record that does not parse is an error row.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from headwater.errors import FormatError
from headwater.formats.base import (
    Column,
    Decoded,
    Format,
    binary_bytes,
    binary_input,
    binary_offsets,
    column_of,
    deserialize_error,
    register_format,
    table_of,
)
from headwater.formats.protobuf_schema import (
    DATE_MESSAGE,
    DECIMAL_MESSAGE,
    TIME_MESSAGE,
    TIMESTAMP_MESSAGE,
    build,
    message_for,
    proto_text,
    decimal_type,
    repeated,
    to_python,
)
from headwater.formats.byte_columns import padded
from headwater.formats.protobuf_columns import MessagePlan, compile_plan, decode_columns
from headwater.formats.records import assemble_columns, record_columns
from headwater.formats.registered import HEADER_BYTES, RegisteredFormat, wire_header, wire_ids
from headwater.registry.base import RegistryError, Schema
from headwater.sql.types import DecimalType, SqlType


def zigzag_varint(data: bytes, position: int) -> tuple[int, int]:
    """A zigzag-encoded varint at ``position``: (value, next position)."""
    shift = result = 0
    while True:
        if position >= len(data) or shift > 63:
            raise DecodeError("truncated message indexes")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), position
        shift += 7


def message_indexes(indexes: Sequence[int]) -> bytes:
    """Confluent's encoding of a message's index path ([0] is the single byte 0)."""
    if list(indexes) == [0]:
        return b"\x00"
    out = bytearray()
    for number in (len(indexes), *indexes):
        z = (number << 1) ^ (number >> 63)
        while z & ~0x7F:
            out.append((z & 0x7F) | 0x80)
            z >>= 7
        out.append(z)
    return bytes(out)


def fill_message(message: Message, values: dict[str, Any]) -> None:
    """Set a dynamic message's fields from a row (a dict by field name, case-insensitive)."""
    by_upper = {f.name.upper(): f for f in message.DESCRIPTOR.fields}
    for key, value in values.items():
        field = by_upper.get(str(key).upper())
        if field is None or value is None:
            continue
        _set(message, field, value)


def _set(message: Message, field: FieldDescriptor, value: Any) -> None:
    kind = field.message_type
    if kind is not None and kind.GetOptions().map_entry:
        target = getattr(message, field.name)
        inner = kind.fields_by_name["value"]
        for k, v in (value.items() if isinstance(value, dict) else value):
            if v is None:
                continue
            if inner.message_type is not None:
                _message_value(target[k], v, field)
            else:
                target[k] = v
        return
    if repeated(field):
        target = getattr(message, field.name)
        for item in value:
            if kind is not None:
                _message_value(target.add(), item, field)
            elif item is not None:
                target.append(item)
        return
    if kind is not None:
        _message_value(getattr(message, field.name), value, field)
        getattr(message, field.name).SetInParent()  # an empty struct is still set, not null
        return
    setattr(message, field.name, value)


def _message_value(target: Message, value: Any, field: FieldDescriptor | None = None) -> None:
    kind = target.DESCRIPTOR.full_name
    if kind == TIMESTAMP_MESSAGE:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc)
        target.FromDatetime(when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc))
    elif kind == DATE_MESSAGE:
        day = value if isinstance(value, dt.date) else dt.date(1970, 1, 1) + dt.timedelta(days=int(value))
        target.year, target.month, target.day = day.year, day.month, day.day
    elif kind == TIME_MESSAGE:
        if not isinstance(value, dt.time):
            millis = int(value)
            value = dt.time(millis // 3_600_000, millis // 60_000 % 60, millis // 1000 % 60, millis % 1000 * 1000)
        target.hours, target.minutes, target.seconds = value.hour, value.minute, value.second
        target.nanos = value.microsecond * 1000
    elif kind == DECIMAL_MESSAGE:
        number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
        sql_type = decimal_type(field) if field is not None else None
        scale = sql_type.scale if isinstance(sql_type, DecimalType) else max(0, -int(number.as_tuple().exponent))
        unscaled = int(number.scaleb(scale).to_integral_value(decimal.ROUND_HALF_UP))
        target.value = unscaled.to_bytes(max(1, (unscaled.bit_length() + 8) // 8), "big", signed=True)
        target.scale = scale
        if isinstance(sql_type, DecimalType):
            target.precision = sql_type.precision
    elif isinstance(value, dict):
        fill_message(target, value)


class _ProtobufCodec:
    """Decode and encode with message descriptors; the framing is the format's."""

    def __init__(self, fmt: Format) -> None:
        self.fmt = fmt
        self._classes: dict[str, Any] = {}

    def message_class(self, descriptor: Descriptor) -> Any:
        found = self._classes.get(descriptor.full_name)
        if found is None:
            found = self._classes[descriptor.full_name] = message_factory.GetMessageClass(descriptor)
        return found

    def rows(self, table: pa.Table) -> list[Any]:
        fmt = self.fmt
        columns = [(name, column_of(table, name).to_pylist()) for name, _ in fmt.columns]
        if fmt.wrapped:
            return [{name: values[row] for name, values in columns} for row in range(table.num_rows)]
        return columns[0][1]

    def encode_row(self, descriptor: Descriptor, row: Any) -> bytes:
        message = self.message_class(descriptor)()
        try:
            if self.fmt.wrapped:
                fill_message(message, row)
            elif row is not None:
                _set(message, descriptor.fields[0], row)
        except (TypeError, ValueError, OverflowError, AttributeError, decimal.InvalidOperation) as exc:
            raise FormatError(f"Failed to serialize {self.fmt.name} {self.fmt.role}: {exc}") from None
        return bytes(message.SerializeToString())

    def decode_one(self, descriptor: Descriptor, payload: bytes) -> Any:
        message = self.message_class(descriptor).FromString(payload)
        values = to_python(message)
        return values if self.fmt.wrapped else next(iter(values.values()), None)


@register_format
class ProtobufFormat(RegisteredFormat):
    """ksqlDB's ``PROTOBUF``; see the module docstring."""

    name: ClassVar[str] = "PROTOBUF"
    schema_type: ClassVar[str] = "PROTOBUF"

    def validate(self) -> None:
        super().validate()
        prefix = "KEY" if self.role == "key" else "VALUE"
        self.full_name = self.properties.get(f"{prefix}_SCHEMA_FULL_NAME")
        self.codec = _ProtobufCodec(self)
        self._plans: dict[tuple[int, tuple[tuple[str, str], ...]], MessagePlan | None] = {}
        if self.columns:
            self.schema_text = proto_text(self.columns if self.wrapped else [("VALUE", self.columns[0][1])], None)
            build(self.schema_text)

    def registered_schema(self) -> Schema:
        return Schema(self.schema_text, self.schema_type)

    def parse(self, schema: Schema) -> Any:
        registry = self.registry

        def resolve(name: str) -> str | None:
            ref = next((r for r in schema.references if r.name == name), None)
            if ref is None:
                return None
            try:
                return registry.version(ref.subject, ref.version).schema.text
            except RegistryError:
                return None

        messages = build(schema.text, resolve)
        return messages, message_for(messages, str(self.full_name) if self.full_name else None)

    def decode(self, data: pa.Array, columns: Sequence[Column] | None = None, *, topic: str = "") -> Decoded:
        data = binary_input(data)
        selected = self.select(columns)
        n = len(data)
        offsets, ids, framed = wire_ids(data)
        raw = binary_bytes(data)
        valid = np.asarray(data.is_valid(), dtype=bool) if data.null_count else np.ones(n, bool)
        errors = {int(r): deserialize_error(self.role, topic, "Unknown magic byte!")
                  for r in np.nonzero(valid & ~framed)[0]}
        pieces: list[tuple[np.ndarray, dict[str, pa.Array]]] = []
        buf: np.ndarray | None = None
        for schema_id in np.unique(ids[framed]).tolist():
            rows = np.nonzero(ids == schema_id)[0]
            try:
                messages, _ = self.reader(schema_id)
            except (RegistryError, FormatError) as exc:
                reason = deserialize_error(self.role, topic, f"Error retrieving Protobuf schema for id {schema_id}: "
                                           f"{getattr(exc, 'message', exc)}")
                errors.update((row, reason) for row in rows.tolist())
                continue
            slow = rows
            plan = self._plan(schema_id, messages[0], selected)
            if plan is not None:
                # The message indexes [0] (the first message) are the single byte 0 after the header.
                first = offsets[rows] + HEADER_BYTES
                simple = (offsets[rows + 1] > first) & (raw[np.minimum(first, len(raw) - 1)] == 0)
                fast = rows[simple]
                if buf is None:
                    buf = padded(raw)
                arrays, bad = decode_columns(plan, buf, offsets[fast] + HEADER_BYTES + 1, offsets[fast + 1])
                if bad.any():
                    keep = pa.array(~bad)
                    arrays = {name: array.filter(keep) for name, array in arrays.items()}
                pieces.append((fast[~bad], arrays))
                slow = np.sort(np.concatenate([rows[~simple], fast[bad]]))
            if len(slow):
                pieces.append(self._decode_slowly(raw, offsets, schema_id, messages, slow, selected, errors, topic))
        error_rows = np.array(sorted(errors), dtype=np.int64)
        return Decoded(table_of(assemble_columns(n, pieces, selected), n), error_rows,
                       tuple(errors[r] for r in error_rows.tolist()), np.nonzero(~valid)[0].astype(np.int64))

    def _plan(self, schema_id: int, message: Descriptor, selected: list[tuple[int, str, SqlType]]) -> MessagePlan | None:
        key = (schema_id, tuple((name, sql_type.sql()) for _, name, sql_type in selected))
        if key not in self._plans:
            self._plans[key] = compile_plan(message, selected, wrapped=self.wrapped)
        return self._plans[key]

    def _decode_slowly(self, raw: np.ndarray, offsets: np.ndarray, schema_id: int, messages: list[Descriptor],
                       rows: np.ndarray, selected: list[tuple[int, str, SqlType]], errors: dict[int, str],
                       topic: str) -> tuple[np.ndarray, dict[str, pa.Array]]:
        """The records at ``rows`` parsed one by one by protobuf (message indexes other than [0], a schema
        the column plans do not cover, records they could not read cleanly); failures' reasons go in
        ``errors``."""
        data = raw.tobytes()
        decoded: list[Any] = [None] * len(rows)
        local: dict[int, str] = {}
        seen: dict[str, Descriptor] = {}  # the message types read, by full name
        for at, row in enumerate(rows.tolist()):
            start, end = int(offsets[row]) + HEADER_BYTES, int(offsets[row + 1])
            try:
                count, position = zigzag_varint(data, start)
                path = [0]
                if count:
                    path = []
                    for _ in range(count):
                        index, position = zigzag_varint(data, position)
                        path.append(index)
                descriptor = messages[path[0]]
                for index in path[1:]:
                    descriptor = descriptor.nested_types[index]
                decoded[at] = self.codec.decode_one(descriptor, data[position:end])
                seen.setdefault(descriptor.full_name, descriptor)
            except (DecodeError, IndexError, ValueError) as exc:
                local[at] = deserialize_error(self.role, topic, f"Error deserializing Protobuf message for id "
                                              f"{schema_id}: {exc}")
        for at in local:
            decoded[at] = None
        names = [f.name for descriptor in seen.values() for f in descriptor.fields]
        arrays = record_columns(decoded, selected, local, role=self.role, topic=topic, wrapped=self.wrapped,
                                field_names=names)
        for at, reason in local.items():
            errors[int(rows[at])] = reason
        return rows, dict(arrays)

    def encode(self, table: pa.Table) -> pa.Array:
        schema_id, (_, (descriptor, path)) = self.writing()
        header = wire_header(schema_id) + message_indexes(path)
        return pa.array([header + self.codec.encode_row(descriptor, row) for row in self.codec.rows(table)],
                        pa.binary())


@register_format
class ProtobufNoSrFormat(Format):
    """ksqlDB's ``PROTOBUF_NOSR``: the columns' message, no registry, no header."""

    name: ClassVar[str] = "PROTOBUF_NOSR"
    supports_wrapping: ClassVar[bool] = True

    def validate(self) -> None:
        super().validate()
        self.codec = _ProtobufCodec(self)
        self.descriptor: Descriptor | None = None
        if self.columns:
            text = proto_text(self.columns if self.wrapped else [("VALUE", self.columns[0][1])], None)
            self.descriptor = build(text)[0]

    def decode(self, data: pa.Array, columns: Sequence[Column] | None = None, *, topic: str = "") -> Decoded:
        data = binary_input(data)
        selected = self.select(columns)
        n = len(data)
        offsets = binary_offsets(data)
        raw = binary_bytes(data).tobytes()
        valid = np.asarray(data.is_valid(), dtype=bool) if data.null_count else np.ones(n, bool)
        decoded: list[Any] = [None] * n
        errors: dict[int, str] = {}
        assert self.descriptor is not None
        for row in np.nonzero(valid)[0].tolist():
            try:
                decoded[row] = self.codec.decode_one(self.descriptor, raw[offsets[row]:offsets[row + 1]])
            except (DecodeError, ValueError) as exc:
                errors[row] = deserialize_error(self.role, topic, f"Error deserializing Protobuf message: {exc}")
        return _decoded(self, decoded, selected, errors, valid, topic, [self.descriptor])

    def encode(self, table: pa.Table) -> pa.Array:
        assert self.descriptor is not None
        return pa.array([self.codec.encode_row(self.descriptor, row) for row in self.codec.rows(table)], pa.binary())


def _decoded(fmt: Format, decoded: list[Any], selected: list[tuple[int, str, SqlType]], errors: dict[int, str],
             valid: np.ndarray, topic: str, descriptors: Sequence[Descriptor]) -> Decoded:
    """The columns of the decoded messages (``descriptors``: the message types they were read as)."""
    for row in errors:
        decoded[row] = None
    names = [f.name for descriptor in descriptors for f in descriptor.fields]
    arrays = record_columns(decoded, selected, errors, role=fmt.role, topic=topic, wrapped=fmt.wrapped,
                            field_names=names)
    error_rows = np.array(sorted(errors), dtype=np.int64)
    return Decoded(table_of(arrays, len(decoded)), error_rows, tuple(errors[r] for r in error_rows.tolist()),
                   np.nonzero(~valid)[0].astype(np.int64))
