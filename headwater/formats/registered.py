"""What the formats that use a schema registry share (AVRO, JSON_SR, PROTOBUF): Confluent's wire header,
the subject, the writer schema registered on first use, reader schemas fetched once per id.

Properties: ``WRAP_SINGLE_VALUE``, ``KEY_SCHEMA_ID``/``VALUE_SCHEMA_ID``,
``KEY_SCHEMA_FULL_NAME``/``VALUE_SCHEMA_FULL_NAME`` (and AVRO's ``VALUE_AVRO_SCHEMA_FULL_NAME``),
and two the engine sets: ``SCHEMA_REGISTRY`` (a :class:`headwater.registry.SchemaRegistry`) and
``KAFKA_TOPIC`` (the subject is ``<topic>-key`` or ``<topic>-value``).
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from headwater.errors import FormatError
from headwater.formats.base import Format, binary_bytes, binary_offsets
from headwater.registry.base import RegistryError, Schema, SchemaRegistry

MAGIC = 0
HEADER_BYTES = 5


def wire_header(schema_id: int) -> bytes:
    """Confluent's 5-byte prefix: magic byte 0 and the schema id, big-endian."""
    return bytes([MAGIC]) + int(schema_id).to_bytes(4, "big")


def wire_ids(data: pa.BinaryArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(offsets, ids, framed)`` of a binary column: ids are -1 where a value is not in the wire format."""
    offsets = binary_offsets(data).astype(np.int64)
    raw = binary_bytes(data)
    lengths = np.diff(offsets)
    framed = lengths >= HEADER_BYTES
    if data.null_count:
        framed &= np.asarray(data.is_valid(), dtype=bool)
    ids = np.full(len(data), -1, np.int64)
    candidates = np.nonzero(framed)[0]
    if len(candidates):
        at = offsets[candidates]
        good = candidates[raw[at] == MAGIC]
        at = offsets[good]
        ids[good] = ((raw[at + 1].astype(np.int64) << 24) | (raw[at + 2].astype(np.int64) << 16)
                     | (raw[at + 3].astype(np.int64) << 8) | raw[at + 4].astype(np.int64))
        framed[candidates[raw[offsets[candidates]] != MAGIC]] = False
    return offsets, ids, framed


class RegisteredFormat(Format):
    """A format whose records name their schema by registry id; subclasses say how to read and write."""

    supports_wrapping: ClassVar[bool] = True
    uses_registry: ClassVar[bool] = True
    #: The registry's schema type (AVRO, JSON, PROTOBUF).
    schema_type: ClassVar[str] = ""

    def accepted_properties(self) -> frozenset[str]:
        common = {"SCHEMA_REGISTRY", "KAFKA_TOPIC"}
        if self.role == "key":
            return frozenset(common | {"KEY_SCHEMA_ID", "KEY_SCHEMA_FULL_NAME"})
        return frozenset(common | {"WRAP_SINGLE_VALUE", "VALUE_SCHEMA_ID", "VALUE_SCHEMA_FULL_NAME"})

    def validate(self) -> None:
        super().validate()
        registry = self.properties.get("SCHEMA_REGISTRY")
        if registry is not None and not isinstance(registry, SchemaRegistry):
            raise FormatError(f"formats: SCHEMA_REGISTRY must be a SchemaRegistry, got {type(registry).__name__}")
        prefix = "KEY" if self.role == "key" else "VALUE"
        raw_id = self.properties.get(f"{prefix}_SCHEMA_ID")
        self.fixed_id: int | None = None
        if raw_id is not None:
            try:
                self.fixed_id = int(str(raw_id))
            except ValueError:
                raise FormatError(f"{prefix}_SCHEMA_ID must be an integer, got {raw_id!r}") from None
        self._lock = threading.Lock()
        self._readers: dict[int, Any] = {}
        self._writer: tuple[int, Any] | None = None

    @property
    def registry(self) -> SchemaRegistry:
        registry = self.properties.get("SCHEMA_REGISTRY")
        if not isinstance(registry, SchemaRegistry):
            raise FormatError(f"The {self.name} format needs a schema registry; none is configured")
        return registry

    @property
    def subject(self) -> str:
        topic = self.properties.get("KAFKA_TOPIC")
        if not topic:
            raise FormatError(f"formats: the {self.name} {self.role} format has no topic to name its subject")
        return f"{topic}-{self.role}"

    @abstractmethod
    def registered_schema(self) -> Schema:
        """The schema this format writes for its columns."""

    @abstractmethod
    def parse(self, schema: Schema) -> Any:
        """A schema from the registry made ready to read or write with (FormatError if unusable)."""

    def register_schema(self, *, if_absent: bool = False) -> int | None:
        """The id of the schema this format writes (registered under its subject on first use)."""
        if if_absent and self.fixed_id is None:
            try:
                self.registry.version(self.subject)
                return None
            except RegistryError as exc:
                if exc.error_code != 40401:
                    raise FormatError(f"Error serializing {self.name} message: {exc.message}") from None
        return self.writing()[0]

    def writing(self) -> tuple[int, Any]:
        """``(id, parsed)`` of the schema this format writes with."""
        with self._lock:
            if self._writer is None:
                try:
                    if self.fixed_id is not None:
                        schema_id, schema = self.fixed_id, self.registry.schema(self.fixed_id)
                    else:
                        schema = self.registered_schema()
                        schema_id = self.registry.register(self.subject, schema)
                except RegistryError as exc:
                    raise FormatError(f"Error serializing {self.name} message: {exc.message}") from None
                self._writer = (schema_id, self.checked(schema))
            return self._writer

    def checked(self, schema: Schema) -> Any:
        if schema.schema_type != self.schema_type:
            raise FormatError(f"schema is of type {schema.schema_type}, expected {self.schema_type}")
        return self.parse(schema)

    def reader(self, schema_id: int) -> Any:
        """The parsed schema of an id (fetched once; RegistryError/FormatError when unknown or unusable)."""
        with self._lock:
            found = self._readers.get(schema_id)
        if found is None:
            found = self.checked(self.registry.schema(schema_id))
            with self._lock:
                self._readers[schema_id] = found
        return found
