"""GROUP BY over a join in one statement: the join, then the aggregation of its rows, as ksqlDB plans it.

ksqlDB runs ``SELECT ... FROM a JOIN b ON ... GROUP BY ...`` as one topology:
the join, a repartition on the grouping key, the aggregation. Headwater runs
it as two persistent queries of the same statement: the join writes every
column of both sources (``SELECT *`` naming, ``<ALIAS>_<COLUMN>``) to an
internal topic, and the aggregation reads that topic with the statement's
SELECT, WHERE-free GROUP BY, WINDOW and HAVING rewritten over the joined
columns. The WHERE clause belongs to the join query (it filters joined rows,
before they are grouped, as in ksqlDB). An unaliased projection of a column
keeps the name ksqlDB gives it in a join (the bare name, or
``<ALIAS>_<COLUMN>`` when several sources have it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from headwater.errors import SqlSemanticError
from headwater.sql import ast
from headwater.sql.catalog import DataSource, Namespace
from headwater.sql.expressions import ColumnRef, Node
from headwater.sql.rewrite import rewrite

_PSEUDO = frozenset({"ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"})


def internal_topic(service_id: str, query_id: str) -> str:
    """The topic between the join and the aggregation of one statement (an internal topic, as ksqlDB's)."""
    return f"_confluent-ksql-{service_id}query_{query_id}-Join-intermediate"


def split(query: ast.Query, join: ast.Join, catalog: Any) -> tuple[ast.Query, Any]:
    """(the join query, a function from the joined stream or table to the aggregation query over it)."""
    relations: list[tuple[DataSource, str]] = []
    for rel in (join.left, *[j.relation for j in join.joins]):
        source = catalog.get(rel.name, rel.pos)
        relations.append((source, rel.alias or source.name))
    holders: dict[str, list[str]] = {}
    for source, alias in relations:
        for column in source.columns:
            if column.namespace in (Namespace.KEY, Namespace.VALUE, Namespace.HEADERS, Namespace.HEADER):
                holders.setdefault(column.name, []).append(alias)

    def joined_name(ref: ColumnRef) -> str:
        if ref.source is not None:
            alias = next((a for s, a in relations if ref.source in (a, s.name)), None)
            if alias is None:
                raise SqlSemanticError(f"'{ref.source}' is not a valid stream/table name or alias.", ref.pos)
            if alias not in holders.get(ref.name, []):
                raise SqlSemanticError(f"Column '{ref.source}.{ref.name}' cannot be resolved.", ref.pos)
            return f"{alias}_{ref.name}"
        found = holders.get(ref.name, [])
        if not found:
            raise SqlSemanticError(f"Column '{ref.name}' cannot be resolved.", ref.pos)
        if len(found) > 1:
            options = ", ".join(f"{a}.{ref.name}" for a in found)
            raise SqlSemanticError(f"Column '{ref.name}' is ambiguous. Could be any of: {options}", ref.pos)
        return f"{found[0]}_{ref.name}"

    def over_joined(node: Any) -> Any:
        def swap(n: Node) -> Node | None:
            if isinstance(n, ColumnRef) and n.name not in _PSEUDO:
                return ColumnRef(joined_name(n), pos=n.pos)
            return None

        return rewrite(node, swap)

    items: list[ast.SelectItem] = []
    for item in query.select:
        if not isinstance(item, ast.SingleColumn):
            raise SqlSemanticError("A GROUP BY over a join needs its projection spelled out (no *).", item.pos)
        alias = item.alias
        if alias is None and isinstance(item.expression, ColumnRef) and item.expression.name not in _PSEUDO:
            name = item.expression.name
            alias = joined_name(item.expression) if len(holders.get(name, [])) > 1 else name
        items.append(ast.SingleColumn(over_joined(item.expression), alias, pos=item.pos))
    joined_query = ast.Query((ast.AllColumns(pos=query.pos),), join, where=query.where, pos=query.pos)

    def aggregation(joined: DataSource) -> ast.Query:
        return replace(
            query, select=tuple(items), from_=ast.AliasedRelation(joined.name, pos=join.pos), where=None,
            group_by=tuple(over_joined(g) for g in query.group_by or ()),
            having=over_joined(query.having) if query.having is not None else None)

    return joined_query, aggregation


__all__ = ["internal_topic", "split"]
