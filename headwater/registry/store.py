"""The registry's data in the log: a compacted ``_schemas`` topic, in the record shapes Confluent's registry writes.

Keys and values are JSON:

- ``{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}`` ->
  ``{"subject","version","id","schema","deleted"[,"schemaType","references"]}``; a tombstone is a hard delete;
- ``{"keytype":"CONFIG","subject":S|null,"magic":0}`` -> ``{"compatibilityLevel": LEVEL}`` or a tombstone.

On start the topic is read from its beginning; before each change the tail
written since (by this or another process) is read. Appends are durable
before the call returns.

Several processes may register into one log at once (the log has no
compare-and-append that Kafka would also offer), so a registration is first
an optimistic *claim*, ``{"keytype":"CLAIM","subject":S,"version":V,"id":I,
"claim":N,"magic":1}`` -> the would-be SCHEMA value, under a key of its own
(``N`` is random). A claim wins when no winning claim before it in the log,
still open (not tombstoned), nor any SCHEMA record, holds its subject and
version or binds its id to another schema: every process reading the log
decides the same, and the claimant acts on it when it reads its claim back
(a lost claim takes nothing, so losers leave no gaps). The
winner then appends the SCHEMA record and tombstones its claim; a loser
tombstones its claim and tries again with the next version and id. A SCHEMA
record is therefore only ever written for a version that is its writer's, so
compaction, which keeps the last record of a key, never keeps a loser: a
registrar killed after winning a claim leaves it open, which only makes later
claims skip its version and id (a gap in the version numbers); one killed
after losing, or after writing its SCHEMA record, leaves nothing to decide.
(Compaction drops a claim's tombstone and the claim after
``delete.retention.ms``, a day by default: a registrar reads its claim back
long before.)
Confluent's registry skips keys of a type it does not know, as CLAIM is.
Records of the earlier protocol (losing SCHEMA claims under a contested key)
are still read as before: a SCHEMA record that claims an id already bound to
another schema, or a live version already holding another id, is ignored.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import orjson

from headwater.log import Log, Record
from headwater.registry.base import (
    Reference,
    RegisteredSchema,
    RegistryError,
    Schema,
    SchemaRegistry,
    schema_not_found,
    subject_not_found,
    version_not_found,
)
from headwater.registry.compatibility import LEVELS, canonical, incompatibilities

SCHEMAS_TOPIC = "_schemas"
DEFAULT_LEVEL = "BACKWARD"
_CLAIM_ATTEMPTS = 100  # each lost claim means another registrar's succeeded: progress is made


@dataclass(frozen=True)
class _Claim:
    subject: str
    version: int
    schema_id: int
    schema: Schema


@dataclass(frozen=True)
class _Version:
    schema_id: int
    schema: Schema
    deleted: bool = False


class LogSchemaRegistry(SchemaRegistry):
    """Subjects, versions, ids and compatibility levels, kept in ``topic`` of ``log``."""

    def __init__(self, log: Log, topic: str = SCHEMAS_TOPIC) -> None:
        self.log = log
        self.topic = topic
        log.create_topic(topic, 1, {"cleanup.policy": "compact"}, exist_ok=True)
        self._lock = threading.RLock()
        self._subjects: dict[str, dict[int, _Version]] = {}
        self._ids: dict[int, Schema] = {}
        self._configs: dict[str | None, str] = {}
        self._open_claims: dict[str, _Claim] = {}  # the winning claims not yet settled, by nonce
        self._mine: set[str] = set()  # the claims this object appended and has not settled
        self._decided: dict[str, bool] = {}  # whether each of them won, as of its place in the log
        self._position = log.beginning_offset(topic, 0)
        self._catch_up()

    # -- reading the topic --------------------------------------------------------------
    def _records(self) -> Iterator[tuple[bytes | None, bytes | None]]:
        end = self.log.end_offset(self.topic, 0)
        while self._position < end:
            fetched = self.log.read(self.topic, 0, self._position)
            yield from zip(fetched.records.column("key").to_pylist(), fetched.records.column("value").to_pylist(),
                           strict=True)
            if fetched.next_offset <= self._position:
                break
            self._position = fetched.next_offset

    def _catch_up(self) -> None:
        with self._lock:
            for key, value in self._records():
                try:
                    self._apply(orjson.loads(key) if key else {}, orjson.loads(value) if value else None)
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # not a registry record: the topic is writable like any other

    def _apply(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        kind = key.get("keytype")
        if kind == "CLAIM":
            nonce = str(key["claim"])
            if value is None:
                self._open_claims.pop(nonce, None)
                return
            claim = _Claim(str(key["subject"]), int(key["version"]), int(value["id"]), _schema_of(value))
            won = not self._contested(claim)
            if nonce in self._mine:
                self._decided[nonce] = won
            if won:  # a lost claim takes nothing: only winners hold their version and id until settled
                self._open_claims[nonce] = claim
        elif kind == "SCHEMA":
            subject, version = str(key["subject"]), int(key["version"])
            versions = self._subjects.setdefault(subject, {})
            if value is None:
                versions.pop(version, None)
                if not versions:
                    self._subjects.pop(subject, None)
                return
            schema = _schema_of(value)
            schema_id = int(value["id"])
            bound, held = self._ids.get(schema_id), versions.get(version)
            if (bound is not None and bound != schema) or (held is not None and held.schema_id != schema_id):
                return  # a lost claim (see the module docstring)
            versions[version] = _Version(schema_id, schema, bool(value.get("deleted")))
            self._ids.setdefault(schema_id, schema)
        elif kind == "CONFIG":
            subject = key.get("subject")
            if value is None:
                self._configs.pop(subject, None)
            else:
                self._configs[subject] = str(value["compatibilityLevel"]).upper()

    def _contested(self, claim: _Claim) -> bool:
        """Whether a SCHEMA record or an open claim read so far holds the claim's version, or binds its id
        to another schema."""
        bound = self._ids.get(claim.schema_id)
        if claim.version in self._subjects.get(claim.subject, {}) or (bound is not None and bound != claim.schema):
            return True
        return any((c.subject, c.version) == (claim.subject, claim.version)
                   or (c.schema_id == claim.schema_id and c.schema != claim.schema) for c in self._open_claims.values())

    def _write(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        self.log.append(self.topic, 0, [Record(None if value is None else orjson.dumps(value), orjson.dumps(key))])
        self._catch_up()

    def _write_version(self, subject: str, version: int, entry: _Version | None) -> None:
        key = {"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1}
        self._write(key, None if entry is None else _value_of(subject, version, entry))

    # -- the contract -------------------------------------------------------------------
    def register(self, subject: str, schema: Schema, *, normalize: bool = False) -> int:
        return self.register_version(subject, schema).schema_id

    def register_version(self, subject: str, schema: Schema) -> RegisteredSchema:
        """Register (or find) ``schema`` under ``subject``; Confluent's POST /subjects/{subject}/versions."""
        schema = canonical(schema)
        with self._lock:
            for _ in range(_CLAIM_ATTEMPTS):
                found = self._claim(subject, schema)
                if found is not None:
                    return found
        # Contention, not a defect: a 503 the client may retry (Confluent's 50002, "operation timed out").
        raise RegistryError(503, 50002, f"Registering a schema for subject \"{subject}\" timed out: other "
                                        f"registrars won {_CLAIM_ATTEMPTS} claims in a row; retry")

    def _claim(self, subject: str, schema: Schema) -> RegisteredSchema | None:
        """One attempt at registering: the registered version, or None when another process's claim won."""
        with self._lock:
            self._catch_up()
            self._check_references(schema)
            versions = self._subjects.get(subject, {})
            for number, entry in sorted(versions.items()):
                if not entry.deleted and entry.schema == schema:
                    return RegisteredSchema(subject, number, entry.schema_id, entry.schema)
            live = [entry.schema for _, entry in sorted(versions.items()) if not entry.deleted]
            level = self.compatibility(subject)
            problems = incompatibilities(level, schema, live)
            if problems:
                raise RegistryError(409, 409, f"Schema being registered is incompatible with an earlier schema for "
                                              f"subject \"{subject}\", details: [{', '.join(problems)}]")
            proposal = self._propose(subject, schema)
            nonce = self._append_claim(proposal)
            return self._settle(nonce, proposal)

    def _propose(self, subject: str, schema: Schema) -> _Claim:
        """The next version of ``subject`` and the id of ``schema`` (its own if it has one), past every
        version and id that SCHEMA records and open claims hold."""
        claims = list(self._open_claims.values())
        schema_id = next((i for i, s in self._ids.items() if s == schema), None)
        if schema_id is None:  # an open claim's id for the same schema keeps one id per schema
            schema_id = next((c.schema_id for c in claims if c.schema == schema), None)
        if schema_id is None:
            schema_id = max([*self._ids, *(c.schema_id for c in claims)], default=0) + 1
        versions = [*self._subjects.get(subject, {}), *(c.version for c in claims if c.subject == subject)]
        return _Claim(subject, max(versions, default=0) + 1, schema_id, schema)

    def _append_claim(self, claim: _Claim) -> str:
        nonce = uuid.uuid4().hex
        self._mine.add(nonce)
        self._write(self._claim_key(claim, nonce), _value_of(claim.subject, claim.version,
                                                              _Version(claim.schema_id, claim.schema)))
        return nonce

    @staticmethod
    def _claim_key(claim: _Claim, nonce: str) -> dict[str, Any]:
        return {"keytype": "CLAIM", "subject": claim.subject, "version": claim.version, "id": claim.schema_id,
                "claim": nonce, "magic": 1}

    def _settle(self, nonce: str, claim: _Claim) -> RegisteredSchema | None:
        """Write the version of a claim that won (None when it lost), then close the claim."""
        won = self._decided.pop(nonce, False)
        self._mine.discard(nonce)
        if won:
            self._write_version(claim.subject, claim.version, _Version(claim.schema_id, claim.schema))
        self._write(self._claim_key(claim, nonce), None)
        if won:
            return RegisteredSchema(claim.subject, claim.version, claim.schema_id, claim.schema)
        return None

    def schema(self, schema_id: int) -> Schema:
        with self._lock:
            found = self._ids.get(schema_id)
            if found is None:
                self._catch_up()
                found = self._ids.get(schema_id)
        if found is None:
            raise schema_not_found(schema_id)
        return found

    def version(self, subject: str, version: int | str = "latest", *, deleted: bool = False) -> RegisteredSchema:
        with self._lock:
            self._catch_up()
            versions = self._live(subject, deleted)
            if version in ("latest", -1):
                number = max(versions)
            else:
                number = _version_number(version)
                if number not in versions:
                    raise version_not_found(version)
            entry = versions[number]
        return RegisteredSchema(subject, number, entry.schema_id, entry.schema)

    # -- the rest of Confluent's API ------------------------------------------------------
    def _live(self, subject: str, deleted: bool = False) -> dict[int, _Version]:
        versions = {n: e for n, e in self._subjects.get(subject, {}).items() if deleted or not e.deleted}
        if not versions:
            raise subject_not_found(subject)
        return versions

    def _check_references(self, schema: Schema) -> None:
        for ref in schema.references:
            self.version(ref.subject, ref.version)

    def subjects(self, *, deleted: bool = False, prefix: str = "") -> list[str]:
        with self._lock:
            self._catch_up()
            return sorted(s for s, v in self._subjects.items()
                          if s.startswith(prefix) and any(deleted or not e.deleted for e in v.values()))

    def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        with self._lock:
            self._catch_up()
            return sorted(self._live(subject, deleted))

    def lookup(self, subject: str, schema: Schema, *, deleted: bool = False) -> RegisteredSchema:
        """The version of ``subject`` holding ``schema``: POST /subjects/{subject}."""
        schema = canonical(schema)
        with self._lock:
            self._catch_up()
            for number, entry in sorted(self._live(subject, deleted).items()):
                if entry.schema == schema:
                    return RegisteredSchema(subject, number, entry.schema_id, entry.schema)
        raise schema_not_found()

    def id_versions(self, schema_id: int) -> list[tuple[str, int]]:
        """``(subject, version)`` of every live version with this id."""
        self.schema(schema_id)
        with self._lock:
            return sorted((s, n) for s, v in self._subjects.items() for n, e in v.items()
                          if e.schema_id == schema_id and not e.deleted)

    def delete_subject(self, subject: str, *, permanent: bool = False) -> list[int]:
        with self._lock:
            self._catch_up()
            everything = dict(self._subjects.get(subject, {}))
            if not everything:
                raise subject_not_found(subject)
            if permanent:
                live = [n for n, e in everything.items() if not e.deleted]
                if live:
                    raise RegistryError(404, 40405, f"Subject '{subject}' was not deleted first before being "
                                                    "deleted permanently")
                numbers = sorted(everything)
                for number in numbers:
                    self._write_version(subject, number, None)
                return numbers
            live = sorted(n for n, e in everything.items() if not e.deleted)
            if not live:
                raise RegistryError(404, 40404, f"Subject '{subject}' was soft deleted.Set permanent=true to delete "
                                                "permanently")
            for number in live:
                self._write_version(subject, number, replace(everything[number], deleted=True))
            return live

    def delete_version(self, subject: str, version: int | str, *, permanent: bool = False) -> int:
        with self._lock:
            self._catch_up()
            everything = self._subjects.get(subject, {})
            if not everything:
                raise subject_not_found(subject)
            if version in ("latest", -1):
                live = [n for n, e in everything.items() if not e.deleted]
                if not live:
                    raise version_not_found(version)
                number = max(live)
            else:
                number = _version_number(version)
            entry = everything.get(number)
            if entry is None:
                raise version_not_found(version)
            if permanent:
                if not entry.deleted:
                    raise RegistryError(404, 40407, f"Subject '{subject}' Version {number} was not deleted first "
                                                    "before being permanently deleted")
                self._write_version(subject, number, None)
            else:
                if entry.deleted:
                    raise RegistryError(404, 40406, f"Subject '{subject}' Version {number} was soft deleted.Set "
                                                    "permanent=true to delete permanently")
                self._write_version(subject, number, replace(entry, deleted=True))
            return number

    def compatibility(self, subject: str | None = None, *, default_to_global: bool = True) -> str:
        with self._lock:
            self._catch_up()
            if subject is not None and subject in self._configs:
                return self._configs[subject]
            if subject is not None and not default_to_global:
                raise RegistryError(404, 40408, f"Subject '{subject}' does not have subject-level compatibility "
                                                "configured")
            return self._configs.get(None, DEFAULT_LEVEL)

    def set_compatibility(self, level: object, subject: str | None = None) -> str:
        text = str(level).upper() if isinstance(level, str) else ""
        if text not in LEVELS:
            raise RegistryError(422, 42203, f"Invalid compatibility level. Valid values are none, backward, forward, "
                                            f"full, backward_transitive, forward_transitive, and full_transitive")
        with self._lock:
            self._write({"keytype": "CONFIG", "subject": subject, "magic": 0}, {"compatibilityLevel": text})
        return text

    def delete_compatibility(self, subject: str | None = None) -> str:
        with self._lock:
            previous = self.compatibility(subject)
            self._write({"keytype": "CONFIG", "subject": subject, "magic": 0}, None)
        return previous

    def check(self, subject: str, schema: Schema, version: int | str | None = "latest") -> list[str]:
        """Why ``schema`` is incompatible with a version (``None``: every version the level covers)."""
        schema = canonical(schema)
        with self._lock:
            self._catch_up()
            try:
                live = self._live(subject)
            except RegistryError:
                if version is None:
                    return []
                raise
            level = self.compatibility(subject)
            if version is None:
                against = [e.schema for _, e in sorted(live.items())]
                return incompatibilities(level if level.endswith("_TRANSITIVE") or level == "NONE"
                                         else f"{level}_TRANSITIVE", schema, against)
            old = self.version(subject, version)
            return incompatibilities(level.removesuffix("_TRANSITIVE"), schema, [old.schema])


def _schema_of(value: dict[str, Any]) -> Schema:
    refs = tuple(Reference(r["name"], r["subject"], int(r["version"])) for r in value.get("references") or ())
    return Schema(str(value["schema"]), str(value.get("schemaType") or "AVRO"), refs)


def _value_of(subject: str, version: int, entry: _Version) -> dict[str, Any]:
    """A SCHEMA record's value, as Confluent's registry writes it."""
    value: dict[str, Any] = {"subject": subject, "version": version, "id": entry.schema_id,
                             "schema": entry.schema.text, "deleted": entry.deleted}
    if entry.schema.schema_type != "AVRO":
        value["schemaType"] = entry.schema.schema_type
    if entry.schema.references:
        value["references"] = [r.to_json() for r in entry.schema.references]
    return value


def _version_number(version: object) -> int:
    try:
        number = int(str(version))
    except ValueError:
        number = 0
    if number < 1 or number > 2**31 - 1:
        raise RegistryError(422, 42202, "The specified version '{}' is not a valid version id. Allowed values are "
                                        "between [1, 2^31-1] and the string \"latest\"".format(version))
    return number


_LOCAL: weakref.WeakKeyDictionary[Log, LogSchemaRegistry] = weakref.WeakKeyDictionary()
_LOCAL_LOCK = threading.Lock()


def local_registry(log: Log) -> LogSchemaRegistry:
    """The one registry object of ``log`` in this process (shared by the session, the server and converters)."""
    with _LOCAL_LOCK:
        found = _LOCAL.get(log)
        if found is None:
            found = _LOCAL[log] = LogSchemaRegistry(log)
        return found
