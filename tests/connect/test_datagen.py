"""The datagen source connector: config, keys, iterations, pacing, determinism and resuming from offsets."""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import pytest

from headwater.connect.api import ConnectError, OffsetReader
from headwater.connect.data import SourceRecord
from headwater.connect.datagen import DatagenConnector, DatagenTask


class StoredOffsets(OffsetReader):
    """Source offsets as the runtime keeps them: the last committed offset per source partition."""

    def __init__(self) -> None:
        self.stored: dict[str, Mapping[str, Any]] = {}

    def commit(self, records: list[SourceRecord]) -> None:
        for record in records:
            self.stored[repr(sorted(record.source_partition.items()))] = record.source_offset

    def offset(self, source_partition: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self.stored.get(repr(sorted(source_partition.items())))


def config(**extra: str) -> dict[str, str]:
    return {"kafka.topic": "users", "quickstart": "clickstream_users", "max.interval": "0", **extra}


def started(cfg: dict[str, str], offsets: OffsetReader | None = None, tasks: int = 1) -> list[DatagenTask]:
    connector = DatagenConnector()
    connector.start(cfg)
    result = []
    for task_config in connector.task_configs(tasks):
        task = connector.task_class()()
        assert isinstance(task, DatagenTask)
        task.start(task_config, offsets)
        result.append(task)
    return result


def poll_until(task: DatagenTask, n: int, offsets: StoredOffsets | None = None) -> list[SourceRecord]:
    records: list[SourceRecord] = []
    while len(records) < n:
        batch = list(task.poll())[: n - len(records)]
        records += batch
        if offsets is not None:
            offsets.commit(batch)
    return records


def test_records_keys_schemas_and_headers() -> None:
    (task,) = started(config(iterations="5"))
    records = poll_until(task, 5)
    assert [r.value["user_id"] for r in records] == [1, 2, 3, 4, 5]
    assert [r.key for r in records] == [1, 2, 3, 4, 5]
    assert records[0].key_schema is not None and records[0].key_schema.type == "int32"
    assert records[0].value_schema is not None and records[0].value_schema.type == "struct"
    assert records[0].topic == "users"
    assert records[0].source_partition == {"task.id": 0}
    assert records[4].source_offset["current.iteration"] == 4
    assert dict(records[2].headers) == {"task.generation": b"0", "task.id": b"0", "current.iteration": b"2"}


def test_iterations_then_the_task_fails_with_datagens_message() -> None:
    (task,) = started(config(iterations="3"))
    assert len(task.poll()) == 3
    with pytest.raises(ConnectError, match="generated the configured 3 number of messages"):
        task.poll()


def test_random_seed_makes_runs_repeatable() -> None:
    (first,) = started(config(**{"random.seed": "9"}))
    (second,) = started(config(**{"random.seed": "9"}))
    (other,) = started(config(**{"random.seed": "10"}))
    a, b, c = poll_until(first, 50), poll_until(second, 50), poll_until(other, 50)
    assert [r.value for r in a] == [r.value for r in b]
    assert [r.value for r in a] != [r.value for r in c]


@pytest.mark.parametrize("seeded", [True, False])
def test_restart_resumes_from_the_committed_offset(seeded: bool) -> None:
    cfg = config(iterations="40", **({"random.seed": "5"} if seeded else {}))
    offsets = StoredOffsets()
    (task,) = started(cfg, offsets)
    before = poll_until(task, 15, offsets)
    task.stop()
    (restarted,) = started(cfg, offsets)  # as after a crash: only committed offsets survive
    after = poll_until(restarted, 25, offsets)
    with pytest.raises(ConnectError):  # iterations count across the restart
        restarted.poll()
    assert [r.value["user_id"] for r in before + after] == list(range(1, 41))
    assert {r.source_offset["task.generation"] for r in after} == {1}
    (uninterrupted,) = started({**cfg, "random.seed": str(before[0].source_offset["random.seed"])})
    assert [r.value for r in poll_until(uninterrupted, 40)] == [r.value for r in before + after]


def test_tasks_generate_their_own_sequences() -> None:
    tasks = started(config(**{"random.seed": "3", "tasks.max": "2"}), tasks=2)
    first, second = (poll_until(t, 20) for t in tasks)
    assert [r.source_partition for r in (first[0], second[0])] == [{"task.id": 0}, {"task.id": 1}]
    assert [r.value["user_id"] for r in second] == list(range(1, 21))  # as datagen: counters per task
    assert [r.value["username"] for r in first] != [r.value["username"] for r in second]


def test_max_interval_paces_records() -> None:
    (task,) = started(config(**{"max.interval": "100"}))
    begin = time.monotonic()
    records = task.poll()
    elapsed = time.monotonic() - begin
    # Uniform waits in [0, 100) ms: about 20 records in a poll of at most about a second.
    assert 5 <= len(records) <= 60
    assert elapsed <= 1.2


def test_schema_string_file_and_keyfield(tmp_path: Path) -> None:
    schema = ('{"type": "record", "name": "t", "fields": [{"name": "n", "type": {"type": "int", '
              '"arg.properties": {"iteration": {"start": 7}}}}, {"name": "s", "type": "string"}]}')
    (task,) = started({"kafka.topic": "t", "schema.string": schema, "schema.keyfield": "n", "max.interval": "0"})
    first = task.poll()[0]
    assert first.key == 7 and first.value["n"] == 7 and isinstance(first.value["s"], str)
    path = tmp_path / "t.avsc"
    path.write_text(schema)
    (from_file,) = started({"kafka.topic": "t", "schema.filename": str(path), "schema.keyfield": "n",
                            "max.interval": "0"})
    assert from_file.poll()[0].key == 7
    assert "cannot read schema.filename" in DatagenConnector.validate(
        {"kafka.topic": "t", "schema.filename": str(tmp_path / "missing.avsc")})["schema.filename"][0]
    (keyless,) = started(config(**{"schema.keyfield": ""}))
    assert keyless.poll()[0].key is None


def test_validate_reports_bad_keys() -> None:
    assert DatagenConnector.validate(config()) == {}
    errors = DatagenConnector.validate({"quickstart": "nope", "max.interval": "soon"})
    assert "kafka.topic" in errors
    assert "unknown quickstart 'nope'" in errors["quickstart"][0]
    assert "max.interval must be an integer" in errors["max.interval"][0]
    both = DatagenConnector.validate({"kafka.topic": "t", "quickstart": "users", "schema.string": "{}"})
    assert "exactly one of quickstart, schema.string and schema.filename" in both["quickstart"][0]
    with pytest.raises(ConnectError, match="unknown quickstart"):
        DatagenConnector().start({"kafka.topic": "t", "quickstart": "nope"})
