"""The log: topics of partitions of records, embedded or on Kafka.

``open_log(url)`` picks the backend: ``kafka://host:port[,host:port]`` opens
Apache Kafka (or any Kafka-protocol cluster); anything else is a directory of
the embedded log (``file://`` prefix optional).
"""

from __future__ import annotations

from headwater.log.base import (
    APPEND_SCHEMA,
    RECORD_SCHEMA,
    AppendResult,
    Fetched,
    Log,
    Record,
    ServiceClaim,
    TopicInfo,
    TopicPartition,
)
from headwater.log.embedded import EmbeddedLog
from headwater.log.kafka import KafkaLog

DEFAULT_LOG_URL = "./headwater-data"

__all__ = [
    "APPEND_SCHEMA",
    "DEFAULT_LOG_URL",
    "RECORD_SCHEMA",
    "AppendResult",
    "Fetched",
    "Log",
    "Record",
    "ServiceClaim",
    "TopicInfo",
    "TopicPartition",
    "open_log",
]


def open_log(url: str = DEFAULT_LOG_URL) -> Log:
    """Open the log at ``url`` (a directory path, file://path, or kafka://host:port)."""
    if url.startswith("kafka://"):
        return KafkaLog(url)
    return EmbeddedLog(url.removeprefix("file://"))
