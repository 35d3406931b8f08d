"""Compiling a function call: choose the variant, type the lambdas, convert the arguments, translate.

The expression compiler (:mod:`headwater.sql.compile`) hands every
``FunctionCall`` here through the small :class:`ExpressionCompiler` protocol,
so this module needs nothing of the compiler but its ability to compile a
sub-expression, convert a value to a type and name a fresh lambda parameter.

Lambdas are typed once the other arguments have bound the generics their
parameters use (``TRANSFORM(ARRAY<T>, T => O)``), and before the other
arguments are converted, because a lambda's result can widen a generic
(REDUCE's state ``S``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from typing import Protocol

from headwater.errors import SqlSemanticError
from headwater.sql import expressions as ex
from headwater.sql.format_expression import format_expression
from headwater.sql.functions.registry import Arg, Call, FunctionKind, FunctionRegistry, LambdaArg, no_match_message
from headwater.sql.functions.signature import UNIT, ArgShape, Binder, LambdaOf, LambdaShape, substitute
from headwater.sql.types import SqlType


class Typed(Protocol):
    """A compiled expression: DuckDB SQL and its ksqlDB type."""

    @property
    def sql(self) -> str: ...

    @property
    def type(self) -> SqlType | None: ...


class ExpressionCompiler(Protocol):
    def compile(self, node: ex.Expression) -> Typed: ...

    def compile_with(self, node: ex.Expression, variables: dict[str, tuple[str, SqlType | None]]) -> Typed:
        """``node`` compiled with lambda ``variables`` (name -> SQL, type) in scope."""
        ...

    def convert(self, value: Typed, target: SqlType | None) -> str: ...

    def fresh(self) -> str: ...


#: True while the planner compiles a whole SELECT item of a stream query: only there may a table function be.
TABLE_FUNCTIONS: contextvars.ContextVar[bool] = contextvars.ContextVar("table_functions", default=False)

def compile_call(
    compiler: ExpressionCompiler, registry: FunctionRegistry, node: ex.FunctionCall
) -> tuple[str, SqlType | None]:
    """The SQL and type of a scalar function call."""
    spec = registry.get(node.name)
    if spec is None:
        raise SqlSemanticError(f"Can't find any functions with the name '{node.name}'", node.pos)
    if spec.kind is FunctionKind.AGGREGATE:
        raise SqlSemanticError(f"Use of aggregate function {spec.name} requires a GROUP BY clause.", node.pos)
    table_call = spec.kind is FunctionKind.TABLE
    if table_call and not TABLE_FUNCTIONS.get():
        raise SqlSemanticError(f"Table function {spec.name} can only be used in the SELECT clause of a query.", node.pos)
    if node.star or node.distinct:
        raise SqlSemanticError(f"{spec.name} does not take {'*' if node.star else 'DISTINCT'}.", node.pos)
    args: list[Typed | ex.Lambda | ex.TimeUnitLiteral] = [
        a if isinstance(a, (ex.Lambda, ex.TimeUnitLiteral)) else compiler.compile(a) for a in node.args
    ]
    shapes: list[ArgShape] = [_shape(a) for a in args]
    chosen = spec.resolve(shapes)
    if chosen is None:
        raise SqlSemanticError(no_match_message(spec, shapes), node.pos)
    variant, binder = chosen
    lambdas: dict[int, Arg] = {}
    for i, arg in enumerate(args):
        param = variant.param_for(i).type
        if isinstance(arg, ex.Lambda) and isinstance(param, LambdaOf):
            lambdas[i] = _lambda_arg(compiler, spec.name, arg, param, binder)
    final: list[Arg] = []
    for i, (arg_node, arg) in enumerate(zip(node.args, args)):
        if isinstance(arg, ex.Lambda):
            final.append(lambdas[i])
        elif isinstance(arg, ex.TimeUnitLiteral):
            final.append(Arg(str(arg.unit.millis), None, arg_node))
        else:
            target = binder.resolve(variant.param_for(i).type, arg.type)
            final.append(Arg(compiler.convert(arg, target), target or arg.type, arg_node))
    if callable(variant.returns):
        result = variant.returns([a.type for a in final])
    else:
        result = substitute(variant.returns, binder.bound)
    call = Call(spec.name, tuple(final), result, binder.bound, node.pos, compiler.fresh)
    if table_call:
        return f"UNNEST({variant.translate(call)})", result
    return f"({variant.translate(call)})", result


def _shape(arg: Typed | ex.Lambda | ex.TimeUnitLiteral) -> ArgShape:
    if isinstance(arg, ex.Lambda):
        return LambdaShape(len(arg.params))
    if isinstance(arg, ex.TimeUnitLiteral):
        return UNIT
    return arg.type


def _lambda_arg(compiler: ExpressionCompiler, function: str, node: ex.Lambda, param: LambdaOf, binder: Binder) -> Arg:
    if len(set(node.params)) != len(node.params):
        raise SqlSemanticError(f"Duplicate lambda parameter names in {format_expression(node)}.", node.pos)
    types = tuple(substitute(p, binder.bound) for p in param.params)

    def body(variables: Sequence[str]) -> Typed:
        return compiler.compile_with(node.body, dict(zip(node.params, zip(variables, types))))

    typed = body([compiler.fresh() for _ in node.params])
    if not binder.match(param.result, typed.type):
        returned = "NULL" if typed.type is None else typed.type.sql()
        raise SqlSemanticError(
            f"Function '{function}': the lambda {format_expression(node)} must return {param.result}, "
            f"but returns {returned}.",
            node.pos,
        )
    expected = None if isinstance(param.result, LambdaOf) else substitute(param.result, binder.bound)

    def render(variables: Sequence[str]) -> str:
        return compiler.convert(body(variables), expected)

    return Arg("", typed.type, node, LambdaArg(types, typed.type, render))
