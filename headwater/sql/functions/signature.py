"""Parameter types of function signatures, written as text and matched against argument types.

A signature is written the way DESCRIBE FUNCTION shows it, one parameter per
comma: ``"str STRING, pos INT, len INT"``. Besides SQL types a parameter type
may be

- a generic: a single capital letter (``T``), optionally followed by digits
  (``K2``), bound by the first argument that fills it;
- ``DECIMAL`` without precision: any decimal;
- ``STRUCT`` without fields: any struct; ``ANY``: any type, never bound;
- ``INTERVALUNIT``: a bare time unit (``DAYS``);
- ``LAMBDA(T, S) => S``: a lambda with those parameter types and result type;
- ``ARRAY<...>`` and ``MAP<..., ...>`` of any of these.

A trailing ``...`` makes the last parameter variadic (zero or more arguments).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from headwater.errors import SqlError
from headwater.sql import types as ty
from headwater.sql.types import SqlType
from headwater.sql.typing import NUMERIC_RANK, implicitly_converts, to_decimal, widen


@dataclass(frozen=True)
class Generic:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class AnyOf:
    """A class of types: ``DECIMAL`` (any decimal), ``STRUCT`` (any struct) or ``ANY``."""

    kind: str

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True)
class IntervalUnit:
    def __str__(self) -> str:
        return "INTERVALUNIT"


@dataclass(frozen=True)
class ArrayOf:
    element: ParamType

    def __str__(self) -> str:
        return f"ARRAY<{self.element}>"


@dataclass(frozen=True)
class MapOf:
    key: ParamType
    value: ParamType

    def __str__(self) -> str:
        return f"MAP<{self.key}, {self.value}>"


@dataclass(frozen=True)
class LambdaOf:
    params: tuple[ParamType, ...]
    result: ParamType

    def __str__(self) -> str:
        return f"LAMBDA<{', '.join(str(p) for p in self.params)}, {self.result}>"


@dataclass(frozen=True)
class Concrete:
    type: SqlType

    def __str__(self) -> str:
        return type_name(self.type)


ParamType = Generic | AnyOf | IntervalUnit | ArrayOf | MapOf | LambdaOf | Concrete


@dataclass(frozen=True)
class LambdaShape:
    """What is known of a lambda argument before its variant is chosen: its parameter count."""

    arity: int

    def __str__(self) -> str:
        return "LAMBDA"


#: The shape of a bare time unit argument (``DAYS``).
UNIT = IntervalUnit()

#: An argument as variants are chosen by: its type (None for NULL), a lambda, or a time unit.
ArgShape = SqlType | None | LambdaShape | IntervalUnit


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    variadic: bool = False
    description: str = ""

    def __str__(self) -> str:
        return f"{self.type}{'[]' if self.variadic else ''} {self.name}"


def type_name(t: SqlType | None) -> str:
    """A type as ksqlDB names it in function signatures and errors (STRING is VARCHAR there)."""
    if t is None:
        return "NULL"
    if t == ty.STRING:
        return "VARCHAR"
    if isinstance(t, ty.ArrayType):
        return f"ARRAY<{type_name(t.element)}>"
    if isinstance(t, ty.MapType):
        return f"MAP<{type_name(t.key)}, {type_name(t.value)}>"
    if isinstance(t, ty.StructType):
        return "STRUCT<" + ", ".join(f"{f.name} {type_name(f.type)}" for f in t.fields) + ">"
    return t.sql()


# --- parsing ------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(=>|\.\.\.|[A-Za-z_][A-Za-z0-9_]*|[<>(),])")
_GENERIC = re.compile(r"[A-Z][0-9]*\Z")
_NAMED = {
    "BOOLEAN": ty.BOOLEAN, "INT": ty.INTEGER, "INTEGER": ty.INTEGER, "BIGINT": ty.BIGINT,
    "DOUBLE": ty.DOUBLE, "STRING": ty.STRING, "VARCHAR": ty.STRING, "BYTES": ty.BYTES,
    "DATE": ty.DATE, "TIME": ty.TIME, "TIMESTAMP": ty.TIMESTAMP,
}


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text.rstrip()):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise SqlError(f"functions: bad signature {text!r} at {pos}")
            self.tokens.append(match.group(1))
            pos = match.end()
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok.upper() != expected):
            raise SqlError(f"functions: bad signature {self.text!r}: expected {expected or 'more'}, got {tok}")
        self.i += 1
        return tok

    def param_type(self) -> ParamType:
        word = self.take()
        upper = word.upper()
        if upper == "ARRAY":
            self.take("<")
            element = self.param_type()
            self.take(">")
            return ArrayOf(element)
        if upper == "MAP":
            self.take("<")
            key = self.param_type()
            self.take(",")
            value = self.param_type()
            self.take(">")
            return MapOf(key, value)
        if upper == "LAMBDA":
            self.take("(")
            params = [self.param_type()]
            while self.peek() == ",":
                self.take(",")
                params.append(self.param_type())
            self.take(")")
            self.take("=>")
            return LambdaOf(tuple(params), self.param_type())
        if upper in ("DECIMAL", "STRUCT", "ANY"):
            return AnyOf(upper)
        if upper == "INTERVALUNIT":
            return IntervalUnit()
        if upper in _NAMED:
            return Concrete(_NAMED[upper])
        if _GENERIC.match(word):
            return Generic(word)
        raise SqlError(f"functions: unknown type {word!r} in signature {self.text!r}")


def parse_param_type(text: str) -> ParamType:
    reader = _Reader(text)
    result = reader.param_type()
    if reader.peek() is not None:
        raise SqlError(f"functions: trailing text in type {text!r}")
    return result


def parse_params(text: str) -> tuple[Param, ...]:
    """``"name TYPE, name TYPE..."`` to parameters; only the last may be variadic."""
    reader = _Reader(text)
    params: list[Param] = []
    while reader.peek() is not None:
        name = reader.take()
        param_type = reader.param_type()
        variadic = reader.peek() == "..."
        if variadic:
            reader.take()
        params.append(Param(name, param_type, variadic))
        if reader.peek() is not None:
            reader.take(",")
    if any(p.variadic for p in params[:-1]):
        raise SqlError(f"functions: only the last parameter may be variadic: {text!r}")
    return tuple(params)


# --- matching -------------------------------------------------------------------

class Binder:
    """Binds generics while arguments are matched against one variant's parameters.

    ``cost`` counts implicit conversions, so an exact variant beats one reached by widening.
    """

    def __init__(self) -> None:
        self.bound: dict[str, SqlType] = {}
        self.cost = 0

    def match(self, param: ParamType, arg: SqlType | None) -> bool:
        if arg is None:  # an untyped NULL fits any parameter
            return not isinstance(param, (LambdaOf, IntervalUnit))
        if isinstance(param, Concrete):
            if param.type == arg:
                return True
            if implicitly_converts(arg, param.type):
                self.cost += 1
                return True
            return False
        if isinstance(param, AnyOf):
            if param.kind == "ANY":
                return True
            if param.kind == "STRUCT":
                return isinstance(arg, ty.StructType)
            if isinstance(arg, ty.DecimalType):
                return True
            if arg.base in (ty.BaseType.INTEGER, ty.BaseType.BIGINT):
                self.cost += 1
                return True
            return False
        if isinstance(param, Generic):
            current = self.bound.get(param.name)
            if current is None:
                self.bound[param.name] = arg
                return True
            if current == arg:
                return True
            common = widen(current, arg)
            if common is None:
                return False
            self.cost += 1
            self.bound[param.name] = common
            return True
        if isinstance(param, ArrayOf):
            return isinstance(arg, ty.ArrayType) and self.match(param.element, arg.element)
        if isinstance(param, MapOf):
            return isinstance(arg, ty.MapType) and self.match(param.key, arg.key) and self.match(param.value, arg.value)
        return False

    def resolve(self, param: ParamType, arg: SqlType | None = None) -> SqlType | None:
        """The type an argument for ``param`` is converted to (None: leave it as it is)."""
        if isinstance(param, Concrete):
            return param.type
        if isinstance(param, Generic):
            return self.bound.get(param.name)
        if isinstance(param, AnyOf):
            if param.kind == "DECIMAL" and arg is not None and arg.base in NUMERIC_RANK:
                return to_decimal(arg)
            return arg
        if isinstance(param, ArrayOf):
            element = self.resolve(param.element, arg.element if isinstance(arg, ty.ArrayType) else None)
            return None if element is None else ty.ArrayType(element)
        if isinstance(param, MapOf):
            key = self.resolve(param.key, arg.key if isinstance(arg, ty.MapType) else None)
            value = self.resolve(param.value, arg.value if isinstance(arg, ty.MapType) else None)
            return None if key is None or value is None else ty.MapType(key, value)
        return arg


def substitute(param: ParamType, bound: Mapping[str, SqlType]) -> SqlType | None:
    """``param`` with its generics replaced; None when a generic is unbound (only NULLs filled it)."""
    if isinstance(param, Concrete):
        return param.type
    if isinstance(param, Generic):
        return bound.get(param.name)
    if isinstance(param, ArrayOf):
        element = substitute(param.element, bound)
        return None if element is None else ty.ArrayType(element)
    if isinstance(param, MapOf):
        key, value = substitute(param.key, bound), substitute(param.value, bound)
        return None if key is None or value is None else ty.MapType(key, value)
    raise SqlError(f"functions: {param} cannot be a result type; give the variant a result function")
