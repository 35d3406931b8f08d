"""The command log: every statement that changes what runs, in order, in a log topic.

As in ksqlDB, the catalog and the persistent queries are not stored anywhere
else: on start the session replays this topic. A command is the statement text
(variables already substituted) and the session properties in force, so a
replayed CSAS plans the same query with the same id and start policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from headwater.log import Log, Record


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
                body = orjson.loads(row["value"])
                yield Command(body["statement"], dict(body.get("streamsProperties") or {}), row["offset"])
            offset = fetched.next_offset
