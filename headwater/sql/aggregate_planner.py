"""Planning GROUP BY queries (CTAS): pre-aggregation projection, aggregates, window, post projection.

The query is cut in three relations, each DuckDB SQL:

- ``pre``: over ``src``, after WHERE: the group-by expressions ``g0..`` and the
  aggregate arguments ``a0..``, with ``__ts``, ``__offset``, ``__partition``;
- the aggregation itself (``headwater/engine/aggregate.py``): state per
  (group, window), updated with the templates of each aggregate;
- ``post``: over the aggregated rows (``g0..``, results ``r0..``, ``ws``,
  ``we``): the projection and HAVING.

Aggregate calls and group-by expressions in the projection and HAVING are
rewritten to references to those columns before compiling; any other column
reference there is the error ksqlDB gives for a non-aggregate expression
that is not grouped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from headwater.errors import SqlSemanticError
from headwater.sql import ast
from headwater.sql.aggregates import BoundAggregate, aggregate
from headwater.sql.catalog import DataSource, Namespace, WindowInfo
from headwater.sql.compile import Compiled, compile_expression
from headwater.sql.expressions import ColumnRef, Expression, FunctionCall, Node
from headwater.sql.format_expression import format_expression
from headwater.sql.planner import (
    DELETED, ROWTIME, InputColumn, OutputColumn, PlanOutputs, SourceScope, check_table_partition_by, duplicate_key_message,
    implicit_name, missing_keys_message,
)
from headwater.sql.rewrite import rewrite
from headwater.sql.types import BIGINT, SqlType

DEFAULT_GRACE_MS = 24 * 3600 * 1000
DEFAULT_RETENTION_MS = 24 * 3600 * 1000
_GROUP = "__GRP_"
_AGG = "__AGG_"


@dataclass(frozen=True)
class WindowSpec:
    kind: str  # TUMBLING, HOPPING, SESSION
    size_ms: int = 0
    advance_ms: int = 0
    gap_ms: int = 0
    grace_ms: int = DEFAULT_GRACE_MS
    retention_ms: int = DEFAULT_RETENTION_MS

    def info(self) -> WindowInfo:
        return WindowInfo(self.kind, self.size_ms or None)


@dataclass(frozen=True)
class AggregatePlan(PlanOutputs):
    source: DataSource
    inputs: tuple[InputColumn, ...]
    pre_sql: str
    group_types: tuple[SqlType, ...]
    aggregates: tuple[BoundAggregate, ...]
    agg_args: tuple[tuple[str, ...], ...]
    window: WindowSpec | None
    emit_final: bool
    outputs: tuple[OutputColumn, ...]
    post_sql: str  # SELECT <outputs as o0..>, __having FROM agg
    limit: int | None = None
    #: Over a TABLE source: DuckDB types of the source's key columns ``k0..`` in ``pre``, which then
    #: also has ``__contrib`` (the change is a live row matching WHERE) instead of filtering.
    table_key_types: tuple[str, ...] = ()


class _PostScope:
    def __init__(self, groups: list[Compiled], results: list[SqlType], windowed: bool,
                 source_scope: SourceScope | None = None) -> None:
        self.source_scope = source_scope
        self.groups = groups
        self.results = results
        self.windowed = windowed
        self.ungrouped: list[ColumnRef] = []

    def resolve(self, ref: ColumnRef) -> Compiled:
        if ref.name.startswith(_GROUP):
            i = int(ref.name[len(_GROUP):])
            return Compiled(f'"g{i}"', self.groups[i].type)
        if ref.name.startswith(_AGG):
            i = int(ref.name[len(_AGG):])
            return Compiled(f'"r{i}"', self.results[i])
        if ref.name in ("WINDOWSTART", "WINDOWEND") and self.windowed:
            return Compiled('"ws"' if ref.name == "WINDOWSTART" else '"we"', BIGINT)
        self.ungrouped.append(ref)
        try:
            return Compiled("NULL", self.source_scope.resolve(ref).type) if self.source_scope else Compiled("NULL", BIGINT)
        except SqlSemanticError:
            return Compiled("NULL", BIGINT)


def window_spec(window: ast.WindowExpression) -> WindowSpec:
    grace = window.grace.millis if window.grace is not None else DEFAULT_GRACE_MS
    if isinstance(window, ast.TumblingWindow):
        spec = WindowSpec("TUMBLING", size_ms=window.size.millis, grace_ms=grace)
    elif isinstance(window, ast.HoppingWindow):
        if window.advance.millis > window.size.millis or window.advance.millis <= 0:
            raise SqlSemanticError(
                "Window advance must be positive and not larger than the window size, "
                f"got size {window.size.millis} ms, advance {window.advance.millis} ms.", window.pos,
            )
        spec = WindowSpec("HOPPING", size_ms=window.size.millis, advance_ms=window.advance.millis, grace_ms=grace)
    else:
        assert isinstance(window, ast.SessionWindow)
        spec = WindowSpec("SESSION", gap_ms=window.gap.millis, grace_ms=grace)
    retention = window.retention.millis if window.retention is not None else max(
        DEFAULT_RETENTION_MS, spec.size_ms + grace)
    needed = spec.size_ms + (0 if window.grace is None else grace)
    if retention < needed:
        raise SqlSemanticError(
            f"Retention ({retention} ms) must not be smaller than the window size plus grace period "
            f"({needed} ms).", window.pos,
        )
    return replace(spec, retention_ms=retention)


def plan_aggregate(
    query: ast.Query, source: DataSource, alias: str | None, *, sink_name: str | None
) -> AggregatePlan:
    """Plan a GROUP BY; ``sink_name`` is the table a CTAS writes (None for a push query)."""
    if query.group_by is None or not query.group_by:
        raise SqlSemanticError("Aggregations need a GROUP BY clause.", query.pos)
    if query.window is not None and source.is_table:
        raise SqlSemanticError("Windowing not supported for table aggregations.", query.window.pos)
    if query.emit is ast.EmitType.FINAL and query.window is None:
        raise SqlSemanticError("EMIT FINAL is only supported for windowed aggregations.", query.pos)
    if query.where is not None:
        found = _aggregate_calls(query.where)
        if found:
            raise SqlSemanticError(f"Aggregate functions are not allowed in the WHERE clause: "
                                   f"{format_expression(found[0])}. Use HAVING to filter on aggregates.", found[0].pos)
    for g in query.group_by:
        found = _aggregate_calls(g)
        if found:
            raise SqlSemanticError(f"GROUP BY does not support aggregate functions: {found[0].name.upper()} is an "
                                   "aggregate function.", found[0].pos)
    scope = SourceScope(source, alias)
    if query.partition_by is not None:
        _check_partition_by(query.partition_by, source, scope)
    groups = [compile_expression(g, scope) for g in query.group_by]

    calls: list[FunctionCall] = []
    group_exprs = list(query.group_by)

    def swap(node: Node) -> Node | None:
        for i, g in enumerate(group_exprs):
            if node == g:
                return ColumnRef(f"{_GROUP}{i}", pos=node.pos)
        if isinstance(node, FunctionCall) and aggregate(node.name) is not None:
            nested = [c for a in node.args for c in _aggregate_calls(a)]
            if nested:
                raise SqlSemanticError(f"Aggregate functions can not be nested: {node.name.upper()}"
                                       f"({nested[0].name.upper()}())", node.pos)
            if node not in calls:
                calls.append(node)
            return ColumnRef(f"{_AGG}{calls.index(node)}", pos=node.pos)
        return None

    items = []
    for item in query.select:
        if not isinstance(item, ast.SingleColumn):
            raise SqlSemanticError("SELECT * is not supported in an aggregation query.", item.pos)
        items.append((item, rewrite(item.expression, swap)))
    having = rewrite(query.having, swap) if query.having is not None else None

    bound: list[BoundAggregate] = []
    agg_args: list[tuple[str, ...]] = []
    pre_columns = [f"{g.sql} AS g{i}" for i, g in enumerate(groups)]
    n_args = 0
    for call in calls:
        function = aggregate(call.name)
        assert function is not None
        # literal_args: positions (negative from the end) that must be literals when present.
        n = len(call.args)
        positions = {p % n for p in function.literal_args if -n <= p < n}
        literals = [_literal(a) for i, a in enumerate(call.args) if i in positions]
        column_args = [a for i, a in enumerate(call.args) if i not in positions]
        compiled = [compile_expression(a, scope) for a in column_args]
        try:
            bound.append(function.bind([c.type for c in compiled], literals))
        except SqlSemanticError as exc:
            raise SqlSemanticError(exc.detail, call.pos) from None
        names = []
        for c in compiled:
            pre_columns.append(f"{c.sql} AS a{n_args}")
            names.append(f"a{n_args}")
            n_args += 1
        agg_args.append(tuple(names))
    if source.is_table:
        retractable = [c.name.upper() for c, b in zip(calls, bound, strict=True) if b.undo is None]
        if retractable:
            names_shown = ", ".join(dict.fromkeys(retractable))
            plural = "s" if len(set(retractable)) > 1 else ""
            raise SqlSemanticError(f"The aggregation function{plural} {names_shown} cannot be applied to a table "
                                   "source, only to a stream source.", query.pos)

    window = window_spec(query.window) if query.window is not None else None
    post_scope = _PostScope(groups, [b.result_type for b in bound], window is not None, SourceScope(source, alias))
    outputs: list[OutputColumn] = []
    key_found: dict[int, str] = {}
    generated = 0
    for item, expr in items:
        compiled = compile_expression(expr, post_scope)
        name = item.alias or implicit_name(item.expression)
        if name is None:
            name = f"KSQL_COL_{generated}"
            generated += 1
        namespace = Namespace.VALUE
        if isinstance(expr, ColumnRef) and expr.name.startswith(_GROUP):
            i = int(expr.name[len(_GROUP):])
            if i not in key_found:
                key_found[i] = name
                namespace = Namespace.KEY
            elif sink_name is not None:
                raise SqlSemanticError(duplicate_key_message(key_found[i], name), item.pos)
        if compiled.type is None:
            raise SqlSemanticError(f"Can't infer a type of null for column '{name}'. Use CAST.", item.pos)
        outputs.append(OutputColumn(name, compiled.type, namespace, compiled.sql))
    if post_scope.ungrouped:
        names = ", ".join(format_expression(r) for r in post_scope.ungrouped)
        raise SqlSemanticError(f"Non-aggregate SELECT expression(s) not part of GROUP BY: {names}",
                               post_scope.ungrouped[0].pos)
    missing = [i for i in range(len(groups)) if i not in key_found]
    if sink_name is None:  # a push query shows rows: no key to keep, every column is shown
        outputs = [OutputColumn(o.name, o.type, Namespace.VALUE, o.sql) for o in outputs]
        missing = []
    if missing:
        assert sink_name is not None
        raise SqlSemanticError(missing_keys_message(sink_name, "grouping expression", list(query.group_by)), query.pos)
    if sink_name is not None and not any(o.namespace is Namespace.VALUE for o in outputs):
        raise SqlSemanticError("The projection contains no value columns.", query.pos)
    if sink_name is not None:  # ksqlDB's key columns come in GROUP BY order, before the values
        group_of = {name: i for i, name in key_found.items()}
        outputs = (sorted((o for o in outputs if o.namespace is Namespace.KEY), key=lambda o: group_of[o.name])
                   + [o for o in outputs if o.namespace is not Namespace.KEY])
    having_sql = "TRUE"
    if having is not None:
        compiled_having = compile_expression(having, post_scope)
        having_sql = compiled_having.sql
        if post_scope.ungrouped:
            raise SqlSemanticError(
                f"Non-aggregate HAVING expression not part of GROUP BY: {format_expression(post_scope.ungrouped[0])}",
                post_scope.ungrouped[0].pos)
        if compiled_having.type is not None and compiled_having.type.sql() != "BOOLEAN":
            raise SqlSemanticError(f"Type error in HAVING expression: Should evaluate to boolean but is "
                                   f"{compiled_having.type.sql()}.", query.having.pos)  # type: ignore[union-attr]

    where = ""
    table_key_types: tuple[str, ...] = ()
    if source.is_table:
        # Every change flows on: one that deletes the row or no longer matches WHERE retracts it.
        matching = compile_expression(query.where, scope).sql if query.where is not None else "TRUE"
        keys = [scope.use(c) for c in source.key_columns]
        pre_columns += [f'"{k.alias}" AS k{i}' for i, k in enumerate(keys)]
        pre_columns.append(f'(NOT "{DELETED}" AND coalesce({matching}, false)) AS __contrib')
        table_key_types = tuple(k.column.type.to_duckdb() for k in keys)
    elif query.where is not None:
        where = " WHERE " + compile_expression(query.where, scope).sql
    pre_sql = (
        f"SELECT {', '.join(pre_columns)}, \"{ROWTIME}\" AS __ts, __offset, __partition FROM src{where}"
    )
    post_sql = "SELECT " + ", ".join(
        [f"{o.sql} AS o{i}" for i, o in enumerate(outputs)] + [f"({having_sql}) AS __having", "__ts", "ws", "we"]
    ) + " FROM agg"
    return AggregatePlan(
        source=source,
        inputs=tuple(scope.used.values()),
        pre_sql=pre_sql,
        group_types=tuple(g.type for g in groups),  # type: ignore[misc]
        aggregates=tuple(bound),
        agg_args=tuple(agg_args),
        window=window,
        emit_final=query.emit is ast.EmitType.FINAL,
        outputs=tuple(outputs),
        post_sql=post_sql,
        limit=query.limit,
        table_key_types=table_key_types,
    )


def _check_partition_by(partition_by: tuple[Expression, ...], source: DataSource, scope: SourceScope) -> None:
    """PARTITION BY in an aggregation re-keys the input before GROUP BY re-keys it again (ksqlDB's plan), so
    it does not change the records; what ksqlDB refuses there is refused here: a table that would need a
    repartition, an aggregate (no scalar function of that name), a window bound, a column that is not there."""
    if source.is_table:
        check_table_partition_by(partition_by, source)
    for expr in partition_by:
        for ref in _column_refs(expr):
            if ref.source is None and ref.name in ("WINDOWSTART", "WINDOWEND"):
                raise SqlSemanticError(f"Window bounds column {ref.name} can only be used in the SELECT clause of "
                                       "windowed aggregations and can not be passed to aggregate functions.", ref.pos)
        found = _aggregate_calls(expr)
        if found:
            raise SqlSemanticError(f"Can't find any functions with the name '{found[0].name.upper()}'", found[0].pos)
        compile_expression(expr, scope)


def _column_refs(node: Node) -> list[ColumnRef]:
    found: list[ColumnRef] = []

    def visit(n: Node) -> Node | None:
        if isinstance(n, ColumnRef):
            found.append(n)
        return None

    rewrite(node, visit)
    return found


def _aggregate_calls(node: Node) -> list[FunctionCall]:
    """The aggregate calls in ``node`` (outermost first)."""
    found: list[FunctionCall] = []

    def visit(n: Node) -> Node | None:
        if isinstance(n, FunctionCall) and aggregate(n.name) is not None:
            found.append(n)
            return n
        return None

    rewrite(node, visit)
    return found


def _literal(node: Expression) -> object:
    value = getattr(node, "value", None)
    if value is None and type(node).__name__ != "NullLiteral":
        raise SqlSemanticError("This argument must be a literal.", node.pos)
    return value


__all__ = ["AggregatePlan", "WindowSpec", "plan_aggregate", "window_spec"]
