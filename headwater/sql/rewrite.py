"""Rewrite rules over the AST, applied before compiling (pure functions of the tree)."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime, timezone
from typing import Any

from headwater.errors import SqlSemanticError
from headwater.sql import ast
from headwater.sql.expressions import Between, ColumnRef, Comparison, IntegerLiteral, Node, StringLiteral

#: Columns holding epoch milliseconds that ksqlDB lets you compare with ISO-8601 strings.
_TIME_COLUMNS = frozenset({"ROWTIME", "WINDOWSTART", "WINDOWEND"})


def rewrite(node: Any, fn: Any) -> Any:
    """Rebuild ``node`` bottom-up, replacing every subtree for which ``fn`` returns a node."""
    if isinstance(node, Node):
        swapped = fn(node)
        if swapped is not None:
            return swapped
        changes = {}
        for f in fields(node):
            if f.name == "pos":
                continue
            value = getattr(node, f.name)
            new = rewrite(value, fn)
            if new is not value:
                changes[f.name] = new
        return replace(node, **changes) if changes else node
    if isinstance(node, tuple):
        items = tuple(rewrite(v, fn) for v in node)
        return items if any(a is not b for a, b in zip(items, node, strict=True)) else node
    return node



def _millis(literal: StringLiteral) -> IntegerLiteral:
    text = literal.value
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SqlSemanticError(f"Failed to parse timestamp '{text}': expected ISO-8601, "
                               "e.g. 2020-09-13T12:26:40 or 2020-09-13T12:26:40.123+02:00", literal.pos) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # ksqlDB reads a string without a zone as UTC
    return IntegerLiteral(int(parsed.timestamp() * 1000), pos=literal.pos)


def _is_time(node: Any) -> bool:
    return isinstance(node, ColumnRef) and node.name in _TIME_COLUMNS


def iso_timestamps_as_millis(expr: ast.Expression) -> ast.Expression:
    """``ROWTIME >= '2020-09-13T12:26:40'`` becomes a comparison with epoch milliseconds, as in ksqlDB."""

    def swap(node: Node) -> Node | None:
        if isinstance(node, Comparison):
            if _is_time(node.left) and isinstance(node.right, StringLiteral):
                return replace(node, right=_millis(node.right))
            if _is_time(node.right) and isinstance(node.left, StringLiteral):
                return replace(node, left=_millis(node.left))
        if isinstance(node, Between) and _is_time(node.value):
            low = _millis(node.low) if isinstance(node.low, StringLiteral) else node.low
            high = _millis(node.high) if isinstance(node.high, StringLiteral) else node.high
            return replace(node, low=low, high=high)
        return None

    return rewrite(expr, swap)  # type: ignore[no-any-return]
