"""Where the runtime keeps its state: three compacted topics, as Kafka Connect's distributed mode.

- ``connect-configs``: ``connector-<name>`` -> ``{"properties": {...}}`` and
  ``target-state-<name>`` -> ``{"state": "STARTED"|"PAUSED"|"STOPPED"}``;
  a tombstone deletes a connector.
- ``connect-status``: ``status-connector-<name>`` / ``status-task-<name>-<id>``
  -> ``{"state", "trace", "worker_id", "generation"}``.
- ``connect-offsets``: key ``["<name>", <source partition>]`` -> source offset
  (both JSON, as Connect's JsonConverter with schemas off writes them).

The last record per key wins, so reading each topic from its beginning
rebuilds the state after a restart, compacted or not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from headwater.log import Log, Record

CONFIG_TOPIC = "connect-configs"
STATUS_TOPIC = "connect-status"
OFFSETS_TOPIC = "connect-offsets"
_COMPACT = {"cleanup.policy": "compact"}


@dataclass(frozen=True)
class StorageTopics:
    """The worker's config.storage.topic, status.storage.topic and offset.storage.topic."""

    configs: str = CONFIG_TOPIC
    status: str = STATUS_TOPIC
    offsets: str = OFFSETS_TOPIC


def offset_key(connector: str, partition: Mapping[str, Any]) -> bytes:
    return orjson.dumps([connector, dict(partition)], option=orjson.OPT_SORT_KEYS)


class ConnectStore:
    def __init__(self, log: Log, topics: StorageTopics | None = None) -> None:
        self.log = log
        self.topics = topics or StorageTopics()
        for topic in (self.topics.configs, self.topics.status, self.topics.offsets):
            log.create_topic(topic, 1, _COMPACT, exist_ok=True)
        self._lock = threading.Lock()
        self.configs: dict[str, dict[str, str]] = {}
        self.targets: dict[str, str] = {}
        #: connector -> offset key bytes -> (source partition, source offset)
        self.offsets: dict[str, dict[bytes, tuple[dict[str, Any], dict[str, Any]]]] = {}
        self._load()

    def _records(self, topic: str) -> Iterator[tuple[bytes, Any]]:
        position, end = self.log.beginning_offset(topic, 0), self.log.end_offset(topic, 0)
        while position < end:
            fetched = self.log.read(topic, 0, position)
            for key, value in zip(fetched.records.column("key").to_pylist(),
                                  fetched.records.column("value").to_pylist(), strict=True):
                yield key, None if value is None else orjson.loads(value)
            if fetched.next_offset <= position:
                break
            position = fetched.next_offset

    def _load(self) -> None:
        for key, value in self._records(self.topics.configs):
            text = key.decode()
            if text.startswith("connector-"):
                name = text[len("connector-"):]
                if value is None:
                    self.configs.pop(name, None)
                    self.targets.pop(name, None)
                else:
                    self.configs[name] = {str(k): str(v) for k, v in value["properties"].items()}
            elif text.startswith("target-state-") and value is not None:
                self.targets[text[len("target-state-"):]] = value["state"]
        for key, value in self._records(self.topics.offsets):
            connector, partition = orjson.loads(key)
            slot = self.offsets.setdefault(connector, {})
            if value is None:
                slot.pop(key, None)
            else:
                slot[key] = (partition, value)

    # -- configs --------------------------------------------------------------------
    def put_config(self, name: str, config: Mapping[str, str]) -> None:
        self._append(self.topics.configs, f"connector-{name}", {"properties": dict(config)})
        self.configs[name] = dict(config)

    def put_target(self, name: str, state: str) -> None:
        self._append(self.topics.configs, f"target-state-{name}", {"state": state})
        self.targets[name] = state

    def delete_config(self, name: str) -> None:
        self.log.append(self.topics.configs, 0, [Record(None, f"connector-{name}".encode()),
                                          Record(None, f"target-state-{name}".encode())])
        self.configs.pop(name, None)
        self.targets.pop(name, None)

    # -- statuses -------------------------------------------------------------------
    def put_status(self, key: str, status: Mapping[str, Any]) -> None:
        self._append(self.topics.status, key, status)

    # -- source offsets -------------------------------------------------------------
    def offset(self, connector: str, partition: Mapping[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            found = self.offsets.get(connector, {}).get(offset_key(connector, partition))
        return found[1] if found else None

    def offset_records(self, connector: str, offsets: Mapping[bytes, tuple[dict[str, Any], dict[str, Any] | None]]
                       ) -> list[Record]:
        """Records for ``connect-offsets`` (to append in the same transaction as the source records)."""
        return [Record(None if offset is None else orjson.dumps(offset), key) for key, (_, offset) in offsets.items()]

    def offsets_committed(self, connector: str,
                          offsets: Mapping[bytes, tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
        """Note offsets whose records are durably appended."""
        with self._lock:
            slot = self.offsets.setdefault(connector, {})
            for key, (partition, offset) in offsets.items():
                if offset is None:
                    slot.pop(key, None)
                else:
                    slot[key] = (partition, offset)

    def write_offsets(self, connector: str,
                      offsets: Mapping[bytes, tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
        if offsets:
            self.log.append(self.topics.offsets, 0, self.offset_records(connector, offsets))
            self.offsets_committed(connector, offsets)

    def source_offsets(self, connector: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        with self._lock:
            return list(self.offsets.get(connector, {}).values())

    def _append(self, topic: str, key: str, value: Any) -> None:
        self.log.append(topic, 0, [Record(orjson.dumps(value), key.encode())])
