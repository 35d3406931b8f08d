"""MongoDB change streams: the MongoDB Kafka source connector's keys and records, or Debezium's MongoDB envelope.

NOT RUN AGAINST A MONGODB SERVER: none can be installed on the machine this
was written on. The configuration, the records built from change events of
the shape MongoDB's manual documents, the copy-existing and resume logic are
tested with a fake client and stream (tests/connect/cdc/test_mongodb.py).

``com.mongodb.kafka.connect.MongoSourceConnector``: ``connection.uri``,
``database``, ``collection`` (empty: the whole database or deployment),
``pipeline`` (a JSON array of aggregation stages on the change events),
``publish.full.document.only`` (value = ``fullDocument``; deletes skipped or,
with ``publish.full.document.only.tombstone.on.delete``, tombstones),
``change.stream.full.document`` (``updateLookup`` ...),
``change.stream.full.document.before.change``, ``startup.mode`` latest |
copy_existing (or the older ``copy.existing=true``), ``topic.prefix``,
``topic.suffix``, ``topic.separator``, ``output.json.formatter``
(DefaultJson: relaxed Extended JSON, ExtendedJson: canonical,
SimplifiedJson: ObjectIds, dates and decimals as plain strings),
``poll.max.batch.size``, ``poll.await.time.ms``. Records: a string value with
the change event as JSON (use the StringConverter), the key the document key
as JSON; the source offset the resume token (``{"_id": <token JSON>}``), so a
restart resumes after the last event in the log. Copy-existing first opens the
change stream to take its resume point, copies the documents (offset
``{"copy": true}``), then streams from that point; a copy cut short is started
again (its records may repeat), as the MongoDB connector does.

``output.envelope=debezium`` (or the class ``io.debezium.connector.mongodb.
MongoDbConnector``) writes Debezium's MongoDB envelope instead: ``after`` /
``before`` as Extended JSON strings, ``updateDescription``, ``op`` (c, u, d,
r), ``source`` {connector mongodb, name, db, collection, ord, lsid,
txnNumber, ts_ms, snapshot} and a key ``{"id": <_id JSON>}``; topics
``<topic.prefix>.<db>.<collection>``.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pymongo
from bson import json_util
from bson.decimal128 import Decimal128
from bson.objectid import ObjectId
from bson.timestamp import Timestamp

from headwater.connect.api import ConfigKey, Connector, ConnectError, SourceTask, Task
from headwater.connect.data import ConnectSchema, SourceRecord

_STRING = ConnectSchema("string", optional=True)
OPS = {"insert": "c", "update": "u", "replace": "u", "delete": "d"}
FORMATTERS = ("DefaultJson", "ExtendedJson", "SimplifiedJson")


def _simplified(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal128):
        return str(value.to_decimal())
    if isinstance(value, Timestamp):
        return {"t": value.time, "i": value.inc}
    if isinstance(value, bytes):
        return json_util.dumps(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_json(document: Any, formatter: str = "DefaultJson") -> str:
    """A BSON document as the connector's ``output.json.formatter`` writes it."""
    if formatter == "ExtendedJson":
        return json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS)
    if formatter == "SimplifiedJson":
        return json.dumps(document, default=_simplified, separators=(",", ":"))
    return json_util.dumps(document, json_options=json_util.RELAXED_JSON_OPTIONS)


class MongoSourceConnector(Connector):
    type = "source"
    version = "1.13.0"
    envelope = "mongo"

    @classmethod
    def config_def(cls) -> Sequence[ConfigKey]:
        return (
            ConfigKey("connection.uri", required=True, importance="HIGH", type="PASSWORD",
                      documentation="The MongoDB connection string (mongodb:// or mongodb+srv://)."),
            ConfigKey("database", documentation="The database to watch (empty: the whole deployment)."),
            ConfigKey("collection", documentation="The collection to watch (empty: the whole database)."),
            ConfigKey("pipeline", default="[]", documentation="A JSON array of aggregation stages."),
            ConfigKey("publish.full.document.only", type="BOOLEAN", default=False),
            ConfigKey("publish.full.document.only.tombstone.on.delete", type="BOOLEAN", default=False),
            ConfigKey("change.stream.full.document", default="default"),
            ConfigKey("change.stream.full.document.before.change", default="default"),
            ConfigKey("startup.mode", default="latest", recommended_values=("latest", "copy_existing")),
            ConfigKey("copy.existing", type="BOOLEAN", default=False),
            ConfigKey("topic.prefix", default=""), ConfigKey("topic.suffix", default=""),
            ConfigKey("topic.separator", default="."),
            ConfigKey("output.json.formatter", default="DefaultJson", recommended_values=FORMATTERS),
            ConfigKey("output.envelope", default="mongo", recommended_values=("mongo", "debezium")),
            ConfigKey("poll.max.batch.size", type="INT", default=1000),
            ConfigKey("poll.await.time.ms", type="LONG", default=5000),
        )

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> dict[str, list[str]]:
        config = normalized(config, cls.envelope)
        errors = super().validate(config)
        try:
            stages = json.loads(config.get("pipeline") or "[]")
            if not isinstance(stages, list) or not all(isinstance(s, dict) for s in stages):
                raise ValueError("not an array of objects")
        except ValueError as exc:
            errors["pipeline"] = [f"pipeline must be a JSON array of aggregation stages: {exc}"]
        formatter = config.get("output.json.formatter", "DefaultJson").rsplit(".", 1)[-1]
        if formatter not in FORMATTERS:
            errors["output.json.formatter"] = [f"must be one of {', '.join(FORMATTERS)}"]
        if config.get("startup.mode", "latest") not in ("latest", "copy_existing"):
            errors["startup.mode"] = ["Headwater supports latest and copy_existing (not timestamp)"]
        if config.get("output.envelope", "mongo") not in ("mongo", "debezium"):
            errors["output.envelope"] = ["must be mongo or debezium"]
        return errors

    def start(self, config: Mapping[str, str]) -> None:
        self.config = normalized(config, self.envelope)

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self.config)]  # one change stream: one task

    def task_class(self) -> builtins.type[Task]:
        return MongoSourceTask


class MongoDbConnector(MongoSourceConnector):
    """Debezium's MongoDB connector keys (``mongodb.connection.string``, ``topic.prefix``,
    ``database.include.list``, ``collection.include.list`` with one name each) over the same task."""

    version = "2.7.0"
    envelope = "debezium"


def normalized(config: Mapping[str, str], envelope: str) -> dict[str, str]:
    """Debezium's MongoDB keys mapped onto the Mongo connector's, and the envelope chosen."""
    out = dict(config)
    if envelope == "debezium":
        out.setdefault("output.envelope", "debezium")
        if "mongodb.connection.string" in out:
            out.setdefault("connection.uri", out["mongodb.connection.string"])
        if out.get("database.include.list"):
            out.setdefault("database", out["database.include.list"])
        if out.get("collection.include.list"):
            out.setdefault("collection", out["collection.include.list"].split(".", 1)[-1])
        if out.get("snapshot.mode", "initial") == "initial":
            out.setdefault("startup.mode", "copy_existing")
    if str(out.get("copy.existing", "false")).lower() == "true":
        out.setdefault("startup.mode", "copy_existing")
    return out


class MongoSourceTask(SourceTask):
    #: How the task reaches MongoDB (tests give a fake client).
    client_factory: Callable[[str], Any] = pymongo.MongoClient

    def start(self, config: Mapping[str, str], offsets: Any = None) -> None:  # type: ignore[override]
        super().start(config, offsets)
        self.uri = config["connection.uri"]
        self.database, self.collection = config.get("database") or "", config.get("collection") or ""
        self.pipeline = json.loads(config.get("pipeline") or "[]")
        self.full_only = config.get("publish.full.document.only", "false").lower() == "true"
        self.full_tombstone = config.get("publish.full.document.only.tombstone.on.delete", "false").lower() == "true"
        self.full_document = config.get("change.stream.full.document", "default")
        if self.full_only and self.full_document == "default":
            self.full_document = "updateLookup"
        self.before_change = config.get("change.stream.full.document.before.change", "default")
        self.formatter = config.get("output.json.formatter", "DefaultJson").rsplit(".", 1)[-1]
        self.debezium = config.get("output.envelope", "mongo") == "debezium"
        self.prefix, self.suffix = config.get("topic.prefix", ""), config.get("topic.suffix", "")
        self.separator = config.get("topic.separator", ".")
        self.batch = int(config.get("poll.max.batch.size", "1000"))
        self.await_ms = int(config.get("poll.await.time.ms", "5000"))
        self.partition = {"ns": f"{self.uri.split('@')[-1].split('?')[0]}/{self.database}.{self.collection}"}
        stored = dict(offsets.offset(self.partition) or {}) if offsets is not None else {}
        self.client = type(self).client_factory(self.uri)
        self.copying: Iterator[tuple[str, Any]] | None = None
        self.stream: Any = None
        if stored.get("_id") and not stored.get("copy"):
            self._open(json_util.loads(stored["_id"]))
        elif config.get("startup.mode", "latest") == "copy_existing":
            self._open(None)  # the resume point before the copy: nothing written meanwhile is missed
            self.copy_from = self.stream.resume_token
            self.stream.close()
            self.stream = None
            self.copying = self._existing()
        else:
            self._open(None)

    def _target(self) -> Any:
        if self.database and self.collection:
            return self.client[self.database][self.collection]
        if self.database:
            return self.client[self.database]
        return self.client

    def _open(self, resume_after: Any) -> None:
        options: dict[str, Any] = {"max_await_time_ms": min(self.await_ms, 1000), "batch_size": self.batch}
        if self.full_document != "default":
            options["full_document"] = self.full_document
        if self.before_change != "default":
            options["full_document_before_change"] = self.before_change
        if resume_after is not None:
            options["resume_after"] = resume_after
        self.stream = self._target().watch(self.pipeline, **options)

    def _existing(self) -> Iterator[tuple[str, Any]]:
        databases = [self.database] if self.database else [d for d in self.client.list_database_names()
                                                            if d not in ("admin", "local", "config")]
        for database in databases:
            collections = [self.collection] if self.collection else self.client[database].list_collection_names()
            for collection in collections:
                for document in self.client[database][collection].find():
                    yield f"{database}.{collection}", document

    def topic(self, db: str, coll: str | None) -> str:
        parts = [p for p in (self.prefix, db, coll, self.suffix) if p]
        return self.separator.join(parts)

    # -- poll -------------------------------------------------------------------------
    def poll(self) -> Sequence[SourceRecord]:
        try:
            if self.copying is not None:
                return self._copy()
            return self._changes()
        except pymongo.errors.PyMongoError as exc:
            raise ConnectError(f"MongoDB source: {exc}") from exc

    def _copy(self) -> list[SourceRecord]:
        assert self.copying is not None
        out: list[SourceRecord] = []
        token = json_util.dumps(self.copy_from)
        for namespace, document in self.copying:
            db, _, coll = namespace.partition(".")
            event = {"_id": {"_id": document.get("_id"), "copyingData": True}, "operationType": "insert",
                     "ns": {"db": db, "coll": coll}, "documentKey": {"_id": document.get("_id")},
                     "fullDocument": document}
            out += self._records(event, {"copy": True, "_id": token}, snapshot=True)
            if len(out) >= self.batch:
                return out
        self.copying = None  # the copy is complete: stream from the point taken before it
        self._open(self.copy_from)
        if out:  # the last copied record's offset says the copy is complete
            last = out[-1]
            out[-1] = SourceRecord(last.source_partition, {"_id": token}, last.topic, last.value, last.key,
                                   last.key_schema, last.value_schema, last.partition, last.timestamp, last.headers)
        return out

    def _changes(self) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        deadline = time.monotonic() + 1.0
        while len(out) < self.batch and time.monotonic() < deadline:
            event = self.stream.try_next()
            if event is None:
                if out:
                    break
                continue
            out += self._records(event, {"_id": json_util.dumps(event["_id"])})
        return out

    def _records(self, event: Mapping[str, Any], offset: dict[str, Any], snapshot: bool = False) -> list[SourceRecord]:
        ns = event.get("ns") or {}
        topic = self.topic(str(ns.get("db", self.database)), ns.get("coll"))
        if self.debezium:
            return self._debezium(event, offset, topic, snapshot)
        key_doc = event.get("documentKey") or {"_id": event.get("_id")}
        key = to_json(key_doc, self.formatter)
        if self.full_only:
            document = event.get("fullDocument")
            if document is None:
                if event.get("operationType") == "delete" and self.full_tombstone:
                    return [SourceRecord(self.partition, offset, topic, None, key, _STRING, None)]
                return []
            return [SourceRecord(self.partition, offset, topic, to_json(document, self.formatter), key, _STRING,
                                 _STRING)]
        return [SourceRecord(self.partition, offset, topic, to_json(dict(event), self.formatter), key, _STRING,
                             _STRING)]

    def _debezium(self, event: Mapping[str, Any], offset: dict[str, Any], topic: str,
                  snapshot: bool) -> list[SourceRecord]:
        op = "r" if snapshot else OPS.get(str(event.get("operationType")))
        if op is None:
            return []  # drop, rename, invalidate...: no row change
        ns = event.get("ns") or {}
        cluster = event.get("clusterTime")
        ts_ms = cluster.time * 1000 if isinstance(cluster, Timestamp) else int(time.time() * 1000)
        key = json.dumps({"id": to_json((event.get("documentKey") or {}).get("_id"), "DefaultJson")})
        after, before = event.get("fullDocument"), event.get("fullDocumentBeforeChange")
        update = event.get("updateDescription")
        value = {
            "after": None if after is None else to_json(after, "DefaultJson"),
            "before": None if before is None else to_json(before, "DefaultJson"),
            "updateDescription": None if update is None else {
                "updatedFields": to_json(update.get("updatedFields") or {}, "DefaultJson"),
                "removedFields": list(update.get("removedFields") or []),
                "truncatedArrays": list(update.get("truncatedArrays") or [])},
            "source": {"version": "2.7.0.Final-headwater", "connector": "mongodb", "name": self.prefix,
                       "ts_ms": ts_ms, "snapshot": "true" if snapshot else "false", "db": ns.get("db"),
                       "collection": ns.get("coll"), "ord": cluster.inc if isinstance(cluster, Timestamp) else 0,
                       "lsid": None if event.get("lsid") is None else to_json(event["lsid"], "DefaultJson"),
                       "txnNumber": event.get("txnNumber")},
            "op": op, "ts_ms": int(time.time() * 1000)}
        records = [SourceRecord(self.partition, offset, topic, value, key, _STRING, None)]
        if op == "d":
            records.append(SourceRecord(self.partition, offset, topic, None, key, _STRING, None))
        return records

    def stop(self) -> None:
        if self.stream is not None:
            self.stream.close()
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
