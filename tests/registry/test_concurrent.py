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
