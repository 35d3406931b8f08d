"""Expressions back to canonical ksqlDB SQL text.

The form is ksqlDB's ``ExpressionFormatter``'s: every operator application is
parenthesized (``((STATUS > 400) AND (BYTES < 10))``), names are upper-case and
back-quoted only when they must be, keywords upper-case. Parsing the output
gives back an equal expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from headwater.sql import expressions as ex
from headwater.sql.lexer import QUOTED_ON_OUTPUT

_PLAIN_NAME = re.compile(r"[A-Z_][A-Z0-9_@]*\Z")
_MUST_QUOTE = QUOTED_ON_OUTPUT | frozenset(ex.TIME_UNITS)


def quote_identifier(name: str) -> str:
    """``name`` as it must be written to be read back as ``name`` (back-quoted if needed)."""
    if _PLAIN_NAME.match(name) and name not in _MUST_QUOTE:
        return name
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def format_expression(expression: ex.Expression) -> str:
    """Canonical SQL text of ``expression``."""
    formatter = _FORMATTERS.get(type(expression))
    if formatter is None:
        raise TypeError(f"cannot format {type(expression).__name__}")
    return formatter(expression)


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    return text if "." in text else text + "."


def _double(value: float) -> str:
    text = repr(value)
    return text if "e" in text or "E" in text else text + "E0"


def _unary(node: ex.UnaryOp) -> str:
    operand = format_expression(node.operand)
    separator = " " if operand[:1] in ("-", "+") else ""
    return f"({node.op}{separator}{operand})"


def _in_list(node: ex.InList) -> str:
    items = ", ".join(format_expression(item) for item in node.items)
    return f"({format_expression(node.value)} {'NOT ' if node.negated else ''}IN ({items}))"


def _like(node: ex.Like) -> str:
    text = f"{format_expression(node.value)} {'NOT ' if node.negated else ''}LIKE {format_expression(node.pattern)}"
    if node.escape is not None:
        text += f" ESCAPE {quote_string(node.escape)}"
    return f"({text})"


def _between(node: ex.Between) -> str:
    return (
        f"({format_expression(node.value)} {'NOT ' if node.negated else ''}BETWEEN "
        f"{format_expression(node.low)} AND {format_expression(node.high)})"
    )


def _case(node: ex.Case) -> str:
    parts = ["(CASE"]
    if node.operand is not None:
        parts.append(format_expression(node.operand))
    for when in node.whens:
        parts.append(f"WHEN {format_expression(when.condition)} THEN {format_expression(when.result)}")
    if node.default is not None:
        parts.append(f"ELSE {format_expression(node.default)}")
    parts.append("END)")
    return " ".join(parts)


def _function(node: ex.FunctionCall) -> str:
    name = node.name if _PLAIN_NAME.match(node.name) else quote_identifier(node.name)
    if node.star:
        return f"{name}(*)"
    args = ", ".join(format_expression(arg) for arg in node.args)
    return f"{name}({'DISTINCT ' if node.distinct else ''}{args})"


def _lambda(node: ex.Lambda) -> str:
    params = ", ".join(quote_identifier(p) for p in node.params)
    head = params if len(node.params) == 1 else f"({params})"
    return f"{head} => {format_expression(node.body)}"


def _column(node: ex.ColumnRef) -> str:
    name = quote_identifier(node.name)
    return name if node.source is None else f"{quote_identifier(node.source)}.{name}"


_FORMATTERS: dict[type, Callable[[Any], str]] = {
    ex.StringLiteral: lambda n: quote_string(n.value),
    ex.IntegerLiteral: lambda n: str(n.value),
    ex.DecimalLiteral: lambda n: _decimal(n.value),
    ex.DoubleLiteral: lambda n: _double(n.value),
    ex.BooleanLiteral: lambda n: "true" if n.value else "false",
    ex.NullLiteral: lambda n: "null",
    ex.TimeUnitLiteral: lambda n: n.unit.name,
    ex.ColumnRef: _column,
    ex.LambdaVariable: lambda n: quote_identifier(n.name),
    ex.Dereference: lambda n: f"{format_expression(n.base)}->{quote_identifier(n.field)}",
    ex.Subscript: lambda n: f"{format_expression(n.base)}[{format_expression(n.index)}]",
    ex.AtTimeZone: lambda n: f"{format_expression(n.value)} AT TIME ZONE {quote_string(n.zone)}",
    ex.UnaryOp: _unary,
    ex.BinaryOp: lambda n: f"({format_expression(n.left)} {n.op} {format_expression(n.right)})",
    ex.Comparison: lambda n: f"({format_expression(n.left)} {n.op} {format_expression(n.right)})",
    ex.LogicalOp: lambda n: f"({format_expression(n.left)} {n.op} {format_expression(n.right)})",
    ex.Not: lambda n: f"(NOT {format_expression(n.operand)})",
    ex.IsNull: lambda n: f"({format_expression(n.operand)} IS {'NOT ' if n.negated else ''}NULL)",
    ex.IsDistinctFrom: lambda n: (
        f"({format_expression(n.left)} IS {'NOT ' if n.negated else ''}DISTINCT FROM {format_expression(n.right)})"
    ),
    ex.Like: _like,
    ex.InList: _in_list,
    ex.Between: _between,
    ex.Case: _case,
    ex.Cast: lambda n: f"CAST({format_expression(n.operand)} AS {n.type.sql()})",
    ex.FunctionCall: _function,
    ex.Lambda: _lambda,
    ex.ArrayConstructor: lambda n: f"ARRAY[{', '.join(format_expression(i) for i in n.items)}]",
    ex.MapConstructor: lambda n: (
        "MAP(" + ", ".join(f"{format_expression(k)} := {format_expression(v)}" for k, v in n.entries) + ")"
    ),
    ex.StructConstructor: lambda n: (
        "STRUCT(" + ", ".join(f"{quote_identifier(k)} := {format_expression(v)}" for k, v in n.fields) + ")"
    ),
}
