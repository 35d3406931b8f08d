"""Compatibility of JSON Schema and Protobuf schemas, after the differences Confluent's registry reports.

Both compare an ``original`` schema with an ``update`` and list the differences that break a reader: for
BACKWARD the original is the old schema and the update the new one, for FORWARD the other way round, FULL
both (``compatibility.py`` picks the direction). The error types are Confluent's names.

JSON Schema (Confluent's ``JsonSchemaDiff``, main rules): a property's ``type`` may widen (a type added,
``integer`` to ``number``) but not narrow or change (TYPE_NARROWED, TYPE_CHANGED); a property added to an
open content model (``additionalProperties`` not false) breaks, since old data may hold it with any type
(PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL), unless its schema is empty; added to a closed model it is fine; a
property removed from a closed content model breaks (PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL), from an
open one it is fine; a property becoming required breaks unless it has a default
(REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL, REQUIRED_ATTRIBUTE_ADDED); closing an open model breaks
(ADDITIONAL_PROPERTIES_REMOVED). Properties and array ``items`` are compared recursively.

Protobuf (Confluent's ``ProtobufSchema`` diff): messages match by full name, fields by number. A message
gone from the update (removed or renamed) breaks (MESSAGE_REMOVED); a field number reused with another
kind breaks (FIELD_KIND_CHANGED, FIELD_SCALAR_KIND_CHANGED, FIELD_NAMED_TYPE_CHANGED) except between
wire-compatible scalars (int32/uint32/int64/uint64/bool; sint32/sint64; fixed32/sfixed32;
fixed64/sfixed64; string/bytes); a required field added or removed breaks; a field removed, added or
renamed is compatible, as in proto3.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from headwater.errors import FormatError
from headwater.formats.protobuf_schema import build

_COMPATIBLE_SCALARS = (
    {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_INT64,
     FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_BOOL},
    {FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64},
    {FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32},
    {FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64},
    {FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES},
)
_NAMED = (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP, FieldDescriptor.TYPE_ENUM)


def _error(kind: str, path: str, description: str) -> str:
    return f"{{errorType:'{kind}', description:'{description} at path '{path}''}}"


# -- JSON Schema ------------------------------------------------------------------------------------------
def _types(schema: Any) -> set[str] | None:
    """The JSON types a schema allows (None: any)."""
    if not isinstance(schema, dict) or "type" not in schema:
        return None
    kind = schema["type"]
    return {str(k) for k in kind} if isinstance(kind, list) else {str(kind)}


def _open(schema: dict[str, Any]) -> bool:
    return schema.get("additionalProperties", True) is not False


def _empty(schema: Any) -> bool:
    return schema is True or schema == {}


def json_differences(original: Any, update: Any, path: str = "#/") -> list[str]:
    """Why data valid against ``original`` may be rejected by ``update`` (empty when it is always accepted)."""
    if not isinstance(original, dict) or not isinstance(update, dict):
        if update is False and original is not False:
            return [_error("TYPE_NARROWED", path, "The schema no longer accepts any value")]
        return []
    found: list[str] = []
    old_types, new_types = _types(original), _types(update)
    if new_types is not None:
        widened = set(new_types) | ({"integer"} if "number" in new_types else set())
        if old_types is None or not old_types <= widened:
            kind = "TYPE_NARROWED" if old_types is not None and new_types < old_types else "TYPE_CHANGED"
            found.append(_error(kind, path, f"The type changed from {sorted(old_types or ['any'])} to "
                                            f"{sorted(new_types)}"))
            return found
    old_props: dict[str, Any] = original.get("properties") or {}
    new_props: dict[str, Any] = update.get("properties") or {}
    if _open(original) and not _open(update):
        found.append(_error("ADDITIONAL_PROPERTIES_REMOVED", path, "The content model was closed"))
    for name, schema in new_props.items():
        if name not in old_props and _open(original) and not _empty(schema):
            found.append(_error("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", f"{path}properties/{name}",
                                f"The property '{name}' was added to an open content model"))
    for name in old_props:
        if name not in new_props and not _open(update):
            found.append(_error("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", f"{path}properties/{name}",
                                f"The property '{name}' was removed from a closed content model"))
    old_required, new_required = set(original.get("required") or ()), set(update.get("required") or ())
    for name in sorted(new_required - old_required):
        if isinstance(new_props.get(name), dict) and "default" in new_props[name]:
            continue
        kind = "REQUIRED_ATTRIBUTE_ADDED" if name in old_props else "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
        found.append(_error(kind, f"{path}required", f"The property '{name}' became required"))
    for name, schema in new_props.items():
        if name in old_props:
            found += json_differences(old_props[name], schema, f"{path}properties/{name}/")
    if "items" in original and "items" in update:
        found += json_differences(original["items"], update["items"], f"{path}items/")
    return found


# -- Protobuf ---------------------------------------------------------------------------------------------
def _messages(messages: list[Descriptor]) -> Iterator[Descriptor]:
    for message in messages:
        if message.GetOptions().map_entry:
            continue
        yield message
        yield from _messages(list(message.nested_types))


def _required(field: FieldDescriptor) -> bool:
    flag = getattr(field, "is_required", None)  # protobuf 6 and later; earlier ones say ``label``
    return bool(flag) if flag is not None else field.label == FieldDescriptor.LABEL_REQUIRED


def _field_change(old: FieldDescriptor, new: FieldDescriptor, path: str) -> str | None:
    if (old.type in _NAMED) != (new.type in _NAMED) or (old.type == FieldDescriptor.TYPE_ENUM) != (
            new.type == FieldDescriptor.TYPE_ENUM):
        return _error("FIELD_KIND_CHANGED", path, f"Field {old.number} changed kind")
    if old.type in _NAMED:
        old_name = (old.message_type or old.enum_type).full_name
        new_name = (new.message_type or new.enum_type).full_name
        if old_name != new_name:
            return _error("FIELD_NAMED_TYPE_CHANGED", path, f"Field {old.number} changed type from {old_name} to "
                                                            f"{new_name}")
        return None
    if old.type != new.type and not any(old.type in g and new.type in g for g in _COMPATIBLE_SCALARS):
        return _error("FIELD_SCALAR_KIND_CHANGED", path, f"Field {old.number} ('{old.name}') changed its scalar "
                                                         f"type to one that does not read the old values")
    return None


def protobuf_differences(original: str, update: str) -> list[str]:
    """The breaking differences from ``.proto`` text ``original`` to ``update`` (FormatError if one is invalid)."""
    old = {m.full_name: m for m in _messages(build(original))}
    new = {m.full_name: m for m in _messages(build(update))}
    found: list[str] = []
    for name, message in old.items():
        path = f"#/{name}"
        if name not in new:
            found.append(_error("MESSAGE_REMOVED", path, f"The message {name} was removed or renamed"))
            continue
        updated = new[name].fields_by_number
        for number, field in message.fields_by_number.items():
            if number not in updated:
                if _required(field):
                    found.append(_error("REQUIRED_FIELD_REMOVED", f"{path}/{number}", f"Required field {number} "
                                                                                      "was removed"))
                continue
            change = _field_change(field, updated[number], f"{path}/{number}")
            if change is not None:
                found.append(change)
        for number, field in updated.items():
            if number not in message.fields_by_number and _required(field):
                found.append(_error("REQUIRED_FIELD_ADDED", f"{path}/{number}", f"Required field {number} was added"))
    return found


def protobuf_differences_or_invalid(original: str, update: str) -> list[str]:
    """:func:`protobuf_differences`, or the reason one of the schemas cannot be compared."""
    try:
        return protobuf_differences(original, update)
    except FormatError as exc:
        if "imports" in str(exc):  # a registry reference: its types live in another subject
            return []
        return [f"{{errorType:'SCHEMA_INVALID', description:'{exc}'}}"]
