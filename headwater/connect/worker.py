"""Task threads: a sink task reads its partitions and puts records; a source task polls and appends.

Sink: records are read from the partitions assigned to the task (topics split
round-robin over ``tasks.max``), converted, transformed and ``put``; after
``flush`` the next offsets are committed to the log's consumer group
``connect-<name>``. A crash replays from the last commit (at least once, as in
Connect). Source: the records of a ``poll`` are converted and appended in one
log transaction with their source offsets (topic ``connect-offsets``), so after
``kill -9`` either both are there or neither, and the task resumes from the
last offsets without loss or duplicates.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from headwater.connect.api import OffsetReader, SinkTask, SourceTask, Task
from headwater.connect.converters import Converter, converter_from_config
from headwater.connect.data import SinkRecord, SourceRecord
from headwater.connect.error_handler import (
    KEY_CONVERTER,
    TASK_PUT,
    TRANSFORMATION,
    VALUE_CONVERTER,
    ErrorHandler,
    RawRecord,
)
from headwater.connect.store import ConnectStore, offset_key
from headwater.connect.transform_chain import TransformChain
from headwater.errors import OffsetOutOfRangeError, UnknownTopicError
from headwater.log import Log, Record, TopicPartition
from headwater.log.partitioner import partition_for_keys

logger = logging.getLogger(__name__)

#: Task states (Connect's AbstractStatus.State; STOPPED is for connectors only).
UNASSIGNED, RUNNING, PAUSED, FAILED, RESTARTING = "UNASSIGNED", "RUNNING", "PAUSED", "FAILED", "RESTARTING"
_ASSIGNMENT_REFRESH_S = 1.0


def sink_group(connector: str) -> str:
    """The consumer group of a sink connector, as Connect names it."""
    return f"connect-{connector}"


def sink_topics(log: Log, config: Mapping[str, str]) -> list[str]:
    """The topics a sink reads: ``topics`` (a list) or the existing topics matching ``topics.regex``."""
    if config.get("topics.regex"):
        pattern = re.compile(config["topics.regex"])
        return [t for t in log.list_topics() if pattern.fullmatch(t)]
    return [t.strip() for t in config.get("topics", "").split(",") if t.strip()]


class WorkerTask:
    """One task of a connector, on its own thread; reports its state through ``on_status``."""

    def __init__(self, *, log: Log, store: ConnectStore, connector: str, task_id: int, task: Task,
                 task_config: Mapping[str, str], connector_config: Mapping[str, str], paused: bool,
                 on_status: Callable[[WorkerTask], None]) -> None:
        self.log = log
        self.store = store
        self.connector = connector
        self.id = task_id
        self.task = task
        self.task_config = dict(task_config)
        self.config = dict(connector_config)
        self.state = UNASSIGNED
        self.trace: str | None = None
        self._on_status = on_status
        self._stopping = threading.Event()
        self._resumed = threading.Event()
        if not paused:
            self._resumed.set()
        self._thread = threading.Thread(target=self._run, name=f"connect-{connector}-{task_id}", daemon=True)

    # -- control (any thread) -------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def pause(self) -> None:
        self._resumed.clear()
        if self.state == RUNNING:
            self._set(PAUSED)

    def resume(self) -> None:
        self._resumed.set()
        if self.state == PAUSED:
            self._set(RUNNING)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        self._resumed.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _set(self, state: str, trace: str | None = None) -> None:
        self.state, self.trace = state, trace
        self._on_status(self)

    def _retrying(self, trace: str | None) -> None:
        """A retried operation's last error is the running task's trace (as Connect shows it); None clears it."""
        if self.state == RUNNING and trace != self.trace:
            self._set(RUNNING, trace)

    # -- the thread -----------------------------------------------------------------
    def _run(self) -> None:
        try:
            self.errors = ErrorHandler(self.log, self.connector, self.id, self.config)
            self.errors.on_retrying = self._retrying
            self.transforms = TransformChain(self.config)
            self.key_converter = converter_from_config(self.config, is_key=True, log=self.log)
            self.value_converter = converter_from_config(self.config, is_key=False, log=self.log)
            self._start_task()
            self._set(RUNNING if self._resumed.is_set() else PAUSED)
            while not self._stopping.is_set():
                if not self._resumed.is_set():
                    self._resumed.wait(0.5)
                    continue
                self._iterate()
        except Exception as exc:  # a failed task keeps its trace in its status
            logger.warning("connector %s task %d failed: %s", self.connector, self.id, exc,
                           extra={"connector": self.connector, "task": self.id})
            self._set(FAILED, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        finally:
            try:
                self.task.stop()
            except Exception:
                logger.exception("connector %s task %d: stop failed", self.connector, self.id)

    def _start_task(self) -> None:
        self.task.start(self.task_config)

    def _iterate(self) -> None:
        raise NotImplementedError


class SinkWorkerTask(WorkerTask):
    task: SinkTask

    def _start_task(self) -> None:
        self.group = sink_group(self.connector)
        self.ntasks = max(1, int(self.config.get("tasks.max", "1")))
        self.positions: dict[TopicPartition, int] = {}
        self._assigned_at = 0.0
        super()._start_task()

    def assignment(self) -> list[TopicPartition]:
        """This task's share of the partitions of the sink's topics (round-robin over tasks)."""
        everything: list[TopicPartition] = []
        for topic in sink_topics(self.log, self.config):
            try:
                partitions = self.log.describe_topic(topic).partitions
            except UnknownTopicError:
                continue  # not created yet: picked up on a later refresh
            everything += [TopicPartition(topic, p) for p in range(partitions)]
        return [tp for i, tp in enumerate(sorted(everything)) if i % self.ntasks == self.id]

    def _refresh(self) -> None:
        if time.monotonic() - self._assigned_at < _ASSIGNMENT_REFRESH_S:
            return
        self._assigned_at = time.monotonic()
        wanted = self.assignment()
        new = [tp for tp in wanted if tp not in self.positions]
        if new:
            committed = self.log.committed(self.group, new)
            for tp in new:
                start = committed.get(tp)
                self.positions[tp] = start if start is not None else self.log.beginning_offset(*tp)
        for tp in [tp for tp in self.positions if tp not in wanted]:
            del self.positions[tp]

    def _iterate(self) -> None:
        self._refresh()
        if not self.positions:
            self._stopping.wait(0.2)
            return
        try:
            batches = self.log.poll(self.positions, max_records=2_000, timeout_s=0.5)
        except OffsetOutOfRangeError as exc:  # retention removed what we were about to read
            self.positions[TopicPartition(exc.topic, exc.partition)] = exc.start
            return
        if not batches and self.task.flush_when_idle and self._resumed.is_set() and not self._stopping.is_set():
            self.errors.retry(self.task.flush, TASK_PUT, self._stopping)
            self._commit({})
        if not batches or not self._resumed.is_set() or self._stopping.is_set():
            return  # paused or stopped while polling: these records are read again on resume
        records: list[SinkRecord] = []
        raws: dict[tuple[str, int, int], RawRecord] = {}
        advanced: dict[TopicPartition, int] = {}
        for fetched in batches:
            batch = fetched.records
            columns = zip(*(batch.column(c).to_pylist() for c in ("offset", "key", "value", "headers", "timestamp")),
                          strict=True)
            for offset, key, value, headers, timestamp in columns:
                raw = RawRecord(fetched.topic, fetched.partition, offset, key, value,
                                tuple((h["key"], h["value"]) for h in headers) if headers else (), timestamp)
                record = self._convert(raw)
                if record is not None:
                    records.append(record)
                    raws[(raw.topic, raw.partition, raw.offset)] = raw
            advanced[TopicPartition(fetched.topic, fetched.partition)] = fetched.next_offset
        if records:
            failures = self.errors.retry(lambda: self.task.put(records), TASK_PUT, self._stopping)
            for failure in failures:
                r = failure.record
                self.errors.tolerate(TASK_PUT, failure.error, raws.get((r.topic, r.partition, r.offset)))
        self.errors.retry(self.task.flush, TASK_PUT, self._stopping)
        self._commit(advanced)
        self.positions.update(advanced)

    def _commit(self, advanced: dict[TopicPartition, int]) -> None:
        """Commit what the task says is durable (all of ``advanced`` unless it holds records back)."""
        ready = self.task.pre_commit(advanced)
        if ready:
            self.log.commit(self.group, {TopicPartition(*tp): offset for tp, offset in ready.items()})

    def _convert(self, raw: RawRecord) -> SinkRecord | None:
        stage = KEY_CONVERTER
        try:
            key_schema, key = self.key_converter.to_connect(raw.topic, raw.key)
            stage = VALUE_CONVERTER
            value_schema, value = self.value_converter.to_connect(raw.topic, raw.value)
            stage = TRANSFORMATION
            return self.transforms.apply(SinkRecord(raw.topic, raw.partition, raw.offset, raw.timestamp, key, value,
                                                    key_schema, value_schema, raw.headers))
        except Exception as exc:
            self.errors.tolerate(stage, exc, raw)
            return None


class _StoreOffsets(OffsetReader):
    def __init__(self, store: ConnectStore, connector: str) -> None:
        self.store, self.connector = store, connector

    def offset(self, source_partition: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self.store.offset(self.connector, source_partition)


class SourceWorkerTask(WorkerTask):
    task: SourceTask

    def _start_task(self) -> None:
        self._partitions: dict[str, int] = {}
        self.task.start(self.task_config, _StoreOffsets(self.store, self.connector))

    def _iterate(self) -> None:
        polled = self.errors.retry(self.task.poll, "TASK_POLL", self._stopping)
        if not polled:
            return
        appends: dict[tuple[str, int], list[Record]] = {}
        offsets: dict[bytes, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        for record in polled:
            offsets[offset_key(self.connector, record.source_partition)] = (
                dict(record.source_partition), dict(record.source_offset) if record.source_offset else None)
            converted = self._convert(record)
            if converted is not None:
                topic, partition, out = converted
                appends.setdefault((topic, partition), []).append(out)
        parts: list[tuple[str, int, Any]] = [(t, p, rs) for (t, p), rs in appends.items()]
        parts.append((self.store.topics.offsets, 0, self.store.offset_records(self.connector, offsets)))
        self.errors.retry(lambda: self.log.transact(parts, transactional_id=f"connect-{self.connector}-{self.id}"),
                          "TASK_POLL", self._stopping)
        self.store.offsets_committed(self.connector, offsets)
        self.task.commit()

    def _convert(self, record: SourceRecord) -> tuple[str, int, Record] | None:
        stage = TRANSFORMATION
        try:
            transformed = self.transforms.apply(record)
            if transformed is None:
                return None
            stage = KEY_CONVERTER
            key = self.key_converter.from_connect(transformed.topic, transformed.key_schema, transformed.key)
            stage = VALUE_CONVERTER
            value = self.value_converter.from_connect(transformed.topic, transformed.value_schema, transformed.value)
        except Exception as exc:
            self.errors.tolerate(stage, exc, None)  # Connect has no dead-letter topic for sources
            return None
        partition = transformed.partition
        if partition is None:
            partition = self._partition_for(transformed.topic, key)
        return transformed.topic, partition, Record(value, key, transformed.timestamp, tuple(transformed.headers))

    def _partition_for(self, topic: str, key: bytes | None) -> int:
        count = self._partitions.get(topic)
        if count is None:
            # Connect's producer lets the broker auto-create topics; the embedded log needs it explicitly.
            count = self.log.create_topic(topic, 1, exist_ok=True).partitions
            self._partitions[topic] = count
        if count == 1:
            return 0
        return int(partition_for_keys(pa.array([key], pa.binary()), count, self.id % count)[0])


def worker_task_class(task: Task) -> type[WorkerTask]:
    return SinkWorkerTask if isinstance(task, SinkTask) else SourceWorkerTask


__all__ = ["FAILED", "PAUSED", "RESTARTING", "RUNNING", "UNASSIGNED", "Converter", "SinkWorkerTask",
           "SourceWorkerTask", "WorkerTask", "sink_group", "sink_topics", "worker_task_class"]
