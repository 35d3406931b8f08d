"""Elasticsearch/OpenSearch sink (``io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`` keys).

Records go to the index named after their topic (lower-cased) through the ``_bulk`` API, ``batch.size``
actions per request. The document id is the record key (``key.ignore=false``: a string, a number, or a
structure as compact JSON; a windowed key, with ``key.window.type`` TUMBLING/HOPPING/SESSION and a byte-array
key converter, becomes ``<key>@<window start>`` (``@<end>`` added for sessions)) or, with ``key.ignore=true``,
``<topic>+<partition>+<offset>``; either way a replay rewrites the same documents. A null value is ignored,
deletes the key's document, or fails (``behavior.on.null.values``); ``write.method`` is ``insert`` (index)
or ``upsert`` (partial update, ``doc_as_upsert``). A request the cluster refuses as a whole (connection
lost, 429, 5xx) is retried ``max.retries`` times with exponential backoff from ``retry.backoff.ms``, items
rejected with 429 too; a document the cluster refuses (a mapping conflict) fails its record, or is dropped
with ``behavior.on.malformed.documents`` ``ignore``/``warn``. Indexes are created when first written.
"""

from __future__ import annotations

import builtins
import logging
import random
import re
import struct
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from headwater.connect.api import ConfigKey, ConnectError, Connector, RecordFailure, SinkTask, Task
from headwater.connect.converters import value_to_json
from headwater.connect.data import SinkRecord

logger = logging.getLogger(__name__)
_INDEX = re.compile(r"[a-z0-9][a-z0-9_.+-]*\Z")


class ElasticsearchSinkConnector(Connector):
    type = "sink"
    version = "14.1.0"

    @classmethod
    def config_def(cls) -> Sequence[ConfigKey]:
        return (
            ConfigKey("connection.url", "LIST", required=True, importance="HIGH",
                      documentation="Comma-separated http(s) URLs of the cluster."),
            ConfigKey("connection.username"),
            ConfigKey("connection.password", "PASSWORD"),
            ConfigKey("key.ignore", "BOOLEAN", "false"),
            ConfigKey("schema.ignore", "BOOLEAN", "false"),
            ConfigKey("behavior.on.null.values", default="ignore", recommended_values=("ignore", "delete", "fail")),
            ConfigKey("behavior.on.malformed.documents", default="fail",
                      recommended_values=("ignore", "warn", "fail")),
            ConfigKey("write.method", default="insert", recommended_values=("insert", "upsert")),
            ConfigKey("batch.size", "INT", 2000),
            ConfigKey("max.retries", "INT", 5),
            ConfigKey("retry.backoff.ms", "LONG", 100),
            ConfigKey("read.timeout.ms", "INT", 3000),
            ConfigKey("connection.timeout.ms", "INT", 1000),
            ConfigKey("key.window.type", default="", recommended_values=("TUMBLING", "HOPPING", "SESSION")),
        )

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> dict[str, list[str]]:
        errors = super().validate(config)
        choices = {"behavior.on.null.values": ("ignore", "delete", "fail"),
                   "behavior.on.malformed.documents": ("ignore", "warn", "fail"),
                   "write.method": ("insert", "upsert"), "key.window.type": ("", "tumbling", "hopping", "session")}
        for key, allowed in choices.items():
            value = config.get(key, "").strip().lower()
            if value and value not in allowed:
                errors.setdefault(key, []).append(f"Invalid value {config[key]} for configuration {key}: must be "
                                                  f"one of {', '.join(a for a in allowed if a)}")
        for key in ("batch.size", "max.retries", "retry.backoff.ms", "read.timeout.ms", "connection.timeout.ms"):
            raw = config.get(key)
            if raw is not None and not raw.strip().isdigit():
                errors.setdefault(key, []).append(f"Invalid value {raw} for configuration {key}: Not a number")
        return errors

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self.config) for _ in range(max_tasks)]

    def task_class(self) -> builtins.type[Task]:
        return ElasticsearchSinkTask


class _Retry(Exception):
    """The whole request (or some items) should be sent again."""


class ElasticsearchSinkTask(SinkTask):
    def start(self, config: Mapping[str, str]) -> None:
        super().start(config)
        self.urls = [u.strip().rstrip("/") for u in config["connection.url"].split(",") if u.strip()]
        self.key_ignore = config.get("key.ignore", "false").lower() == "true"
        self.on_null = config.get("behavior.on.null.values", "ignore").lower()
        self.on_malformed = config.get("behavior.on.malformed.documents", "fail").lower()
        self.upsert = config.get("write.method", "insert").lower() == "upsert"
        self.batch_size = max(1, int(config.get("batch.size", "2000")))
        self.max_retries = int(config.get("max.retries", "5"))
        self.backoff_ms = int(config.get("retry.backoff.ms", "100"))
        self.window = config.get("key.window.type", "").upper()
        user = config.get("connection.username")
        auth = (user, config.get("connection.password", "")) if user else None
        timeout = httpx.Timeout(int(config.get("read.timeout.ms", "3000")) / 1000,
                                connect=int(config.get("connection.timeout.ms", "1000")) / 1000)
        self.client = httpx.Client(auth=auth, timeout=timeout)
        self.indexes: set[str] = set()
        self._url = 0

    def stop(self) -> None:
        self.client.close()

    # -- records to actions -------------------------------------------------------------------
    def index_of(self, topic: str) -> str:
        index = topic.lower()
        if not _INDEX.match(index) or index in (".", ".."):
            raise ConnectError(f"Elasticsearch sink: topic {topic!r} is not a valid index name")
        return index

    def doc_id(self, record: SinkRecord) -> str:
        if self.key_ignore:
            return f"{record.topic}+{record.partition}+{record.offset}"
        key = record.key
        if key is None:
            raise ConnectError(f"Elasticsearch sink: key is null for {record.topic}-{record.partition}@"
                               f"{record.offset}; set key.ignore=true to use topic+partition+offset ids")
        if self.window and isinstance(key, (bytes, bytearray)):
            size = 16 if self.window == "SESSION" else 8
            if len(key) < size:
                raise ConnectError(f"Elasticsearch sink: a {self.window} windowed key needs {size} window bytes")
            base = bytes(key[:-size]).decode("utf-8", errors="replace")
            if self.window == "SESSION":
                end, start = struct.unpack(">qq", key[-16:])
                return f"{base}@{start}@{end}"
            return f"{base}@{struct.unpack('>q', key[-8:])[0]}"
        if isinstance(key, (bytes, bytearray)):
            return bytes(key).decode("utf-8", errors="replace")
        if isinstance(key, (dict, list)):
            return orjson.dumps(value_to_json(record.key_schema, key), option=orjson.OPT_SORT_KEYS).decode()
        return str(key).lower() if isinstance(key, bool) else str(key)

    def actions(self, record: SinkRecord) -> list[dict[str, Any]] | None:
        """The bulk lines of one record (None: nothing to send)."""
        index = self.index_of(record.topic)
        if record.value is None:
            if self.on_null == "ignore":
                return None
            if self.on_null == "fail":
                raise ConnectError(f"Elasticsearch sink: null value for {record.topic}-{record.partition}@"
                                   f"{record.offset} with behavior.on.null.values=fail")
            if self.key_ignore:
                raise ConnectError("Elasticsearch sink: behavior.on.null.values=delete needs the key as id "
                                   "(key.ignore=false)")
            return [{"delete": {"_index": index, "_id": self.doc_id(record)}}]
        document = value_to_json(record.value_schema, record.value)
        if not isinstance(document, dict):
            raise ConnectError(f"Elasticsearch sink: a document must be a JSON object; {record.topic}-"
                               f"{record.partition}@{record.offset} is {type(document).__name__}")
        meta = {"_index": index, "_id": self.doc_id(record)}
        if self.upsert:
            return [{"update": meta}, {"doc": document, "doc_as_upsert": True}]
        return [{"index": meta}, document]

    # -- sending ---------------------------------------------------------------------------------
    def put(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure]:
        failures: list[RecordFailure] = []
        pending: list[tuple[SinkRecord, list[dict[str, Any]]]] = []
        for record in records:
            try:
                lines = self.actions(record)
            except ConnectError as exc:
                failures.append(RecordFailure(record, exc))
                continue
            if lines is not None:
                pending.append((record, lines))
        for start in range(0, len(pending), self.batch_size):
            failures += self._send(pending[start:start + self.batch_size])
        return failures

    def _send(self, batch: list[tuple[SinkRecord, list[dict[str, Any]]]]) -> list[RecordFailure]:
        for index in {lines[0][next(iter(lines[0]))]["_index"] for _, lines in batch} - self.indexes:
            self._request("PUT", f"/{index}", None, ok_errors=("resource_already_exists_exception",))
            self.indexes.add(index)
        failures: list[RecordFailure] = []
        attempt = 0
        while batch:
            body = b"".join(orjson.dumps(line) + b"\n" for _, lines in batch for line in lines)
            answer = self._request("POST", "/_bulk", body)
            retry: list[tuple[SinkRecord, list[dict[str, Any]]]] = []
            for (record, lines), item in zip(batch, answer.get("items", []), strict=False):
                result = next(iter(item.values()))
                status = int(result.get("status", 200))
                if status < 300 or (status == 404 and "delete" in item):
                    continue
                error = result.get("error") or {}
                kind = error.get("type", "") if isinstance(error, dict) else str(error)
                if status == 409 and kind == "version_conflict_engine_exception":
                    continue
                if status == 429 or status >= 500:
                    retry.append((record, lines))
                    continue
                reason = f"Elasticsearch sink: the cluster refused the document {result.get('_id')!r} of index " \
                         f"{result.get('_index')!r}: {kind}: {error.get('reason', '') if isinstance(error, dict) else ''}"
                if self.on_malformed == "fail":
                    failures.append(RecordFailure(record, ConnectError(reason)))
                elif self.on_malformed == "warn":
                    logger.warning("%s (dropped: behavior.on.malformed.documents=warn)", reason)
            batch = retry
            if batch:
                attempt = self._backoff(attempt, f"{len(batch)} documents rejected with 429/5xx")
        return failures

    def _request(self, method: str, path: str, body: bytes | None, ok_errors: tuple[str, ...] = ()) -> dict[str, Any]:
        attempt = 0
        while True:
            url = self.urls[self._url % len(self.urls)] + path
            try:
                response = self.client.request(method, url, content=body, headers={
                    "Content-Type": "application/x-ndjson" if body is not None else "application/json"})
            except httpx.HTTPError as exc:
                self._url += 1
                attempt = self._backoff(attempt, f"{method} {path} failed: {exc}")
                continue
            if response.status_code == 429 or response.status_code >= 500:
                attempt = self._backoff(attempt, f"{method} {path} answered {response.status_code}")
                continue
            try:
                payload = response.json()
            except ValueError:
                payload = {}
            if response.status_code >= 400:
                error = payload.get("error") if isinstance(payload, dict) else None
                kind = error.get("type", "") if isinstance(error, dict) else ""
                if kind in ok_errors:
                    return payload
                raise ConnectError(f"Elasticsearch sink: {method} {path} answered {response.status_code}: "
                                   f"{response.text[:500]}")
            return payload if isinstance(payload, dict) else {}

    def _backoff(self, attempt: int, why: str) -> int:
        if attempt >= self.max_retries:
            raise ConnectError(f"Elasticsearch sink: giving up after {attempt} retries: {why}")
        delay_ms = random.uniform(0, self.backoff_ms * (2 ** attempt))  # noqa: S311 - jitter, as Connect's
        logger.info("Elasticsearch sink: %s; retry %d in %.0f ms", why, attempt + 1, delay_ms)
        time.sleep(delay_ms / 1000)
        return attempt + 1
