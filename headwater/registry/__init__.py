"""A Confluent-compatible Schema Registry: schemas kept in the log, served over REST, used by the formats.

``base.py`` is the contract the formats and converters use (:class:`SchemaRegistry`);
``store.py`` keeps subjects, versions and ids in a compacted ``_schemas`` topic
(:class:`LogSchemaRegistry`); ``remote.py`` talks to an external registry
(``schema.registry.url``); ``compatibility.py`` holds the Avro resolution rules, ``schema_diff.py``
the JSON Schema and Protobuf ones;
``routes.py`` serves Confluent's REST API under ``/registry``.
"""

from __future__ import annotations

from headwater.registry.base import RegisteredSchema, RegistryError, Schema, SchemaRegistry

__all__ = ["RegisteredSchema", "RegistryError", "Schema", "SchemaRegistry"]
