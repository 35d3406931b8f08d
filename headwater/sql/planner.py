"""From a resolved SELECT to a plan: what to decode, the DuckDB SQL to run, what to write.

A query is planned against the catalog in fixed steps, each a pure function of
the AST and the catalog: resolve the source, expand the projection, derive the
output schema (which columns are key, which are value), compile every
expression to DuckDB SQL. The result is a frozen :class:`SelectPlan`; the
engine (``headwater/engine/``) runs it.

Columns of the input reach DuckDB under synthetic names (``c0``, ``c1``...),
because DuckDB folds the case of identifiers while ksqlDB keeps quoted names
apart. Pseudo columns are ``__rowtime``, ``__partition``, ``__offset``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from headwater.errors import SqlSemanticError
from headwater.sql import ast
from headwater.sql.catalog import Column, DataSource, Namespace
from headwater.sql.compile import Compiled, compile_expression
from headwater.sql.expressions import ColumnRef, Dereference, Position
from headwater.sql.format_expression import format_expression
from headwater.sql.functions import REGISTRY, FunctionKind
from headwater.sql.functions.calls import TABLE_FUNCTIONS
from headwater.sql.rewrite import iso_timestamps_as_millis
from headwater.sql.typing import strict_evaluation
from headwater.sql.types import BIGINT, BOOLEAN, INTEGER, SqlType, epoch_millis_sql

ROWTIME, ROWPARTITION, ROWOFFSET = "__rowtime", "__partition", "__offset"
#: Over a windowed source (its keys carry the window), the window bounds of each record.
WINDOW_START, WINDOW_END = "__ws", "__we"
#: Over a TABLE source, true for a tombstone (the change deletes the row of its key).
DELETED = "__deleted"
_RESERVED = frozenset({"ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"})
_PSEUDO = {"ROWTIME": (ROWTIME, BIGINT), "ROWPARTITION": (ROWPARTITION, INTEGER), "ROWOFFSET": (ROWOFFSET, BIGINT)}


@dataclass(frozen=True)
class InputColumn:
    """A column of the source the query reads, and its DuckDB name."""

    alias: str
    column: Column


#: Among a stream plan's inputs: decode records with a null value too (as rows whose DELETED is true).
NULL_VALUES = InputColumn(DELETED, Column(DELETED, BOOLEAN, Namespace.VALUE))
#: The column of a stream plan's ``src`` holding each record's headers as the log stores them; a plan whose
#: ``sql`` yields it as ``__headers`` has its records' headers copied to its output records, as ksqlDB does.
RECORD_HEADERS = "__headers"
HEADERS_PASS = InputColumn(RECORD_HEADERS, Column(RECORD_HEADERS, BIGINT, Namespace.HEADERS))


@dataclass(frozen=True)
class OutputColumn:
    name: str
    type: SqlType
    namespace: Namespace
    sql: str


class PlanOutputs:
    """Key and value columns of a plan's ``outputs``."""

    outputs: tuple[OutputColumn, ...]

    @property
    def key_outputs(self) -> tuple[OutputColumn, ...]:
        return tuple(o for o in self.outputs if o.namespace is Namespace.KEY)

    @property
    def value_outputs(self) -> tuple[OutputColumn, ...]:
        return tuple(o for o in self.outputs if o.namespace is Namespace.VALUE)


@dataclass(frozen=True)
class SelectPlan(PlanOutputs):
    """A stateless query: decode ``inputs`` of ``source``, run ``sql``, emit ``outputs``.

    ``sql`` reads the relation ``src`` and yields one column per output
    (``o0``, ``o1``...) plus ``__ts``, the output record's timestamp.
    """

    source: DataSource
    inputs: tuple[InputColumn, ...]
    outputs: tuple[OutputColumn, ...]
    sql: str
    limit: int | None = None
    #: ``sql`` with failures (bad CAST, division by zero) raising instead of giving NULL; the
    #: engine runs it and falls back to ``sql`` for the failing records, which it logs.
    strict_sql: str | None = None


class SourceScope:
    """Resolves column references of a single-source query to the decoded input columns."""

    def __init__(self, source: DataSource, alias: str | None) -> None:
        self.source = source
        self.names = {source.name} | ({alias} if alias else set())
        self.used: dict[str, InputColumn] = {}

    def resolve(self, ref: ColumnRef) -> Compiled:
        if ref.source is not None and ref.source not in self.names:
            raise SqlSemanticError(f"'{ref.source}' is not a valid stream/table name or alias.", ref.pos)
        if ref.name in _PSEUDO:
            sql, type_ = _PSEUDO[ref.name]
            return Compiled(f'"{sql}"', type_)
        if ref.name in ("WINDOWSTART", "WINDOWEND") and self.source.window is not None:
            return Compiled(f'"{WINDOW_START if ref.name == "WINDOWSTART" else WINDOW_END}"', BIGINT)
        column = self.source.column(ref.name)
        if column is None:
            raise SqlSemanticError(f"Column '{_qualified(ref)}' cannot be resolved.", ref.pos)
        return Compiled(f'"{self.use(column).alias}"', column.type)

    def use(self, column: Column) -> InputColumn:
        found = self.used.get(column.name)
        if found is None:
            found = self.used[column.name] = InputColumn(f"c{len(self.used)}", column)
        return found


def _qualified(ref: ColumnRef) -> str:
    return f"{ref.source}.{ref.name}" if ref.source else ref.name


def plan_select(
    query: ast.Query,
    source: DataSource,
    alias: str | None,
    *,
    sink_name: str | None,
    timestamp_column: str | None = None,
) -> SelectPlan:
    """Plan a stateless SELECT; ``strict_sql`` is the same query with runtime failures raising."""
    return with_strict_sql(lambda: _plan_select(query, source, alias, sink_name=sink_name,
                                                timestamp_column=timestamp_column))


def compile_where(query: ast.Query, scope: Any) -> str | None:
    """The WHERE clause as DuckDB SQL (None without one); it must be boolean, as ksqlDB checks."""
    if query.where is None:
        return None
    compiled = compile_expression(iso_timestamps_as_millis(query.where), scope)
    if compiled.type is not None and compiled.type.sql() != "BOOLEAN":
        raise SqlSemanticError(
            f"Type error in WHERE expression: Should evaluate to boolean but is {compiled.type.sql()}.",
            query.where.pos,
        )
    return compiled.sql


_Plan = TypeVar("_Plan", bound=Any)


def with_strict_sql(build: Callable[[], _Plan]) -> _Plan:
    """The plan ``build`` makes, with ``strict_sql`` from building it again under strict evaluation."""
    plan = build()
    with strict_evaluation():
        strict = build()
    return replace(plan, strict_sql=strict.sql)


def _plan_select(
    query: ast.Query,
    source: DataSource,
    alias: str | None,
    *,
    sink_name: str | None,
    timestamp_column: str | None = None,
) -> SelectPlan:
    """Plan a stateless SELECT (projection, WHERE, PARTITION BY) over one stream.

    ``sink_name`` is the stream written by a persistent query (None for a push
    query, whose output keeps the key columns in the row as ksqlDB shows them).
    ``timestamp_column`` is the sink's TIMESTAMP property, naming the output
    column that becomes the records' timestamps.
    """
    scope = SourceScope(source, alias)
    where = compile_where(query, scope)

    items = _expand(query.select, scope, window_bounds=sink_name is None)
    # Key expressions as AST: a projection item that is exactly one of them becomes a key column.
    keys: list[tuple[str, ast.Expression]]
    partition_by = query.partition_by
    if partition_by is not None and source.is_table:
        check_table_partition_by(partition_by, source)
        partition_by = None  # by the table's own key: nothing to repartition
    if partition_by is not None:
        keys = [
            (_partition_name(expr, i), expr)
            for i, expr in enumerate(partition_by)
            if not _is_null_literal(expr)
        ]
        for _, expr in keys:
            compile_expression(expr, scope)  # resolve it: errors name the PARTITION BY position
    else:
        keys = [(c.name, ColumnRef(c.name)) for c in source.key_columns]

    outputs: list[OutputColumn] = []
    seen: set[str] = set()
    found_keys: dict[str, str] = {}  # key -> the projection name that carries it
    for name, expr, compiled, pos in items:
        if name in seen:
            raise SqlSemanticError(f"Duplicate column name '{name}' in the projection.", pos)
        if sink_name is not None and name in _RESERVED:
            raise SqlSemanticError(f"Reserved column name in select: `{name}`. Please remove or alias the column.",
                                   pos)
        seen.add(name)
        namespace = Namespace.VALUE
        for key_name, key_expr in keys:
            if not _same_key(expr, key_expr):
                continue
            if key_name not in found_keys:
                namespace = Namespace.KEY
                found_keys[key_name] = name
                break
            if sink_name is not None:
                raise SqlSemanticError(duplicate_key_message(found_keys[key_name], name), pos)
        if compiled.type is None:
            raise SqlSemanticError(f"Can't infer a type of null for column '{name}'. Use CAST.", pos)
        outputs.append(OutputColumn(name, compiled.type, namespace, compiled.sql))
    if sink_name is not None:
        if any(name not in found_keys for name, _ in keys):
            kind = "key column" if partition_by is None else "partitioning expression"
            raise SqlSemanticError(missing_keys_message(sink_name, kind, [expr for _, expr in keys]), query.pos)
        if not any(o.namespace is Namespace.VALUE for o in outputs):
            raise SqlSemanticError("The projection contains no value columns.", query.pos)
    else:
        outputs = [OutputColumn(o.name, o.type, Namespace.VALUE, o.sql) for o in outputs]

    ts_sql = f'"{ROWTIME}"'
    if timestamp_column is not None:
        match = next((o for o in outputs if o.name == timestamp_column), None)
        if match is None:
            raise SqlSemanticError(f"The TIMESTAMP column set in the WITH clause does not exist: {timestamp_column}")
        ts_sql = timestamp_sql(match.sql, match.type)
    select = ", ".join([f"{o.sql} AS o{i}" for i, o in enumerate(outputs)] + [f"{ts_sql} AS __ts"])
    if source.window is not None and sink_name is not None:  # the sink's keys keep the window
        select += f', "{WINDOW_START}" AS ws, "{WINDOW_END}" AS we'
    inputs = tuple(scope.used.values())
    if sink_name is not None:
        inputs += (HEADERS_PASS,)
        select += f', "{RECORD_HEADERS}" AS {RECORD_HEADERS}'  # Kafka Streams forwards the input's headers
    if source.is_table:
        # A table's change that is a tombstone or stops matching WHERE deletes the output row:
        # ``__having`` false becomes a tombstone for the key, as ksqlDB's table filter emits.
        select += f", (NOT \"{DELETED}\"{f' AND coalesce({where}, false)' if where else ''}) AS __having"
        return SelectPlan(source, inputs, tuple(outputs), f"SELECT {select} FROM src", query.limit)
    if sink_name is not None and where is None and partition_by is None and "UNNEST(" not in select:
        # ksqlDB's stateless select maps a null value to a null value: pass it on as one.
        inputs += (NULL_VALUES,)
        select += f', NOT "{DELETED}" AS __having'
    sql = f"SELECT {select} FROM src" + (f" WHERE {where}" if where else "")
    return SelectPlan(source, inputs, tuple(outputs), sql, query.limit)


def missing_keys_message(sink_name: str, kind: str, required: list[ast.Expression]) -> str:
    """ksqlDB's refusal of a persistent query whose projection leaves out a key (its FinalProjectNode):
    ``kind`` is ``key column``, ``partitioning expression``, ``grouping expression`` or ``join expression``,
    and the message names every required expression."""
    plural = "s" if len(required) > 1 else ""
    shown = ", ".join(format_expression(e) for e in required)
    return (f"Key{plural} missing from projection (ie, SELECT). The query used to build `{sink_name}` must include "
            f"the {kind}{plural} {shown} in its projection (eg, SELECT {shown}...).")


def check_table_partition_by(partition_by: tuple[ast.Expression, ...], source: DataSource) -> None:
    """PARTITION BY over a table: by its own key columns it changes nothing; by anything else ksqlDB
    refuses to repartition a table (Kafka Streams' KTable cannot be re-keyed)."""
    keys = [c.name for c in source.key_columns]
    if [e.name if isinstance(e, ColumnRef) else None for e in partition_by] == keys:
        return
    if len(keys) > 1:
        detail = "If this is a join, joins on tables with multiple columns is not yet supported."
    else:
        shown = ", ".join(format_expression(e) for e in partition_by)
        detail = (f"If this is a join, make sure that the criteria uses the TABLE's key column {keys[0]} "
                  f"instead of [{shown}]")
    raise SqlSemanticError(f"Cannot repartition a TABLE source. {detail}", partition_by[0].pos)


def duplicate_key_message(first: str, second: str) -> str:
    """ksqlDB's refusal of a projection that selects a key column twice."""
    return (f"The projection contains a key column more than once: `{first}` and `{second}`. Each key column must only "
            "be in the projection once. If you intended to copy the key into the value, then consider using the "
            "AS_VALUE function to indicate which key reference should be copied.")


def timestamp_sql(sql: str, type_: SqlType) -> str:
    """Epoch milliseconds of a TIMESTAMP or BIGINT column (the TIMESTAMP property of a sink)."""
    if type_.sql() == "TIMESTAMP":
        return epoch_millis_sql(sql)
    return f"CAST({sql} AS BIGINT)"


def _is_null_literal(expr: ast.Expression) -> bool:
    return type(expr).__name__ == "NullLiteral"


def _partition_name(expr: ast.Expression, index: int) -> str:
    if isinstance(expr, ColumnRef):
        return expr.name
    if isinstance(expr, Dereference):
        return expr.field
    return f"KSQL_COL_{index}"


def _same_key(expr: ast.Expression | None, key: ast.Expression) -> bool:
    if expr is None:
        return False
    if isinstance(expr, ColumnRef) and isinstance(key, ColumnRef):
        return expr.name == key.name
    return expr == key


def _expand(
    items: tuple[ast.SelectItem, ...], scope: SourceScope, *, window_bounds: bool = False
) -> list[tuple[str, ast.Expression | None, Compiled, Position]]:
    """The projection as (name, expression, compiled expression, position), with ``*`` expanded
    (with WINDOWSTART and WINDOWEND after the key of a windowed source when ``window_bounds``:
    push queries show them; a persistent query keeps them in the output key)."""
    out: list[tuple[str, ast.Expression | None, Compiled, Position]] = []
    generated = 0
    for item in items:
        if isinstance(item, ast.AllColumns):
            if item.source is not None and item.source not in scope.names:
                raise SqlSemanticError(f"'{item.source}' is not a valid stream/table name or alias.", item.pos)
            bounds_done = not (window_bounds and scope.source.window is not None)
            for column in scope.source.columns:
                if not bounds_done and column.namespace is Namespace.VALUE:
                    bounds_done = True
                    for bound in ("WINDOWSTART", "WINDOWEND"):
                        out.append((bound, ColumnRef(bound), scope.resolve(ColumnRef(bound)), item.pos))
                if column.namespace in (Namespace.KEY, Namespace.VALUE, Namespace.HEADERS, Namespace.HEADER):
                    ref = ColumnRef(column.name)  # headers columns too, as ksqlDB's SELECT * has them
                    out.append((column.name, ref, Compiled(f'"{scope.use(column).alias}"', column.type), item.pos))
        elif isinstance(item, ast.SingleColumn):
            compiled = _compile_item(item.expression, scope)
            name = item.alias or implicit_name(item.expression)
            if name is None:
                name = f"KSQL_COL_{generated}"
                generated += 1
            out.append((name, item.expression, compiled, item.pos))
        elif isinstance(item, ast.StructAll):
            compiled = compile_expression(item.expression, scope)
            fields = getattr(compiled.type, "fields", None)
            if fields is None:
                raise SqlSemanticError(
                    f"Cannot dereference '->*' of a non-STRUCT type: {compiled.type.sql() if compiled.type else 'NULL'}",
                    item.pos,
                )
            for f in fields:
                ref = Dereference(item.expression, f.name)
                out.append((f.name, ref, compile_expression(ref, scope), item.pos))
        else:
            raise SqlSemanticError(f"{type(item).__name__} is not supported in this projection.", item.pos)
    return out


def _compile_item(expr: ast.Expression, scope: SourceScope) -> Compiled:
    """A SELECT item; a table function call (EXPLODE...) is allowed here, over a stream."""
    spec = REGISTRY.get(expr.name) if isinstance(expr, ast.FunctionCall) else None
    if spec is None or spec.kind is not FunctionKind.TABLE:
        return compile_expression(expr, scope)
    if scope.source.is_table:
        raise SqlSemanticError(f"Table functions are not supported on tables: {spec.name} over {scope.source.name}.",
                               expr.pos)
    token = TABLE_FUNCTIONS.set(True)
    try:
        return compile_expression(expr, scope)
    finally:
        TABLE_FUNCTIONS.reset(token)


def implicit_name(expr: ast.Expression) -> str | None:
    """The name ksqlDB gives an unaliased projection item (None: a generated KSQL_COL_n)."""
    if isinstance(expr, ColumnRef):
        return expr.name
    if isinstance(expr, Dereference):
        return expr.field
    return None
