"""Planning joins: ``FROM a JOIN b ON ... [JOIN c ON ...]`` into a :class:`JoinPlan`.

A join is left-deep, as in ksqlDB: source 0 joined with source 1, the result
with source 2, and so on. Each step is one of four kinds, checked against
ksqlDB's rules (which pairs and join types exist, WITHIN only for
stream-stream, tables joined on their PRIMARY KEY, co-partitioning):

- ``STREAM_TABLE``: INNER or LEFT; the stream record looks the table up.
- ``STREAM_STREAM``: INNER, LEFT, RIGHT or FULL WITHIN a window.
- ``TABLE_TABLE``: INNER, LEFT, RIGHT or FULL on both primary keys.
- ``FOREIGN_KEY``: INNER or LEFT; a left table column against the right PK.

Columns reach DuckDB as ``s<i>_c<j>`` (source i's j-th decoded column) and
``s<i>__rowtime`` (and ``__partition``, ``__offset``), so columns with the
same name in several sources never clash. The joined relation also has
``__ts`` (the result's timestamp) and ``__key`` (the result's key: the join
key, or for a table result its primary key). The engine
(``headwater/engine/join.py``) evaluates the steps; the projection and WHERE
compile here into ``sql`` over that relation, named ``src``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from headwater.errors import SqlSemanticError
from headwater.sql import ast
from headwater.sql.aggregate_planner import DEFAULT_GRACE_MS
from headwater.sql.catalog import Column, DataSource, Namespace, WindowInfo
from headwater.sql.compile import Compiled, compile_expression
from headwater.sql.expressions import ColumnRef, Comparison, Expression
from headwater.sql.format_expression import format_expression
from headwater.sql.planner import (WINDOW_END, WINDOW_START, InputColumn, OutputColumn, PlanOutputs, timestamp_sql,
                                   implicit_name, compile_where, with_strict_sql)
from headwater.sql.types import BIGINT, INTEGER, SqlType, StructField, StructType

STREAM_TABLE, STREAM_STREAM, TABLE_TABLE, FOREIGN_KEY = "STREAM_TABLE", "STREAM_STREAM", "TABLE_TABLE", "FOREIGN_KEY"
_RESERVED = frozenset({"ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"})
_PSEUDO = {"ROWTIME": ("__rowtime", BIGINT), "ROWPARTITION": ("__partition", INTEGER), "ROWOFFSET": ("__offset", BIGINT)}


@dataclass(frozen=True)
class JoinSource:
    """One source of the join, the columns decoded from it and their DuckDB names."""

    index: int
    source: DataSource
    alias: str
    inputs: tuple[InputColumn, ...]

    def prefix(self) -> str:
        return f"s{self.index}_"

    def meta(self, name: str) -> str:
        """DuckDB name of a pseudo column of this source (``__rowtime``...)."""
        return f"s{self.index}{name}"

    def column_sql(self) -> list[tuple[str, str]]:
        """(DuckDB name, DuckDB type) of every column this source contributes to the joined relation
        (a windowed source's window bounds too: its rows are keyed by key and window)."""
        cols = [(i.alias, i.column.type.to_duckdb()) for i in self.inputs]
        cols += [(self.meta("__rowtime"), "BIGINT"), (self.meta("__partition"), "INTEGER"),
                 (self.meta("__offset"), "BIGINT")]
        if self.source.window is not None:
            cols += [(self.meta(WINDOW_START), "BIGINT"), (self.meta(WINDOW_END), "BIGINT")]
        return cols

    def state_key_type(self) -> SqlType:
        """The type of the key a table source's rows are kept by: its PRIMARY KEY, with the window
        when the table is windowed (:func:`windowed_key`)."""
        key = self.source.key_columns[0].type
        return windowed_key(key) if self.source.window is not None else key

    @property
    def key_alias(self) -> str | None:
        """DuckDB name of the table's primary key column (tables always decode it)."""
        keys = self.source.key_columns
        if not keys:
            return None
        return next(i.alias for i in self.inputs if i.column.name == keys[0].name)


def windowed_key(key: SqlType) -> SqlType:
    """The join key of windowed sources, as ksqlDB's ``Windowed<key>``: the key and the window bounds."""
    return StructType((StructField("K", key), StructField("WS", BIGINT), StructField("WE", BIGINT)))


#: DuckDB SQL of the result key's parts when the sources are windowed (``__key`` is a :func:`windowed_key`).
WINDOWED_KEY_SQL = {"key": "struct_extract(\"__key\", 'K')", "WINDOWSTART": "struct_extract(\"__key\", 'WS')",
                    "WINDOWEND": "struct_extract(\"__key\", 'WE')"}


@dataclass(frozen=True)
class JoinStep:
    """Step k: (sources 0..k-1 joined) JOIN source k."""

    kind: str
    join_type: str  # INNER, LEFT, RIGHT, FULL
    right: int
    left_key: str  # SQL over the left relation
    right_key: str  # SQL over source ``right``
    key_type: SqlType
    before_ms: int = 0
    after_ms: int = 0
    grace_ms: int = DEFAULT_GRACE_MS
    #: Whether source 0 (step 1 only) / source ``right`` (stream-stream) is repartitioned on its join key
    #: before the join, because the join key is not its record key.
    repartition_left: bool = False
    repartition_right: bool = False
    #: Stream-stream without GRACE PERIOD: outer rows are emitted at once (ksqlDB's pre-0.29 semantics, kept
    #: for statements that do not opt in with a grace period).
    eager: bool = False

    @property
    def result_is_table(self) -> bool:
        return self.kind in (TABLE_TABLE, FOREIGN_KEY)

    @property
    def left_outer(self) -> bool:
        return self.join_type in ("LEFT", "FULL")

    @property
    def right_outer(self) -> bool:
        return self.join_type in ("RIGHT", "FULL")


@dataclass(frozen=True)
class JoinPlan(PlanOutputs):
    """A join query: decode every source, run the steps, then ``sql`` (projection, WHERE) over ``src``.

    For a table result, ``sql`` yields ``__having``: false (a tombstone) for a
    deleted row or one the WHERE clause rejects, as ksqlDB filters tables.
    """

    source: DataSource  # the left-most source: default formats and partitions of the sink
    sources: tuple[JoinSource, ...]
    steps: tuple[JoinStep, ...]
    outputs: tuple[OutputColumn, ...]
    sql: str
    is_table: bool
    limit: int | None = None
    strict_sql: str | None = None
    #: The sources' window when they are windowed: the result's keys keep it (``ws``/``we`` in ``sql``).
    window: WindowInfo | None = field(default=None)

    @property
    def inputs(self) -> tuple[InputColumn, ...]:
        return self.sources[0].inputs


class JoinScope:
    """Resolves column references against every source of the join."""

    def __init__(self, sources: list[tuple[DataSource, str]]) -> None:
        self.sources = sources
        self.used: list[dict[str, InputColumn]] = [{} for _ in sources]
        self.touched: set[int] = set()
        self.visible = len(sources)  # sources 0..visible-1 may be referenced (ON of step k sees 0..k)
        self.synthetic: tuple[str, SqlType] | None = None  # ROWKEY of a synthetic key, once known
        #: The sources are windowed: ``__key`` holds the key and the window (WINDOWSTART/WINDOWEND resolve to it).
        self.windowed = False

    def key_sql(self) -> str:
        """DuckDB SQL of the result's key (the join key) over the joined relation."""
        return WINDOWED_KEY_SQL["key"] if self.windowed else '"__key"'

    def _find(self, name: str) -> int | None:
        for i, (source, alias) in enumerate(self.sources[: self.visible]):
            if name in (alias, source.name):
                return i
        return None

    def resolve(self, ref: ColumnRef) -> Compiled:
        if ref.source is not None:
            i = self._find(ref.source)
            if i is None:
                raise SqlSemanticError(f"'{ref.source}' is not a valid stream/table name or alias.", ref.pos)
            return self._column(i, ref)
        if self.synthetic is not None and ref.name == self.synthetic[0]:
            return Compiled(self.key_sql(), self.synthetic[1])
        if ref.name == "ROWTIME":
            return Compiled('"__ts"', BIGINT)
        if self.windowed and ref.name in ("WINDOWSTART", "WINDOWEND"):
            return Compiled(WINDOWED_KEY_SQL[ref.name], BIGINT)
        found = [i for i, (source, _) in enumerate(self.sources[: self.visible]) if source.column(ref.name) is not None]
        if not found:
            raise SqlSemanticError(f"Column '{ref.name}' cannot be resolved.", ref.pos)
        if len(found) > 1:
            options = ", ".join(f"{self.sources[i][1]}.{ref.name}" for i in found)
            raise SqlSemanticError(f"Column '{ref.name}' is ambiguous. Could be any of: {options}", ref.pos)
        return self._column(found[0], ref)

    def _column(self, i: int, ref: ColumnRef) -> Compiled:
        self.touched.add(i)
        if self.windowed and ref.name in ("WINDOWSTART", "WINDOWEND"):
            return Compiled(WINDOWED_KEY_SQL[ref.name], BIGINT)
        if ref.name in _PSEUDO:
            name, type_ = _PSEUDO[ref.name]
            return Compiled(f'"s{i}{name}"', type_)
        column = self.sources[i][0].column(ref.name)
        if column is None:
            qualified = f"{ref.source}.{ref.name}" if ref.source else ref.name
            raise SqlSemanticError(f"Column '{qualified}' cannot be resolved.", ref.pos)
        return Compiled(f'"{self.use(i, column).alias}"', column.type)

    def use(self, i: int, column: Column) -> InputColumn:
        found = self.used[i].get(column.name)
        if found is None:
            found = self.used[i][column.name] = InputColumn(f"s{i}_c{len(self.used[i])}", column)
        return found

    def column_of(self, ref: Expression) -> tuple[int, Column] | None:
        """The (source, column) a plain column reference names, or None for any other expression."""
        if not isinstance(ref, ColumnRef) or ref.name in _PSEUDO:
            return None
        saved = set(self.touched)
        try:
            self.resolve(ref)
        finally:
            touched, self.touched = self.touched, saved
        i = next(iter(touched - saved), None)
        if i is None:
            i = self._find(ref.source) if ref.source else next(
                (k for k, (s, _) in enumerate(self.sources[: self.visible]) if s.column(ref.name)), None)
        if i is None:
            return None
        column = self.sources[i][0].column(ref.name)
        return (i, column) if column is not None else None


def _kind_name(source: DataSource) -> str:
    return "table" if source.is_table else "stream"


def plan_join(
    query: ast.Query,
    join: ast.Join,
    catalog: object,
    *,
    sink_name: str | None,
    timestamp_column: str | None = None,
) -> JoinPlan:
    """Plan ``query`` whose FROM is ``join``; ``strict_sql`` raises where ``sql`` gives NULL."""
    return with_strict_sql(lambda: _plan_join(query, join, catalog, sink_name=sink_name,
                                              timestamp_column=timestamp_column))


def _relations(join: ast.Join, catalog: object) -> list[tuple[DataSource, str, ast.AliasedRelation]]:
    out = []
    for rel in (join.left, *[j.relation for j in join.joins]):
        source = catalog.get(rel.name, rel.pos)  # type: ignore[attr-defined]
        out.append((source, rel.alias or source.name, rel))
    names = [s.name for s, _, _ in out]
    for k, (source, alias, rel) in enumerate(out):
        if names.index(source.name) != k:  # ksqlDB refuses self joins, aliased or not
            raise SqlSemanticError(f"Can not join '{source.name}' to '{source.name}': self joins are not yet "
                                   "supported.", rel.pos)
    aliases = [a for _, a, _ in out]
    for k, alias in enumerate(aliases):
        if aliases.index(alias) != k:
            raise SqlSemanticError(f"Duplicate source name or alias: {alias}.", out[k][2].pos)
    return out


def _split_criteria(step: ast.JoinedSource, scope: JoinScope, k: int, join_text: str) -> tuple[
        Expression, Expression, Compiled, Compiled]:
    """(left expression, right expression) of ``step``'s ON, checked: one equality, one source per side."""
    criteria = step.criteria
    if not isinstance(criteria, Comparison) or criteria.op != "=":
        raise SqlSemanticError(
            f"Unsupported join expression: {format_expression(criteria)}. Only equality joins on a single "
            "expression per side are supported (eg, ON A.ID = B.ID).", criteria.pos)
    sides = []
    for expr in (criteria.left, criteria.right):
        scope.touched = set()
        compiled = compile_expression(expr, scope)
        sides.append((expr, compiled, set(scope.touched)))
    (lx, lc, lt), (rx, rc, rt) = sides
    if lt == {k} and rt and max(rt) < k:
        (lx, lc, lt), (rx, rc, rt) = (rx, rc, rt), (lx, lc, lt)
    if rt != {k} or not lt or max(lt) >= k or len(lt) != 1:
        raise SqlSemanticError(
            f"Invalid comparison expression '{format_expression(criteria)}' in join '{join_text}'. Each side of "
            "the join comparision must contain references from exactly one source.", criteria.pos)
    if lc.type is None or rc.type is None or lc.type.sql() != rc.type.sql():
        raise SqlSemanticError(
            f"Invalid join condition: types don't match. Got {format_expression(lx)}{{{_t(lc)}}} = "
            f"{format_expression(rx)}{{{_t(rc)}}}.", criteria.pos)
    return lx, rx, lc, rc


def _t(c: Compiled) -> str:
    return "NULL" if c.type is None else c.type.sql().split("(")[0].replace("VARCHAR", "STRING")


def _plan_join(
    query: ast.Query,
    join: ast.Join,
    catalog: object,
    *,
    sink_name: str | None,
    timestamp_column: str | None,
) -> JoinPlan:
    relations = _relations(join, catalog)
    scope = JoinScope([(s, a) for s, a, _ in relations])
    for i, (source, _, _) in enumerate(relations):
        if source.is_table:
            scope.use(i, source.key_columns[0])  # the engine keys table state on it
    steps: list[JoinStep] = []
    left_is_table = relations[0][0].is_table
    left_key_source: int | None = 0 if left_is_table else None  # source whose PK keys a table result
    key_refs: list[tuple[int, Column]] = []  # columns that name the result's key
    synthetic = False
    for k, joined in enumerate(join.joins, start=1):
        right, right_alias, rel = relations[k]
        type_word = joined.join_type.value
        join_text = f"{relations[0][1]} [{type_word}] JOIN {right_alias}"
        scope.visible = k + 1
        lx, rx, lc, rc = _split_criteria(joined, scope, k, join_text)
        scope.visible = len(relations)
        l_col, r_col = scope.column_of(lx), scope.column_of(rx)
        right_pk = right.key_columns[0] if right.is_table else None
        if left_is_table and not right.is_table:
            raise SqlSemanticError(
                f"Invalid join order: table-stream joins are not supported; only stream-table joins. Got "
                f"{join_text}.", joined.pos)
        left_source = relations[l_col[0] if l_col is not None else 0]
        if (left_source[0].window is None) != (right.window is None):
            def state(s: DataSource) -> str:
                return "windowed" if s.window is not None else "not windowed"
            raise SqlSemanticError(
                f"Can not join windowed source to non-windowed source.\n`{left_source[0].name}` is "
                f"{state(left_source[0])}\n`{right.name}` is {state(right)}", joined.pos)
        if right.is_table and (r_col is None or r_col[1].name != right_pk.name):  # type: ignore[union-attr]
            shown = format_expression(rx)
            raise SqlSemanticError(
                f"Cannot repartition a TABLE source. If this is a join, make sure that the criteria uses the TABLE's "
                f"key column {right_pk.name} instead of {shown}", rx.pos)  # type: ignore[union-attr]
        if not left_is_table and right.is_table:
            kind = STREAM_TABLE
        elif not left_is_table:
            kind = STREAM_STREAM
        else:
            left_pk = relations[left_key_source][0].key_columns[0] if left_key_source is not None else None
            is_pk = (l_col is not None and left_pk is not None and l_col[0] == left_key_source
                     and l_col[1].name == left_pk.name)
            kind = TABLE_TABLE if is_pk else FOREIGN_KEY
        if right.window is not None and kind != TABLE_TABLE:
            what = {STREAM_TABLE: "stream-table", STREAM_STREAM: "stream-stream",
                    FOREIGN_KEY: "foreign-key"}[kind]
            raise SqlSemanticError(f"Windowed sources are supported in table-table joins on their keys only, "
                                   f"not yet in a {what} join: {join_text}.", joined.pos)
        if kind == STREAM_TABLE and type_word in ("RIGHT", "FULL"):
            word = "full-outer" if type_word == "FULL" else "right-outer"
            raise SqlSemanticError(f"Invalid join type: {word} join not supported for stream-table join. Got "
                                   f"{join_text}.", joined.pos)
        if kind == FOREIGN_KEY and type_word in ("RIGHT", "FULL"):
            word = "RIGHT" if type_word == "RIGHT" else "FULL"
            raise SqlSemanticError(f"{word} OUTER JOIN on a foreign key is not supported", joined.pos)
        if kind == STREAM_STREAM and joined.within is None:
            raise SqlSemanticError(
                "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn about how to "
                "specify a WITHIN clause with a stream-stream join, please visit: "
                "https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select",
                joined.pos)
        if kind != STREAM_STREAM and joined.within is not None:
            pair = "Stream-Table" if kind == STREAM_TABLE else "Table-Table"
            raise SqlSemanticError(
                f"A window definition was provided for a {pair} join. These joins are not windowed. Please drop the "
                "window definition (ie. the WITHIN clause) and try to execute your join again.", joined.within.pos)
        # Co-partitioning: a stream joined on its own key is not repartitioned, so partition counts must agree.
        left_on_key = l_col is not None and l_col[1].namespace is Namespace.KEY
        right_on_key = r_col is not None and r_col[1].namespace is Namespace.KEY
        repartition = not left_on_key and kind in (STREAM_TABLE, STREAM_STREAM) and k == 1
        repartition_right = not right_on_key and kind == STREAM_STREAM
        if kind != FOREIGN_KEY and left_on_key and right_on_key and l_col is not None:
            left_src = relations[l_col[0]][0]
            if left_src.partitions != right.partitions:
                raise SqlSemanticError(
                    f"Can't join `{left_src.name}` with `{right.name}` since the number of partitions don't match. "
                    f"`{left_src.name}` partitions = {left_src.partitions}; `{right.name}` partitions = "
                    f"{right.partitions}. Please repartition either one so that the number of partitions match.",
                    joined.pos)
        before = after = 0
        grace = DEFAULT_GRACE_MS
        if joined.within is not None:
            before, after = joined.within.before.millis, joined.within.after.millis
            if joined.within.grace is not None:
                grace = joined.within.grace.millis
        key_type = windowed_key(lc.type) if right.window is not None else lc.type  # type: ignore[arg-type]
        steps.append(JoinStep(kind, type_word, k, lc.sql, rc.sql, key_type, before, after, grace,
                              repartition_left=repartition, repartition_right=repartition_right,
                              eager=kind == STREAM_STREAM and joined.within is not None and joined.within.grace is None))
        # What names the result's key after this step (ksqlDB's rules, see the module docstring).
        if kind == FOREIGN_KEY:
            key_refs = [(left_key_source, relations[left_key_source][0].key_columns[0])]  # type: ignore[list-item,index]
            synthetic = False
        elif type_word == "FULL" or l_col is None or r_col is None:
            synthetic = True
            key_refs = []
        else:
            synthetic = False
            key_refs = [l_col, r_col]
        # A table result stays keyed by the left table's PK, unless a FULL join made the key synthetic.
        left_is_table = kind in (TABLE_TABLE, FOREIGN_KEY)
        if kind == TABLE_TABLE and synthetic:
            left_key_source = None
    last = steps[-1]
    scope.windowed = relations[0][0].window is not None
    if synthetic:
        taken = {c.name for s, _, _ in relations for c in s.columns}
        name, n = "ROWKEY", 0
        while name in taken:
            n += 1
            name = f"ROWKEY_{n}"
        scope.synthetic = (name, lc.type)  # type: ignore[assignment]
    is_table = last.result_is_table
    return _project(query, scope, relations, key_refs, is_table, sink_name, timestamp_column, tuple(steps))


def _project(
    query: ast.Query,
    scope: JoinScope,
    relations: list[tuple[DataSource, str, ast.AliasedRelation]],
    key_refs: list[tuple[int, Column]],
    is_table: bool,
    sink_name: str | None,
    timestamp_column: str | None,
    steps: tuple[JoinStep, ...],
) -> JoinPlan:
    where = compile_where(query, scope)
    key_aliases = {f'"{scope.use(i, c).alias}"' for i, c in key_refs}
    items: list[tuple[str, Compiled, bool, ast.Position]] = []  # name, compiled, is a key reference, pos
    generated = 0
    for item in query.select:
        if isinstance(item, ast.AllColumns):
            if item.source is not None and scope._find(item.source) is None:
                raise SqlSemanticError(f"'{item.source}' is not a valid stream/table name or alias.", item.pos)
            if scope.synthetic is not None and item.source is None:
                items.append((scope.synthetic[0], Compiled(scope.key_sql(), scope.synthetic[1]), True, item.pos))
            for i, (source, alias, _) in enumerate(relations):
                if item.source is not None and item.source not in (alias, source.name):
                    continue
                for column in source.columns:
                    if column.namespace in (Namespace.KEY, Namespace.VALUE, Namespace.HEADERS, Namespace.HEADER):
                        sql = f'"{scope.use(i, column).alias}"'
                        items.append((f"{alias}_{column.name}", Compiled(sql, column.type), sql in key_aliases,
                                      item.pos))
        elif isinstance(item, ast.SingleColumn):
            compiled = compile_expression(item.expression, scope)
            name = item.alias or _join_column_name(item.expression, scope, relations) or implicit_name(item.expression)
            if name is None:
                name = f"KSQL_COL_{generated}"
                generated += 1
            is_key = isinstance(item.expression, ColumnRef) and (
                compiled.sql in key_aliases or (scope.synthetic is not None and compiled.sql == scope.key_sql()))
            items.append((name, compiled, is_key, item.pos))
        else:
            raise SqlSemanticError(f"{type(item).__name__} is not supported in a join projection.", item.pos)

    outputs: list[OutputColumn] = []
    seen: set[str] = set()
    key_found = False
    for name, compiled, is_key, pos in items:
        if name in seen:
            raise SqlSemanticError(f"Duplicate column name '{name}' in the projection.", pos)
        if sink_name is not None and name in _RESERVED:
            raise SqlSemanticError(f"Reserved column name in select: `{name}`. Please remove or alias the column.", pos)
        seen.add(name)
        if compiled.type is None:
            raise SqlSemanticError(f"Can't infer a type of null for column '{name}'. Use CAST.", pos)
        if is_key and not key_found and sink_name is not None:
            key_found = True
            # The key is the join key itself: set on every result row, tombstones and null-padded rows too.
            outputs.append(OutputColumn(name, compiled.type, Namespace.KEY, scope.key_sql()))
        else:
            outputs.append(OutputColumn(name, compiled.type, Namespace.VALUE, compiled.sql))
    if sink_name is not None:
        if not key_found:
            if scope.synthetic is not None:
                shown = scope.synthetic[0]
            else:
                i, column = key_refs[0]
                shown = f"{relations[i][1]}.{column.name}"
            raise SqlSemanticError(
                "Key missing from projection (ie, SELECT). The query used to build "
                f"`{sink_name}` must include the join expression {shown} in its projection (eg, SELECT {shown}...).",
                query.pos)
        if not any(o.namespace is Namespace.VALUE for o in outputs):
            raise SqlSemanticError("The projection contains no value columns.", query.pos)
    ts_sql = '"__ts"'
    if timestamp_column is not None:
        match = next((o for o in outputs if o.name == timestamp_column), None)
        if match is None:
            raise SqlSemanticError(f"The TIMESTAMP column set in the WITH clause does not exist: {timestamp_column}")
        ts_sql = timestamp_sql(match.sql, match.type)
    columns = [f"{o.sql} AS o{i}" for i, o in enumerate(outputs)] + [f"{ts_sql} AS __ts", "__offset"]
    window = relations[0][0].window
    if window is not None and sink_name is not None:  # the sink's keys keep the window
        columns += [f"{WINDOWED_KEY_SQL['WINDOWSTART']} AS ws", f"{WINDOWED_KEY_SQL['WINDOWEND']} AS we"]
    if is_table:
        keep = "NOT __del" + (f" AND coalesce({where}, false)" if where else "")
        sql = f"SELECT {', '.join(columns)}, ({keep}) AS __having FROM src"
    else:
        sql = f"SELECT {', '.join(columns)} FROM src" + (f" WHERE {where}" if where else "")
    sources = tuple(
        JoinSource(i, source, alias, tuple(scope.used[i].values())) for i, (source, alias, _) in enumerate(relations)
    )
    return JoinPlan(relations[0][0], sources, steps, tuple(outputs), sql, is_table, query.limit,
                    window=window if sink_name is not None else None)


def _join_column_name(expr: Expression, scope: JoinScope,
                      relations: list[tuple[DataSource, str, ast.AliasedRelation]]) -> str | None:
    """ksqlDB's implicit name of a column of a join whose name several sources have: ``<ALIAS>_<NAME>``."""
    found = scope.column_of(expr)
    if found is None:
        return None
    i, column = found
    holders = sum(1 for source, _, _ in relations
                  if any(c.name == column.name and c.namespace in (Namespace.KEY, Namespace.VALUE) for c in source.columns))
    return f"{relations[i][1]}_{column.name}" if holders > 1 else None


__all__ = ["FOREIGN_KEY", "STREAM_STREAM", "STREAM_TABLE", "TABLE_TABLE", "JoinPlan", "JoinSource", "JoinStep",
           "plan_join"]


def join_produces_table(query: ast.Query, catalog: object) -> bool:
    """Whether ``query`` is a join of tables only: its result is a table (CREATE TABLE AS SELECT)."""
    relation = query.from_
    if not isinstance(relation, ast.Join):
        return False
    names = [relation.left.name] + [j.relation.name for j in relation.joins]
    sources = [catalog.find(n) for n in names]  # type: ignore[attr-defined]
    return all(s is not None and s.is_table for s in sources)
