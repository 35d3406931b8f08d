"""The MongoDB source WITHOUT a MongoDB server: none can be installed on this machine, so this has NOT run
against a real server. What is tested: configuration, the records built from change events of the shape
MongoDB's manual documents (https://www.mongodb.com/docs/manual/reference/change-events/), copy-existing,
and resuming from the stored resume token after a restart, with a fake client whose change stream replays a
list of events."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from bson.objectid import ObjectId
from bson.timestamp import Timestamp

from headwater.connect.cdc.mongodb import MongoSourceConnector, MongoSourceTask, to_json
from headwater.connect.runtime import ConnectRuntime
from headwater.log import Log
from tests.connect.cdc.helpers import read_topic
from tests.connect.conftest import wait_until

Factory = Callable[[], ConnectRuntime]
OID = ObjectId("64b7f0c2a1b2c3d4e5f60718")
WHEN = Timestamp(1_700_000_000, 3)


def event(n: int, operation: str, **fields: Any) -> dict[str, Any]:
    """A change event as MongoDB's manual shows it (resume token, clusterTime, ns, documentKey...)."""
    return {"_id": {"_data": f"8264B7F0C2{n:08d}"}, "operationType": operation, "clusterTime": WHEN,
            "wallTime": dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.timezone.utc),
            "ns": {"db": "maf", "coll": "person_ids"}, "documentKey": {"_id": n}, **fields}


class FakeStream:
    def __init__(self, events: list[dict[str, Any]], start: int) -> None:
        self.events, self.position = events, start

    def try_next(self) -> dict[str, Any] | None:
        if self.position >= len(self.events):
            return None
        self.position += 1
        return self.events[self.position - 1]

    @property
    def resume_token(self) -> dict[str, str]:
        return self.events[self.position - 1]["_id"] if self.position else {"_data": "start"}

    def close(self) -> None:
        pass


class FakeClient:
    """One database ``maf`` with one collection ``person_ids``; ``watch`` honours ``resume_after``."""

    events: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    watches: list[dict[str, Any]] = []

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def __getitem__(self, name: str) -> FakeClient:
        return self

    def watch(self, pipeline: list[Any], **options: Any) -> FakeStream:
        FakeClient.watches.append({"pipeline": pipeline, **options})
        token = options.get("resume_after")
        if token is None:
            return FakeStream(self.events, len(self.events))
        ids = [e["_id"] for e in self.events]
        return FakeStream(self.events, ids.index(token) + 1 if token in ids else 0)

    def find(self) -> Iterator[dict[str, Any]]:
        return iter(list(self.documents))

    def close(self) -> None:
        pass


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    FakeClient.events, FakeClient.documents, FakeClient.watches = [], [], []
    monkeypatch.setattr(MongoSourceTask, "client_factory", FakeClient)
    return FakeClient


def config(**extra: str) -> dict[str, str]:
    return {"connector.class": "com.mongodb.kafka.connect.MongoSourceConnector",
            "connection.uri": "mongodb://127.0.0.1:27017", "database": "maf", "collection": "person_ids",
            "topic.prefix": "mongodb", "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter", **extra}


def raw(log: Log, topic: str) -> list[tuple[Any, Any]]:
    return read_topic(log, topic)


def test_config_is_validated() -> None:
    assert MongoSourceConnector.validate(config()) == {}
    errors = MongoSourceConnector.validate(config(pipeline='{"$match": 1}', **{"startup.mode": "timestamp"}))
    assert set(errors) == {"pipeline", "startup.mode"}
    assert "connection.uri" in MongoSourceConnector.validate({"database": "maf"})


def test_change_events_become_records_and_a_restart_resumes_after_the_last_token(
        fake: type[FakeClient], connect_log: Log, runtime_factory: Factory) -> None:
    runtime = runtime_factory()
    runtime.create("mongo", config(pipeline='[{"$match": {"operationType": {"$in": ["insert", "update", "delete"]}}}]'))
    runtime.wait_for("mongo", timeout_s=10)
    fake.events += [
        event(1, "insert", fullDocument={"_id": 1, "name": "Ada", "born": dt.datetime(1815, 12, 10)}),
        event(2, "update", updateDescription={"updatedFields": {"name": "Ada L."}, "removedFields": [],
                                              "truncatedArrays": []}),
        event(3, "delete"),
    ]
    wait_until(lambda: len(raw(connect_log, "mongodb.maf.person_ids")) == 3, 10, "three change events")
    runtime.close()
    fake.events += [event(4, "insert", fullDocument={"_id": 4, "name": "Grace"})]
    runtime_factory()
    wait_until(lambda: len(raw(connect_log, "mongodb.maf.person_ids")) == 4, 10, "the event made while stopped")
    records = raw(connect_log, "mongodb.maf.person_ids")
    assert [k for k, _ in records] == [{"_id": 1}, {"_id": 2}, {"_id": 3}, {"_id": 4}]
    assert records[0][1] == json.loads(to_json(fake.events[0]))
    born_ms = (dt.datetime(1815, 12, 10) - dt.datetime(1970, 1, 1)) // dt.timedelta(milliseconds=1)
    assert records[0][1]["fullDocument"]["born"] == {"$date": {"$numberLong": str(born_ms)}}  # relaxed JSON
    assert records[1][1]["updateDescription"]["updatedFields"] == {"name": "Ada L."}
    assert fake.watches[0]["pipeline"] == [{"$match": {"operationType": {"$in": ["insert", "update", "delete"]}}}]
    assert fake.watches[-1]["resume_after"] == {"_data": "8264B7F0C200000003"}  # resumed after the last in the log


def test_full_document_only_copy_existing_and_tombstones(
        fake: type[FakeClient], connect_log: Log, runtime_factory: Factory) -> None:
    fake.documents += [{"_id": OID, "name": "copied"}]
    runtime = runtime_factory()
    runtime.create("mongo", config(**{"publish.full.document.only": "true", "copy.existing": "true",
                                      "publish.full.document.only.tombstone.on.delete": "true",
                                      "output.json.formatter": "SimplifiedJson"}))
    runtime.wait_for("mongo", timeout_s=10)
    fake.events += [event(1, "insert", fullDocument={"_id": 1, "name": "Ada"}), event(2, "delete")]
    wait_until(lambda: len(raw(connect_log, "mongodb.maf.person_ids")) == 3, 10, "copy + insert + tombstone")
    records = raw(connect_log, "mongodb.maf.person_ids")
    assert records == [({"_id": str(OID)}, {"_id": str(OID), "name": "copied"}),
                       ({"_id": 1}, {"_id": 1, "name": "Ada"}), ({"_id": 2}, None)]
    assert fake.watches[0].get("full_document") == "updateLookup"  # forced by publish.full.document.only


def test_the_debezium_envelope(fake: type[FakeClient], connect_log: Log, runtime_factory: Factory) -> None:
    runtime = runtime_factory()
    runtime.create("dbz", {"connector.class": "io.debezium.connector.mongodb.MongoDbConnector",
                           "mongodb.connection.string": "mongodb://127.0.0.1:27017", "topic.prefix": "mongodb",
                           "database.include.list": "maf", "collection.include.list": "maf.person_ids",
                           "snapshot.mode": "never"})
    runtime.wait_for("dbz", timeout_s=10)
    fake.events += [event(1, "insert", fullDocument={"_id": 1, "name": "Ada"}),
                    event(2, "update", fullDocument={"_id": 1, "name": "Ada L."},
                          updateDescription={"updatedFields": {"name": "Ada L."}, "removedFields": ["x"]}),
                    event(3, "delete")]
    wait_until(lambda: len(raw(connect_log, "mongodb.maf.person_ids")) == 4, 10, "the Debezium events")
    (k1, insert), (_, update), (k3, delete), (_, tombstone) = raw(connect_log, "mongodb.maf.person_ids")
    assert (k1, k3) == ({"id": "1"}, {"id": "3"})  # Debezium's key: the _id as relaxed Extended JSON text
    assert insert["op"] == "c" and json.loads(insert["after"]) == {"_id": 1, "name": "Ada"}
    assert insert["source"]["connector"] == "mongodb" and insert["source"]["collection"] == "person_ids"
    assert insert["source"]["ts_ms"] == 1_700_000_000_000 and insert["source"]["ord"] == 3
    assert update["op"] == "u" and update["updateDescription"]["removedFields"] == ["x"]
    assert delete["op"] == "d" and delete["after"] is None and tombstone is None
