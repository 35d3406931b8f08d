"""ksqlDB expressions to DuckDB SQL, typed with ksqlDB's rules.

:func:`compile_expression` walks an expression once, bottom-up, and returns
its DuckDB SQL with its ksqlDB type. Column references are resolved by a
:class:`Scope` (the planner's; :class:`TableScope` for plain tables). The SQL
relies on the macros and settings :func:`headwater.sql.functions.install_functions`
puts on the connection.

Every user error raises :class:`~headwater.errors.SqlSemanticError` whose
message starts with ``line L:C:`` (the position of the offending node).
Runtime semantics (division by zero, overflow, bad casts) are described in
:mod:`headwater.sql.typing`.

A scope may also implement ``resolve_expression(expr) -> Compiled | None``;
it is asked first for every node, so a planner can substitute whole
expressions (an aggregate call, a GROUP BY expression) with its own columns.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from headwater.errors import SqlSemanticError
from headwater.sql import expressions as ex
from headwater.sql import types as ty
from headwater.sql import typing as rules
from headwater.sql.format_expression import format_expression
from headwater.sql.functions import REGISTRY, FunctionRegistry
from headwater.sql.functions.calls import Typed, compile_call
from headwater.sql.types import SqlType
from headwater.sql.typing import quote_ident, quote_literal


@dataclass(frozen=True)
class Compiled:
    sql: str  # a DuckDB SQL expression
    type: SqlType | None  # the ksqlDB type of the result; None only for an untyped NULL


class Scope(Protocol):
    def resolve(self, ref: ex.ColumnRef) -> Compiled:
        """The column's SQL and type; raises SqlSemanticError for an unknown column."""
        ...


class TableScope:
    """Columns of one relation, referenced in DuckDB by their (quoted) names."""

    def __init__(self, columns: Mapping[str, SqlType], name: str | None = None) -> None:
        self.columns = dict(columns)
        self.name = name

    def resolve(self, ref: ex.ColumnRef) -> Compiled:
        if ref.source is not None and ref.source != self.name:
            raise SqlSemanticError(f"'{ref.source}' is not a valid stream/table name or alias.", ref.pos)
        column_type = self.columns.get(ref.name)
        if column_type is None:
            qualified = f"{ref.source}.{ref.name}" if ref.source else ref.name
            raise SqlSemanticError(f"Column '{qualified}' cannot be resolved.", ref.pos)
        return Compiled(quote_ident(ref.name), column_type)


def compile_expression(
    expr: ex.Expression, scope: Scope, registry: FunctionRegistry | None = None
) -> Compiled:
    """``expr`` as DuckDB SQL with its ksqlDB type."""
    return _Compiler(scope, REGISTRY if registry is None else registry).compile(expr)


def _fmt(node: ex.Expression) -> str:
    try:
        return format_expression(node)
    except TypeError:
        return type(node).__name__


def _name(t: SqlType | None) -> str:
    return "NULL" if t is None else t.sql()


_INT32 = range(-(2**31) + 1, 2**31)


class _Compiler:
    def __init__(self, scope: Scope, registry: FunctionRegistry) -> None:
        self.scope = scope
        self.registry = registry
        self.variables: dict[str, Compiled] = {}
        self.counter = itertools.count()
        self.hook: Callable[[ex.Expression], Compiled | None] | None = getattr(scope, "resolve_expression", None)

    def fresh(self) -> str:
        return f"__x{next(self.counter)}"

    def compile(self, node: ex.Expression) -> Compiled:
        if self.hook is not None:
            found = self.hook(node)
            if found is not None:
                return found
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise SqlSemanticError(f"Unsupported expression: {_fmt(node)}", node.pos)
        result: Compiled = method(node)
        return result

    def convert(self, value: Typed, target: SqlType | None) -> str:
        if target is None or value.type == target:
            return value.sql
        return rules.cast_sql(value.sql, value.type, target, self.fresh())

    # --- literals and references ------------------------------------------------

    def _StringLiteral(self, node: ex.StringLiteral) -> Compiled:
        return Compiled(quote_literal(node.value), ty.STRING)

    def _IntegerLiteral(self, node: ex.IntegerLiteral) -> Compiled:
        if node.value in _INT32:
            return Compiled(str(node.value), ty.INTEGER)
        if -(2**31) <= node.value < 2**31:
            return Compiled(f"CAST({node.value} AS INTEGER)", ty.INTEGER)
        return Compiled(f"CAST({node.value} AS BIGINT)", ty.BIGINT)

    def _DecimalLiteral(self, node: ex.DecimalLiteral) -> Compiled:
        decimal_type = rules.literal_decimal_type(node.value)
        return Compiled(f"CAST('{node.value}' AS {decimal_type.to_duckdb()})", decimal_type)

    def _DoubleLiteral(self, node: ex.DoubleLiteral) -> Compiled:
        return Compiled(f"CAST('{node.value!r}' AS DOUBLE)", ty.DOUBLE)

    def _BooleanLiteral(self, node: ex.BooleanLiteral) -> Compiled:
        return Compiled("TRUE" if node.value else "FALSE", ty.BOOLEAN)

    def _NullLiteral(self, node: ex.NullLiteral) -> Compiled:
        return Compiled("NULL", None)

    def _TimeUnitLiteral(self, node: ex.TimeUnitLiteral) -> Compiled:
        raise SqlSemanticError(f"The time unit {node.unit.name} is only valid as a function argument.", node.pos)

    def _ColumnRef(self, node: ex.ColumnRef) -> Compiled:
        return self.scope.resolve(node)

    def _LambdaVariable(self, node: ex.LambdaVariable) -> Compiled:
        found = self.variables.get(node.name)
        if found is None:
            raise SqlSemanticError(f"Lambda variable '{node.name}' is not in scope.", node.pos)
        return found

    def _Dereference(self, node: ex.Dereference) -> Compiled:
        base = self.compile(node.base)
        if not isinstance(base.type, ty.StructType):
            raise SqlSemanticError(
                f"Expected STRUCT type for dereference of {_fmt(node.base)}, got {_name(base.type)}.", node.pos
            )
        found = base.type.field(node.field)
        if found is None:
            names = ", ".join(f.name for f in base.type.fields)
            raise SqlSemanticError(
                f"Could not find field '{node.field}' in '{_fmt(node.base)}' (fields: {names}).", node.pos
            )
        return Compiled(f"struct_extract({base.sql}, {quote_literal(found.name)})", found.type)

    def _Subscript(self, node: ex.Subscript) -> Compiled:
        base = self.compile(node.base)
        index = self.compile(node.index)
        if isinstance(base.type, ty.ArrayType):
            if index.type is not None and index.type.base not in (ty.BaseType.INTEGER, ty.BaseType.BIGINT):
                raise SqlSemanticError(f"Array index must be INTEGER or BIGINT, got {_name(index.type)}.", node.index.pos)
            # DuckDB's list_extract is ksqlDB's subscript: 1-based, negative from the end, NULL out of range.
            return Compiled(f"list_extract({base.sql}, {index.sql})", base.type.element)
        if isinstance(base.type, ty.MapType):
            if not rules.comparable(index.type, base.type.key, "="):
                raise SqlSemanticError(
                    f"Map key must be {_name(base.type.key)}, got {_name(index.type)}.", node.index.pos
                )
            return Compiled(f"({base.sql})[{self.convert(index, base.type.key)}]", base.type.value)
        raise SqlSemanticError(
            f"Subscript expression must be of type ARRAY or MAP: {_fmt(node.base)} is {_name(base.type)}.", node.pos
        )

    # --- operators ------------------------------------------------------------------

    def _UnaryOp(self, node: ex.UnaryOp) -> Compiled:
        operand = self.compile(node.operand)
        if operand.type is not None and not operand.type.is_numeric:
            raise SqlSemanticError(
                f"Error processing expression: Unsupported arithmetic type for unary {node.op}: "
                f"{operand.type.sql()}",
                node.pos,
            )
        if node.op == "+" or operand.type is None:
            return operand
        if operand.type == ty.INTEGER:
            return Compiled(rules.wrap_int(f"-CAST({operand.sql} AS BIGINT)"), operand.type)
        if operand.type == ty.BIGINT:
            return Compiled(rules.wrap_bigint(f"-CAST({operand.sql} AS HUGEINT)"), operand.type)
        return Compiled(f"(-{operand.sql})", operand.type)

    def _BinaryOp(self, node: ex.BinaryOp) -> Compiled:
        if node.op == "||":
            return self._FunctionCall(ex.FunctionCall("CONCAT", (node.left, node.right), pos=node.pos))
        left, right = self.compile(node.left), self.compile(node.right)
        result = rules.arithmetic_type(node.op, left.type, right.type, node.pos)
        if result is None or left.type is None or right.type is None:
            return Compiled(f"CAST(NULL AS {result.to_duckdb()})" if result else "NULL", result)
        operand = rules.to_decimal(result) if isinstance(result, ty.DecimalType) else None
        left_sql = self.convert(left, rules.to_decimal(left.type)) if operand else left.sql
        right_sql = self.convert(right, rules.to_decimal(right.type)) if operand else right.sql
        return Compiled(rules.arithmetic_sql(node.op, left_sql, right_sql, result), result)

    def _compare(self, node: ex.Node, op: str, left: ex.Expression, right: ex.Expression) -> tuple[str, str]:
        a, b = self.compile(left), self.compile(right)
        if not rules.comparable(a.type, b.type, op):
            raise SqlSemanticError(
                f"Error processing expression: Cannot compare {_fmt(left)} ({_name(a.type)}) to "
                f"{_fmt(right)} ({_name(b.type)}) with {rules.COMPARISON_NAMES[op]}.",
                node.pos,
            )
        target = rules.comparison_operand_type(a.type, b.type)
        return self.convert(a, target), self.convert(b, target)

    def _Comparison(self, node: ex.Comparison) -> Compiled:
        left, right = self._compare(node, node.op, node.left, node.right)
        # ksqlDB's comparisons are false, not NULL, when either side is NULL (so NOT (a = 1) holds for a NULL a).
        return Compiled(f"coalesce(({left} {node.op} {right}), false)", ty.BOOLEAN)

    def _IsDistinctFrom(self, node: ex.IsDistinctFrom) -> Compiled:
        op = "IS NOT DISTINCT FROM" if node.negated else "IS DISTINCT FROM"
        left, right = self._compare(node, op, node.left, node.right)
        return Compiled(f"({left} {op} {right})", ty.BOOLEAN)

    def _boolean(self, node: ex.Expression, context: str) -> Compiled:
        value = self.compile(node)
        if value.type not in (None, ty.BOOLEAN):
            raise SqlSemanticError(
                f"Error processing expression: {context} requires BOOLEAN operands, "
                f"but {_fmt(node)} is {_name(value.type)}.",
                node.pos,
            )
        return value

    def _LogicalOp(self, node: ex.LogicalOp) -> Compiled:
        left, right = self._boolean(node.left, node.op), self._boolean(node.right, node.op)
        return Compiled(f"({left.sql} {node.op} {right.sql})", ty.BOOLEAN)

    def _Not(self, node: ex.Not) -> Compiled:
        return Compiled(f"(NOT {self._boolean(node.operand, 'NOT').sql})", ty.BOOLEAN)

    def _IsNull(self, node: ex.IsNull) -> Compiled:
        operand = self.compile(node.operand)
        return Compiled(f"({operand.sql} IS {'NOT ' if node.negated else ''}NULL)", ty.BOOLEAN)

    def _Like(self, node: ex.Like) -> Compiled:
        value, pattern = self.compile(node.value), self.compile(node.pattern)
        for part, compiled in ((node.value, value), (node.pattern, pattern)):
            if compiled.type not in (None, ty.STRING):
                raise SqlSemanticError(
                    f"LIKE requires STRING operands, but {_fmt(part)} is {_name(compiled.type)}.", part.pos
                )
        escape = f" ESCAPE {quote_literal(node.escape)}" if node.escape is not None else ""
        not_ = "NOT " if node.negated else ""
        return Compiled(f"({value.sql} {not_}LIKE {pattern.sql}{escape})", ty.BOOLEAN)

    def _InList(self, node: ex.InList) -> Compiled:
        value = self.compile(node.value)
        items = [self.compile(item) for item in node.items]
        target = value.type
        for item_node, item in zip(node.items, items):
            if not rules.comparable(value.type, item.type, "="):
                # ksqlDB coerces an IN list to one type (CoercionUtil) and words a mismatch its way.
                if isinstance(item_node, ex.StringLiteral):
                    raise SqlSemanticError(f"invalid input syntax for type {_name(value.type)}: "
                                           f"\"{_fmt(item_node)}\".", item_node.pos)
                raise SqlSemanticError(
                    f"operator does not exist: {_name(value.type)} = {_name(item.type)} ({_fmt(item_node)})\n"
                    "Hint: You might need to add explicit type casts.",
                    item_node.pos,
                )
            # The type all are compared in: numbers widen, a string meets a date/time as that type.
            target = rules.comparison_operand_type(target, item.type) or target or item.type
        sql_items = ", ".join(self.convert(item, target) for item in items)
        not_ = "NOT " if node.negated else ""
        return Compiled(f"({self.convert(value, target)} {not_}IN ({sql_items}))", ty.BOOLEAN)

    def _Between(self, node: ex.Between) -> Compiled:
        low_value, low = self._compare(node, ">=", node.value, node.low)
        high_value, high = self._compare(node, "<=", node.value, node.high)
        not_ = "NOT " if node.negated else ""
        if low_value != high_value:
            joined = f"({low_value} >= {low} AND {high_value} <= {high})"
            return Compiled(f"(NOT {joined})" if node.negated else joined, ty.BOOLEAN)
        return Compiled(f"({low_value} {not_}BETWEEN {low} AND {high})", ty.BOOLEAN)

    def _AtTimeZone(self, node: ex.AtTimeZone) -> Compiled:
        raise SqlSemanticError(
            "AT TIME ZONE is not supported; use CONVERT_TZ or FORMAT_TIMESTAMP with a time zone.", node.pos
        )

    # --- compound ---------------------------------------------------------------------

    def unify(self, values: Sequence[Compiled], nodes: Sequence[ex.Expression], what: str, items: str) -> SqlType | None:
        """The common type of ``values`` (numbers widen); an error naming the first misfit."""
        common: SqlType | None = None
        for node, value in zip(nodes, values):
            if value.type is None:
                continue
            widened = value.type if common is None else rules.widen(common, value.type)
            if widened is None:
                raise SqlSemanticError(
                    f"Invalid {what}. Type for all {items} should be the same.\n"
                    f"{_fmt(node)} has type: {_name(value.type)}.\nPrevious type(s): {_name(common)}.",
                    node.pos,
                )
            common = widened
        return common

    def _Case(self, node: ex.Case) -> Compiled:
        conditions: list[str] = []
        for when in node.whens:
            if node.operand is not None:
                left, right = self._compare(when, "=", node.operand, when.condition)
                conditions.append(f"{left} = {right}")
                continue
            condition = self.compile(when.condition)
            if condition.type not in (None, ty.BOOLEAN):
                raise SqlSemanticError(
                    f"WHEN operand type should be boolean.\nType for '{_fmt(when.condition)}' is "
                    f"{_name(condition.type)}",
                    when.condition.pos,
                )
            conditions.append(condition.sql)
        result_nodes = [w.result for w in node.whens] + ([node.default] if node.default is not None else [])
        results = [self.compile(r) for r in result_nodes]
        common = self.unify(results, result_nodes, "Case expression", "'THEN' clauses")
        parts = ["CASE"]
        for sql, result in zip(conditions, results):
            parts.append(f"WHEN {sql} THEN {self.convert(result, common)}")
        if node.default is not None:
            parts.append(f"ELSE {self.convert(results[-1], common)}")
        parts.append("END")
        return Compiled("(" + " ".join(parts) + ")", common)

    def _Cast(self, node: ex.Cast) -> Compiled:
        operand = self.compile(node.operand)
        target = node.type
        if isinstance(target, ty.CustomType):
            raise SqlSemanticError(f"Unknown type: {target.name}", node.pos)
        if not rules.castable(operand.type, target):
            raise SqlSemanticError(f"Cast of {_name(operand.type)} to {target.sql()} is not supported", node.pos)
        if (wide := _wide_decimal(target)) is not None:
            # DuckDB has no wider decimal and would refuse every batch: refuse the statement now.
            raise SqlSemanticError(f"Cannot cast to {target.sql()}: DECIMAL precision must be <= 38, "
                                   f"got {wide.precision}.", node.pos)
        return Compiled(rules.cast_sql(operand.sql, operand.type, target, self.fresh()), target)

    def _Lambda(self, node: ex.Lambda) -> Compiled:
        raise SqlSemanticError("A lambda is only valid as an argument of TRANSFORM, FILTER or REDUCE.", node.pos)

    def _ArrayConstructor(self, node: ex.ArrayConstructor) -> Compiled:
        items = [self.compile(item) for item in node.items]
        element = self.unify(items, node.items, "array constructor", "elements")
        if element is None:
            raise SqlSemanticError(
                "Cannot construct an array with all NULL elements "
                "(see https://github.com/confluentinc/ksql/issues/4239). "
                "As a workaround, you may cast a NULL value to the desired type.",
                node.pos,
            )
        sql_items = ", ".join(self.convert(item, element) for item in items)
        return Compiled(f"CAST([{sql_items}] AS {element.to_duckdb()}[])", ty.ArrayType(element))

    def _MapConstructor(self, node: ex.MapConstructor) -> Compiled:
        keys = [self.compile(k) for k, _ in node.entries]
        values = [self.compile(v) for _, v in node.entries]
        key_type = self.unify(keys, [k for k, _ in node.entries], "map constructor", "keys")
        value_type = self.unify(values, [v for _, v in node.entries], "map constructor", "values")
        if key_type is None or value_type is None:
            raise SqlSemanticError(
                "Cannot construct a map with all NULL keys or values. "
                "As a workaround, you may cast a NULL value to the desired type.",
                node.pos,
            )
        map_type = ty.MapType(key_type, value_type)
        key_sql = ", ".join(self.convert(k, key_type) for k in keys)
        value_sql = ", ".join(self.convert(v, value_type) for v in values)
        # hw_map keeps the last of duplicate keys (ksqlDB builds a Java map) and drops NULL keys.
        return Compiled(f"CAST(hw_map([{key_sql}], [{value_sql}]) AS {map_type.to_duckdb()})", map_type)

    def _StructConstructor(self, node: ex.StructConstructor) -> Compiled:
        fields: list[ty.StructField] = []
        parts: list[str] = []
        seen: set[str] = set()
        for name, value_node in node.fields:
            value = self.compile(value_node)
            if value.type is None:
                raise SqlSemanticError(
                    f"Cannot infer the type of NULL for struct field {name}; use CAST(NULL AS <type>).",
                    value_node.pos,
                )
            if name.lower() in seen:
                raise SqlSemanticError(f"Duplicate field name {name} in STRUCT constructor.", value_node.pos)
            seen.add(name.lower())
            fields.append(ty.StructField(name, value.type))
            parts.append(f"{quote_ident(name)} := {value.sql}")
        return Compiled(f"struct_pack({', '.join(parts)})", ty.StructType(tuple(fields)))

    # --- function calls -------------------------------------------------------------

    def _FunctionCall(self, node: ex.FunctionCall) -> Compiled:
        sql, result = compile_call(self, self.registry, node)
        return Compiled(sql, result)

    def compile_with(self, node: ex.Expression, variables: dict[str, tuple[str, SqlType | None]]) -> Compiled:
        saved = self.variables
        self.variables = {**saved, **{name: Compiled(sql, t) for name, (sql, t) in variables.items()}}
        try:
            return self.compile(node)
        finally:
            self.variables = saved


def _wide_decimal(t: ty.SqlType) -> ty.DecimalType | None:
    """A DECIMAL wider than DuckDB's 38 digits in ``t`` (nested types included), or None."""
    if isinstance(t, ty.DecimalType):
        return t if t.precision > 38 else None
    if isinstance(t, ty.ArrayType):
        return _wide_decimal(t.element)
    if isinstance(t, ty.MapType):
        return _wide_decimal(t.key) or _wide_decimal(t.value)
    if isinstance(t, ty.StructType):
        return next((w for f in t.fields if (w := _wide_decimal(f.type)) is not None), None)
    return None
