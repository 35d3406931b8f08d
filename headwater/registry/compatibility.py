"""Schema compatibility as Confluent's registry decides it: Avro's reader/writer resolution rules.

``BACKWARD``: a reader with the new schema reads data written with the
previous one; ``FORWARD``: a reader with the previous schema reads the new
one's data; ``FULL``: both; ``NONE``: no check. The ``_TRANSITIVE`` forms
check against every live version instead of the latest only.

Avro resolution (the specification's "Schema Resolution"): same primitive,
or a promotion (int to long, float, double; long to float, double; float to
double; string and bytes both ways); records match by full name (or a
reader alias) and every reader field either exists in the writer (by name
or alias) with a readable type, or has a default; enums need every writer
symbol in the reader, unless the reader has a default; fixed by name and
size; arrays by items, maps by values; a writer union is readable when each
branch is, a reader union when one branch reads the writer.

JSON and PROTOBUF schemas follow the differences Confluent reports
(``schema_diff.py``), compared in the same directions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import fastavro
import orjson
from fastavro.schema import SchemaParseException, UnknownType

from headwater.errors import FormatError
from headwater.formats.protobuf_schema import build
from headwater.registry.base import Schema, invalid_schema
from headwater.registry.json_schema_diff import json_differences
from headwater.registry.schema_diff import protobuf_differences_or_invalid

LEVELS = ("BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE")

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}


class _Names:
    """Named types of one schema, by full name, collected while walking it."""

    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}

    def collect(self, schema: Any, namespace: str | None = None) -> None:
        if isinstance(schema, list):
            for branch in schema:
                self.collect(branch, namespace)
        elif isinstance(schema, dict):
            kind = schema.get("type")
            if kind in ("record", "error", "enum", "fixed"):
                full = full_name(schema, namespace)
                self.types[full] = schema
                namespace = full.rpartition(".")[0] or None
                for f in schema.get("fields", ()) or ():
                    self.collect(f.get("type"), namespace)
            elif kind == "array":
                self.collect(schema.get("items"), namespace)
            elif kind == "map":
                self.collect(schema.get("values"), namespace)
            elif isinstance(kind, (dict, list)):
                self.collect(kind, namespace)

    def resolve(self, schema: Any, namespace: str | None) -> Any:
        if isinstance(schema, str) and schema not in PRIMITIVES:
            found = self.types.get(schema) or self.types.get(f"{namespace}.{schema}" if namespace else schema)
            return found if found is not None else schema
        if isinstance(schema, dict) and isinstance(schema.get("type"), str) and schema["type"] in PRIMITIVES:
            return schema["type"]  # {"type": "long", "logicalType": ...} reads as its base type
        if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
            return self.resolve(schema["type"], namespace)
        return schema


def full_name(schema: Mapping[str, Any], namespace: str | None = None) -> str:
    name = str(schema.get("name", ""))
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return f"{space}.{name}" if space else name


def _space(name: str) -> str | None:
    return name.rpartition(".")[0] or None


class _Resolver:
    """Whether a reader schema reads what a writer schema wrote; collects the reasons it does not."""

    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader_names, self.writer_names = _Names(), _Names()
        self.reader_names.collect(reader)
        self.writer_names.collect(writer)
        self.messages: list[str] = []
        self._assumed: set[tuple[str, str]] = set()

    def reads(self, reader: Any, writer: Any, path: str, rspace: str | None = None, wspace: str | None = None) -> bool:
        reader = self.reader_names.resolve(reader, rspace)
        writer = self.writer_names.resolve(writer, wspace)
        if isinstance(writer, list):
            ok = True
            for i, branch in enumerate(writer):
                ok = self.reads(reader, branch, f"{path}/{i}", rspace, wspace) and ok
            return ok
        if isinstance(reader, list):
            for branch in reader:
                if self._try(branch, writer, path, rspace, wspace):
                    return True
            self.messages.append(f"{{errorType:'MISSING_UNION_BRANCH', description:'The new schema is missing a "
                                 f"type inside a union field at path '{path}' ({_type_name(writer)})'}}")
            return False
        rkind, wkind = _kind(reader), _kind(writer)
        if rkind in PRIMITIVES or wkind in PRIMITIVES:
            if rkind in PRIMITIVES and wkind in PRIMITIVES and rkind in _PROMOTIONS.get(wkind, {wkind}):
                return True
            self.messages.append(f"{{errorType:'TYPE_MISMATCH', description:'The type (path '{path}') of a field in "
                                 f"the new schema does not match with the old schema', reader:'{rkind}', "
                                 f"writer:'{wkind}'}}")
            return False
        if rkind != wkind and not (rkind in ("record", "error") and wkind in ("record", "error")):
            self.messages.append(f"{{errorType:'TYPE_MISMATCH', description:'The type (path '{path}') of a field in "
                                 f"the new schema does not match with the old schema', reader:'{rkind}', "
                                 f"writer:'{wkind}'}}")
            return False
        if rkind == "array":
            return self.reads(reader.get("items"), writer.get("items"), f"{path}/items", rspace, wspace)
        if rkind == "map":
            return self.reads(reader.get("values"), writer.get("values"), f"{path}/values", rspace, wspace)
        rname, wname = full_name(reader, rspace), full_name(writer, wspace)
        aliases = {a if "." in a else f"{_space(rname)}.{a}" if _space(rname) else a for a in reader.get("aliases", ())}
        if rname != wname and wname not in aliases and rname.rpartition(".")[2] != wname.rpartition(".")[2]:
            self.messages.append(f"{{errorType:'NAME_MISMATCH', description:'The name of the schema has changed "
                                 f"(path '{path}/name')', reader:'{rname}', writer:'{wname}'}}")
            return False
        if rkind == "fixed":
            if reader.get("size") != writer.get("size"):
                self.messages.append(f"{{errorType:'FIXED_SIZE_MISMATCH', description:'The size of FIXED type field "
                                     f"at path '{path}/size' in the old schema does not match with the new schema'}}")
                return False
            return True
        if rkind == "enum":
            missing = [s for s in writer.get("symbols", ()) if s not in set(reader.get("symbols", ()))]
            if missing and reader.get("default") is None:
                self.messages.append(f"{{errorType:'MISSING_ENUM_SYMBOLS', description:'The new schema is missing "
                                     f"enum symbols '{missing}' at path '{path}/symbols' in the old schema'}}")
                return False
            return True
        if (rname, wname) in self._assumed:  # a recursive record: assume it reads while checking it
            return True
        self._assumed.add((rname, wname))
        return self._record(reader, writer, path, _space(rname), _space(wname))

    def _try(self, reader: Any, writer: Any, path: str, rspace: str | None, wspace: str | None) -> bool:
        """Whether ``reader`` reads ``writer``, leaving no message when it does not (a union branch)."""
        kept, assumed = len(self.messages), set(self._assumed)
        ok = self.reads(reader, writer, path, rspace, wspace)
        del self.messages[kept:]
        self._assumed = assumed
        return ok

    def _record(self, reader: Mapping[str, Any], writer: Mapping[str, Any], path: str, rspace: str | None,
                wspace: str | None) -> bool:
        written = {f["name"]: f for f in writer.get("fields", ())}
        ok = True
        for i, field in enumerate(reader.get("fields", ())):
            names = [field["name"], *field.get("aliases", ())]
            source = next((written[n] for n in names if n in written), None)
            if source is None:
                if "default" not in field:
                    self.messages.append(f"{{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field "
                                         f"'{field['name']}' at path '{path}/fields/{i}' in the new schema has no "
                                         "default value and is missing in the old schema', "
                                         f"additionalInfo:'{field['name']}'}}")
                    ok = False
                continue
            ok = self.reads(field["type"], source["type"], f"{path}/fields/{i}/type", rspace, wspace) and ok
        return ok


def _kind(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, dict):
        kind = schema.get("type")
        return kind if isinstance(kind, str) else "union"
    return "union"


def _type_name(schema: Any) -> str:
    kind = _kind(schema)
    return full_name(schema) if isinstance(schema, dict) and "name" in schema else kind


def avro_reads(reader: Any, writer: Any) -> list[str]:
    """Why a reader schema cannot read a writer schema's data (empty when it can)."""
    resolver = _Resolver(reader, writer)
    resolver.reads(reader, writer, "")
    return resolver.messages


def incompatibilities(level: str, new: Schema, existing: Sequence[Schema]) -> list[str]:
    """Why ``new`` breaks ``level`` against ``existing`` (oldest first); empty when compatible."""
    level = level.upper()
    if level == "NONE" or not existing:
        return []
    against = existing if level.endswith("_TRANSITIVE") else existing[-1:]
    messages: list[str] = []
    for old in reversed(against):
        if old.schema_type != new.schema_type:
            messages.append(f"Incompatible schema type: {old.schema_type} vs {new.schema_type}")
            continue
        found: list[str] = []
        if level.startswith(("BACKWARD", "FULL")):
            found += _breaks(new, old)
        if level.startswith(("FORWARD", "FULL")):
            found += _breaks(old, new)
        if found:
            messages += found
            messages.append(f"{{oldSchemaVersion: ?}}, {{oldSchema: '{old.text}'}}, {{compatibility: '{level}'}}")
    return messages


def _breaks(reader: Schema, writer: Schema) -> list[str]:
    """Why data written with ``writer`` may not be read with ``reader`` (same schema type)."""
    if reader.schema_type == "AVRO":
        return avro_reads(schema_json(reader), schema_json(writer))
    if reader.schema_type == "JSON":
        return json_differences(schema_json(writer), schema_json(reader))
    return protobuf_differences_or_invalid(writer.text, reader.text)


def canonical(schema: Schema) -> Schema:
    """``schema`` checked (RegistryError 42201 when invalid) with its text in compact form, Avro parsed by fastavro."""
    if schema.schema_type not in ("AVRO", "JSON", "PROTOBUF"):
        raise invalid_schema(f"unknown schema type {schema.schema_type!r}")
    if schema.schema_type == "PROTOBUF":
        if not schema.text.strip():
            raise invalid_schema("empty protobuf schema")
        try:
            build(schema.text)
        except FormatError as exc:
            if not schema.references:  # a reference's types live in another subject
                raise invalid_schema(str(exc)) from None
        return schema
    parsed = schema_json(schema)
    if schema.schema_type == "AVRO":
        try:
            fastavro.parse_schema(parsed, _write_hint=False)
        except (SchemaParseException, UnknownType, TypeError, ValueError, KeyError, AttributeError) as exc:
            if not schema.references:  # a reference's types live in another subject
                raise invalid_schema(f"{type(exc).__name__}: {exc}") from None
    elif not isinstance(parsed, (dict, bool)):
        raise invalid_schema("a JSON schema is an object or a boolean")
    return Schema(orjson.dumps(parsed).decode(), schema.schema_type, schema.references)


def schema_json(schema: Schema) -> Any:
    try:
        return orjson.loads(schema.text)
    except orjson.JSONDecodeError as exc:
        raise invalid_schema(str(exc)) from None
