"""Random records from an Avro schema annotated with ``arg.properties``, as avro-random-generator does.

kafka-connect-datagen's ``schema.string`` and its quickstarts are Avro schemas
whose fields carry ``"arg.properties"``. This module understands the ones the
quickstarts use and users write:

- ``options``: a uniform pick from the list (a value listed twice is twice as
  likely); on a record, a pick of a whole record;
- ``iteration``: ``{"start", "step", "restart", "initial"}``, a counter driven
  by the record number (for a string field, the counter rendered as text);
- ``range``: ``{"min", "max"}``, min inclusive, max exclusive (numbers);
- ``regex``: a string matching the regular expression (via ``rstr``);
- ``length``: a number or ``{"min", "max"}`` for strings, bytes, arrays, maps
  (default 8..16 for strings, as the Java generator);
- ``prefix`` / ``suffix`` on strings, ``keys`` (the key's own properties) on
  maps, ``odds`` (of ``true``) on booleans.

A record is a pure function of (record number, random source): ``iteration``
fields read the record number, everything else draws from the
``random.Random`` handed in. That is what lets a datagen task resume after a
restart exactly where it stopped (see ``headwater.connect.datagen``).
"""

from __future__ import annotations

import json
import random
import string
from re import _parser as _regex_parser  # type: ignore[attr-defined]  # what rstr walks
from collections.abc import Callable, Mapping
from typing import Any

import rstr

from headwater.connect.data import ConnectSchema, Field
from headwater.errors import ConfigError

ARG = "arg.properties"
#: Characters of unconstrained strings (the Java generator uses random printable characters).
ALPHABET = string.ascii_letters + string.digits
DEFAULT_LENGTH = (8, 16)  # inclusive min, exclusive max, like the Java generator's default

Value = Any
FieldGenerator = Callable[[int, random.Random], Value]

_PRIMITIVE_CONNECT_TYPES = {
    "int": "int32", "long": "int64", "float": "float32", "double": "float64",
    "boolean": "boolean", "string": "string", "bytes": "bytes", "enum": "string", "fixed": "bytes",
}


class AvroSchemaError(ConfigError):
    """``schema.string`` is not an Avro schema this generator can use."""


def parse_schema(text: str) -> dict[str, Any]:
    """The Avro schema in ``text`` (JSON); it must describe a record, as datagen requires."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AvroSchemaError(f"datagen: schema.string is not JSON: {exc}") from None
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise AvroSchemaError('datagen: schema.string must be an Avro record schema ({"type": "record", ...})')
    return schema


def to_connect_schema(schema: Any, optional: bool = False) -> ConnectSchema:
    """The Connect schema of an Avro schema (unions with null become optional)."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        if len(branches) != 1:
            raise AvroSchemaError(f"datagen: only unions of null and one type are supported, got {schema}")
        return to_connect_schema(branches[0], optional=optional or len(branches) < len(schema))
    if isinstance(schema, str):
        schema = {"type": schema}
    kind = schema.get("type")
    if isinstance(kind, (list, dict)):
        return to_connect_schema(kind, optional)
    if kind in _PRIMITIVE_CONNECT_TYPES:
        return ConnectSchema(_PRIMITIVE_CONNECT_TYPES[kind], optional=optional)
    if kind == "record":
        fields = tuple(Field(f["name"], to_connect_schema(f["type"])) for f in schema.get("fields", ()))
        name = ".".join(p for p in (schema.get("namespace"), schema.get("name")) if p) or None
        return ConnectSchema("struct", optional=optional, name=name, fields=fields)
    if kind == "array":
        return ConnectSchema("array", optional=optional, value_schema=to_connect_schema(schema["items"]))
    if kind == "map":
        return ConnectSchema("map", optional=optional, key_schema=ConnectSchema("string"),
                             value_schema=to_connect_schema(schema["values"]))
    raise AvroSchemaError(f"datagen: unsupported Avro type {kind!r}")


class _Regex:
    """Strings matching a regular expression, parsed once (rstr's ``xeger`` parses on every call,
    which made regex fields five times slower than the rest)."""

    def __init__(self, pattern: str) -> None:
        try:
            self._parsed = _regex_parser.parse(pattern)
        except Exception as exc:  # re.error and friends
            raise AvroSchemaError(f"datagen: bad regex {pattern!r}: {exc}") from None
        self._xeger = rstr.Rstr()

    def __call__(self, rng: random.Random) -> str:
        xeger = self._xeger
        xeger._random = rng  # rstr draws from this attribute; one generator per task, so no sharing
        try:
            return str(xeger._build_string(self._parsed))
        finally:
            xeger._cache.clear()


def _length(props: Mapping[str, Any]) -> tuple[int, int]:
    length = props.get("length")
    if length is None:
        return DEFAULT_LENGTH
    if isinstance(length, int):
        return length, length + 1
    return int(length.get("min", 0)), int(length.get("max", length.get("min", 0) + 1))


def _iteration(spec: Mapping[str, Any], kind: str, prefix: str = "", suffix: str = "") -> FieldGenerator:
    start = spec.get("start", 0)
    step = spec.get("step", 1)
    restart = spec.get("restart")
    initial = spec.get("initial", start)
    if step == 0:
        raise AvroSchemaError("datagen: iteration step must not be 0")
    # The counter goes initial, initial+step, ...; past restart it wraps back to start.
    if restart is not None and (restart - start) / step <= 0:
        raise AvroSchemaError(f"datagen: iteration restart {restart} cannot be reached from {start} by {step}")

    def value(n: int, _rng: random.Random) -> Value:
        current = initial + n * step
        if restart is not None and ((step > 0 and current >= restart) or (step < 0 and current <= restart)):
            span = restart - start
            current = start + (current - start) % span
        if kind == "int":
            return int(current)
        if kind == "long":
            return int(current)
        if kind in ("float", "double"):
            return float(current)
        if kind == "string":
            return f"{prefix}{current}{suffix}"
        if kind == "boolean":
            return int(current) % 2 == 0
        raise AvroSchemaError(f"datagen: iteration is not supported on {kind}")

    return value


def _range(spec: Mapping[str, Any], kind: str) -> FieldGenerator:
    low, high = spec.get("min"), spec.get("max")
    if kind in ("int", "long"):
        lo = int(low) if low is not None else (-(2**31) if kind == "int" else -(2**63))
        hi = int(high) if high is not None else (2**31 if kind == "int" else 2**63)
        if hi <= lo:
            raise AvroSchemaError(f"datagen: range min {lo} must be below max {hi}")
        return lambda _n, rng: rng.randrange(lo, hi)
    flo = float(low) if low is not None else 0.0
    fhi = float(high) if high is not None else 1.0
    return lambda _n, rng: flo + rng.random() * (fhi - flo)


def compile_generator(schema: Any, named: dict[str, Any] | None = None) -> FieldGenerator:
    """A function (record number, rng) -> value for ``schema``."""
    named = {} if named is None else named
    if isinstance(schema, list):
        branches = [compile_generator(b, named) for b in schema]
        return lambda n, rng: rng.choice(branches)(n, rng)
    if isinstance(schema, str):
        if schema in named:
            return compile_generator(named[schema], named)
        schema = {"type": schema}
    kind = schema.get("type")
    props: Mapping[str, Any] = schema.get(ARG) or {}
    if isinstance(kind, (list, dict)):
        inner = compile_generator(kind, named)
        if "options" in props:
            choices = list(props["options"])
            return lambda _n, rng: rng.choice(choices)
        return inner
    if "options" in props:
        options = list(props["options"])
        if not options:
            raise AvroSchemaError("datagen: options must not be empty")
        return lambda _n, rng: rng.choice(options)
    if "iteration" in props:
        return _iteration(props["iteration"], kind, str(props.get("prefix", "")), str(props.get("suffix", "")))
    if kind == "null":
        return lambda _n, _rng: None
    if kind == "record":
        if "name" in schema:
            named[schema["name"]] = schema
        fields = [(f["name"], compile_generator(f["type"], named)) for f in schema.get("fields", ())]
        return lambda n, rng: {name: gen(n, rng) for name, gen in fields}
    if kind == "enum":
        symbols = list(schema["symbols"])
        return lambda _n, rng: rng.choice(symbols)
    if kind in ("int", "long", "float", "double"):
        if "range" in props:
            return _range(props["range"], kind)
        if kind == "int":
            return lambda _n, rng: rng.randrange(-(2**31), 2**31)
        if kind == "long":
            return lambda _n, rng: rng.randrange(-(2**63), 2**63)
        return lambda _n, rng: rng.random()
    if kind == "boolean":
        odds = float(props.get("odds", 0.5))
        return lambda _n, rng: rng.random() < odds
    if kind == "string":
        prefix, suffix = str(props.get("prefix", "")), str(props.get("suffix", ""))
        if "regex" in props:
            regex = _Regex(str(props["regex"]))
            return lambda _n, rng: prefix + regex(rng) + suffix
        lo, hi = _length(props)
        return lambda _n, rng: prefix + "".join(rng.choices(ALPHABET, k=rng.randrange(lo, hi))) + suffix
    if kind in ("bytes", "fixed"):
        lo, hi = (schema["size"], schema["size"] + 1) if kind == "fixed" else _length(props)
        return lambda _n, rng: rng.randbytes(rng.randrange(lo, hi))
    if kind == "array":
        item = compile_generator(schema["items"], named)
        lo, hi = _length(props)
        return lambda n, rng: [item(n, rng) for _ in range(rng.randrange(lo, hi))]
    if kind == "map":
        values = compile_generator(schema["values"], named)
        keys = compile_generator({"type": "string", ARG: props.get("keys", {})}, named)
        lo, hi = _length(props)
        return lambda n, rng: {keys(n, rng): values(n, rng) for _ in range(rng.randrange(lo, hi))}
    raise AvroSchemaError(f"datagen: unsupported Avro type {kind!r}")
