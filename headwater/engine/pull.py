"""Pull queries: ``SELECT ... FROM table [WHERE ...] [LIMIT n]`` answered from a query's state, and on streams
by a scan of their topic.

A table materialized by a CTAS keeps its rows in the aggregation's DuckDB
state; a pull query reads a snapshot of it through the CTAS projection, so it
answers with what the table holds, consistent with what has been emitted.
Key lookups (``key = x``, ``key IN (...)``), ranges on WINDOWSTART/WINDOWEND
and full scans with a limit all run as DuckDB filters over the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from headwater.engine.aggregate import AggregateOperator
from headwater.engine.codec import SourceDecoder
from headwater.engine.query import PersistentQuery
from headwater.errors import SqlSemanticError
from headwater.formats import duck
from headwater.sql import ast
from headwater.log import Log
from headwater.sql.catalog import Catalog, DataSource, Namespace
from headwater.sql.planner import (
    DELETED, ROWOFFSET, ROWPARTITION, ROWTIME, WINDOW_END, WINDOW_START, InputColumn, OutputColumn,
)
from headwater.sql.compile import TableScope, compile_expression
from headwater.sql.rewrite import iso_timestamps_as_millis
from headwater.sql.functions import install_functions
from headwater.sql.types import BIGINT, SqlType



class PullSource(Protocol):
    """What a pull query needs of the session: its catalog, its log and its persistent queries."""

    catalog: Catalog
    log: Log
    queries: dict[str, PersistentQuery]


@dataclass
class PullResult:
    """A pull query's answer, columnar: ``table`` holds column i as ``c{i}``. ``rows`` (Python lists,
    as DuckDB gives them) are built only when asked for."""

    query_id: str
    columns: list[str]
    types: list[SqlType]
    table: pa.Table
    cached_rows: list[list[object]] | None = field(default=None, repr=False)

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    @property
    def rows(self) -> list[list[object]]:
        if self.cached_rows is None:
            con = duck.connect()
            try:
                con.register("answer", self.table)
                self.cached_rows = [list(r) for r in con.sql("SELECT * FROM answer").fetchall()]
            finally:
                con.close()
        return self.cached_rows

    def __len__(self) -> int:
        return self.num_rows

    def __iter__(self) -> Iterator[list[object]]:
        return iter(self.rows)


def topic_snapshot(session: PullSource, source: DataSource, outputs: Sequence[OutputColumn]) -> pa.Table:
    """The rows a table topic holds now: the latest record per key (and window), tombstones removing it.

    Shaped like an aggregation's snapshot (``o0``..., ``__ts``, ``ws``, ``we``, ``__having``).
    """
    columns = [*source.key_columns, *source.value_columns]
    inputs = [InputColumn(f"c{i}", c) for i, c in enumerate(columns)]
    alias = {c.name: f"c{i}" for i, c in enumerate(columns)}
    decoder = SourceDecoder(source, inputs)
    parts = decoded_topic(session.log, source.topic, decoder)
    window = ', "__ws"' if source.window is not None else ""
    bounds = '"__ws" AS ws, "__we" AS we' if source.window is not None else "0::BIGINT AS ws, 0::BIGINT AS we"
    keys = ", ".join(f'"{alias[c.name]}"' for c in source.key_columns)
    select = ", ".join(f'"{alias[o.name]}" AS o{i}' for i, o in enumerate(outputs))
    con = duck.connect()
    try:
        if not parts:
            return pa.table({f"o{i}": pa.nulls(0, o.type.to_arrow()) for i, o in enumerate(outputs)}
                            | {"__ts": pa.nulls(0, pa.int64()), "ws": pa.nulls(0, pa.int64()),
                               "we": pa.nulls(0, pa.int64()), "__having": pa.nulls(0, pa.bool_())})
        con.register("changes", pa.concat_tables(parts, promote_options="default"))
        return con.sql(
            f'SELECT {select}, "{ROWTIME}" AS __ts, {bounds}, true AS __having FROM (SELECT * FROM changes QUALIFY '
            f'row_number() OVER (PARTITION BY {keys}{window} ORDER BY "{ROWPARTITION}", "{ROWOFFSET}" DESC) = 1) '
            f'WHERE NOT "{DELETED}"').to_arrow_table()
    finally:
        con.close()


def decoded_topic(log: Log, topic: str, decoder: SourceDecoder) -> list[pa.Table]:
    """Every record of ``topic`` as it is now, decoded, one table per stored batch."""
    parts = []
    for partition in range(log.describe_topic(topic).partitions):
        offset = log.beginning_offset(topic, partition)
        while offset < log.end_offset(topic, partition):
            fetched = log.read(topic, partition, offset)
            decoded, _ = decoder.decode(fetched)
            parts.append(decoded)
            offset = fetched.next_offset
    return parts


def stream_snapshot(session: PullSource, source: DataSource) -> tuple[pa.Table, list[OutputColumn]]:
    """A stream's topic as it is now, from its beginning (a pull query on a stream scans the topic).

    Shaped like :func:`topic_snapshot`; records with a null value are not rows of a stream.
    """
    columns = [*source.key_columns, *source.value_columns]
    outputs = [OutputColumn(c.name, c.type, c.namespace, f'"c{i}"') for i, c in enumerate(columns)]
    decoder = SourceDecoder(source, [InputColumn(f"c{i}", c) for i, c in enumerate(columns)])
    parts = decoded_topic(session.log, source.topic, decoder)
    renamed = []
    for part in parts:
        n = part.num_rows
        data = {f"o{i}": part.column(f"c{i}") for i in range(len(columns))}
        data["__ts"] = part.column(ROWTIME)
        data["ws"] = part.column(WINDOW_START) if WINDOW_START in part.column_names else pa.nulls(n, pa.int64())
        data["we"] = part.column(WINDOW_END) if WINDOW_END in part.column_names else pa.nulls(n, pa.int64())
        data["__having"] = pa.array([True] * n, pa.bool_())
        renamed.append(pa.table(data))
    if not renamed:
        empty = {f"o{i}": pa.nulls(0, c.type.to_arrow()) for i, c in enumerate(columns)}
        return pa.table(empty | {"__ts": pa.nulls(0, pa.int64()), "ws": pa.nulls(0, pa.int64()),
                                 "we": pa.nulls(0, pa.int64()), "__having": pa.nulls(0, pa.bool_())}), outputs
    return pa.concat_tables(renamed, promote_options="default"), outputs


def _is_key_lookup(where: ast.Expression | None, source: DataSource) -> bool:
    """The WHERE clause pins every key column (``k = x`` or ``k IN (...)`` in its top-level conjunction)."""
    pinned: set[str] = set()
    pending = [where] if where is not None else []
    while pending:
        node = pending.pop()
        if isinstance(node, ast.LogicalOp) and node.op == "AND":
            pending += [node.left, node.right]
        elif isinstance(node, ast.Comparison) and node.op == "=":
            for side in (node.left, node.right):
                if isinstance(side, ast.ColumnRef):
                    pinned.add(side.name)
        elif isinstance(node, ast.InList) and not node.negated and isinstance(node.value, ast.ColumnRef):
            pinned.add(node.value.name)
    return all(c.name in pinned for c in source.key_columns)


def _check_properties(query: ast.Query, source: DataSource, props: dict[str, str]) -> None:
    """``ksql.query.pull.stream.enabled`` and ``ksql.query.pull.table.scan.enabled``, as ksqlDB honours them."""
    if not source.is_table:
        if props.get("ksql.query.pull.stream.enabled", "true").lower() != "true":
            raise SqlSemanticError("Pull queries on streams are disabled. To create a push query on the stream, add "
                                   "EMIT CHANGES to the end. To enable pull queries on streams, set the "
                                   "ksql.query.pull.stream.enabled config to 'true'.", query.pos)
    elif (props.get("ksql.query.pull.table.scan.enabled", "true").lower() != "true"
          and not _is_key_lookup(query.where, source)):
        raise SqlSemanticError("Query requires table scan to be enabled. Table scans can be enabled by setting "
                               "ksql.query.pull.table.scan.enabled=true", query.pos)


def pull(session: PullSource, query: ast.Query, query_id: str, properties: dict[str, str] | None = None) -> PullResult:
    relation = query.from_
    if not isinstance(relation, ast.AliasedRelation):
        raise SqlSemanticError("Pull queries don't support JOIN clauses.", relation.pos)
    if query.group_by is not None or query.window is not None or query.partition_by is not None:
        raise SqlSemanticError("Pull queries don't support GROUP BY, WINDOW or PARTITION BY clauses.", query.pos)
    source = session.catalog.get(relation.name, relation.pos)
    _check_properties(query, source, properties or {})
    writer: Any = next((q for q in session.queries.values()
                        if isinstance(q.operator, AggregateOperator) and q.sink.name == source.name), None)
    snapshot = None
    outputs: list[OutputColumn] | None = None
    if not source.is_table:  # a pull query on a stream scans its topic (ksqlDB 0.23+)
        snapshot, outputs = stream_snapshot(session, source)
    if writer is None and source.is_table:
        # A CTAS without GROUP BY (a query over a table) keeps no state: its table is its topic.
        writer = next((q for q in session.queries.values() if q.sink.name == source.name), None)
        if writer is not None:
            snapshot = topic_snapshot(session, source, writer.plan.outputs)
    if writer is None and outputs is None:
        raise SqlSemanticError(
            f"The `{source.name}` {'table' if source.is_table else 'stream'} isn't queryable. To derive a queryable "
            f"table, you can do 'CREATE TABLE QUERYABLE_{source.name} AS SELECT * FROM {source.name}'. "
            "See https://cnfl.io/queries for more info.",
            relation.pos,
        )
    if snapshot is None:
        snapshot = writer.operator.snapshot()
    if outputs is None:
        outputs = list(writer.plan.outputs)
    columns: dict[str, SqlType] = {}
    renames = []
    windowed = source.window is not None
    keys = [(i, o) for i, o in enumerate(outputs) if o.namespace is Namespace.KEY]
    values = [(i, o) for i, o in enumerate(outputs) if o.namespace is Namespace.VALUE]
    star = [o.name for _, o in keys] + (["WINDOWSTART", "WINDOWEND"] if windowed else []) + [o.name for _, o in values]
    for i, o in keys + values:
        columns[o.name] = o.type
        renames.append(f"o{i} AS {duck.identifier(o.name)}")
    columns["ROWTIME"] = BIGINT
    renames.append('__ts AS "ROWTIME"')
    if windowed:
        columns["WINDOWSTART"] = BIGINT
        columns["WINDOWEND"] = BIGINT
        renames += ['ws AS "WINDOWSTART"', 'we AS "WINDOWEND"']
    scope = TableScope(columns, relation.alias or source.name)
    select: list[str] = []
    names: list[str] = []
    types: list[SqlType] = []
    for item in query.select:
        if isinstance(item, ast.AllColumns):
            for name in star:
                select.append(duck.identifier(name))
                names.append(name)
                types.append(columns[name])
        elif isinstance(item, ast.SingleColumn):
            compiled = compile_expression(item.expression, scope)
            name = item.alias or getattr(item.expression, "name", None) or f"KSQL_COL_{len(names)}"
            select.append(compiled.sql)
            names.append(name)
            types.append(compiled.type or BIGINT)
        else:
            raise SqlSemanticError("This projection is not supported in pull queries.", item.pos)
    where = ""
    if query.where is not None:
        where = f" AND ({compile_expression(iso_timestamps_as_millis(query.where), scope).sql})"
    limit = f" LIMIT {query.limit}" if query.limit is not None else ""
    con = duck.connect(install_functions)
    try:
        con.register("snap", snapshot)
        con.execute(f"CREATE TEMP VIEW t AS SELECT {', '.join(renames)}, __having FROM snap").fetchall()
        columns = ", ".join(f"{sql} AS c{i}" for i, sql in enumerate(select))
        table = con.sql(f"SELECT {columns} FROM t WHERE coalesce(__having, false){where}{limit}").to_arrow_table()
    finally:
        con.close()
    return PullResult(query_id, names, types, table)
