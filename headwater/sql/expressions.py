"""Expression nodes of the ksqlDB dialect, and the node base every AST node shares.

Nodes are frozen dataclasses. Each carries ``pos`` (line and column, 1-based, of
its first token); ``pos`` is left out of equality and ``repr``, so a statement
parsed from its canonical text equals the statement it was formatted from.

Names are stored as ksqlDB resolves them: unquoted identifiers upper-cased,
quoted ones (``"x"`` or ```x```) exactly as written.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from decimal import Decimal

from headwater.sql.types import SqlType


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the SQL text: 1-based line and column."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"line {self.line}:{self.column}"


NO_POSITION = Position(0, 0)


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every AST node."""

    pos: Position = field(default=NO_POSITION, kw_only=True, compare=False, repr=False)


def children(node: Node) -> Iterator[Node]:
    """The direct child nodes of ``node``, in field order (tuples and pairs are looked into)."""
    for f in fields(node):
        if f.name == "pos":
            continue
        yield from _nodes_in(getattr(node, f.name))


def _nodes_in(value: object) -> Iterator[Node]:
    if isinstance(value, Node):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _nodes_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _nodes_in(item)


def deepest(node: Node, limit: int) -> Node | None:
    """The first node found more than ``limit`` levels below ``node`` (None if there is none); no recursion."""
    stack = [(node, 0)]
    while stack:
        current, level = stack.pop()
        if level > limit:
            return current
        stack.extend((child, level + 1) for child in children(current))
    return None


def walk(node: Node) -> Iterator[Node]:
    """``node`` and all nodes below it, depth first, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


class TimeUnit(enum.Enum):
    """The units of window sizes, WITHIN, GRACE PERIOD and the date/time functions."""

    MILLISECONDS = 1
    SECONDS = 1_000
    MINUTES = 60_000
    HOURS = 3_600_000
    DAYS = 86_400_000

    @property
    def millis(self) -> int:
        return int(self.value)


#: Every spelling of a time unit ksqlDB accepts, singular and plural.
TIME_UNITS: dict[str, TimeUnit] = {}
for _unit in TimeUnit:
    TIME_UNITS[_unit.name] = _unit
    TIME_UNITS[_unit.name[:-1]] = _unit

#: Pseudo columns every source has, and the window bounds of windowed sources.
PSEUDO_COLUMNS = frozenset({"ROWTIME", "ROWPARTITION", "ROWOFFSET"})
WINDOW_BOUNDS = frozenset({"WINDOWSTART", "WINDOWEND"})


@dataclass(frozen=True, slots=True)
class Duration(Node):
    """``<value> <unit>`` as in ``SIZE 60 SECONDS``."""

    value: int
    unit: TimeUnit

    @property
    def millis(self) -> int:
        return self.value * self.unit.millis


class Expression(Node):
    """Base of expression nodes."""

    __slots__ = ()


# --- literals ---------------------------------------------------------------


class Literal(Expression):
    """Base of literal values; ``value`` is the Python value."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class StringLiteral(Literal):
    value: str


@dataclass(frozen=True, slots=True)
class IntegerLiteral(Literal):
    """An integer; INTEGER when it fits 32 bits, else BIGINT (as ksqlDB types it)."""

    value: int


@dataclass(frozen=True, slots=True)
class DecimalLiteral(Literal):
    """``1.50`` (no exponent): a DECIMAL whose precision and scale come from the text."""

    value: Decimal


@dataclass(frozen=True, slots=True)
class DoubleLiteral(Literal):
    """``1.5E3`` (with an exponent): a DOUBLE."""

    value: float


@dataclass(frozen=True, slots=True)
class BooleanLiteral(Literal):
    value: bool


@dataclass(frozen=True, slots=True)
class NullLiteral(Literal):
    @property
    def value(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class TimeUnitLiteral(Expression):
    """A bare time unit passed to a function: ``TIMESTAMPADD(SECONDS, 5, ts)``."""

    unit: TimeUnit


# --- references --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnRef(Expression):
    """A column, optionally qualified by a source name or alias: ``c.userid``.

    Pseudo columns (ROWTIME, ...) and window bounds are column references too;
    see :attr:`is_pseudo`.
    """

    name: str
    source: str | None = None

    @property
    def is_pseudo(self) -> bool:
        return self.name in PSEUDO_COLUMNS or self.name in WINDOW_BOUNDS


@dataclass(frozen=True, slots=True)
class LambdaVariable(Expression):
    """A lambda parameter used in the lambda's body."""

    name: str


@dataclass(frozen=True, slots=True)
class Dereference(Expression):
    """Struct field access ``base->field``."""

    base: Expression
    field: str


@dataclass(frozen=True, slots=True)
class Subscript(Expression):
    """``base[index]``: 1-based for arrays (negative counts from the end), by key for maps."""

    base: Expression
    index: Expression


# --- operators ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnaryOp(Expression):
    """``-x`` or ``+x``. A minus right before a number is folded into the literal."""

    op: str
    operand: Expression


@dataclass(frozen=True, slots=True)
class BinaryOp(Expression):
    """Arithmetic ``+ - * / %`` and string concatenation ``||``."""

    op: str
    left: Expression
    right: Expression


@dataclass(frozen=True, slots=True)
class Comparison(Expression):
    """``= <> < <= > >=`` (``!=`` is read as ``<>``)."""

    op: str
    left: Expression
    right: Expression


@dataclass(frozen=True, slots=True)
class LogicalOp(Expression):
    """``AND`` / ``OR``."""

    op: str
    left: Expression
    right: Expression


@dataclass(frozen=True, slots=True)
class Not(Expression):
    operand: Expression


@dataclass(frozen=True, slots=True)
class IsNull(Expression):
    operand: Expression
    negated: bool = False


@dataclass(frozen=True, slots=True)
class IsDistinctFrom(Expression):
    left: Expression
    right: Expression
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Like(Expression):
    value: Expression
    pattern: Expression
    escape: str | None = None
    negated: bool = False


@dataclass(frozen=True, slots=True)
class InList(Expression):
    value: Expression
    items: tuple[Expression, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Between(Expression):
    value: Expression
    low: Expression
    high: Expression
    negated: bool = False


@dataclass(frozen=True, slots=True)
class AtTimeZone(Expression):
    """``value AT TIME ZONE 'zone'``."""

    value: Expression
    zone: str


# --- compound ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WhenClause(Node):
    condition: Expression
    result: Expression


@dataclass(frozen=True, slots=True)
class Case(Expression):
    """Searched (``operand`` is None) or simple CASE."""

    operand: Expression | None
    whens: tuple[WhenClause, ...]
    default: Expression | None = None


@dataclass(frozen=True, slots=True)
class Cast(Expression):
    operand: Expression
    type: SqlType


@dataclass(frozen=True, slots=True)
class FunctionCall(Expression):
    """``name(args)``; ``COUNT(*)`` has ``star`` set and no args."""

    name: str
    args: tuple[Expression, ...] = ()
    distinct: bool = False
    star: bool = False


@dataclass(frozen=True, slots=True)
class Lambda(Expression):
    """``x => body`` or ``(x, y) => body``; uses of the parameters are :class:`LambdaVariable`."""

    params: tuple[str, ...]
    body: Expression


@dataclass(frozen=True, slots=True)
class ArrayConstructor(Expression):
    """``ARRAY[a, b]``."""

    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class MapConstructor(Expression):
    """``MAP(k := v, ...)``."""

    entries: tuple[tuple[Expression, Expression], ...]


@dataclass(frozen=True, slots=True)
class StructConstructor(Expression):
    """``STRUCT(name := value, ...)``."""

    fields: tuple[tuple[str, Expression], ...]


__all__ = [
    "NO_POSITION", "PSEUDO_COLUMNS", "TIME_UNITS", "WINDOW_BOUNDS", "ArrayConstructor", "AtTimeZone", "Between",
    "BinaryOp", "BooleanLiteral", "Case", "Cast", "ColumnRef", "Comparison", "DecimalLiteral", "Dereference",
    "DoubleLiteral", "Duration", "Expression", "FunctionCall", "InList", "IntegerLiteral", "IsDistinctFrom",
    "IsNull", "Lambda", "LambdaVariable", "Like", "Literal", "LogicalOp", "MapConstructor", "Node", "Not",
    "NullLiteral", "Position", "StringLiteral", "StructConstructor", "Subscript", "TimeUnit", "TimeUnitLiteral",
    "UnaryOp", "WhenClause", "children", "walk",
]
