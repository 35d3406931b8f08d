"""``headwater log repair``: lists a damaged log's ranges, deletes them with --yes, rebuilds meta.db on request."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from typer.testing import CliRunner, Result

from headwater.cli import app
from headwater.log import Record, TopicPartition
from headwater.log.embedded import EmbeddedLog


def repair(root: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["log", "repair", "--log", str(root), *args])


def fill(root: Path) -> None:
    """Topic ``t`` with two partitions of six 10-record batches, one segment each; group ``g`` at 20."""
    with EmbeddedLog(str(root)) as log:
        log.create_topic("t", 2, config={"cleanup.policy": "delete"})
        for b in range(6):
            for p in (0, 1):
                log.append("t", p, [Record(f"{p}:{b}:{i}".encode() * 10) for i in range(10)])
        log.commit("g", {TopicPartition("t", 0): 20})


def segment(root: Path, partition: int) -> Path:
    (found,) = sorted(root.glob(f"topics/t-*/{partition}/*.log"))
    return found


def batch_position(root: Path, partition: int, base_offset: int) -> int:
    with sqlite3.connect(root / "meta.db") as db:
        return int(db.execute("SELECT position FROM batches WHERE partition = ? AND base_offset = ?",
                              (partition, base_offset)).fetchone()[0])


def values(root: Path, partition: int) -> list[bytes]:
    with EmbeddedLog(str(root)) as log:
        return log.read("t", partition, 0, max_records=1000).records.column("value").to_pylist()


def test_a_truncated_segment_and_flipped_bytes_are_listed_then_deleted(tmp_path: Path) -> None:
    fill(tmp_path)
    os.truncate(segment(tmp_path, 0), segment(tmp_path, 0).stat().st_size - 50)  # offsets 50..59 are cut
    flipped = segment(tmp_path, 1)
    data = bytearray(flipped.read_bytes())
    data[batch_position(tmp_path, 1, 20) + 300] ^= 0xFF  # offsets 20..29 fail their checksum
    flipped.write_bytes(bytes(data))

    listed = repair(tmp_path)
    assert listed.exit_code == 1, listed.output
    assert "50..59" in listed.output and "truncated" in listed.output
    assert "20..29" in listed.output and "checksum" in listed.output
    assert "--yes" in listed.output
    assert repair(tmp_path).exit_code == 1  # listing changed nothing

    fixed = repair(tmp_path, "--yes")
    assert fixed.exit_code == 0, fixed.output
    assert "Deleted 2 damaged range(s)" in fixed.output
    clean = repair(tmp_path)
    assert clean.exit_code == 0 and "No damage found" in clean.output, clean.output
    with EmbeddedLog(str(tmp_path)) as log:
        assert log.problems == {}
        # Everything intact reads through, the deleted ranges are gaps, and appends go on.
        assert len(log.read("t", 0, 0, max_records=1000)) == 50
        after = log.read("t", 1, 0, max_records=1000)
        assert len(after) == 50 and 25 not in after.records.column("offset").to_pylist()
        assert log.append("t", 0, [Record(b"new")]).base_offset == 60
        assert log.committed("g", [TopicPartition("t", 0)])[TopicPartition("t", 0)] == 20


def test_rebuild_index_keeps_records_and_group_offsets(tmp_path: Path) -> None:
    fill(tmp_path)
    before = values(tmp_path, 0), values(tmp_path, 1)
    assert repair(tmp_path, "--rebuild-index").exit_code == 1  # needs --yes

    rebuilt = repair(tmp_path, "--yes", "--rebuild-index")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Rebuilt meta.db" in rebuilt.output and "1 committed group offset(s) kept" in rebuilt.output
    assert list(tmp_path.glob("meta.db.replaced-*"))
    assert (values(tmp_path, 0), values(tmp_path, 1)) == before
    with EmbeddedLog(str(tmp_path)) as log:
        assert log.committed("g", [TopicPartition("t", 0)])[TopicPartition("t", 0)] == 20
        assert log.describe_topic("t").setting("cleanup.policy") == "delete"


def test_kafka_logs_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["log", "repair", "--log", "kafka://127.0.0.1:1"])
    assert result.exit_code == 1 and "embedded" in result.output
