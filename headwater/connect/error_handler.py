"""Connect's error handling for a task: retries with backoff, tolerance, and the dead-letter topic.

``errors.retry.timeout`` (ms, -1 forever, default 0) and
``errors.retry.delay.max.ms`` bound the retries of a RetriableError with
exponential backoff (300 ms doubling, as Connect's RetryWithToleranceOperator).
While it retries, ``on_retrying`` is told the last error (the task's status
shows it as its trace, state still RUNNING) and, once an attempt succeeds,
None; past the timeout the task fails with the error.
``errors.tolerance=none`` fails the task on the first bad record;
``all`` skips it, and with ``errors.deadletterqueue.topic.name`` sends the
original bytes there, with Connect's ``__connect.errors.*`` headers when
``errors.deadletterqueue.context.headers.enable`` is true.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from headwater.connect.api import ConnectError, RetriableError
from headwater.log import Log, Record

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Stages of Connect's ErrorHandlingMetrics / the __connect.errors.stage header.
KEY_CONVERTER, VALUE_CONVERTER, HEADER_CONVERTER = "KEY_CONVERTER", "VALUE_CONVERTER", "HEADER_CONVERTER"
TRANSFORMATION, TASK_PUT, TASK_POLL = "TRANSFORMATION", "TASK_PUT", "TASK_POLL"
_INITIAL_BACKOFF_S = 0.3


class ToleranceExceeded(ConnectError):
    """errors.tolerance=none and a record failed: the task fails with this (and the cause) as trace."""


@dataclass(frozen=True)
class RawRecord:
    """A record as it was in the log, for the dead-letter topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int | None = None


def _java_class(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


class ErrorHandler:
    def __init__(self, log: Log, connector: str, task_id: int, config: Mapping[str, str]) -> None:
        self.log = log
        self.connector = connector
        self.task_id = task_id
        self.tolerance = config.get("errors.tolerance", "none")
        if self.tolerance not in ("none", "all"):
            raise ConnectError(f"Invalid value {self.tolerance} for configuration errors.tolerance: "
                               "String must be one of: none, all")
        self.retry_timeout_ms = int(config.get("errors.retry.timeout", "0"))
        self.retry_delay_max_s = int(config.get("errors.retry.delay.max.ms", "60000")) / 1000
        self.dlq_topic = config.get("errors.deadletterqueue.topic.name", "").strip()
        self.context_headers = config.get("errors.deadletterqueue.context.headers.enable", "false").lower() == "true"
        self.log_errors = config.get("errors.log.enable", "false").lower() == "true"
        self.skipped = 0
        #: Told the error being retried (a trace for the task's status), then None once an attempt succeeds.
        self.on_retrying: Callable[[str | None], None] | None = None
        if self.dlq_topic:
            partitions = int(config.get("errors.deadletterqueue.topic.partitions", "1"))
            log.create_topic(self.dlq_topic, partitions, exist_ok=True)

    def retry(self, operation: Callable[[], T], stage: str, stopping: threading.Event) -> T:
        """Run ``operation``, retrying a RetriableError with backoff until errors.retry.timeout."""
        deadline = None if self.retry_timeout_ms < 0 else time.monotonic() + self.retry_timeout_ms / 1000
        delay = _INITIAL_BACKOFF_S
        attempt = 0
        while True:
            attempt += 1
            try:
                result = operation()
            except RetriableError as exc:
                left = None if deadline is None else deadline - time.monotonic()
                if stopping.is_set() or (left is not None and left <= 0):
                    raise ConnectError(f"Exceeded errors.retry.timeout={self.retry_timeout_ms} ms in stage "
                                       f"{stage} after {attempt} attempt(s): {exc}") from exc
                if self.on_retrying is not None:
                    until = "until it succeeds" if deadline is None else f"for up to {self.retry_timeout_ms} ms"
                    self.on_retrying(f"Retrying stage {stage} {until} (errors.retry.timeout) after a retriable "
                                     "error:\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
                wait = min(delay, self.retry_delay_max_s, left if left is not None else delay)
                logger.info("connector %s task %d: %s failed (%s), retrying in %.2f s",
                            self.connector, self.task_id, stage, exc, wait,
                            extra={"connector": self.connector, "task": self.task_id})
                stopping.wait(wait)
                delay *= 2
                continue
            if attempt > 1 and self.on_retrying is not None:
                self.on_retrying(None)
            return result

    def tolerate(self, stage: str, error: BaseException, raw: RawRecord | None) -> None:
        """A record failed in ``stage``: raise ToleranceExceeded, or skip it (to the dead-letter topic)."""
        if self.tolerance == "none":
            raise ToleranceExceeded("Tolerance exceeded in error handler") from error
        self.skipped += 1
        if self.log_errors:
            logger.error("connector %s task %d: error in stage %s for %s: %s", self.connector, self.task_id,
                         stage, raw and f"{raw.topic}[{raw.partition}]@{raw.offset}", error,
                         extra={"connector": self.connector, "task": self.task_id, **({
                             "topic": raw.topic, "partition": raw.partition, "offset": raw.offset} if raw else {})})
        if raw is None or not self.dlq_topic:
            return
        headers = list(raw.headers)
        if self.context_headers:
            trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            context = {
                "__connect.errors.topic": raw.topic,
                "__connect.errors.partition": str(raw.partition),
                "__connect.errors.offset": str(raw.offset),
                "__connect.errors.connector.name": self.connector,
                "__connect.errors.task.id": str(self.task_id),
                "__connect.errors.stage": stage,
                "__connect.errors.class.name": stage_class(stage),
                "__connect.errors.exception.class.name": _java_class(error),
                "__connect.errors.exception.message": str(error),
                "__connect.errors.exception.stacktrace": trace,
            }
            headers += [(k, v.encode()) for k, v in context.items()]
        self.log.append(self.dlq_topic, 0, [Record(raw.value, raw.key, raw.timestamp, tuple(headers))])


def stage_class(stage: str) -> str:
    return {
        KEY_CONVERTER: "key.converter", VALUE_CONVERTER: "value.converter", TRANSFORMATION: "transforms",
        TASK_PUT: "headwater.connect.api.SinkTask", TASK_POLL: "headwater.connect.api.SourceTask",
    }.get(stage, stage)
