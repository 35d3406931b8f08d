"""Headwater's exceptions: one root, one subclass per component.

Messages name the component, the position (topic/partition/offset, line/column)
and what was expected versus what was found.
"""

from __future__ import annotations


class HeadwaterError(Exception):
    """Root of every error Headwater raises on purpose."""


class ConfigError(HeadwaterError):
    """A setting is unknown, missing or has a bad value."""


class LogError(HeadwaterError):
    """An error of the log (embedded or Kafka)."""


class UnknownTopicError(LogError):
    """The topic does not exist."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"log: unknown topic {topic!r}")
        self.topic = topic


class TopicExistsError(LogError):
    """A topic of that name already exists."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"log: topic {topic!r} already exists")
        self.topic = topic


class UnknownPartitionError(LogError):
    """The partition number is negative or not below the topic's partition count."""

    def __init__(self, topic: str, partition: int, partitions: int) -> None:
        super().__init__(
            f"log: topic {topic!r} has partitions 0..{partitions - 1}, got partition {partition}"
        )
        self.topic = topic
        self.partition = partition


class OffsetOutOfRangeError(LogError):
    """A read asked for an offset outside [log start, end]."""

    def __init__(self, topic: str, partition: int, offset: int, start: int, end: int) -> None:
        super().__init__(
            f"log: offset {offset} out of range for {topic}[{partition}]: "
            f"valid offsets are {start}..{end} (end = next offset to be written)"
        )
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.start = start
        self.end = end


class RecordTooLargeError(LogError):
    """A record is larger than the topic's max.message.bytes."""

    def __init__(self, topic: str, partition: int, index: int, size: int, limit: int) -> None:
        super().__init__(
            f"log: record {index} of the batch for {topic}[{partition}] is {size} bytes, "
            f"over max.message.bytes={limit}"
        )
        self.topic = topic
        self.partition = partition
        self.size = size
        self.limit = limit


class InvalidRecordError(LogError):
    """A record breaks a rule of its topic (for example a null key on a compacted topic)."""


class InvalidTopicConfigError(LogError, ConfigError):
    """A topic name, partition count or topic config is not acceptable."""


class CorruptLogError(LogError):
    """Stored data failed a check (size, checksum, framing). It is never read as data.

    When the damage is located, ``topic``, ``partition`` and the damaged offsets
    ``first_offset..last_offset`` are set: a reader that accepts the loss continues
    from ``next_offset`` (as a Kafka consumer sees a gap after deleted records).
    """

    def __init__(
        self,
        message: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        first_offset: int | None = None,
        last_offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.topic = topic
        self.partition = partition
        self.first_offset = first_offset
        self.last_offset = last_offset

    @property
    def next_offset(self) -> int | None:
        """The first offset past the damaged range (None when the range is not known)."""
        return None if self.last_offset is None else self.last_offset + 1


class LogUnavailableError(LogError):
    """The log cannot store data right now (a full disk, an I/O error); retrying later can succeed.

    Nothing of the failed write was acknowledged or indexed.
    """


class LogFullError(LogUnavailableError):
    """The disk (or quota) holding the log is full: nothing was stored; free space and retry."""


class LogClosedError(LogError):
    """The log was closed."""


class ProducerFencedError(LogError):
    """A newer writer with the same transactional id fenced this one (Kafka's ProducerFencedException).

    Nothing of the refused transaction was committed. The writer stays fenced:
    every later ``transact`` with the id raises this too, until the process
    calls ``init_transactions`` again, which fences the other writer in turn.
    """

    def __init__(self, transactional_id: str, detail: str) -> None:
        super().__init__(f"log: the writer {transactional_id!r} was fenced: {detail}")
        self.transactional_id = transactional_id


class ServiceOwnedError(LogError):
    """Another live process runs this service's persistent queries on the data directory."""

    def __init__(self, service_id: str, root: str, pid: int | None) -> None:
        self.owner = f"process {pid}" if pid else "another process"
        super().__init__(
            f"log: service {service_id!r} on {root} is owned by {self.owner}, which runs its persistent queries "
            "(a second owner would run each of them twice); send statements to that process, or take the "
            "service over (its queries are then fenced and stop)"
        )
        self.service_id = service_id
        self.root = root
        self.pid = pid


class FormatError(HeadwaterError):
    """A serialization format that is unknown, or cannot carry the columns or properties it was given."""


class SqlError(HeadwaterError):
    """An error of the SQL engine: a statement that cannot be parsed, resolved or run."""


class SqlSyntaxError(SqlError):
    """A statement text that is not valid ksqlDB SQL.

    ``line`` and ``column`` are 1-based; the message reads like ksqlDB's:
    ``line 1:10: Syntax Error`` and, on the next line, ANTLR's ``mismatched input 'FORM'
    expecting {',', 'FROM'}`` (see :mod:`headwater.sql.token_stream`).
    """

    def __init__(self, detail: str, line: int, column: int) -> None:
        super().__init__(f"line {line}:{column}: {detail}")
        self.detail = detail
        self.line = line
        self.column = column


class SqlSemanticError(SqlError):
    """A statement that parses but cannot be resolved or typed (unknown source, column,
    function; type mismatch). ``pos`` is the Position (line, column) of the culprit; the
    message reads ``line L:C: <detail>`` when the position is known.
    """

    def __init__(self, detail: str, pos: object = None) -> None:
        line = getattr(pos, "line", 0)
        column = getattr(pos, "column", 0)
        super().__init__(f"line {line}:{column}: {detail}" if line else detail)
        self.detail = detail
        self.line = line
        self.column = column
