"""ksqlDB's aggregate functions as SQL templates over a state (see ``base.py``)."""

from __future__ import annotations

# Importing a module registers its aggregates.
from headwater.sql.aggregates import (  # noqa: F401
    basic,
    by_offset,
    collect,
    distinct,
    histogram,
    moments,
    sum_list,
    topk,
)
from headwater.sql.aggregates.base import (
    AggregateFunction,
    BoundAggregate,
    aggregate,
    aggregate_names,
    register_aggregate,
)

__all__ = ["AggregateFunction", "BoundAggregate", "aggregate", "aggregate_names", "register_aggregate"]
