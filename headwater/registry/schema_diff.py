"""Compatibility of Protobuf schemas, after the differences Confluent's registry reports (JSON Schemas:
``json_schema_diff.py``).

It compares an ``original`` schema with an ``update`` and list the differences that break a reader: for
BACKWARD the original is the old schema and the update the new one, for FORWARD the other way round, FULL
both (``compatibility.py`` picks the direction). The error types are Confluent's names.

Protobuf (Confluent's ``ProtobufSchema`` diff): messages match by full name, fields by number. A message
gone from the update (removed or renamed) breaks (MESSAGE_REMOVED); a field number reused with another
kind breaks (FIELD_KIND_CHANGED, FIELD_SCALAR_KIND_CHANGED, FIELD_NAMED_TYPE_CHANGED) except between
wire-compatible scalars (int32/uint32/int64/uint64/bool; sint32/sint64; fixed32/sfixed32;
fixed64/sfixed64; string/bytes); a required field added or removed breaks; a field removed, added or
renamed is compatible, as in proto3.

Oneofs (``proto3 optional``'s synthetic oneofs aside), matched by name: a oneof added or removed is
compatible (ONEOF_ADDED, ONEOF_REMOVED), unless the new oneof takes in more than one existing field
(MULTIPLE_FIELDS_MOVED_TO_ONEOF); in a oneof kept, a field number added is compatible (ONEOF_FIELD_ADDED)
unless it was an existing field outside any oneof (FIELD_MOVED_TO_EXISTING_ONEOF), a field number gone
breaks (ONEOF_FIELD_REMOVED). Enums: constants added, removed or renamed and enums added or removed are
compatible (ENUM_CONST_ADDED, ENUM_CONST_REMOVED, ENUM_CONST_CHANGED, ENUM_ADDED, ENUM_REMOVED), as in
Confluent's list of compatible changes, so nothing is reported; a field switching to another enum type is
FIELD_NAMED_TYPE_CHANGED. Only the breaking differences are listed.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf import descriptor_pb2
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
        found += _oneof_differences(message, new[name], path)
    return found


def _oneofs(message: Descriptor) -> dict[str, set[int]]:
    """The field numbers of each real oneof (not the synthetic ones of proto3 ``optional`` fields)."""
    proto = descriptor_pb2.DescriptorProto()
    message.CopyToProto(proto)
    synthetic = {f.oneof_index for f in proto.field if f.proto3_optional}
    return {o.name: {f.number for f in o.fields} for o in message.oneofs if o.index not in synthetic}


def _oneof_differences(old: Descriptor, new: Descriptor, path: str) -> list[str]:
    old_oneofs, new_oneofs = _oneofs(old), _oneofs(new)
    in_oneof = set().union(*old_oneofs.values()) if old_oneofs else set()
    outside = set(old.fields_by_number) - in_oneof  # existing fields in no oneof
    found: list[str] = []
    for name in sorted(set(old_oneofs) | set(new_oneofs)):
        before, after = old_oneofs.get(name), new_oneofs.get(name)
        where = f"{path}/oneof/{name}"
        if before is None and after is not None:
            moved = sorted(after & outside)
            if len(moved) > 1:
                found.append(_error("MULTIPLE_FIELDS_MOVED_TO_ONEOF", where, f"Fields {moved} moved into the new "
                                                                             f"oneof {name}"))
        elif before is not None and after is not None:
            for number in sorted(before - after):
                found.append(_error("ONEOF_FIELD_REMOVED", f"{where}/{number}", f"Field {number} left the oneof "
                                                                                f"{name}"))
            for number in sorted((after - before) & outside):
                found.append(_error("FIELD_MOVED_TO_EXISTING_ONEOF", f"{where}/{number}",
                                    f"Field {number} moved into the existing oneof {name}"))
    return found


def protobuf_differences_or_invalid(original: str, update: str) -> list[str]:
    """:func:`protobuf_differences`, or the reason one of the schemas cannot be compared."""
    try:
        return protobuf_differences(original, update)
    except FormatError as exc:
        if "imports" in str(exc):  # a registry reference: its types live in another subject
            return []
        return [f"{{errorType:'SCHEMA_INVALID', description:'{exc}'}}"]
