"""Protobuf schemas for the PROTOBUF formats: ``.proto`` text to message descriptors, SQL columns to
``.proto`` text as ksqlDB writes it, and descriptors back to SQL types (schema inference).

``.proto`` text is parsed by ``proto-schema-parser`` into a ``FileDescriptorProto`` (type names left for
the descriptor pool to resolve with protobuf's scoping rules) and built in a pool of its own, beside the
well-known ``google/protobuf/*.proto`` files it may import and the schemas its registry references name.
Columns map as ksqlDB's PROTOBUF serializer maps them: INT int32, BIGINT int64, DOUBLE double, BOOLEAN
bool, STRING string, BYTES bytes, TIMESTAMP ``google.protobuf.Timestamp``, DATE ``google.type.Date``, TIME
``google.type.TimeOfDay``, DECIMAL ``confluent.type.Decimal`` (unscaled big-endian two's-complement bytes,
its precision and scale in the field's ``confluent.field_meta`` params, as Confluent's ProtobufData writes
them), ARRAY repeated, MAP<STRING,V> map, STRUCT a nested message; the message is ``ConnectDefault1`` unless
a full name is given. The Confluent and ``google/type`` imports are built in.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from confluent_kafka.schema_registry.confluent import meta_pb2
from confluent_kafka.schema_registry.confluent.type import decimal_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from proto_schema_parser import ast as proto_ast
from proto_schema_parser.parser import Parser

from headwater.errors import FormatError, SqlError
from headwater.sql.types import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DATE,
    DOUBLE,
    INTEGER,
    STRING,
    TIME,
    TIMESTAMP,
    ArrayType,
    BaseType,
    DecimalType,
    MapType,
    SqlType,
    StructField,
    StructType,
)

WELL_KNOWN = {m.DESCRIPTOR.name: m.DESCRIPTOR for m in (any_pb2, descriptor_pb2, duration_pb2, empty_pb2, struct_pb2,
                                                        timestamp_pb2, wrappers_pb2, meta_pb2, decimal_pb2)}
# google/type's files as googleapis publishes them (the messages only); not a dependency of their own here.
BUILT_IN_TEXT = {
    "google/type/date.proto": 'syntax = "proto3";\npackage google.type;\n'
                              "message Date { int32 year = 1; int32 month = 2; int32 day = 3; }\n",
    "google/type/timeofday.proto": 'syntax = "proto3";\npackage google.type;\n'
                                   "message TimeOfDay { int32 hours = 1; int32 minutes = 2; int32 seconds = 3; "
                                   "int32 nanos = 4; }\n",
}
DECIMAL_MESSAGE, DATE_MESSAGE, TIME_MESSAGE = "confluent.type.Decimal", "google.type.Date", "google.type.TimeOfDay"
TIMESTAMP_MESSAGE = "google.protobuf.Timestamp"
_IMPORTS = {BaseType.TIMESTAMP: "google/protobuf/timestamp.proto", BaseType.DATE: "google/type/date.proto",
            BaseType.TIME: "google/type/timeofday.proto", BaseType.DECIMAL: "confluent/type/decimal.proto"}
_META_OPTION = "(confluent.field_meta)"
_SCALARS = {
    "double": FieldDescriptor.TYPE_DOUBLE, "float": FieldDescriptor.TYPE_FLOAT, "int64": FieldDescriptor.TYPE_INT64,
    "uint64": FieldDescriptor.TYPE_UINT64, "int32": FieldDescriptor.TYPE_INT32, "fixed64": FieldDescriptor.TYPE_FIXED64,
    "fixed32": FieldDescriptor.TYPE_FIXED32, "bool": FieldDescriptor.TYPE_BOOL, "string": FieldDescriptor.TYPE_STRING,
    "bytes": FieldDescriptor.TYPE_BYTES, "uint32": FieldDescriptor.TYPE_UINT32,
    "sfixed32": FieldDescriptor.TYPE_SFIXED32, "sfixed64": FieldDescriptor.TYPE_SFIXED64,
    "sint32": FieldDescriptor.TYPE_SINT32, "sint64": FieldDescriptor.TYPE_SINT64,
}
_LABELS = {proto_ast.FieldCardinality.REPEATED: FieldDescriptor.LABEL_REPEATED,
           proto_ast.FieldCardinality.REQUIRED: FieldDescriptor.LABEL_REQUIRED}
_files = itertools.count()


def _field(message: descriptor_pb2.DescriptorProto, name: str, number: int, type_name: str,
           label: int = FieldDescriptor.LABEL_OPTIONAL, proto3_optional: bool = False,
           options: Sequence[proto_ast.Option] = ()) -> None:
    # json_name as the field is named: protobuf's default camel-cases it, and two columns such as TIME and
    # _TIME would then clash in the pool though nothing here uses the JSON mapping.
    field = message.field.add(name=name, number=number, label=label, json_name=name)
    if type_name in _SCALARS:
        field.type = _SCALARS[type_name]
    else:
        field.type_name = type_name
    if proto3_optional:
        field.proto3_optional = True
    for option in options:
        if option.name == _META_OPTION and isinstance(option.value, proto_ast.MessageLiteral):
            params = field.options.Extensions[meta_pb2.field_meta].params
            for element in option.value.elements:
                if element.name != "params":
                    continue
                for param in element.value if isinstance(element.value, list) else [element.value]:
                    pairs = {e.name: e.value for e in getattr(param, "elements", ())}
                    if "key" in pairs and "value" in pairs:
                        params[str(pairs["key"])] = str(pairs["value"])


def _message(node: proto_ast.Message, out: descriptor_pb2.DescriptorProto) -> None:
    out.name = node.name
    synthetic: list[int] = []  # fields declared ``optional``: their oneofs go after the real ones, as protoc puts them
    for element in node.elements:
        if isinstance(element, proto_ast.Field):
            label = _LABELS.get(element.cardinality, FieldDescriptor.LABEL_OPTIONAL)  # type: ignore[arg-type]
            optional = element.cardinality is proto_ast.FieldCardinality.OPTIONAL
            _field(out, element.name, element.number, element.type, label, optional, element.options)
            if optional:
                synthetic.append(len(out.field) - 1)
        elif isinstance(element, proto_ast.MapField):
            entry = out.nested_type.add(name="".join(p.capitalize() for p in element.name.split("_")) + "Entry")
            entry.options.map_entry = True
            _field(entry, "key", 1, element.key_type)
            _field(entry, "value", 2, element.value_type)
            _field(out, element.name, element.number, entry.name, FieldDescriptor.LABEL_REPEATED,
                   options=element.options)
        elif isinstance(element, proto_ast.Message):
            _message(element, out.nested_type.add())
        elif isinstance(element, proto_ast.Enum):
            _enum(element, out.enum_type.add())
        elif isinstance(element, proto_ast.OneOf):
            index = len(out.oneof_decl)
            out.oneof_decl.add(name=element.name)
            for inner in element.elements:
                if isinstance(inner, proto_ast.Field):
                    _field(out, inner.name, inner.number, inner.type, options=inner.options)
                    out.field[-1].oneof_index = index
    for position in synthetic:
        out.oneof_decl.add(name=f"_{out.field[position].name}")
        out.field[position].oneof_index = len(out.oneof_decl) - 1


def _enum(node: proto_ast.Enum, out: descriptor_pb2.EnumDescriptorProto) -> None:
    out.name = node.name
    for element in node.elements:
        if isinstance(element, proto_ast.EnumValue):
            out.value.add(name=element.name, number=element.number)


def file_descriptor(text: str, name: str) -> descriptor_pb2.FileDescriptorProto:
    """The ``FileDescriptorProto`` of ``.proto`` text (FormatError when it does not parse)."""
    try:
        parsed = Parser().parse(text)
    except Exception as exc:  # noqa: BLE001 - the parser raises its own and ANTLR's errors
        raise FormatError(f"Protobuf schema does not parse: {exc}") from None
    out = descriptor_pb2.FileDescriptorProto(name=name, syntax=parsed.syntax or "proto2")
    for element in parsed.file_elements:
        if isinstance(element, proto_ast.Package):
            out.package = element.name
        elif isinstance(element, proto_ast.Import):
            out.dependency.append(element.name)
        elif isinstance(element, proto_ast.Message):
            _message(element, out.message_type.add())
        elif isinstance(element, proto_ast.Enum):
            _enum(element, out.enum_type.add())
    return out


def build(text: str, resolve: Callable[[str], str | None] = lambda _: None) -> list[Descriptor]:
    """The top-level message descriptors of ``.proto`` text; ``resolve(import)`` gives an import's text."""
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add_known(name: str) -> None:
        known = WELL_KNOWN[name]
        for dependency in known.dependencies:
            if dependency.name not in added:
                added.add(dependency.name)
                add_known(dependency.name)
        pool.AddSerializedFile(known.serialized_pb)

    def add(source: str, name: str) -> None:
        proto = file_descriptor(source, name)
        for dependency in proto.dependency:
            if dependency in added:
                continue
            added.add(dependency)
            if dependency in WELL_KNOWN:
                add_known(dependency)
                continue
            found = BUILT_IN_TEXT.get(dependency) or resolve(dependency)
            if found is None:
                raise FormatError(f"Protobuf schema imports {dependency!r}, which is not a well-known type "
                                  "nor a registry reference")
            add(found, dependency)
        try:
            pool.Add(proto)
        except (TypeError, ValueError, KeyError) as exc:
            raise FormatError(f"Protobuf schema is not valid: {exc}") from None

    name = f"headwater_{next(_files)}.proto"
    add(text, name)
    try:
        built = pool.FindFileByName(name)
    except KeyError as exc:
        raise FormatError(f"Protobuf schema is not valid: {exc}") from None
    if not built.message_types_by_name:
        raise FormatError("Protobuf schema defines no message")
    return list(built.message_types_by_name.values())


def message_for(messages: Sequence[Descriptor], full_name: str | None) -> tuple[Descriptor, list[int]]:
    """The message a format reads and writes (the first, or the one named) and its Confluent index path."""
    if full_name is None:
        return messages[0], [0]
    for i, message in enumerate(messages):
        if full_name in (message.full_name, message.name):
            return message, [i]
        for j, nested in enumerate(message.nested_types):
            if full_name in (nested.full_name, f"{message.name}.{nested.name}"):
                return nested, [i, j]
    raise FormatError(f"Protobuf schema has no message {full_name!r}")


def _options(sql_type: SqlType) -> str:
    """The field options ksqlDB writes for a type: a DECIMAL's precision and scale."""
    inner = sql_type.element if isinstance(sql_type, ArrayType) else (
        sql_type.value if isinstance(sql_type, MapType) else sql_type)
    if not isinstance(inner, DecimalType):
        return ""
    return (f' [({_META_OPTION[1:-1]}) = {{ params: [{{ key: "precision", value: "{inner.precision}" }}, '
            f'{{ key: "scale", value: "{inner.scale}" }}] }}]')


def _proto_type(sql_type: SqlType, name: str, nested: list[str]) -> str:
    base = sql_type.base
    simple = {BaseType.INTEGER: "int32", BaseType.BIGINT: "int64", BaseType.DOUBLE: "double",
              BaseType.BOOLEAN: "bool", BaseType.STRING: "string", BaseType.BYTES: "bytes",
              BaseType.TIMESTAMP: TIMESTAMP_MESSAGE, BaseType.DATE: DATE_MESSAGE, BaseType.TIME: TIME_MESSAGE,
              BaseType.DECIMAL: DECIMAL_MESSAGE}.get(base)
    if simple is not None:
        return simple
    if isinstance(sql_type, StructType):
        nested.append(message_text(name, [(f.name, f.type) for f in sql_type.fields]))
        return name
    raise FormatError(f"The PROTOBUF format cannot carry the type {sql_type.sql()}")


def message_text(name: str, columns: Sequence[tuple[str, SqlType]]) -> str:
    """A proto3 message for columns, as ksqlDB's serializer names and numbers them."""
    lines, nested = [], []
    for number, (column, sql_type) in enumerate(columns, start=1):
        if isinstance(sql_type, ArrayType):
            lines.append(f"  repeated {_proto_type(sql_type.element, f'ConnectDefault{number + 1}', nested)} "
                         f"{column} = {number}{_options(sql_type)};")
        elif isinstance(sql_type, MapType):
            if sql_type.key.base is not BaseType.STRING:
                raise FormatError(f"The PROTOBUF format only supports MAP types with STRING keys: {sql_type.sql()}")
            value = _proto_type(sql_type.value, f"ConnectDefault{number + 1}", nested)
            lines.append(f"  map<string, {value}> {column} = {number}{_options(sql_type)};")
        else:
            lines.append(f"  {_proto_type(sql_type, f'ConnectDefault{number + 1}', nested)} {column} = {number}"
                         f"{_options(sql_type)};")
    body = "\n".join(lines + ["  " + n.replace("\n", "\n  ") for n in nested])
    return f"message {name} {{\n{body}\n}}"


def proto_text(columns: Sequence[tuple[str, SqlType]], full_name: str | None) -> str:
    """The ``.proto`` file ksqlDB registers for these columns."""
    package, _, name = (full_name or "ConnectDefault1").rpartition(".")
    used: set[BaseType] = set()
    for _, sql_type in columns:
        _bases(sql_type, used)
    head = ['syntax = "proto3";'] + ([f"package {package};"] if package else [])
    if BaseType.DECIMAL in used:
        head.append('import "confluent/meta.proto";')
    head += [f'import "{path}";' for base, path in _IMPORTS.items() if base in used]
    return "\n".join(head) + "\n\n" + message_text(name, columns) + "\n"


def _bases(sql_type: SqlType, out: set[BaseType]) -> None:
    out.add(sql_type.base)
    if isinstance(sql_type, ArrayType):
        _bases(sql_type.element, out)
    elif isinstance(sql_type, MapType):
        _bases(sql_type.key, out)
        _bases(sql_type.value, out)
    elif isinstance(sql_type, StructType):
        for field in sql_type.fields:
            _bases(field.type, out)


def repeated(field: FieldDescriptor) -> bool:
    """Whether a field is repeated (protobuf 6 and later say ``is_repeated``, earlier ones ``label``)."""
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else field.label == FieldDescriptor.LABEL_REPEATED


def sql_type_of(field: FieldDescriptor) -> SqlType:
    """The SQL type of a field (FormatError when it has none)."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        return MapType(_single(key), _single(value, field))
    single = _single(field)
    return ArrayType(single) if repeated(field) else single


def decimal_type(field: FieldDescriptor) -> DecimalType:
    """A Decimal field's type from its ``confluent.field_meta`` params (ksqlDB's default precision 64, scale 0)."""
    params = field.GetOptions().Extensions[meta_pb2.field_meta].params
    try:
        precision, scale = int(params.get("precision", "64")), int(params.get("scale", "0"))
        return DecimalType(precision, scale)
    except (ValueError, SqlError) as exc:
        raise FormatError(f"Protobuf field {field.name!r} has an invalid decimal precision or scale: {exc}") from None


def _single(field: FieldDescriptor, holder: FieldDescriptor | None = None) -> SqlType:
    kind = field.type
    if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32,
                FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return INTEGER if kind != FieldDescriptor.TYPE_UINT32 and kind != FieldDescriptor.TYPE_FIXED32 else BIGINT
    if kind in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64,
                FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return BIGINT
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return DOUBLE
    if kind == FieldDescriptor.TYPE_BOOL:
        return BOOLEAN
    if kind in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_ENUM):
        return STRING
    if kind == FieldDescriptor.TYPE_BYTES:
        return BYTES
    message = field.message_type
    simple = {TIMESTAMP_MESSAGE: TIMESTAMP, DATE_MESSAGE: DATE, TIME_MESSAGE: TIME}.get(message.full_name)
    if simple is not None:
        return simple
    if message.full_name == DECIMAL_MESSAGE:
        return decimal_type(holder or field)
    return StructType(tuple(StructField(f.name.upper(), sql_type_of(f)) for f in message.fields))


def columns_of(message: Descriptor) -> list[tuple[str, SqlType]]:
    return [(f.name.upper(), sql_type_of(f)) for f in message.fields]


def to_python(message: Any, descriptor: Descriptor | None = None) -> dict[str, Any]:
    """A message as a dict by field name (unset messages None, scalars their proto3 defaults, enums names)."""
    return _converter(descriptor or message.DESCRIPTOR)(message)


@functools.lru_cache(maxsize=512)
def _converter(descriptor: Descriptor) -> Callable[[Any], dict[str, Any]]:
    """:func:`to_python` for one message type, its per-field choices made once: plain scalars are read by
    one ``attrgetter`` call, the other fields by a function each."""
    plain_names: list[str] = []
    others: list[tuple[str, Callable[[Any], Any]]] = []
    for field in descriptor.fields:
        if field.message_type is None and field.type != FieldDescriptor.TYPE_ENUM and not repeated(field):
            plain_names.append(field.name)
        else:
            others.append((field.name, _field_reader(field)))
    names = tuple(plain_names)
    getter = operator.attrgetter(*names) if names else None

    def convert(message: Any) -> dict[str, Any]:
        if getter is None:
            out: dict[str, Any] = {}
        elif len(names) == 1:
            out = {names[0]: getter(message)}
        else:
            out = dict(zip(names, getter(message), strict=True))
        for name, read in others:
            out[name] = read(message)
        return out

    order = [f.name for f in descriptor.fields]
    if others and plain_names:  # keep the fields in declaration order, as callers may list them
        def ordered(message: Any) -> dict[str, Any]:
            values = convert(message)
            return {name: values[name] for name in order}

        return ordered
    return convert


def _field_reader(field: FieldDescriptor) -> Callable[[Any], Any]:
    name = field.name
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        inner = field.message_type.fields_by_name["value"]
        return lambda message: {k: _plain(inner, v) for k, v in getattr(message, name).items()}
    if repeated(field):
        return lambda message: [_plain(field, v) for v in getattr(message, name)]
    if field.message_type is not None:
        return lambda message: _plain(field, getattr(message, name)) if message.HasField(name) else None
    return lambda message: _plain(field, getattr(message, name))


def _plain(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        found = field.enum_type.values_by_number.get(value)
        return found.name if found is not None else str(value)
    if field.message_type is not None:
        kind = field.message_type.full_name
        if kind == TIMESTAMP_MESSAGE:
            return value.seconds * 1000 + value.nanos // 1_000_000
        if kind == DATE_MESSAGE:
            return dt.date(value.year, value.month, value.day)
        if kind == TIME_MESSAGE:
            return dt.time(value.hours, value.minutes, value.seconds, value.nanos // 1000)
        if kind == DECIMAL_MESSAGE:
            unscaled = int.from_bytes(value.value, "big", signed=True)
            return decimal.Decimal(unscaled).scaleb(-value.scale)
        return to_python(value)
    return value
