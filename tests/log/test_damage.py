"""Damage stays local: a damaged segment or batch costs its own offsets, nothing else."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from headwater.errors import CorruptLogError
from headwater.log import Record, TopicPartition
from headwater.log.embedded import EmbeddedLog


def _fill(root: Path, batches: int = 6, per_batch: int = 10, segment_bytes: int = 3000) -> None:
    """Topic ``t`` (two partitions), batches of ``per_batch`` records, a segment every ~2 batches."""
    with EmbeddedLog(str(root)) as log:
        log.create_topic("t", 2, config={"segment.bytes": str(segment_bytes), "cleanup.policy": "delete"})
        for b in range(batches):
            for p in (0, 1):
                log.append("t", p, [Record(f"{p}:{b}:{i}".encode() * 10) for i in range(per_batch)])
        log.commit("g", {TopicPartition("t", 0): 20})


def _segments(root: Path, partition: int = 0) -> list[Path]:
    return sorted(root.glob(f"topics/t-*/{partition}/*.log"))


def _read_all(log: EmbeddedLog, partition: int = 0) -> tuple[list[bytes], list[tuple[int, int]]]:
    """Every readable value, skipping damaged ranges as a consumer that accepts the loss does."""
    values: list[bytes] = []
    skipped: list[tuple[int, int]] = []
    offset = log.beginning_offset("t", partition)
    while offset < log.end_offset("t", partition):
        try:
            fetched = log.read("t", partition, offset)
        except CorruptLogError as exc:
            assert exc.topic == "t" and exc.partition == partition
            assert exc.first_offset is not None and exc.last_offset is not None and exc.next_offset is not None
            skipped.append((exc.first_offset, exc.last_offset))
            offset = exc.next_offset
            continue
        values += fetched.records.column("value").to_pylist()
        offset = fetched.next_offset
    return values, skipped


def _expected(partition: int, batches: range, per_batch: int = 10) -> list[bytes]:
    return [f"{partition}:{b}:{i}".encode() * 10 for b in batches for i in range(per_batch)]


def test_missing_middle_segment_costs_only_its_offsets(tmp_path: Path) -> None:
    _fill(tmp_path)
    segments = _segments(tmp_path)
    assert len(segments) >= 3
    with EmbeddedLog(str(tmp_path)) as log:
        first_of_second = int(segments[1].name.split(".")[0])
        first_of_third = int(segments[2].name.split(".")[0])
    segments[1].unlink()
    with EmbeddedLog(str(tmp_path)) as log:
        assert "missing" in log.problems[("t", 0)]
        assert ("t", 1) not in log.problems
        with pytest.raises(CorruptLogError, match=rf"t\[0\] offsets {first_of_second}\.\.{first_of_third - 1}"):
            log.read("t", 0, first_of_second)
        values, skipped = _read_all(log)
        assert skipped == [(first_of_second, first_of_third - 1)]
        lost = range(first_of_second // 10, first_of_third // 10)
        assert values == _expected(0, range(0, lost.start)) + _expected(0, range(lost.stop, 6))
        assert _read_all(log, 1) == (_expected(1, range(6)), [])  # the other partition is untouched
        assert log.append("t", 0, [Record(b"new")]).base_offset == 60
        assert log.read("t", 0, 60).records.column("value").to_pylist() == [b"new"]
        assert log.committed("g", [TopicPartition("t", 0)])[TopicPartition("t", 0)] == 20


def test_truncated_active_segment_keeps_its_intact_batches_and_appends_go_on(tmp_path: Path) -> None:
    _fill(tmp_path, segment_bytes=1_000_000)  # one segment per partition
    (segment,) = _segments(tmp_path)
    os.truncate(segment, segment.stat().st_size - 50)  # the last batch (offsets 50..59) is cut
    with EmbeddedLog(str(tmp_path)) as log:
        assert "truncated" in log.problems[("t", 0)]
        values, skipped = _read_all(log)
        assert skipped == [(50, 59)]
        assert values == _expected(0, range(5))
        result = log.append("t", 0, [Record(b"after")])
        assert result.base_offset == 60
        assert len(_segments(tmp_path)) == 2  # a fresh segment, not the damaged one
    with EmbeddedLog(str(tmp_path)) as log:  # and so it stays after a restart
        values, skipped = _read_all(log)
        assert skipped == [(50, 59)]
        assert values == _expected(0, range(5)) + [b"after"]


def test_flipped_bytes_cost_one_batch_and_reads_stop_before_it(tmp_path: Path) -> None:
    _fill(tmp_path, segment_bytes=1_000_000)
    (segment,) = _segments(tmp_path)
    with EmbeddedLog(str(tmp_path)) as log:
        # The position of the batch holding offsets 20..29, from the index.
        position = log._query("SELECT position FROM batches WHERE base_offset = 20 AND partition = 0")[0][0]
    data = bytearray(segment.read_bytes())
    data[position + 300] ^= 0xFF
    segment.write_bytes(bytes(data))
    with EmbeddedLog(str(tmp_path)) as log:
        assert log.problems == {}  # the open check looks at the last batch of each segment only
        first = log.read("t", 0, 0, max_records=1000)
        assert first.next_offset == 20  # the intact batches before the damage are handed out
        assert first.records.column("value").to_pylist() == _expected(0, range(2))
        with pytest.raises(CorruptLogError, match=r"t\[0\] offsets 20\.\.29 .*checksum"):
            log.read("t", 0, 25)
        assert "offsets 20..29" in log.problems[("t", 0)]
        values, skipped = _read_all(log)
        assert skipped == [(20, 29)]
        assert values == _expected(0, [0, 1, 3, 4, 5])


def test_segment_lost_while_running_is_reported_and_appends_roll(tmp_path: Path) -> None:
    _fill(tmp_path, segment_bytes=1_000_000)
    with EmbeddedLog(str(tmp_path)) as log:
        assert log.read("t", 0, 0).records.num_rows > 0
        (segment,) = _segments(tmp_path)
        segment.unlink()
        with pytest.raises(CorruptLogError, match=r"t\[0\] offsets 0\.\.59 .*missing"):
            log.read("t", 0, 0)
        assert log.append("t", 0, [Record(b"x")]).base_offset == 60
        assert log.read("t", 0, 60).records.column("value").to_pylist() == [b"x"]
        assert "missing" in log.problems[("t", 0)]


def test_missing_index_is_rebuilt_from_the_segments(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _fill(tmp_path)
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("compacted", 3, config={"cleanup.policy": "compact", "retention.ms": "1000"})
        log.append("compacted", 2, [Record(b"v", key=b"k")])
    for name in ("meta.db", "meta.db-wal", "meta.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with caplog.at_level(logging.ERROR), EmbeddedLog(str(tmp_path)) as log:
        assert "rebuilt" in caplog.text and "2 topic(s)" in caplog.text
        assert log.list_topics() == ["compacted", "t"]
        info = log.describe_topic("compacted")
        assert (info.partitions, info.config["cleanup.policy"], info.config["retention.ms"]) == (3, "compact", "1000")
        assert _read_all(log, 0) == (_expected(0, range(6)), [])
        assert _read_all(log, 1) == (_expected(1, range(6)), [])
        assert log.read("compacted", 2, 0).records.column("key").to_pylist() == [b"k"]
        assert log.append("t", 0, [Record(b"more")]).base_offset == 60
        log.create_topic("fresh", 1)  # ids continue past the rebuilt ones
        assert log.append("fresh", 0, [Record(b"f")]).base_offset == 0
    with EmbeddedLog(str(tmp_path)) as log:
        assert log.read("fresh", 0, 0).records.column("value").to_pylist() == [b"f"]
        assert _read_all(log, 0)[0][-1] == b"more"


@pytest.mark.parametrize("damage", ["garbage header", "cut in half"])
def test_damaged_index_is_set_aside_and_rebuilt(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    _fill(tmp_path)
    with EmbeddedLog(str(tmp_path)) as log:
        log._query("PRAGMA wal_checkpoint(TRUNCATE)")
    meta = tmp_path / "meta.db"
    data = bytearray(meta.read_bytes())
    if damage == "garbage header":
        data[:100] = b"\xff" * 100
    else:
        data = data[: len(data) // 2]
    meta.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR), EmbeddedLog(str(tmp_path)) as log:
        assert "is damaged" in caplog.text and "rebuilt" in caplog.text
        assert list(tmp_path.glob("meta.db.damaged-*"))
        assert _read_all(log, 0) == (_expected(0, range(6)), [])
        assert _read_all(log, 1) == (_expected(1, range(6)), [])
        assert log.append("t", 1, [Record(b"more")]).base_offset == 60


def test_rebuild_reports_a_missing_segment_as_a_gap(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _fill(tmp_path)
    segments = _segments(tmp_path)
    segments[1].unlink()
    for name in ("meta.db", "meta.db-wal", "meta.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with caplog.at_level(logging.ERROR), EmbeddedLog(str(tmp_path)) as log:
        first_of_second = int(segments[1].name.split(".")[0])
        first_of_third = int(segments[2].name.split(".")[0])
        assert f"offsets {first_of_second}..{first_of_third - 1} of" in caplog.text
        values, _ = _read_all(log)
        lost = range(first_of_second // 10, first_of_third // 10)
        assert values == _expected(0, range(0, lost.start)) + _expected(0, range(lost.stop, 6))
        assert log.end_offset("t", 0) == 60


def test_accepting_the_loss_leaves_a_gap_and_a_healthy_partition(tmp_path: Path) -> None:
    _fill(tmp_path, segment_bytes=1_000_000)
    (segment,) = _segments(tmp_path)
    os.truncate(segment, segment.stat().st_size - 50)  # offsets 50..59 are cut
    with EmbeddedLog(str(tmp_path)) as log:
        with EmbeddedLog(str(tmp_path)) as other:  # damage is found per process; deleting it is for all
            assert ("t", 0) in other.problems
        assert log.delete_damaged("t", 0) == [(50, 59)]
        assert log.problems == {}
        assert log.read("t", 0, 40).records.num_rows == 10
        gap = log.read("t", 0, 50)  # the gap: nothing to read there, and the position moves past it
        assert (gap.records.num_rows, gap.next_offset) == (0, 60)
        assert log.append("t", 0, [Record(b"after")]).base_offset == 60
        assert log.read("t", 0, 50).records.column("value").to_pylist() == [b"after"]
    with EmbeddedLog(str(tmp_path)) as log:
        assert log.problems == {}
        assert _read_all(log) == (_expected(0, range(5)) + [b"after"], [])


def test_retention_removes_damaged_segments_and_the_damage_with_them(tmp_path: Path) -> None:
    _fill(tmp_path)
    segments = _segments(tmp_path)
    segments[0].unlink()
    with EmbeddedLog(str(tmp_path)) as log:
        assert ("t", 0) in log.problems
        first_of_second = int(segments[1].name.split(".")[0])
        with log._write_tx() as db:  # retention.bytes small enough to drop the first segment only
            db.execute("UPDATE topics SET config = ? WHERE name = 't'",
                       ('{"segment.bytes": "3000", "retention.bytes": "%d"}' % (
                           sum(p.stat().st_size for p in segments[1:])),))
        log.run_cleaner()
        assert log.beginning_offset("t", 0) == first_of_second
        assert log.problems == {}
        assert _read_all(log)[1] == []
