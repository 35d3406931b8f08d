"""Serialise and deserialise one record with a stream's or table's formats (public API).

Tests and tools that write to or read from a source's topic directly use
:class:`RecordCodec` instead of building bytes by hand::

    codec = RecordCodec(session.catalog.get("PAGEVIEWS"))
    key, value = codec.serialize({"USERID": 7, "PAGE": "home"})
    session.log.append("pageviews", 0, [Record(value, key, timestamp=1000)])
    assert codec.deserialize(key, value) == {"USERID": 7, "PAGE": "home"}

The bytes are the ones the engine writes and reads: the key with the key
format (no key columns: a null key), the value with the value format
(``WRAP_SINGLE_VALUE`` and the delimiters honoured). A windowed source's key
ends with its window as ksqlDB's windowed serdes write it: 8 bytes of window
start (big-endian) for TUMBLING and HOPPING, window end then start for
SESSION; pass ``window=(start, end)`` to :meth:`RecordCodec.serialize`, and
:meth:`RecordCodec.deserialize` returns ``WINDOWSTART``/``WINDOWEND``.
A value of ``None`` is a tombstone.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from headwater.engine.codec import key_format, value_format
from headwater.errors import FormatError
from headwater.formats import create_format
from headwater.sql.catalog import Column, DataSource


class RecordCodec:
    """The formats of one source, for one record at a time."""

    def __init__(self, source: DataSource) -> None:
        self.source = source
        self.key_format = key_format(source)
        self.value_format = value_format(source)
        self._json_row = create_format("JSON", [(c.name, c.type) for c in (*source.key_columns, *source.value_columns)],
                                       {}, role="value")

    @property
    def window_bytes(self) -> int:
        if self.source.window is None:
            return 0
        return 16 if self.source.window.kind == "SESSION" else 8

    def serialize(self, row: Mapping[str, Any] | None, *, key: Mapping[str, Any] | None = None,
                  window: tuple[int, int] | None = None) -> tuple[bytes | None, bytes | None]:
        """``(key, value)`` bytes for a row of Python values by column name (names matched as written,
        then case-insensitively). ``row=None`` with ``key=...`` gives a tombstone."""
        values = _by_column(self.source.value_columns, row or {})
        keys = _by_column(self.source.key_columns, {**(row or {}), **(key or {})})
        value_bytes = None if row is None else _encode_one(self.value_format.encode, self.source.value_columns, values)
        return self._key_bytes(keys, window), value_bytes

    def serialize_json(self, text: bytes | str) -> tuple[bytes | None, bytes | None]:
        """``(key, value)`` bytes for a row given as a JSON object of column names to values (as the
        ``/inserts-stream`` endpoint receives them); JSON values are read with the JSON format's rules."""
        raw = text.encode() if isinstance(text, str) else text
        decoded = self._json_row.decode(pa.array([raw], pa.binary()), self._json_row.columns)
        if decoded.num_errors:
            raise FormatError(decoded.error_reasons[0])
        table = decoded.table
        keys = {c.name: table.column(c.name) for c in self.source.key_columns}
        values = {c.name: table.column(c.name) for c in self.source.value_columns}
        value_bytes = self.value_format.encode(pa.table(values or {"__row": pa.nulls(1)})).to_pylist()[0]
        if self.key_format is None:
            return None, value_bytes
        key_bytes = self.key_format.encode(pa.table(keys)).to_pylist()[0]
        return key_bytes, value_bytes

    def deserialize(self, key: bytes | None, value: bytes | None) -> dict[str, Any] | None:
        """The row a record holds (key columns, WINDOWSTART/WINDOWEND for a windowed key, value columns),
        or ``None`` for a tombstone. Bytes that do not decode raise :class:`FormatError` with the reason."""
        row: dict[str, Any] = {}
        if self.key_format is not None and key is not None:
            proper = key[: len(key) - self.window_bytes] if self.window_bytes else key
            row.update(_decode_one(self.key_format, proper))
            if self.window_bytes:
                row.update(self.window_of(key))
        if value is None:
            return None
        row.update(_decode_one(self.value_format, value))
        return row

    def window_of(self, key: bytes) -> dict[str, int]:
        """``WINDOWSTART`` and ``WINDOWEND`` of a windowed key."""
        n = self.window_bytes
        if not n or len(key) < n:
            raise FormatError(f"{self.source.name} is not windowed, or the key is too short to hold a window")
        if n == 16:
            end, start = struct.unpack(">qq", key[-16:])
        else:
            (start,) = struct.unpack(">q", key[-8:])
            end = start + (self.source.window.size_ms or 0)  # type: ignore[union-attr]
        return {"WINDOWSTART": start, "WINDOWEND": end}

    def _key_bytes(self, keys: dict[str, Any], window: tuple[int, int] | None) -> bytes | None:
        if self.key_format is None:
            return None
        encoded = _encode_one(self.key_format.encode, self.source.key_columns, keys)
        if self.window_bytes:
            if window is None:
                raise FormatError(f"{self.source.name} is windowed: give the record's window=(start, end)")
            tail = struct.pack(">qq", window[1], window[0]) if self.window_bytes == 16 else struct.pack(">q", window[0])
            encoded = (encoded or b"") + tail
        return encoded


def _by_column(columns: tuple[Column, ...], row: Mapping[str, Any]) -> dict[str, Any]:
    folded = {str(k).upper(): v for k, v in row.items()}
    return {c.name: row[c.name] if c.name in row else folded.get(c.name.upper()) for c in columns}


def _encode_one(encode: Any, columns: tuple[Column, ...], values: dict[str, Any]) -> bytes | None:
    if not columns:
        table = pa.table({"__row": pa.nulls(1)})  # no column: one row all the same
    else:
        try:
            table = pa.table({c.name: pa.array([values[c.name]], c.type.to_arrow()) for c in columns})
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise FormatError(f"A value does not fit its column's type: {exc}") from None
    result: bytes | None = encode(table).to_pylist()[0]
    return result


def _decode_one(fmt: Any, data: bytes) -> dict[str, Any]:
    decoded = fmt.decode(pa.array([data], pa.binary()), fmt.columns)
    if decoded.num_errors:
        raise FormatError(decoded.error_reasons[0])
    return {name: decoded.table.column(name)[0].as_py() for name, _ in fmt.columns}


__all__ = ["RecordCodec"]
