"""Elasticsearch/OpenSearch sink (``io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`` keys).

Records go to the index named after their topic (lower-cased) through the ``_bulk`` API, ``batch.size``
actions per request. The document id is the record key (``key.ignore=false``: a string, a number, or a
structure as compact JSON; a windowed key, with ``key.window.type`` TUMBLING/HOPPING/SESSION and a byte-array
key converter, becomes ``<key>@<window start>`` (``@<end>`` added for sessions)) or, with ``key.ignore=true``,
``<topic>+<partition>+<offset>``; either way a replay rewrites the same documents. A null value is ignored,
deletes the key's document, or fails (``behavior.on.null.values``); ``write.method`` is ``insert`` (index)
or ``upsert`` (partial update, ``doc_as_upsert``). Unless ``schema.ignore=true`` (or the topic is in
``topic.schema.ignore``), an index is given the mapping of the first record's value schema
(``elasticsearch_mapping.py``) before the first write, when it has none yet, as Confluent's sink does;
schemaless values (JsonConverter without schemas) are left to dynamic mapping. With ``data.stream.type``
(LOGS or METRICS) and ``data.stream.dataset`` records go to the data stream
``<type>-<dataset>-<topic>`` instead (created with ``PUT /_data_stream``, so the cluster's index template
for ``logs-*-*``/``metrics-*-*`` applies and no mapping is put), with op_type ``create`` and an
``@timestamp``: the document's own, else the first ``data.stream.timestamp.field`` present, else the
record's timestamp; a replayed document answers 409, which counts as written. A request the cluster refuses as a whole (connection
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
from headwater.connect.data import ConnectSchema, SinkRecord
from headwater.connect.elasticsearch_mapping import index_mapping

logger = logging.getLogger(__name__)
_INDEX = re.compile(r"[a-z0-9][a-z0-9_.+-]*\Z")
_DATASET = re.compile(r"[^A-Z\s\\/*?\"<>|,#:-]{1,100}\Z")


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
            ConfigKey("topic.schema.ignore", "LIST", "", documentation="Topics whose schema gives no mapping."),
            ConfigKey("data.stream.type", default="NONE", recommended_values=("LOGS", "METRICS", "NONE")),
            ConfigKey("data.stream.dataset", default="",
                      documentation="With data.stream.type: the data stream is <type>-<dataset>-<topic>."),
            ConfigKey("data.stream.timestamp.field", "LIST", "",
                      documentation="Fields whose value becomes @timestamp (else the record timestamp)."),
        )

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> dict[str, list[str]]:
        errors = super().validate(config)
        choices = {"behavior.on.null.values": ("ignore", "delete", "fail"),
                   "behavior.on.malformed.documents": ("ignore", "warn", "fail"),
                   "write.method": ("insert", "upsert"), "key.window.type": ("", "tumbling", "hopping", "session"),
                   "data.stream.type": ("logs", "metrics", "none")}
        for key, allowed in choices.items():
            value = config.get(key, "").strip().lower()
            if value and value not in allowed:
                errors.setdefault(key, []).append(f"Invalid value {config[key]} for configuration {key}: must be "
                                                  f"one of {', '.join(a for a in allowed if a)}")
        for key in ("batch.size", "max.retries", "retry.backoff.ms", "read.timeout.ms", "connection.timeout.ms"):
            raw = config.get(key)
            if raw is not None and not raw.strip().isdecimal():
                errors.setdefault(key, []).append(f"Invalid value {raw} for configuration {key}: Not a number")
        stream = config.get("data.stream.type", "none").strip().lower() or "none"
        dataset = config.get("data.stream.dataset", "").strip()
        if stream != "none" or dataset:
            if stream == "none" or not dataset:
                errors.setdefault("data.stream.dataset", []).append(
                    "data.stream.type and data.stream.dataset must be set together")
            elif not _DATASET.match(dataset):
                errors.setdefault("data.stream.dataset", []).append(
                    f"Invalid value {dataset} for configuration data.stream.dataset: at most 100 lower-case "
                    "characters, without spaces nor any of \\/*?\"<>|,#:-")
            if config.get("write.method", "insert").strip().lower() == "upsert":
                errors.setdefault("write.method", []).append("write.method=upsert cannot write to a data stream")
            if config.get("behavior.on.null.values", "ignore").strip().lower() == "delete":
                errors.setdefault("behavior.on.null.values", []).append(
                    "behavior.on.null.values=delete cannot delete from a data stream")
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
        self.mapped: set[str] = set()
        self.schema_ignore = config.get("schema.ignore", "false").lower() == "true"
        self.schema_ignored_topics = {t.strip() for t in config.get("topic.schema.ignore", "").split(",") if t.strip()}
        stream = config.get("data.stream.type", "none").strip().lower() or "none"
        self.data_stream = f"{stream}-{config.get('data.stream.dataset', '').strip()}" if stream != "none" else None
        self.timestamp_fields = [f.strip() for f in config.get("data.stream.timestamp.field", "").split(",")
                                 if f.strip()]
        self._url = 0

    def stop(self) -> None:
        self.client.close()

    # -- records to actions -------------------------------------------------------------------
    def index_of(self, topic: str) -> str:
        index = f"{self.data_stream}-{topic}".lower() if self.data_stream else topic.lower()
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
        if self.data_stream:
            if "@timestamp" not in document:
                found = next((document[f] for f in self.timestamp_fields if document.get(f) is not None), None)
                document["@timestamp"] = found if found is not None else record.timestamp
            return [{"create": meta}, document]
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
        for record, lines in batch:
            index = lines[0][next(iter(lines[0]))]["_index"]
            if index not in self.indexes:
                self._create(index)
                self.indexes.add(index)
            if index not in self.mapped and record.value is not None and self._maps(record) \
                    and record.value_schema is not None:
                self._map(index, record.value_schema, record.topic)
                self.mapped.add(index)
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

    def _create(self, index: str) -> None:
        """Create an index (or data stream) unless it exists."""
        path = f"/_data_stream/{index}" if self.data_stream else f"/{index}"
        self._request("PUT", path, None, ok_errors=("resource_already_exists_exception",))

    def _maps(self, record: SinkRecord) -> bool:
        """Whether the record's value schema should give its index a mapping (data streams: their template's)."""
        return not (self.data_stream or self.schema_ignore or record.topic in self.schema_ignored_topics
                    or record.value_schema is None)

    def _map(self, index: str, schema: ConnectSchema, topic: str) -> None:
        """Give an index the mapping of a value schema, unless it has a mapping already."""
        current = self._request("GET", f"/{index}/_mapping", None)
        if any((v.get("mappings") or {}).get("properties") for v in current.values() if isinstance(v, dict)):
            return
        mapping = index_mapping(schema)
        self._request("PUT", f"/{index}/_mapping", orjson.dumps(mapping), content_type="application/json")
        logger.info("Elasticsearch sink: index %s mapped from the schema of %s", index, topic)

    def _request(self, method: str, path: str, body: bytes | None, ok_errors: tuple[str, ...] = (),
                 content_type: str = "application/x-ndjson") -> dict[str, Any]:
        attempt = 0
        while True:
            url = self.urls[self._url % len(self.urls)] + path
            try:
                response = self.client.request(method, url, content=body, headers={
                    "Content-Type": content_type if body is not None else "application/json"})
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
