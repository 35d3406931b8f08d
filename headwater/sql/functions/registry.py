"""The function registry: what SHOW FUNCTIONS lists, DESCRIBE FUNCTION shows and the compiler calls.

Built-in functions register exactly as a user's plugin would::

    from headwater.sql.functions import REGISTRY, scalar, variant

    REGISTRY.register(scalar(
        "DOUBLE_IT", "OTHER", "Doubles a number.",
        variant("x BIGINT", "BIGINT", "({0} * 2)"),
    ))

A function has a kind (SCALAR, AGGREGATE, TABLE), a category (ksqlDB's names:
``STRING``, ``MATHEMATICAL``, ``DATE / TIME``...), a description and
variants. A variant is a parameter list (see :mod:`.signature`), a result type
and an implementation. For scalar functions the implementation is a
*translator*: a format string over the argument SQL (``"abs({0})"``;
``{args}`` is all arguments, ``{tail}`` all but the first) or a callable
taking a :class:`Call` and returning a DuckDB SQL expression. Aggregate and
table functions register the same metadata; their implementations are
whatever the engine's operators for them expect.

Translators may use DuckDB macros and Python UDFs; those are declared with
:meth:`FunctionRegistry.add_setup` and put on a connection by
:meth:`FunctionRegistry.install`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from headwater.errors import SqlError, SqlSemanticError
from headwater.sql import expressions as ex
from headwater.sql.functions.signature import (
    ArgShape,
    Binder,
    IntervalUnit,
    LambdaOf,
    LambdaShape,
    Param,
    ParamType,
    parse_param_type,
    parse_params,
    type_name,
)
from headwater.sql.types import SqlType


class FunctionKind(enum.Enum):
    SCALAR = "SCALAR"
    AGGREGATE = "AGGREGATE"
    TABLE = "TABLE"


@dataclass(frozen=True)
class LambdaArg:
    """A lambda argument, typed once its parameters' types were known."""

    param_types: tuple[SqlType | None, ...]
    result: SqlType | None
    render: Callable[[Sequence[str]], str]  # the body's SQL with the parameters bound to these expressions


@dataclass(frozen=True)
class Arg:
    """One compiled argument of a call: its SQL (already converted to the parameter's type)."""

    sql: str
    type: SqlType | None
    node: ex.Expression
    lambda_: LambdaArg | None = None


_LITERALS = (ex.StringLiteral, ex.IntegerLiteral, ex.DecimalLiteral, ex.DoubleLiteral, ex.BooleanLiteral)


@dataclass(frozen=True)
class Call:
    """What a translator gets: the call's arguments, its result type and helpers."""

    name: str
    args: tuple[Arg, ...]
    result: SqlType | None
    bound: dict[str, SqlType]
    pos: ex.Position
    fresh: Callable[[], str]  # a new identifier for a DuckDB lambda parameter

    @property
    def sql(self) -> list[str]:
        return [a.sql for a in self.args]

    def is_literal(self, index: int) -> bool:
        node = self.args[index].node
        return isinstance(node, (*_LITERALS, ex.NullLiteral, ex.TimeUnitLiteral))

    def literal(self, index: int, what: str = "argument") -> Any:
        """The Python value of a literal argument; an error naming ``what`` if it is not a literal."""
        node = self.args[index].node
        if isinstance(node, _LITERALS):
            return node.value
        if isinstance(node, ex.NullLiteral):
            return None
        if isinstance(node, ex.TimeUnitLiteral):
            return node.unit
        raise self.error(f"Function '{self.name}' requires a literal {what}.", node)

    def body(self, index: int, *variables: str) -> str:
        """The SQL of the lambda argument ``index`` with its parameters bound to ``variables``."""
        arg = self.args[index].lambda_
        if arg is None:
            raise SqlError(f"functions: argument {index} of {self.name} is not a lambda")
        return arg.render(variables)

    def error(self, detail: str, node: ex.Node | None = None) -> SqlSemanticError:
        return SqlSemanticError(detail, node.pos if node is not None else self.pos)


Translator = Callable[[Call], str] | str
ResultFn = Callable[[Sequence[SqlType | None]], SqlType | None]


@dataclass(frozen=True)
class Variant:
    params: tuple[Param, ...]
    returns: ParamType | ResultFn
    impl: Any
    description: str = ""
    returns_text: str = ""

    @property
    def variadic(self) -> bool:
        return bool(self.params) and self.params[-1].variadic

    def accepts_count(self, count: int) -> bool:
        if self.variadic:
            return count >= len(self.params) - 1
        return count == len(self.params)

    def param_for(self, index: int) -> Param:
        return self.params[min(index, len(self.params) - 1)]

    def result_name(self) -> str:
        return self.returns_text or str(self.returns)

    def signature(self, name: str) -> str:
        return f"{name}({', '.join(str(p) for p in self.params)})"

    def bind(self, shapes: Sequence[ArgShape]) -> Binder | None:
        """Generics bound by matching ``shapes``, or None if this variant does not take them."""
        if not self.accepts_count(len(shapes)):
            return None
        binder = Binder()
        for i, shape in enumerate(shapes):
            param = self.param_for(i).type
            if isinstance(shape, LambdaShape):
                ok = isinstance(param, LambdaOf) and len(param.params) == shape.arity
            elif isinstance(shape, IntervalUnit):
                ok = isinstance(param, IntervalUnit)
            else:
                ok = binder.match(param, shape)
            if not ok:
                return None
        return binder

    def translate(self, call: Call) -> str:
        """The call as DuckDB SQL (scalar variants)."""
        if isinstance(self.impl, str):
            sql = call.sql
            result = call.result.to_duckdb() if call.result is not None else "VARCHAR"
            return self.impl.format(*sql, args=", ".join(sql), tail=", ".join(sql[1:]), type=result)
        text: str = self.impl(call)
        return text


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    kind: FunctionKind
    category: str
    description: str
    variants: tuple[Variant, ...]
    author: str = "Headwater"
    version: str = ""
    path: str = "internal"

    def resolve(self, shapes: Sequence[ArgShape]) -> tuple[Variant, Binder] | None:
        """The variant for these arguments: the one needing fewest implicit conversions, first on ties."""
        best: tuple[Variant, Binder] | None = None
        for candidate in self.variants:
            binder = candidate.bind(shapes)
            if binder is not None and (best is None or binder.cost < best[1].cost):
                best = (candidate, binder)
        return best

    def describe(self) -> dict[str, Any]:
        """The function as ksqlDB's REST API shows it for DESCRIBE FUNCTION."""
        return {
            "@type": "describe_function",
            "name": self.name,
            "description": self.description,
            "author": self.author,
            "version": self.version,
            "path": self.path,
            "type": self.kind.value,
            "functions": [
                {
                    "arguments": [
                        {"name": p.name, "type": str(p.type), "description": p.description, "isVariadic": p.variadic}
                        for p in v.params
                    ],
                    "returnType": v.result_name(),
                    "description": v.description or self.description,
                    "argumentTypes": [str(p.type) for p in v.params],
                }
                for v in self.variants
            ],
        }


def variant(
    params: str,
    returns: str | ResultFn,
    impl: Any,
    description: str = "",
    *,
    returns_text: str = "",
    docs: dict[str, str] | None = None,
) -> Variant:
    """A variant from signature text: ``variant("s STRING, n INT", "STRING", "left({0}, {1})")``.

    ``returns`` is a type (generics allowed) or a function of the argument types;
    ``docs`` describes parameters by name.
    """
    parsed = parse_params(params)
    if docs:
        parsed = tuple(Param(p.name, p.type, p.variadic, docs.get(p.name, "")) for p in parsed)
    if isinstance(returns, str):
        result = parse_param_type(returns)
        return Variant(parsed, result, impl, description, returns_text or str(result))
    return Variant(parsed, returns, impl, description, returns_text or "depends on the arguments")


def scalar(name: str, category: str, description: str, *variants: Variant) -> FunctionSpec:
    return FunctionSpec(name.upper(), FunctionKind.SCALAR, category, description, tuple(variants))


Setup = Callable[[duckdb.DuckDBPyConnection], None] | str


@dataclass
class FunctionRegistry:
    """Functions by upper-case name, and the connection setup their translators rely on."""

    _functions: dict[str, FunctionSpec] = field(default_factory=dict)
    _setup: list[Setup] = field(default_factory=list)

    def register(self, spec: FunctionSpec, *, replace: bool = False) -> None:
        if not replace and spec.name in self._functions:
            raise SqlError(f"functions: a function named {spec.name} is already registered")
        if not spec.variants:
            raise SqlError(f"functions: {spec.name} has no variants")
        self._functions[spec.name] = spec

    def add_setup(self, *setup: Setup) -> None:
        """SQL statements (``CREATE MACRO ...``) or callables run on each connection by :meth:`install`."""
        self._setup.extend(setup)

    def install(self, con: duckdb.DuckDBPyConnection) -> None:
        for item in self._setup:
            if isinstance(item, str):
                con.execute(item)
            else:
                item(con)

    def get(self, name: str) -> FunctionSpec | None:
        return self._functions.get(name.upper())

    def __contains__(self, name: str) -> bool:
        return name.upper() in self._functions

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(sorted(self._functions.values(), key=lambda s: s.name))

    def show_functions(self) -> list[dict[str, str]]:
        """SHOW FUNCTIONS rows, sorted by name: name, type (SCALAR...) and category."""
        return [{"name": s.name, "type": s.kind.value, "category": s.category} for s in self]

    def describe(self, name: str) -> dict[str, Any]:
        spec = self.get(name)
        if spec is None:
            raise SqlSemanticError(f"Can't find any functions with the name '{name.upper()}'")
        return spec.describe()


def no_match_message(spec: FunctionSpec, shapes: Sequence[ArgShape]) -> str:
    """ksqlDB's message for arguments no variant accepts, listing the accepted signatures."""
    given = ", ".join(str(s) if isinstance(s, (LambdaShape, IntervalUnit)) else type_name(s) for s in shapes)
    alternatives = "\n".join(v.signature(spec.name) for v in spec.variants)
    return (
        f"Function '{spec.name}' does not accept parameters ({given}).\n"
        f"Valid alternatives are:\n{alternatives}\n"
        "For detailed information on a function run: DESCRIBE FUNCTION <Function-Name>;"
    )

