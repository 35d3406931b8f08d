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


def _registrar(url: str, owner: str, subject: str, start: object, out: object) -> None:
    registry = LogSchemaRegistry(open_log(url))
    registry.set_compatibility("NONE", subject)
    start.wait()  # type: ignore[attr-defined]
    got = [(i, registry.register_version(subject, _schema(owner, i))) for i in range(COUNT)]
    out.put([(owner, i, r.subject, r.version, r.schema_id) for i, r in got])  # type: ignore[attr-defined]


def test_two_processes_registering_at_once_get_distinct_ids(tmp_path: Path) -> None:
    url = str(tmp_path / "log")
    LogSchemaRegistry(open_log(url)).set_compatibility("NONE")
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(2), context.Queue()
    # Different schemas, both in one subject (version numbers contested) and in two subjects (ids contested).
    workers = [context.Process(target=_registrar, args=(url, owner, subject, start, out))
               for owner, subject in (("A", "shared"), ("B", "shared"))]
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
    assert fresh.versions("shared") == list(range(1, 2 * COUNT + 1))
