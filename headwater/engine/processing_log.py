"""The processing log: records a query could not process, with the reason and position.

Entries are JSON in the shape of ksqlDB's processing log (``level``, ``logger``,
``time``, ``message`` with ``type`` and one of ``deserializationError`` /
``recordProcessingError`` / ``serializationError``), plus the partition and
offset of the record. They are appended in the same transaction as the query's
output, so an entry is written exactly once. The topic is
``<service id>ksql_processing_log``, as in ksqlDB.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import pyarrow as pa

#: ksqlDB's ``type`` codes of processing log messages.
DESERIALIZATION_ERROR = 0
RECORD_PROCESSING_ERROR = 1
SERIALIZATION_ERROR = 3
KAFKA_STREAMS_THREAD_ERROR = 4


def topic_name(service_id: str) -> str:
    return f"{service_id}ksql_processing_log"


@dataclass(frozen=True)
class ProcessingError:
    """One record that failed, and why."""

    kind: int
    message: str
    topic: str
    partition: int
    offset: int
    target: str = "value"  # key or value, for deserialization errors
    raw: bytes | None = None

    def entry(self, query_id: str, now_ms: int, include_rows: bool = False) -> dict[str, object]:
        # ksqlDB logs the record itself only with ksql.logging.processing.rows.include=true.
        record = base64.b64encode(self.raw).decode() if self.raw is not None and include_rows else None
        body: dict[str, object] = {
            "type": self.kind,
            "deserializationError": None,
            "recordProcessingError": None,
            "productionError": None,
            "serializationError": None,
            "kafkaStreamsThreadError": None,
        }
        where = {"topic": self.topic, "partition": self.partition, "offset": self.offset}
        if self.kind == DESERIALIZATION_ERROR:
            body["deserializationError"] = {
                "target": self.target,
                "errorMessage": self.message,
                "recordB64": record,
                "cause": [],
                **where,
            }
            logger = f"processing.{query_id}.KsqlTopic.Source.deserializer"
        elif self.kind == SERIALIZATION_ERROR:
            body["serializationError"] = {"target": self.target, "errorMessage": self.message, "record": None,
                                          "cause": [], **where}
            logger = f"processing.{query_id}.KsqlTopic.Sink.serializer"
        else:
            body["recordProcessingError"] = {"errorMessage": self.message, "record": record, "cause": [], **where}
            logger = f"processing.{query_id}.Project"
        return {"level": "ERROR", "logger": logger, "time": now_ms, "message": body}


def entries_table(query_id: str, errors: Sequence[ProcessingError], include_rows: bool = False) -> pa.Table:
    """The log records (null key, JSON value) for ``errors``."""
    now = time.time_ns() // 1_000_000
    values = [orjson.dumps(e.entry(query_id, now, include_rows)) for e in errors]
    return pa.table(
        {
            "timestamp": pa.array([now] * len(values), pa.int64()),
            "key": pa.nulls(len(values), pa.binary()),
            "value": pa.array(values, pa.binary()),
        }
    )


def query_error_entry(query_id: str, message: str, thread_name: str, now_ms: int | None = None) -> bytes:
    """The entry ksqlDB writes when a query's thread fails as a whole (not one record): the query is in ERROR."""
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    body = {
        "type": KAFKA_STREAMS_THREAD_ERROR,
        "deserializationError": None,
        "recordProcessingError": None,
        "productionError": None,
        "serializationError": None,
        "kafkaStreamsThreadError": {"errorMessage": message, "threadName": thread_name, "cause": []},
    }
    entry = {"level": "ERROR", "logger": f"processing.{query_id}.ksql.logger.thread.exception.uncaught",
             "time": now, "message": body}
    return orjson.dumps(entry)
