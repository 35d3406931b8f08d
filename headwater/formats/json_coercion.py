"""ksqlDB's JSON reading rules for one record: the exact path for the rows the fast path flags.

This mirrors ksqlDB's ``KsqlJsonDeserializer`` (Jackson tree, then a coercion
per SQL type): field names match case-insensitively (a field spelled exactly
as the column wins, then any spelling whose upper-case equals the column
name); numbers in strings are coerced with Java's parsers; numbers to INT and
BIGINT truncate; any value to STRING gives its text; anything else is an
error naming the Jackson node type and the path, e.g. ``Can't convert type.
sourceType: BooleanNode, requiredType: INTEGER, path: $.STATUS``.

The vectorized decoder in :mod:`headwater.formats.json` sends only the rows
it cannot vouch for here, so this per-record Python code is off the hot path.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from headwater.formats import java
from headwater.sql.types import (
    ArrayType,
    BaseType,
    DecimalType,
    MapType,
    SqlType,
    StructType,
)


class JsonFailure(Exception):
    """A record that cannot be read; ``str()`` is ksqlDB's reason text (without the topic prefix)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)
_LITERALS = ("null", "true", "false")


def parse(raw: bytes) -> Any:
    """Parse like Jackson's ``readTree``: leading whitespace skipped, trailing content ignored.

    Floats become :class:`Decimal` (ksqlDB reads them as BigDecimal). Empty
    input reads as null.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonFailure(f"Invalid UTF-8 start byte 0x{raw[exc.start]:02x}") from None
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        return None
    try:
        value, _ = _DECODER.raw_decode(stripped)
    except ValueError as exc:
        raise JsonFailure(_jackson_message(stripped, exc)) from None
    return value


def _jackson_message(text: str, exc: ValueError) -> str:
    position = getattr(exc, "pos", 0) or 0
    if position >= len(text):
        kind = "Object" if text.startswith("{") else "Array" if text.startswith("[") else "value"
        return f"Unexpected end-of-input: expected close marker for {kind}"
    char = text[position]
    if char.isalpha() or char in "+-'":
        token = ""
        for c in text[position:]:
            if c.isspace() or c in ",:]}\"":
                break
            token += c
        if token not in _LITERALS:
            return (
                f"Unrecognized token '{token}': was expecting (JSON String, Number, Array, Object "
                "or token 'null', 'true' or 'false')"
            )
    return f"Unexpected character ('{char}' (code {ord(char)})): {exc.args[0].split(':')[0]}"


def node_name(value: Any) -> str:
    """The Jackson node class ksqlDB names in errors for a parsed value."""
    if value is None:
        return "NullNode"
    if isinstance(value, bool):
        return "BooleanNode"
    if isinstance(value, int):
        if java.INT_MIN <= value <= java.INT_MAX:
            return "IntNode"
        return "LongNode" if java.LONG_MIN <= value <= java.LONG_MAX else "BigIntegerNode"
    if isinstance(value, Decimal):
        return "DecimalNode"
    if isinstance(value, str):
        return "TextNode"
    if isinstance(value, list):
        return "ArrayNode"
    return "ObjectNode"


class _Coercion(Exception):
    def __init__(self, message: str, path: str) -> None:
        super().__init__(f"{message}, path: {path}")


def _mismatch(value: Any, required: str) -> str:
    return f"Can't convert type. sourceType: {node_name(value)}, requiredType: {required}"


def _bad_string(required: str) -> str:
    return f"Can't coerce string to type. targetType: {required}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def _integral(value: Any, sql_type: SqlType, path: str, *, long: bool) -> int:
    if _is_number(value):
        return java.number_to_long(value) if long else java.number_to_int(value)
    if isinstance(value, str):
        try:
            return java.parse_long(value) if long else java.parse_int(value)
        except ValueError:
            raise _Coercion(_bad_string(sql_type.base.value), path) from None
    raise _Coercion(_mismatch(value, sql_type.base.value), path)


def coerce(value: Any, sql_type: SqlType, path: str = "$") -> Any:
    """The Python value (as ``pa.array`` takes it) of a parsed JSON value for ``sql_type``."""
    if value is None:
        return None
    base = sql_type.base
    if base in (BaseType.INTEGER, BaseType.DATE, BaseType.TIME):
        return _integral(value, sql_type, path, long=False)
    if base in (BaseType.BIGINT, BaseType.TIMESTAMP):
        return _integral(value, sql_type, path, long=True)
    if base is BaseType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            if value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise _Coercion(_bad_string("BOOLEAN"), path)
        raise _Coercion(_mismatch(value, "BOOLEAN"), path)
    if base is BaseType.DOUBLE:
        if _is_number(value):
            return float(value)
        if isinstance(value, str):
            try:
                return java.parse_double(value)
            except ValueError:
                raise _Coercion(_bad_string("DOUBLE"), path) from None
        raise _Coercion(_mismatch(value, "DOUBLE"), path)
    if base is BaseType.STRING:
        return _text(value)
    if isinstance(sql_type, DecimalType):
        if _is_number(value) or isinstance(value, str):
            try:
                number = value if _is_number(value) else java.parse_decimal(value)
            except ValueError:
                raise _Coercion(_bad_string("DECIMAL"), path) from None
            try:
                return java.fit_decimal(Decimal(number), sql_type.precision, sql_type.scale)
            except ValueError as exc:
                raise _Coercion(str(exc), path) from None
        raise _Coercion(_mismatch(value, "DECIMAL"), path)
    if base is BaseType.BYTES:
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise _Coercion("Value is not a valid Base64 encoded string", path) from None
        raise _Coercion(_mismatch(value, "BYTES"), path)
    if isinstance(sql_type, ArrayType):
        if not isinstance(value, list):
            raise _Coercion(_mismatch(value, "ARRAY"), path)
        return [coerce(item, sql_type.element, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(sql_type, MapType):
        if not isinstance(value, dict):
            raise _Coercion(_mismatch(value, "MAP"), path)
        return [(key, coerce(item, sql_type.value, f"{path}.{key}")) for key, item in value.items()]
    if isinstance(sql_type, StructType):
        if not isinstance(value, dict):
            raise _Coercion(_mismatch(value, "STRUCT"), path)
        return {f.name: coerce(field_value(value, f.name), f.type, f"{path}.{f.name}") for f in sql_type.fields}
    raise _Coercion(f"Type is not supported: {sql_type.sql()}", path)


def field_value(obj: dict[str, Any], name: str) -> Any:
    """ksqlDB's case-insensitive field lookup: the exact spelling, else the last key whose upper-case is ``name``."""
    if name in obj:
        return obj[name]
    found = None
    for key, item in obj.items():
        if key.upper() == name:
            found = item
    return found


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join("null" if item is None else _text(item) for item in value) + "]"
    if isinstance(value, dict):
        return _json_text(value)
    return str(value)


def _json_text(value: Any) -> str:
    """Compact JSON as Jackson writes it; decimals as their BigDecimal text."""
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _json_text(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def record_values(value: Any, columns: list[tuple[str, SqlType]], wrapped: bool) -> tuple[Any, ...] | None:
    """The values of ``columns`` in a parsed record, or None for a null record; raises :class:`JsonFailure`.

    ``wrapped``: the record is an object holding the columns as fields; else it
    is the anonymous value of the one column.
    """
    if value is None:
        return None
    try:
        if not wrapped:
            return tuple(coerce(value, sql_type, "$") for _, sql_type in columns)
        if not isinstance(value, dict):
            raise _Coercion(_mismatch(value, "STRUCT"), "$")
        return tuple(coerce(field_value(value, name), sql_type, f"$.{name}") for name, sql_type in columns)
    except _Coercion as exc:
        raise JsonFailure(str(exc)) from None
