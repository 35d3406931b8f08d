"""The plug-in contract of connectors, as in Kafka Connect: a Connector splits work into task configs,
tasks move records.

The runtime (``headwater.connect.runtime``) owns threads, converters,
transforms, offsets, retries and the dead-letter topic; a connector only
knows its source or sink. Sources and sinks register under a Headwater name
and the Java class names users already have in their configs
(``headwater.connect.plugins``).
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from headwater.connect.data import SinkRecord, SourceRecord
from headwater.errors import HeadwaterError


class ConnectError(HeadwaterError):
    """A connector or task failed; the message goes to the task's status trace."""


class RetriableError(ConnectError):
    """A failure worth retrying (connection lost, lock timeout): the runtime retries with backoff
    for errors.retry.timeout, then fails the task."""


@dataclass(frozen=True)
class ConfigKey:
    """One configuration key, as GET /connector-plugins/{plugin}/config and validate report it."""

    name: str
    type: Literal["STRING", "INT", "SHORT", "LONG", "DOUBLE", "BOOLEAN", "LIST", "CLASS", "PASSWORD"] = "STRING"
    default: Any = None
    required: bool = False
    importance: Literal["HIGH", "MEDIUM", "LOW"] = "MEDIUM"
    documentation: str = ""
    group: str | None = None
    recommended_values: tuple[str, ...] = ()


class Connector(ABC):
    """Knows its configuration and how to split it into task configs."""

    #: "source" or "sink".
    type: ClassVar[Literal["source", "sink"]]
    version: ClassVar[str] = "1.0.0"

    @classmethod
    def config_def(cls) -> Sequence[ConfigKey]:
        """The keys this connector understands (the runtime adds the common ones)."""
        return ()

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> dict[str, list[str]]:
        """Errors per key for this config; empty when it is valid. The default checks required keys."""
        return {k.name: [f"Missing required configuration \"{k.name}\" which has no default value."]
                for k in cls.config_def() if k.required and not config.get(k.name)}

    def start(self, config: Mapping[str, str]) -> None:
        self.config = dict(config)

    @abstractmethod
    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """At most ``max_tasks`` configs, one per task."""

    @abstractmethod
    def task_class(self) -> builtins.type[Task]: ...

    def stop(self) -> None:
        """Release what ``start`` took."""


class Task(ABC):
    def start(self, config: Mapping[str, str]) -> None:
        self.config = dict(config)

    def stop(self) -> None:
        """Release connections and files; called once, from the task's thread."""


@dataclass
class RecordFailure:
    """A record a sink could not write, and why (goes to the dead-letter topic or fails the task)."""

    record: SinkRecord
    error: Exception


class SinkTask(Task):
    @abstractmethod
    def put(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure]:
        """Write ``records`` (in order); return the ones refused for their content, the others are written.

        Raise RetriableError when nothing could be written for a transient reason
        (the runtime retries the same batch), ConnectError to fail the task.
        """

    #: Whether the runtime calls ``flush`` and ``pre_commit`` while no records come (about every
    #: half second), for sinks that close files on a wall-clock schedule.
    flush_when_idle: ClassVar[bool] = False

    def flush(self) -> None:
        """Make everything ``put`` so far durable; the runtime then commits the consumer offsets.

        A replay after a crash re-puts records after the last committed offset,
        so sinks must be idempotent (upserts) or accept duplicates, as in Connect.
        """

    def pre_commit(self, offsets: Mapping[tuple[str, int], int]) -> Mapping[tuple[str, int], int]:
        """The offsets to commit after ``flush``, per (topic, partition): by default ``offsets``, the
        next offset of everything put. A sink that holds records back (an open file, as Connect's
        ``preCommit``) answers the first offset it has not made durable, so a crash replays from there;
        it may name partitions ``offsets`` does not (a file closed by a schedule)."""
        return offsets


class SourceTask(Task):
    def start(self, config: Mapping[str, str], offsets: OffsetReader | None = None) -> None:  # type: ignore[override]
        """``offsets`` gives the last committed source offset of each source partition."""
        self.config = dict(config)
        self.offsets = offsets

    @abstractmethod
    def poll(self) -> Sequence[SourceRecord]:
        """The next records (may be empty); block for at most about a second so stop is prompt."""

    def commit(self) -> None:
        """Called after the records returned so far are durably appended with their source offsets."""


class OffsetReader(ABC):
    @abstractmethod
    def offset(self, source_partition: Mapping[str, Any]) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class PluginInfo:
    """GET /connector-plugins entries."""

    class_name: str
    type: Literal["source", "sink"]
    version: str
    aliases: tuple[str, ...] = field(default_factory=tuple)
