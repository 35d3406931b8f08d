"""Windowed keys made readable by sinks: the ``WindowedKey`` transform.

A windowed table's topic (``CREATE TABLE ... WINDOW TUMBLING|HOPPING|SESSION
... GROUP BY``) keys each row by the group key *and* its window, in ksqlDB's
(Kafka Streams') binary layouts:

| window | key bytes |
| --- | --- |
| TUMBLING, HOPPING (TimeWindowed) | the serialized key, then the window start: 8 bytes, big-endian epoch ms |
| SESSION (SessionWindowed) | the serialized key, then the window end, then the start: 8 + 8 bytes |

With ``key.converter=org.apache.kafka.connect.converters.ByteArrayConverter``
the transform ``io.headwater.connect.transforms.WindowedKey`` turns those bytes
into a struct key ``{<key.field>, WINDOWSTART, WINDOWEND}`` (the bounds as
Connect Timestamps), so the JDBC sink's ``pk.mode=record_key`` makes them the
table's primary key (DATETIME/TIMESTAMP columns) and upserts each window's
row in place. Settings: ``window.type`` (``TUMBLING``, ``HOPPING`` or
``SESSION``), ``window.size.ms`` (the end of a time window is start + size;
without it WINDOWEND is null), ``key.format`` (``KAFKA_STRING`` default,
``KAFKA_INT``, ``KAFKA_BIGINT``, ``JSON``), ``key.field`` (default ``KEY``),
``fields.to.value`` (also add the three fields to a map/struct value, for
sinks that ignore keys). A StringConverter key would have lost the window's
bytes (they become U+FFFD, as in Kafka), so the transform refuses it.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from collections.abc import Mapping
from typing import Any

from headwater.connect.converters import TIMESTAMP
from headwater.connect.data import ConnectSchema, Field
from headwater.connect.transforms import R, Transformation, TransformError

_KEY_SCHEMAS = {"KAFKA_STRING": ConnectSchema("string"), "KAFKA_INT": ConnectSchema("int32"),
                "KAFKA_BIGINT": ConnectSchema("int64"), "JSON": ConnectSchema("string")}
_BOUND = ConnectSchema("int64", optional=True, name=TIMESTAMP, version=1)


class WindowedKey(Transformation):
    """ksqlDB's windowed key bytes -> a struct key with the group key, WINDOWSTART and WINDOWEND."""

    def configure(self, config: Mapping[str, str]) -> None:
        super().configure(config)
        kind = config.get("window.type", "TUMBLING").strip().upper()
        if kind not in ("TUMBLING", "HOPPING", "SESSION"):
            raise TransformError(f"WindowedKey: window.type must be TUMBLING, HOPPING or SESSION, got {kind!r}")
        self.session = kind == "SESSION"
        size = config.get("window.size.ms", "").strip()
        try:
            self.size_ms = int(size) if size else None
        except ValueError:
            raise TransformError(f"WindowedKey: window.size.ms must be an integer, got {size!r}") from None
        self.key_format = config.get("key.format", "KAFKA_STRING").strip().upper()
        if self.key_format not in _KEY_SCHEMAS:
            raise TransformError(f"WindowedKey: key.format must be one of {', '.join(_KEY_SCHEMAS)}, "
                                 f"got {self.key_format!r}")
        self.key_field = config.get("key.field", "KEY").strip() or "KEY"
        self.to_value = config.get("fields.to.value", "false").strip().lower() == "true"
        self.schema = ConnectSchema("struct", name="WindowedKey", fields=(
            Field(self.key_field, _KEY_SCHEMAS[self.key_format]), Field("WINDOWSTART", _BOUND),
            Field("WINDOWEND", _BOUND)))

    def _group_key(self, raw: bytes) -> Any:
        try:
            if self.key_format == "KAFKA_INT":
                return struct.unpack(">i", raw)[0]
            if self.key_format == "KAFKA_BIGINT":
                return struct.unpack(">q", raw)[0]
            text = raw.decode("utf-8", errors="replace")
            return json.dumps(json.loads(text)) if self.key_format == "JSON" else text
        except (struct.error, ValueError) as exc:
            raise TransformError(f"WindowedKey: the key is not {self.key_format}: {exc}") from None

    def window(self, key: bytes) -> dict[str, Any]:
        """The struct key of one windowed key's bytes."""
        tail = 16 if self.session else 8
        if len(key) < tail:
            raise TransformError(f"WindowedKey: a {'session' if self.session else 'time'}-windowed key has at "
                                 f"least {tail} bytes, got {len(key)}")
        if self.session:
            end, start = struct.unpack(">qq", key[-16:])
        else:
            (start,) = struct.unpack(">q", key[-8:])
            end = start + self.size_ms if self.size_ms is not None else None
        return {self.key_field: self._group_key(key[:-tail]), "WINDOWSTART": start, "WINDOWEND": end}

    def apply(self, record: R) -> R | None:
        if record.key is None:
            return record
        if not isinstance(record.key, (bytes, bytearray)):
            raise TransformError("WindowedKey: the key must be the raw bytes: set key.converter="
                                 "org.apache.kafka.connect.converters.ByteArrayConverter")
        key = self.window(bytes(record.key))
        result = dataclasses.replace(record, key_schema=self.schema, key=key)
        if self.to_value and isinstance(record.value, Mapping):
            value_schema = record.value_schema
            if value_schema is not None and value_schema.type == "struct":
                present = {f.name for f in value_schema.fields}
                extra = tuple(f for f in self.schema.fields if f.name not in present)
                value_schema = dataclasses.replace(value_schema, fields=(*value_schema.fields, *extra))
            result = dataclasses.replace(result, value={**record.value, **key}, value_schema=value_schema)
        return result
