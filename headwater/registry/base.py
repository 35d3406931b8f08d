"""The schema registry contract: what formats and converters need from a registry, local or remote.

A *schema* is a text (Avro JSON, a JSON Schema, a ``.proto`` file) with a type
(``AVRO``, ``JSON``, ``PROTOBUF``). It is registered under a *subject* (by
Confluent's default naming strategy ``<topic>-value`` or ``<topic>-key``),
where it gets a *version* (1, 2, ... per subject) and a global *id*, the
4 bytes after the magic byte 0 of Confluent's wire format. The same schema
text registered twice, under any subject, keeps its id.

- :meth:`SchemaRegistry.register` is called when a query or a converter
  writes with a schema: it returns the id, registering the schema (checked
  against the subject's compatibility level) if the subject does not hold it.
- :meth:`SchemaRegistry.schema` is called when a record's id is first seen:
  ids never change meaning, so callers may cache the answer forever.
- :meth:`SchemaRegistry.version` (``"latest"`` or a number) is called when
  a statement infers its columns from a subject.

Failures raise :class:`RegistryError` with Confluent's HTTP status and error
code (40401 subject not found, 40403 schema not found, 409 incompatible,
42201 invalid schema, ...). Implementations are safe to use from several threads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from headwater.errors import HeadwaterError

class RegistryError(HeadwaterError):
    """A registry answer other than success: Confluent's HTTP status, error code and message."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message}


def subject_not_found(subject: str) -> RegistryError:
    return RegistryError(404, 40401, f"Subject '{subject}' not found.")


def schema_not_found(schema_id: int | None = None) -> RegistryError:
    return RegistryError(404, 40403, "Schema not found" if schema_id is None else f"Schema {schema_id} not found")


def version_not_found(version: object) -> RegistryError:
    return RegistryError(404, 40402, f"Version {version} not found.")


def invalid_schema(detail: str) -> RegistryError:
    return RegistryError(422, 42201, f"Invalid schema: {detail}")


@dataclass(frozen=True)
class Reference:
    """A schema reference: ``name`` (as the referring schema names it), ``subject`` and ``version``."""

    name: str
    subject: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}


@dataclass(frozen=True)
class Schema:
    """A schema text and its type (``AVRO``, ``JSON`` or ``PROTOBUF``)."""

    text: str
    schema_type: str = "AVRO"
    references: tuple[Reference, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"schema": self.text}
        if self.schema_type != "AVRO":
            body["schemaType"] = self.schema_type
        if self.references:
            body["references"] = [r.to_json() for r in self.references]
        return body


@dataclass(frozen=True)
class RegisteredSchema:
    """A schema as a subject holds it: its id and version there."""

    subject: str
    version: int
    schema_id: int
    schema: Schema

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "version": self.version, "id": self.schema_id, **self.schema.to_json()}


def references_of(raw: object) -> tuple[Reference, ...]:
    """The ``references`` of a request body, checked."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RegistryError(422, 42201, "Invalid schema: references must be a list")
    found = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(
                item.get("subject"), str) or not isinstance(item.get("version"), int):
            raise RegistryError(422, 42201, "Invalid schema: a reference needs a name, a subject and a version")
        found.append(Reference(item["name"], item["subject"], item["version"]))
    return tuple(found)


class SchemaRegistry(ABC):
    """What a format or converter needs from a registry; see the module docstring."""

    @abstractmethod
    def register(self, subject: str, schema: Schema, *, normalize: bool = False) -> int:
        """The id of ``schema`` under ``subject``, registering it if new there (RegistryError 409 if incompatible)."""

    @abstractmethod
    def schema(self, schema_id: int) -> Schema:
        """The schema with this id (RegistryError 40403 if none)."""

    @abstractmethod
    def version(self, subject: str, version: int | str = "latest") -> RegisteredSchema:
        """A version of a subject, ``"latest"`` for the newest (RegistryError 40401/40402)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""
