"""JSON Schema and Protobuf compatibility beyond "same type": Confluent's main rules, BACKWARD/FORWARD/FULL."""

from __future__ import annotations

import itertools
import json
import pytest

from headwater.log import open_log
from headwater.registry.base import RegistryError, Schema
from headwater.registry.store import LogSchemaRegistry


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> LogSchemaRegistry:
    return LogSchemaRegistry(open_log(str(tmp_path_factory.mktemp("registry") / "log")))


_subjects = itertools.count()


def _subject(registry: LogSchemaRegistry, level: str) -> str:
    """A fresh subject of the shared registry with its own compatibility level."""
    subject = f"s{next(_subjects)}-value"
    registry.set_compatibility(level, subject)
    return subject


def _json(properties: dict[str, object], *, closed: bool = False, required: tuple[str, ...] = ()) -> Schema:
    body: dict[str, object] = {"type": "object", "properties": properties}
    if closed:
        body["additionalProperties"] = False
    if required:
        body["required"] = list(required)
    return Schema(json.dumps(body), "JSON")


def _kinds(problems: list[str]) -> set[str]:
    return {p.split("errorType:'")[1].split("'")[0] for p in problems if "errorType:'" in p}


A = {"a": {"type": "integer"}}
AB = {"a": {"type": "integer"}, "b": {"type": "string"}}

JSON_CASES = [
    # (level, old, new, error types expected; empty: compatible)
    ("BACKWARD", _json(A), _json(AB), {"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"}),
    ("BACKWARD", _json(A, closed=True), _json(AB, closed=True), set()),
    ("BACKWARD", _json(AB), _json(A), set()),
    ("BACKWARD", _json(AB, closed=True), _json(A, closed=True), {"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"}),
    ("FORWARD", _json(A, closed=True), _json(AB, closed=True), {"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"}),
    ("FORWARD", _json(AB), _json(A), {"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"}),
    ("BACKWARD", _json({"a": {"type": "integer"}}), _json({"a": {"type": "number"}}), set()),
    ("FORWARD", _json({"a": {"type": "integer"}}), _json({"a": {"type": "number"}}), {"TYPE_CHANGED"}),
    ("BACKWARD", _json({"a": {"type": "string"}}), _json({"a": {"type": "integer"}}), {"TYPE_CHANGED"}),
    ("BACKWARD", _json({"a": {"type": ["string", "null"]}}), _json({"a": {"type": "string"}}), {"TYPE_NARROWED"}),
    ("BACKWARD", _json(AB), _json(AB, required=("b",)), {"REQUIRED_ATTRIBUTE_ADDED"}),
    ("BACKWARD", _json(AB, required=("b",)), _json(AB), set()),
    ("FULL", _json(AB, required=("b",)), _json(AB), {"REQUIRED_ATTRIBUTE_ADDED"}),
    ("BACKWARD", _json(A), _json(A, closed=True), {"ADDITIONAL_PROPERTIES_REMOVED"}),
    ("BACKWARD", _json({"o": {"type": "object", "properties": A, "additionalProperties": False}}),
     _json({"o": {"type": "object", "properties": {"a": {"type": "boolean"}}, "additionalProperties": False}}),
     {"TYPE_CHANGED"}),
    ("NONE", _json({"a": {"type": "string"}}), _json({"a": {"type": "integer"}}), set()),
]


@pytest.mark.parametrize(("level", "old", "new", "expected"), JSON_CASES)
def test_json_schema_rules(shared: LogSchemaRegistry, level: str, old: Schema, new: Schema,
                        expected: set[str]) -> None:
    registry, subject = shared, _subject(shared, level)
    registry.register(subject, old)
    problems = registry.check(subject, new)
    assert _kinds(problems) == expected, problems
    if expected:
        with pytest.raises(RegistryError) as raised:
            registry.register(subject, new)
        assert raised.value.status == 409
    else:
        assert registry.register_version(subject, new).version == 2


def _proto(body: str, package: str = "shop") -> Schema:
    return Schema(f'syntax = "proto3";\npackage {package};\n{body}\n', "PROTOBUF")


ORDER = _proto("message Order { int32 id = 1; string item = 2; Line line = 3; }\nmessage Line { int64 qty = 1; }")
PROTO_CASES = [
    ("BACKWARD", ORDER, _proto("message Order { int32 id = 1; Line line = 3; }\nmessage Line { int64 qty = 1; }"),
     set()),  # a removed field
    ("FULL", ORDER, _proto("message Order { int32 id = 1; string item = 2; Line line = 3; double price = 4; }\n"
                           "message Line { int64 qty = 1; }"), set()),  # an added field
    ("BACKWARD", ORDER, _proto("message Order { int32 id = 1; double item = 2; Line line = 3; }\n"
                               "message Line { int64 qty = 1; }"), {"FIELD_SCALAR_KIND_CHANGED"}),
    ("BACKWARD", ORDER, _proto("message Order { int64 id = 1; bytes item = 2; Line line = 3; }\n"
                               "message Line { int64 qty = 1; }"), set()),  # wire-compatible scalars
    ("BACKWARD", ORDER, _proto("message Order { int32 id = 1; string item = 2; string line = 3; }\n"
                               "message Line { int64 qty = 1; }"), {"FIELD_KIND_CHANGED"}),
    ("BACKWARD", ORDER, _proto("message Order { int32 id = 1; string item = 2; Other line = 3; }\n"
                               "message Line { int64 qty = 1; }\nmessage Other { int64 qty = 1; }"),
     {"FIELD_NAMED_TYPE_CHANGED"}),
    ("BACKWARD", ORDER, _proto("message Purchase { int32 id = 1; string item = 2; Line line = 3; }\n"
                               "message Line { int64 qty = 1; }"), {"MESSAGE_REMOVED"}),  # renamed
    ("BACKWARD", ORDER, _proto("message Order { int32 id = 1; string item = 2; Line line = 3; }\n"
                               "message Line { int64 qty = 1; }\nmessage Extra { int32 x = 1; }"), set()),
    ("FORWARD", ORDER, _proto("message Order { int32 id = 1; string item = 2; Line line = 3; }\n"
                              "message Line { int64 qty = 1; }\nmessage Extra { int32 x = 1; }"), {"MESSAGE_REMOVED"}),
]


@pytest.mark.parametrize(("level", "old", "new", "expected"), PROTO_CASES)
def test_protobuf_rules(shared: LogSchemaRegistry, level: str, old: Schema, new: Schema,
                        expected: set[str]) -> None:
    registry, subject = shared, _subject(shared, level)
    registry.register(subject, old)
    problems = registry.check(subject, new)
    assert _kinds(problems) == expected, problems
    if expected:
        with pytest.raises(RegistryError) as raised:
            registry.register(subject, new)
        assert raised.value.status == 409
    else:
        assert registry.register_version(subject, new).version == 2


def test_protobuf_required_fields_and_transitive(shared: LogSchemaRegistry) -> None:
    registry, subject = shared, _subject(shared, "BACKWARD_TRANSITIVE")
    v1 = Schema('syntax = "proto2";\nmessage M { required int32 a = 1; }\n', "PROTOBUF")
    registry.register(subject, v1)
    dropped = Schema('syntax = "proto2";\nmessage M { optional int32 b = 2; }\n', "PROTOBUF")
    assert _kinds(registry.check(subject, dropped)) == {"REQUIRED_FIELD_REMOVED"}
    registry.register(subject, Schema('syntax = "proto2";\nmessage M { required int32 a = 1; optional string s = 3; }\n',
                                        "PROTOBUF"))
    retyped = Schema('syntax = "proto2";\nmessage M { required int32 a = 1; optional double s = 3; }\n', "PROTOBUF")
    assert _kinds(registry.check(subject, retyped, None)) == {"FIELD_SCALAR_KIND_CHANGED"}


def test_an_invalid_protobuf_schema_is_rejected_with_42201(shared: LogSchemaRegistry) -> None:
    with pytest.raises(RegistryError) as raised:
        shared.register("bad-value", Schema("message M { int32 a = 1; Unknown b = 2; }", "PROTOBUF"))
    assert (raised.value.status, raised.value.error_code) == (422, 42201)


def _doc(body: dict[str, object]) -> Schema:
    return Schema(json.dumps(body), "JSON")


ADDRESS = {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": False}
TREE = {"type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array",
                                                                              "items": {"$ref": "#/definitions/node"}}}}
JSON_COMBINED_CASES = [
    # $ref to local definitions ($defs and definitions), followed on both sides
    ("BACKWARD", _doc({"type": "object", "properties": {"home": {"$ref": "#/$defs/address"}},
                       "$defs": {"address": ADDRESS}}),
     _doc({"type": "object", "properties": {"home": {"$ref": "#/$defs/address"}},
           "$defs": {"address": {**ADDRESS, "properties": {"city": {"type": "integer"}}}}}), {"TYPE_CHANGED"}),
    ("BACKWARD", _doc({"type": "object", "properties": {"home": {"$ref": "#/definitions/a"}},
                       "definitions": {"a": ADDRESS}}),
     _doc({"type": "object", "properties": {"home": ADDRESS}}), set()),  # inlined: the same schema
    ("BACKWARD", _doc({"$ref": "#/definitions/node", "definitions": {"node": TREE}}),
     _doc({"$ref": "#/definitions/node", "definitions": {"node": {**TREE, "properties": {
         **TREE["properties"], "v": {"type": "number"}}}}}), set()),  # recursive, widened
    ("FORWARD", _doc({"$ref": "#/definitions/node", "definitions": {"node": TREE}}),
     _doc({"$ref": "#/definitions/node", "definitions": {"node": {**TREE, "properties": {
         **TREE["properties"], "v": {"type": "number"}}}}}), {"TYPE_CHANGED"}),
    # oneOf / anyOf / allOf
    ("BACKWARD", _doc({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
     _doc({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}), set()),  # SUM_TYPE_EXTENDED
    ("BACKWARD", _doc({"oneOf": [{"type": "string"}, {"type": "integer"}]}), _doc({"oneOf": [{"type": "string"}]}),
     {"SUM_TYPE_NARROWED"}),
    ("BACKWARD", _doc({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
     _doc({"anyOf": [{"type": "string"}, {"type": "integer"}]}), set()),  # COMBINED_TYPE_EXTENDED
    ("BACKWARD", _doc({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
     _doc({"oneOf": [{"type": "string"}, {"type": "integer"}]}), {"COMBINED_TYPE_CHANGED"}),
    ("BACKWARD", _doc({"allOf": [{"type": "object"}, {"required": ["a"]}]}),
     _doc({"allOf": [{"type": "object"}, {"required": ["a"]}, {"required": ["b"]}]}), {"PRODUCT_TYPE_EXTENDED"}),
    ("BACKWARD", _doc({"allOf": [{"type": "object"}, {"required": ["a"]}, {"required": ["b"]}]}),
     _doc({"allOf": [{"type": "object"}, {"required": ["a"]}]}), set()),  # PRODUCT_TYPE_NARROWED
    ("BACKWARD", _doc({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
     _doc({"oneOf": [{"type": "boolean"}, {"type": "integer"}]}), {"COMBINED_TYPE_SUBSCHEMAS_CHANGED"}),
    ("BACKWARD", _doc({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
     _doc({"oneOf": [{"type": "integer"}, {"type": "string"}]}), set()),  # reordered: paired anyway
    ("BACKWARD", _doc({"type": "string"}), _doc({"oneOf": [{"type": "integer"}, {"type": "string"}]}), set()),
    ("BACKWARD", _doc({"type": "string"}), _doc({"anyOf": [{"type": "integer"}, {"type": "boolean"}]}),
     {"TYPE_CHANGED"}),
    ("FORWARD", _doc({"type": "string"}), _doc({"oneOf": [{"type": "integer"}, {"type": "string"}]}),
     {"TYPE_CHANGED"}),
    ("BACKWARD", _doc({"oneOf": [{"type": "string"}]}), _doc({"type": "string"}), set()),
]


@pytest.mark.parametrize(("level", "old", "new", "expected"), JSON_COMBINED_CASES)
def test_json_schema_refs_and_combinations(shared: LogSchemaRegistry, level: str, old: Schema, new: Schema,
                                           expected: set[str]) -> None:
    test_json_schema_rules(shared, level, old, new, expected)


PICK = _proto("message Pick { int32 id = 1; oneof choice { string name = 2; int64 code = 3; } string note = 4; "
              "int32 extra = 5; optional int32 maybe = 6; }")
COLOUR = _proto("enum Colour { RED = 0; GREEN = 1; }\nmessage Car { Colour colour = 1; }")
PROTO_ONEOF_ENUM_CASES = [
    ("BACKWARD", PICK, _proto("message Pick { int32 id = 1; oneof choice { string name = 2; int64 code = 3; "
                              "bool flag = 7; } string note = 4; int32 extra = 5; optional int32 maybe = 6; }"),
     set()),  # ONEOF_FIELD_ADDED
    ("BACKWARD", PICK, _proto("message Pick { int32 id = 1; oneof choice { string name = 2; } string note = 4; "
                              "int32 extra = 5; optional int32 maybe = 6; }"), {"ONEOF_FIELD_REMOVED"}),
    ("BACKWARD", PICK, _proto("message Pick { int32 id = 1; oneof choice { string name = 2; int64 code = 3; "
                              "string note = 4; } int32 extra = 5; optional int32 maybe = 6; }"),
     {"FIELD_MOVED_TO_EXISTING_ONEOF"}),
    ("BACKWARD", PICK, _proto("message Pick { int32 id = 1; oneof choice { string name = 2; int64 code = 3; } "
                              "oneof more { string note = 4; } int32 extra = 5; optional int32 maybe = 6; }"),
     set()),  # ONEOF_ADDED, one field moved into it
    ("BACKWARD", PICK, _proto("message Pick { int32 id = 1; oneof choice { string name = 2; int64 code = 3; } "
                              "oneof more { string note = 4; int32 extra = 5; } optional int32 maybe = 6; }"),
     {"MULTIPLE_FIELDS_MOVED_TO_ONEOF"}),
    ("BACKWARD", PICK, _proto("message Pick { int32 id = 1; string name = 2; int64 code = 3; string note = 4; "
                              "int32 extra = 5; optional int32 maybe = 6; }"), set()),  # ONEOF_REMOVED
    ("BACKWARD", PICK, _proto("message Pick { int32 id = 1; oneof choice { string name = 2; int64 code = 3; } "
                              "string note = 4; int32 extra = 5; int32 maybe = 6; }"), set()),  # not a real oneof
    ("FULL", COLOUR, _proto("enum Colour { RED = 0; GREEN = 1; BLUE = 2; }\nmessage Car { Colour colour = 1; }"),
     set()),  # ENUM_CONST_ADDED
    ("FULL", COLOUR, _proto("enum Colour { RED = 0; }\nmessage Car { Colour colour = 1; }"), set()),
    ("FULL", COLOUR, _proto("enum Colour { RED = 0; VERT = 1; }\nmessage Car { Colour colour = 1; }"), set()),
    ("BACKWARD", COLOUR, _proto("enum Colour { RED = 0; GREEN = 1; }\nenum Shade { DARK = 0; }\n"
                                "message Car { Shade colour = 1; }"), {"FIELD_NAMED_TYPE_CHANGED"}),
]


@pytest.mark.parametrize(("level", "old", "new", "expected"), PROTO_ONEOF_ENUM_CASES)
def test_protobuf_oneof_and_enum_rules(shared: LogSchemaRegistry, level: str, old: Schema, new: Schema,
                                       expected: set[str]) -> None:
    test_protobuf_rules(shared, level, old, new, expected)
