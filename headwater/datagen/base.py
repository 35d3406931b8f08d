"""The generator contract: a named record shape with a key field and a pure record function.

A :class:`Generator` turns a record number into a record value: iteration
fields (ids, counters) come from the number, every random choice from the
``random.Random`` it is handed, and times from the ``now_ms`` clock. So the
datagen connector can resume after a restart with the same records it would
have produced without one, and tests can fix the clock.

Two kinds implement it: :class:`AvroGenerator` (kafka-connect-datagen's
quickstarts and ``schema.string``) and the seed systems' generators in
``headwater.datagen.seeds``. ``headwater.datagen.quickstarts`` names them all.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from headwater.connect.data import ConnectSchema
from headwater.datagen.avro import compile_generator, parse_schema, to_connect_schema
from headwater.errors import ConfigError


class Generator(ABC):
    """Produces record values of one shape."""

    #: The record's schema (a struct); the connector hands it to the value converter.
    value_schema: ConnectSchema
    #: The top-level field copied into the record key, or None for a null key.
    key_field: str | None

    @abstractmethod
    def value(self, iteration: int, rng: random.Random, now_ms: int) -> dict[str, Any]:
        """Record number ``iteration`` (0-based) of this generator's sequence."""

    def with_key_field(self, key_field: str | None) -> Generator:
        """The same generator keyed by another top-level field (``schema.keyfield``)."""
        if key_field and self.value_schema.field(key_field) is None:
            names = ", ".join(f.name for f in self.value_schema.fields)
            raise ConfigError(f"datagen: schema.keyfield {key_field!r} is not a field of the schema ({names})")
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.key_field = key_field or None
        return clone

    @property
    def key_schema(self) -> ConnectSchema | None:
        if self.key_field is None:
            return None
        field = self.value_schema.field(self.key_field)
        assert field is not None  # checked in with_key_field / __init__
        return field.schema

    def key(self, value: Mapping[str, Any]) -> Any:
        return None if self.key_field is None else value.get(self.key_field)


class AvroGenerator(Generator):
    """Records from an Avro schema with ``arg.properties`` (see ``headwater.datagen.avro``)."""

    def __init__(self, schema: str | Mapping[str, Any], key_field: str | None = None) -> None:
        self.avro_schema: dict[str, Any] = parse_schema(schema) if isinstance(schema, str) else dict(schema)
        self.value_schema = to_connect_schema(self.avro_schema)
        self._generate = compile_generator(self.avro_schema)
        self.key_field = None
        if key_field:
            self.key_field = self.with_key_field(key_field).key_field

    def value(self, iteration: int, rng: random.Random, now_ms: int) -> dict[str, Any]:
        result = self._generate(iteration, rng)
        assert isinstance(result, dict)
        return result


def record_rng(seed: int, task_id: int, iteration: int) -> random.Random:
    """The random source of record ``iteration`` of task ``task_id`` for ``seed``.

    One source per record, derived from all three numbers: record n is the same
    whether the task ran without a stop or was restarted just before it, and
    tasks of one connector draw different records.
    """
    mask64 = (1 << 64) - 1
    return random.Random(((seed & mask64) << 96) | ((task_id & 0xFFFFFFFF) << 64) | (iteration & mask64))
