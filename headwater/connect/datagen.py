"""The datagen source connector, kafka-connect-datagen's counterpart.

Config keys are kafka-connect-datagen's: ``kafka.topic``, ``quickstart``,
``schema.string`` or ``schema.filename`` (an Avro schema with
``arg.properties``), ``schema.keyfield``,
``max.interval``, ``iterations``, ``random.seed``, ``tasks.max``. Each task
generates its own sequence (as in datagen, tasks do not share counters).

Source partition ``{"task.id": n}``, source offset ``{"task.generation",
"current.iteration", "random.seed"}``, as datagen's: a restarted task reads its
offset and goes on with the next record number and the same seed, so
``iterations`` counts across restarts and, with ``random.seed``, the records
are exactly those an uninterrupted run would have produced
(``headwater.datagen.base.record_rng``). Records carry the headers
``task.generation``, ``task.id`` and ``current.iteration``.

Pacing: before each record the task waits a uniform random time in
[0, ``max.interval``) ms, as datagen does; ``poll`` returns what it generated
within about a second. When ``iterations`` records have been generated the
task fails with datagen's message ("Stopping connector: generated the
configured N number of messages").
"""

from __future__ import annotations

import builtins
import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

from headwater.connect.api import ConfigKey, Connector, ConnectError, OffsetReader, SourceTask, Task
from headwater.connect.data import SourceRecord
from headwater.datagen.base import AvroGenerator, Generator, record_rng
from headwater.datagen.quickstarts import QUICKSTARTS, quickstart
from headwater.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_MAX_INTERVAL_MS = 500
#: Longest a poll blocks, so the runtime can stop the task promptly.
POLL_BUDGET_S = 1.0
#: Records per poll when max.interval is 0 (as fast as the runtime appends).
MAX_POLL_RECORDS = 1000


def _int(config: Mapping[str, str], key: str, default: int | None) -> int | None:
    raw = config.get(key)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"datagen: {key} must be an integer, got {raw!r}") from None


def generator_for(config: Mapping[str, str]) -> Generator:
    """The generator a datagen config names: ``quickstart`` or ``schema.string``, keyed by ``schema.keyfield``."""
    name, schema, filename = config.get("quickstart"), config.get("schema.string"), config.get("schema.filename")
    if sum(map(bool, (name, schema, filename))) != 1:
        raise ConfigError("datagen: set exactly one of quickstart, schema.string and schema.filename")
    if filename:
        try:
            with open(filename, encoding="utf-8") as file:
                schema = file.read()
        except OSError as exc:
            raise ConfigError(f"datagen: cannot read schema.filename {filename!r}: {exc.strerror}") from None
    generator = quickstart(name) if name else AvroGenerator(str(schema))
    if "schema.keyfield" in config:
        generator = generator.with_key_field(config["schema.keyfield"] or None)
    return generator


class DatagenConnector(Connector):
    """Generates records of a quickstart or an Avro schema into ``kafka.topic``."""

    type = "source"

    @classmethod
    def config_def(cls) -> Sequence[ConfigKey]:
        return (
            ConfigKey("kafka.topic", "STRING", required=True, importance="HIGH", documentation="Topic to write to."),
            ConfigKey("quickstart", "STRING", importance="HIGH", recommended_values=tuple(QUICKSTARTS),
                      documentation="Name of a bundled schema (case-insensitive)."),
            ConfigKey("schema.string", "STRING", importance="HIGH",
                      documentation="Avro schema with arg.properties (instead of quickstart)."),
            ConfigKey("schema.filename", "STRING", importance="HIGH",
                      documentation="File holding an Avro schema with arg.properties."),
            ConfigKey("schema.keyfield", "STRING", documentation=(
                "Top-level field copied into the record key; empty for a null key. "
                "Defaults to the quickstart's key.")),
            ConfigKey("max.interval", "LONG", DEFAULT_MAX_INTERVAL_MS,
                      documentation="Upper bound of the random wait before each record, in ms."),
            ConfigKey("iterations", "INT", -1, documentation="Records per task; below 1 means no limit."),
            ConfigKey("random.seed", "LONG", documentation="Seed for repeatable records."),
        )

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> dict[str, list[str]]:
        errors = super().validate(config)
        try:
            generator_for(config)
        except ConfigError as exc:
            key = ("schema.keyfield" if "keyfield" in str(exc) else "quickstart" if config.get("quickstart")
                   else "schema.filename" if config.get("schema.filename") else "schema.string")
            errors.setdefault(key, []).append(str(exc))
        for key in ("max.interval", "iterations", "random.seed"):
            try:
                _int(config, key, None)
            except ConfigError as exc:
                errors.setdefault(key, []).append(str(exc))
        return errors

    def start(self, config: Mapping[str, str]) -> None:
        errors = self.validate(config)
        if errors:
            raise ConnectError("; ".join(m for messages in errors.values() for m in messages))
        super().start(config)

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [{**self.config, "task.id": str(n)} for n in range(max(1, max_tasks))]

    def task_class(self) -> builtins.type[Task]:
        return DatagenTask


class DatagenTask(SourceTask):
    """One task's sequence of generated records."""

    def start(self, config: Mapping[str, str], offsets: OffsetReader | None = None) -> None:  # type: ignore[override]
        super().start(config, offsets)
        try:
            self.generator = generator_for(config)
            self.topic = config["kafka.topic"]
            self.max_interval_ms = _int(config, "max.interval", DEFAULT_MAX_INTERVAL_MS) or 0
            self.iterations = _int(config, "iterations", -1) or -1
            self.task_id = _int(config, "task.id", 0) or 0
            seed = _int(config, "random.seed", None)
        except (ConfigError, KeyError) as exc:
            raise ConnectError(f"datagen: bad config: {exc}") from None
        self.source_partition = {"task.id": self.task_id}
        stored = offsets.offset(self.source_partition) if offsets is not None else None
        self.generation = 0
        self.iteration = 0
        if stored:
            # Resume: next record number, same seed, one generation later (as datagen).
            self.iteration = int(stored.get("current.iteration", -1)) + 1
            self.generation = int(stored.get("task.generation", -1)) + 1
            if seed is None and stored.get("random.seed") is not None:
                seed = int(stored["random.seed"])
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**63)
        self._pacing = random.Random()
        log.info("datagen task %d for %s starts at iteration %d (generation %d)",
                 self.task_id, self.topic, self.iteration, self.generation)

    def _record(self) -> SourceRecord:
        now_ms = time.time_ns() // 1_000_000
        value = self.generator.value(self.iteration, record_rng(self.seed, self.task_id, self.iteration), now_ms)
        record = SourceRecord(
            source_partition=self.source_partition,
            source_offset={"task.generation": self.generation, "current.iteration": self.iteration,
                           "random.seed": self.seed},
            topic=self.topic,
            key=self.generator.key(value),
            key_schema=self.generator.key_schema,
            value=value,
            value_schema=self.generator.value_schema,
            headers=(("task.generation", str(self.generation).encode()), ("task.id", str(self.task_id).encode()),
                     ("current.iteration", str(self.iteration).encode())),
        )
        self.iteration += 1
        return record

    def poll(self) -> Sequence[SourceRecord]:
        if 0 < self.iterations <= self.iteration:
            raise ConnectError(
                f"Stopping connector: generated the configured {self.iterations} number of messages")
        deadline = time.monotonic() + POLL_BUDGET_S
        records: list[SourceRecord] = []
        while len(records) < MAX_POLL_RECORDS and not (0 < self.iterations <= self.iteration):
            if self.max_interval_ms > 0:
                wait_s = self._pacing.random() * self.max_interval_ms / 1000
                if records and time.monotonic() + wait_s > deadline:
                    break
                time.sleep(wait_s)
            records.append(self._record())
            if time.monotonic() >= deadline:
                break
        return records


def describe_quickstarts() -> dict[str, Any]:
    """Quickstart name -> description, for help texts."""
    return {name: description for name, (_factory, description) in QUICKSTARTS.items()}
