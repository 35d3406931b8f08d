"""The aggregate-function contract: an aggregate is SQL templates over a state.

The aggregation operator (``headwater/engine/aggregate.py``) keeps, per group
(and window), a row of *state columns* in DuckDB. For each input batch it runs
the templates of every aggregate of the query, all vectorized:

- ``partial``: aggregate expressions for a ``GROUP BY`` over the batch, giving
  one state per group for the batch alone;
- ``running``: the same as window expressions (``... OVER w``, with ``w``
  partitioning by group and window and ordering by offset, rows from the start
  to the current row), giving per input record the state of the batch so far:
  EMIT CHANGES emits one update per record, as ksqlDB does with caching off;
- ``merge``: combine a stored state (whose columns may all be NULL: a group
  not seen before) with a batch state, column by column;
- ``result``: the aggregate's value from a state;
- ``undo`` (table aggregations only; ``{n0}``... is the ``partial`` state of the
  retracted rows): remove a retracted row's contribution
  (a row leaving its group when a table row changes or is deleted). An
  aggregate without ``undo`` cannot aggregate a table, as in ksqlDB.

Templates are ``str.format`` strings: ``{0}``, ``{1}``... are the argument
SQL (columns of the pre-aggregation relation), ``{s0}``, ``{s1}``... the state
columns, ``{o0}``/``{n0}``... the old and new state columns in ``merge`` and
``undo``, ``{w}`` the window clause in ``running``. Literal arguments (the
``k`` of TOPK, ``n`` of EARLIEST_BY_OFFSET) are passed to ``bind`` as Python
values and may be formatted into the templates.

Null semantics are ksqlDB's: COUNT(col) counts non-null values, SUM/MIN/MAX/AVG
ignore nulls, an aggregate over no non-null value is NULL except COUNT (0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from headwater.sql.types import SqlType


@dataclass(frozen=True)
class BoundAggregate:
    """An aggregate call bound to its argument types: what the operator runs."""

    name: str
    result_type: SqlType
    state_types: tuple[str, ...]  # DuckDB types of the state columns
    partial: tuple[str, ...]  # one template per state column
    running: tuple[str, ...]  # one template per state column
    merge: tuple[str, ...]  # one template per state column
    result: str
    undo: tuple[str, ...] | None = None
    #: The template needs the record's offset column ``{offset}`` (EARLIEST/LATEST_BY_OFFSET).
    uses_offset: bool = False


#: Binds an aggregate to argument types (None = untyped NULL) and literal arguments; raises SqlSemanticError.
Binder = Callable[[Sequence[SqlType | None], Sequence[object]], BoundAggregate]


@dataclass(frozen=True)
class AggregateFunction:
    """A registered aggregate: ksqlDB metadata plus its binder."""

    name: str
    description: str
    signatures: tuple[str, ...]  # as DESCRIBE FUNCTION shows them, e.g. "SUM(col INT) -> INT"
    bind: Binder
    #: Positions (0-based, negative from the end) of arguments that must be literals when present
    #: (TOPK's k, LATEST_BY_OFFSET's n and ignoreNulls); ``bind`` gets their values in argument order.
    literal_args: tuple[int, ...] = ()


_AGGREGATES: dict[str, AggregateFunction] = {}


def register_aggregate(function: AggregateFunction) -> AggregateFunction:
    _AGGREGATES[function.name.upper()] = function
    return function


def aggregate(name: str) -> AggregateFunction | None:
    return _AGGREGATES.get(name.upper())


def aggregate_names() -> list[str]:
    return sorted(_AGGREGATES)
