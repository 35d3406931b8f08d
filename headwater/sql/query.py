"""The AST of SELECT: select items, relations and joins, windows, and the query itself.

Re-exported by :mod:`headwater.sql.ast`; see there for the conventions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from headwater.sql.expressions import Duration, Expression, Node


class Statement(Node):
    """Base of statement nodes."""

    __slots__ = ()


class SelectItem(Node):
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SingleColumn(SelectItem):
    """``expression [AS alias]``."""

    expression: Expression
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class AllColumns(SelectItem):
    """``*`` (``source`` is None) or ``alias.*``."""

    source: str | None = None


@dataclass(frozen=True, slots=True)
class StructAll(SelectItem):
    """``struct_expression->*``: every field of a struct as a column."""

    expression: Expression


class Relation(Node):
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class AliasedRelation(Relation):
    """A stream or table in FROM or JOIN, with its alias if one was given."""

    name: str
    alias: str | None = None


class JoinType(enum.Enum):
    INNER = "INNER"
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    FULL = "FULL"


@dataclass(frozen=True, slots=True)
class WithinExpression(Node):
    """``WITHIN n unit`` (before == after) or ``WITHIN (before, after)``, with GRACE PERIOD."""

    before: Duration
    after: Duration
    grace: Duration | None = None


@dataclass(frozen=True, slots=True)
class JoinedSource(Node):
    """One ``[type] JOIN relation [WITHIN ...] ON criteria`` step."""

    join_type: JoinType
    relation: AliasedRelation
    criteria: Expression
    within: WithinExpression | None = None


@dataclass(frozen=True, slots=True)
class Join(Relation):
    """``left`` joined with each of ``joins`` in turn, left to right."""

    left: AliasedRelation
    joins: tuple[JoinedSource, ...]


class WindowExpression(Node):
    """Base of the three window kinds; each has ``retention``, ``grace`` and ``name``."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class TumblingWindow(WindowExpression):
    size: Duration
    retention: Duration | None = None
    grace: Duration | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class HoppingWindow(WindowExpression):
    size: Duration
    advance: Duration
    retention: Duration | None = None
    grace: Duration | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class SessionWindow(WindowExpression):
    gap: Duration
    retention: Duration | None = None
    grace: Duration | None = None
    name: str | None = None


class EmitType(enum.Enum):
    CHANGES = "CHANGES"
    FINAL = "FINAL"


@dataclass(frozen=True, slots=True)
class Query(Statement):
    """``SELECT ... FROM ... [WINDOW] [WHERE] [GROUP BY] [PARTITION BY] [HAVING] [EMIT] [LIMIT]``.

    ``group_by`` / ``partition_by`` are None when the clause is absent and may be
    empty (``PARTITION BY ()``). A query with ``emit`` is a push query, one without
    a pull query (or, inside CSAS/CTAS/INSERT, a persistent query).
    """

    select: tuple[SelectItem, ...]
    from_: Relation
    window: WindowExpression | None = None
    where: Expression | None = None
    group_by: tuple[Expression, ...] | None = None
    partition_by: tuple[Expression, ...] | None = None
    having: Expression | None = None
    emit: EmitType | None = None
    limit: int | None = None

    @property
    def is_push(self) -> bool:
        return self.emit is not None


__all__ = [
    "AliasedRelation", "AllColumns", "EmitType", "HoppingWindow", "Join", "JoinType", "JoinedSource", "Query",
    "Relation", "SelectItem", "SessionWindow", "SingleColumn", "Statement", "StructAll", "TumblingWindow",
    "WindowExpression", "WithinExpression",
]
