"""Which operator runs a plan: one place that maps a query's plan to its :class:`Operator`."""

from __future__ import annotations

from headwater.engine.aggregate import AggregateOperator
from headwater.engine.join import JoinOperator
from headwater.engine.join_aggregate_push import JoinAggregatePushOperator
from headwater.engine.join_push import JoinPushOperator
from headwater.engine.operator import Operator, Plan
from headwater.engine.stateless import StatelessOperator
from headwater.engine.table_aggregate import TableAggregateOperator
from headwater.log import Log
from headwater.sql.aggregate_planner import AggregatePlan
from headwater.sql.catalog import DataSource
from headwater.sql.join_planner import JoinPlan


def persistent_operator(plan: Plan, log: Log, *, query_id: str, statement: str, service_id: str, group: str,
                        offset_reset: str) -> Operator[Plan]:
    """The operator of a persistent query: its state is changelogged and restored."""
    if isinstance(plan, AggregatePlan):
        kind = TableAggregateOperator if plan.source.is_table else AggregateOperator
        return kind(plan, log, group=group, offset_reset=offset_reset, query_id=query_id, statement=statement,
                    service_id=service_id)
    if isinstance(plan, JoinPlan):
        return JoinOperator(plan, log, group=group, offset_reset=offset_reset, query_id=query_id,
                            service_id=service_id)
    return StatelessOperator(plan, log, group=group, offset_reset=offset_reset, strict=True)


def push_operator(plan: Plan, log: Log, *, query_id: str, service_id: str, offset_reset: str,
                  joined: tuple[JoinPlan, DataSource] | None = None) -> Operator[Plan]:
    """The operator of a push query: state of its own, in memory, for as long as the query runs.
    ``joined``: ``plan`` aggregates the rows of this join (its plan and the stream or table of its rows)."""
    if joined is not None:
        assert isinstance(plan, AggregatePlan)
        return JoinAggregatePushOperator(joined[0], joined[1], plan, log, offset_reset=offset_reset,
                                         query_id=query_id, service_id=service_id)
    if isinstance(plan, AggregatePlan):
        kind = TableAggregateOperator if plan.source.is_table else AggregateOperator
        return kind(plan, log, group=None, offset_reset=offset_reset, query_id=query_id)
    if isinstance(plan, JoinPlan):
        return JoinPushOperator(plan, log, offset_reset=offset_reset, query_id=query_id, service_id=service_id)
    return StatelessOperator(plan, log, group=None, offset_reset=offset_reset, strict=False)
