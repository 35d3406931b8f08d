"""GET /metrics: Prometheus text format, from the app's registry.

Request-driven figures (collector requests, events, latency) are counters the
route modules update as they go. Figures the log and the queries already keep
are read at scrape time by :class:`LogAndQueryCollector`, so nothing on the
hot path pays for them:

- ``headwater_log_end_offset{topic,partition}`` and
  ``headwater_log_records_total{topic}``: every append by any process moves
  them, so ``rate(headwater_log_records_total[1m])`` is the append rate per topic;
- ``headwater_consumer_lag{group,topic,partition}``: end offset minus the
  group's committed offset;
- ``headwater_cdc_slot_lag_bytes``, ``headwater_cdc_commit_lag_ms`` and
  ``headwater_cdc_events`` ``{connector,source}``: what the CDC source tasks
  keep (:mod:`headwater.connect.cdc.metrics`);
- per persistent query: records in and out, failed records, late records,
  state rows (windowed aggregations), seconds since the last checkpoint
  (commit of output + offsets), and its state.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from headwater.connect.cdc import metrics as cdc_metrics
from headwater.errors import HeadwaterError
from headwater.log import TopicPartition
from headwater.server.state import ServerState

logger = logging.getLogger(__name__)


class LogAndQueryCollector(Collector):
    """Reads the log's offsets and the session's queries when Prometheus scrapes."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        yield from self._log_metrics()
        yield from self._query_metrics()
        yield from self._cdc_metrics()

    @staticmethod
    def _cdc_metrics() -> Iterator[Metric]:
        families = {name: GaugeMetricFamily(name, text, labels=["connector", "source"])
                    for name, text in cdc_metrics.HELP.items()}
        for sample in cdc_metrics.samples():
            families[sample.name].add_metric([sample.connector, sample.source], sample.value)
        yield from families.values()

    def _log_metrics(self) -> Iterator[Metric]:
        log = self.state.log
        end = GaugeMetricFamily("headwater_log_end_offset", "Next offset to be written, per partition.",
                                labels=["topic", "partition"])
        total = CounterMetricFamily("headwater_log_records", "Records appended to the topic so far (sum of end "
                                    "offsets; rate() of it is the append rate).", labels=["topic"])
        lag = GaugeMetricFamily("headwater_consumer_lag", "End offset minus the group's committed offset.",
                                labels=["group", "topic", "partition"])
        ends: dict[TopicPartition, int] = {}
        try:
            for topic in log.list_topics():
                partitions = log.describe_topic(topic).partitions
                topic_total = 0
                for p in range(partitions):
                    offset = log.end_offset(topic, p)
                    ends[TopicPartition(topic, p)] = offset
                    topic_total += offset
                    end.add_metric([topic, str(p)], offset)
                total.add_metric([topic], topic_total)
            for group in log.list_groups():
                for tp, committed in log.committed(group, list(ends)).items():
                    if committed is not None:
                        lag.add_metric([group, tp.topic, str(tp.partition)], max(0, ends[tp] - committed))
        except HeadwaterError as exc:  # a topic deleted while we looked: report what we have
            logger.debug("metrics: log changed during the scrape: %s", exc)
        yield end
        yield total
        yield lag

    def _query_metrics(self) -> Iterator[Metric]:
        labels = ["query"]
        records_in = CounterMetricFamily("headwater_query_records_in", "Records a persistent query consumed.", labels=labels)
        records_out = CounterMetricFamily("headwater_query_records_out", "Records a persistent query produced.",
                                          labels=labels)
        failed = CounterMetricFamily("headwater_query_failed_records", "Records a persistent query sent to the "
                                     "processing log (decode or evaluation errors).", labels=labels)
        late = CounterMetricFamily("headwater_query_late_records", "Records dropped because their window had "
                                   "closed (past its end plus grace).", labels=labels)
        state_rows = GaugeMetricFamily("headwater_query_state_rows", "Rows of a query's aggregation state "
                                       "((group, window) pairs held).", labels=labels)
        state_bytes = GaugeMetricFamily("headwater_query_state_bytes", "Memory the DuckDB of a query's aggregation "
                                        "state holds (its duckdb_memory(): tables and intermediates).", labels=labels)
        since = GaugeMetricFamily("headwater_query_seconds_since_checkpoint", "Seconds since the query last "
                                  "committed output and input offsets together.", labels=labels)
        status = GaugeMetricFamily("headwater_query_state", "1 for the state the query is in.", labels=["query", "state"])
        error = GaugeMetricFamily("headwater_query_error", "1 while a query is in ERROR, labelled with why (it "
                                  "retries by itself).", labels=["query", "type", "reason"])
        now = time.time()
        session = self.state.session
        for query_id, query in list(session.queries.items() if session is not None else ()):
            stats = query.stats
            records_in.add_metric([query_id], stats.records_in)
            records_out.add_metric([query_id], stats.records_out)
            failed.add_metric([query_id], stats.failed)
            late.add_metric([query_id], getattr(query, "late_records", 0))
            rows = query.operator.state_rows()
            if rows is not None:
                state_rows.add_metric([query_id], rows)
            held = query.operator.state_bytes()
            if held is not None:
                state_bytes.add_metric([query_id], held)
            since.add_metric([query_id], max(0.0, now - stats.last_commit))
            status.add_metric([query_id, query.state.value], 1)
            problem = query.error()
            if problem is not None:
                error.add_metric([query_id, problem.type, problem.message[:300]], 1)
        yield from (records_in, records_out, failed, late, state_rows, state_bytes, since, status, error)


def scrape_registry(state: ServerState) -> CollectorRegistry:
    """What /metrics exposes: the app's registry, or, with several server processes, the sum of theirs.

    With ``headwater up --workers N`` every process writes its counters to
    files under PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess
    mode); the primary answers /metrics with their sum plus the collectors
    that read live state (log offsets, queries), which only it can see.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if state.config.role == "all" or not directory:
        return state.registry
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    for collector in list(state.registry._collector_to_names):  # noqa: SLF001 - no public listing exists
        if not isinstance(collector, MetricWrapperBase):
            registry.register(collector)
    return registry


def routes(state: ServerState) -> list[BaseRoute]:
    state.registry.register(LogAndQueryCollector(state))
    registry: list[CollectorRegistry] = []

    async def metrics(request: Request) -> Response:
        if not registry:  # built at the first scrape, after every module registered its collectors
            registry.append(scrape_registry(state))
        # The scrape reads the log (SQLite, files): keep it off the event loop.
        body = await run_in_threadpool(generate_latest, registry[0])
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]
