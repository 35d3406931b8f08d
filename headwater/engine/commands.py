"""The command log: every statement that changes what runs, in order, in a log topic.

As in ksqlDB, the catalog and the persistent queries are not stored anywhere
else: on start the session replays this topic. A command is the statement text
(variables already substituted) and the session properties in force, so a
replayed CSAS plans the same query with the same id and start policy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from headwater.log import Log, Record

logger = logging.getLogger(__name__)


def topic_name(service_id: str) -> str:
    return f"_confluent-ksql-{service_id}_command_topic"


@dataclass(frozen=True)
class Command:
    statement: str
    properties: dict[str, str] = field(default_factory=dict)
    offset: int = -1

    def encode(self) -> bytes:
        return orjson.dumps({"statement": self.statement, "streamsProperties": self.properties})


class CommandLog:
    def __init__(self, log: Log, service_id: str) -> None:
        self.log = log
        self.topic = topic_name(service_id)
        log.create_topic(self.topic, 1, {"retention.ms": "-1"}, exist_ok=True)

    def append(self, statement: str, properties: dict[str, str]) -> int:
        """Record a command; return its offset (its sequence number)."""
        result = self.log.append(self.topic, 0, [Record(Command(statement, properties).encode())])
        return result.base_offset

    def next_offset(self) -> int:
        return self.log.end_offset(self.topic, 0)

    def replay(self) -> Iterator[Command]:
        offset = self.log.beginning_offset(self.topic, 0)
        end = self.log.end_offset(self.topic, 0)
        while offset < end:
            fetched = self.log.read(self.topic, 0, offset, max_records=10_000)
            for row in fetched.records.select(["offset", "value"]).to_pylist():
                command = parse_command(row["value"], row["offset"])
                if command is None:
                    logger.warning("command log %s: record at offset %d skipped: not a command (a JSON object "
                                   "with a string 'statement' and a 'streamsProperties' object of strings)",
                                   self.topic, row["offset"])
                    continue
                yield command
            offset = fetched.next_offset


def parse_command(value: bytes | None, offset: int) -> Command | None:
    """The command a record of the command topic holds, or None for a record that is not one.

    The topic is writable like any other (topic API, INSERT INTO a stream over it), so anything may be there.
    """
    try:
        body = orjson.loads(value) if value is not None else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("statement"), str):
        return None
    properties = body.get("streamsProperties") or {}
    if not isinstance(properties, dict):
        return None
    return Command(body["statement"], {str(k): str(v) for k, v in properties.items()}, offset)
