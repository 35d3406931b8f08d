"""Schema ids stay unique when two processes register into one log at the same time."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from headwater.log import open_log
from headwater.registry.base import Schema
from headwater.registry.store import LogSchemaRegistry

COUNT = 25


def _schema(owner: str, i: int) -> Schema:
    return Schema(json.dumps({"type": "record", "name": f"{owner}{i}", "fields": [{"name": "a", "type": "int"}]}))


def _subject(owner: str, i: int) -> str:
    return "shared" if i % 2 == 0 else f"own-{owner}"


def _registrar(url: str, owner: str, start: object, out: object) -> None:
    registry = LogSchemaRegistry(open_log(url))
    start.wait()  # type: ignore[attr-defined]
    got = [(i, registry.register_version(_subject(owner, i), _schema(owner, i))) for i in range(COUNT)]
    out.put([(owner, i, r.subject, r.version, r.schema_id) for i, r in got])  # type: ignore[attr-defined]


def test_two_processes_registering_at_once_get_distinct_ids(tmp_path: Path) -> None:
    url = str(tmp_path / "log")
    LogSchemaRegistry(open_log(url)).set_compatibility("NONE")
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(2), context.Queue()
    # Different schemas, in one subject (versions and ids contested) and in one subject each (ids contested).
    workers = [context.Process(target=_registrar, args=(url, owner, start, out)) for owner in ("A", "B")]
    for worker in workers:
        worker.start()
    results = [row for _ in workers for row in out.get(timeout=120)]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    ids = {schema_id for *_, schema_id in results}
    assert len(ids) == len(results) == 2 * COUNT  # every schema its own id, as each process was told
    versions = {(subject, version) for _, _, subject, version, _ in results}
    assert len(versions) == 2 * COUNT
    fresh = LogSchemaRegistry(open_log(url))  # a third process's view agrees with what each was told
    for owner, i, subject, version, schema_id in results:
        assert fresh.schema(schema_id).text == _schema(owner, i).text.replace(" ", "")
        found = fresh.version(subject, version)
        assert (found.schema_id, found.schema.text) == (schema_id, fresh.schema(schema_id).text)
    evens = len(range(0, COUNT, 2))
    assert fresh.versions("shared") == list(range(1, 2 * evens + 1))
    assert fresh.versions("own-A") == fresh.versions("own-B") == list(range(1, COUNT - evens + 1))


def _compacting_registry(path: Path) -> LogSchemaRegistry:
    """A registry on a topic whose segments roll every few records and whose tombstones go at once."""
    log = open_log(str(path / "log"))
    log.create_topic("_schemas", 1, {"cleanup.policy": "compact", "segment.bytes": "600", "delete.retention.ms": "0"},
                     exist_ok=True)
    registry = LogSchemaRegistry(log)
    registry.set_compatibility("NONE")
    return registry


def _schema_records(registry: LogSchemaRegistry) -> list[tuple[dict[str, object], dict[str, object] | None]]:
    log, records = registry.log, []
    position = log.beginning_offset("_schemas", 0)
    while position < log.end_offset("_schemas", 0):
        fetched = log.read("_schemas", 0, position)
        for key, value in zip(fetched.records.column("key").to_pylist(), fetched.records.column("value").to_pylist(),
                              strict=True):
            records.append((json.loads(key), json.loads(value) if value else None))
        position = fetched.next_offset
    return records


def test_a_registrar_killed_after_losing_leaves_nothing_compaction_could_keep(tmp_path: Path) -> None:
    first = _compacting_registry(tmp_path)
    second = LogSchemaRegistry(first.log)
    second._catch_up()
    late = second._propose("race-value", _schema("B", 0))  # read before the other's registration...
    won = first.register_version("race-value", _schema("A", 0))
    second._append_claim(late)  # ...claimed after it: this claim lost; the registrar dies before settling it
    assert (late.version, won.version) == (1, 1)
    for level in ("FULL", "NONE") * 10:  # more records: the segments holding the race close
        first.set_compatibility(level, "other")
    first.log.run_cleaner()
    records = _schema_records(first)
    assert sum(key.get("subject") == "other" for key, _ in records) < 20  # compaction ran
    assert any(key["keytype"] == "CLAIM" for key, _ in records)  # the dead claim is still there...
    schema_values = [value for key, value in records if key["keytype"] == "SCHEMA"]
    assert [(v["version"], v["id"]) for v in schema_values if v] == [(1, won.schema_id)]  # ...but no SCHEMA loser
    fresh = LogSchemaRegistry(first.log)
    assert fresh.version("race-value", 1).schema_id == won.schema_id
    assert fresh.schema(won.schema_id) == won.schema
    again = fresh.register_version("race-value", _schema("B", 0))
    assert (again.version, again.schema_id) == (2, won.schema_id + 1)  # a lost claim takes no version nor id


def test_a_registrar_killed_after_winning_leaves_only_a_gap(tmp_path: Path) -> None:
    registry = _compacting_registry(tmp_path)
    dying = LogSchemaRegistry(registry.log)
    dying._catch_up()
    dying._append_claim(dying._propose("gap-value", _schema("A", 1)))  # won, never settled
    later = registry.register_version("gap-value", _schema("B", 1))
    assert later.version == 2 and later.schema_id == 2  # the open winning claim holds version 1 and id 1
    for level in ("FULL", "NONE") * 10:
        registry.set_compatibility(level, "other")
    registry.log.run_cleaner()
    fresh = LogSchemaRegistry(registry.log)
    assert fresh.versions("gap-value") == [2]
    assert fresh.version("gap-value").schema_id == 2
    assert fresh.register_version("gap-value", _schema("C", 1)).version == 3
