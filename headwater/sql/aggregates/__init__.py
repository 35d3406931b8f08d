"""ksqlDB's aggregate functions as SQL templates over a state (see ``base.py``)."""

from __future__ import annotations

from headwater.sql.aggregates import basic  # noqa: F401 - registers the built-ins
from headwater.sql.aggregates.base import (
    AggregateFunction,
    BoundAggregate,
    aggregate,
    aggregate_names,
    register_aggregate,
)

__all__ = ["AggregateFunction", "BoundAggregate", "aggregate", "aggregate_names", "register_aggregate"]
