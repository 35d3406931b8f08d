"""A full disk: the append fails clearly, nothing of it is kept, and everything goes on when space returns."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest

from headwater.errors import LogFullError, LogUnavailableError
from headwater.log import Record, TopicPartition
from headwater.log.diskio import write_all
from headwater.log.embedded import EmbeddedLog

from tests.log.conftest import SmallDisk


def _values(log: EmbeddedLog, topic: str, partition: int = 0) -> list[bytes]:
    out: list[bytes] = []
    offset = log.beginning_offset(topic, partition)
    while offset < log.end_offset(topic, partition):
        fetched = log.read(topic, partition, offset, max_records=100_000)
        out += fetched.records.column("value").to_pylist()
        offset = fetched.next_offset
    return out


def _batch(tag: str, n: int, size: int = 300) -> list[Record]:
    return [Record(f"{tag}-{i}-".encode().ljust(size, b"x")) for i in range(n)]


def _segment_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.glob("topics/*/*/*.log"))


def test_append_on_a_full_disk_fails_clearly_and_keeps_nothing(small_disk: SmallDisk) -> None:
    root = small_disk.root / "data"
    acked: list[bytes] = []
    with EmbeddedLog(str(root)) as log:
        log.create_topic("t", 1)
        for i in range(5):
            batch = _batch(f"a{i}", 20)
            log.append("t", 0, batch)
            acked += [r.value for r in batch if r.value]
        # Let the index's next commits reuse its WAL file, so only the segment write meets the full disk.
        with sqlite3.connect(root / "meta.db") as other:
            other.execute("PRAGMA wal_checkpoint(RESTART)")
        small_disk.fill(leave=6000)
        end = log.end_offset("t", 0)
        stored = _segment_bytes(root)
        with pytest.raises(LogFullError, match="disk is full"):
            # Bigger than what is left: the frame is written in part, then cut back off.
            log.append("t", 0, _batch("full", 100))
        assert log.end_offset("t", 0) == end
        assert _segment_bytes(root) == stored
        # Reads go on while the disk is full, and the log opens (a restart while the disk is full).
        assert _values(log, "t") == acked
        with EmbeddedLog(str(root)) as again:
            assert _values(again, "t") == acked
            assert again.problems == {}
        with pytest.raises(LogFullError):
            log.transact([("t", 0, _batch("tx", 100))], group="g", offsets={TopicPartition("t", 0): 3})
        assert log.committed("g", [TopicPartition("t", 0)]) == {TopicPartition("t", 0): None}
        assert log.end_offset("t", 0) == end
        small_disk.free()
        batch = _batch("after", 30)
        assert log.append("t", 0, batch).base_offset == end
        acked += [r.value for r in batch if r.value]
        assert _values(log, "t") == acked
    with EmbeddedLog(str(root)) as log:  # and after a restart
        assert log.problems == {}
        assert _values(log, "t") == acked


def test_filling_the_disk_batch_by_batch_loses_and_doubles_nothing(small_disk: SmallDisk) -> None:
    """Append until the disk refuses (frames and index both run out of room), free it, append on."""
    root = small_disk.root / "data"
    acked: list[bytes] = []
    refused = 0
    with EmbeddedLog(str(root)) as log:
        log.create_topic("t", 1)
        log.create_topic("u", 1)
        small_disk.fill(leave=400_000)
        for i in range(400):
            batch = _batch(f"b{i}", 7, size=1000 + 37 * (i % 11))
            try:
                if i % 2:
                    log.append("t", 0, batch)
                else:
                    log.transact([("t", 0, batch), ("u", 0, [Record(b"c")])], group="g",
                                 offsets={TopicPartition("u", 0): i})
            except LogUnavailableError:
                refused += 1
                if refused > 5:
                    break
                continue
            acked += [r.value for r in batch if r.value]
        assert refused > 5, "the disk never filled"
        small_disk.free()
        for i in range(3):
            batch = _batch(f"c{i}", 5)
            log.append("t", 0, batch)
            acked += [r.value for r in batch if r.value]
        assert _values(log, "t") == acked
    with EmbeddedLog(str(root)) as log:
        assert log.problems == {}
        values = _values(log, "t")
        assert values == acked
        assert len(set(values)) == len(values)


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pwritev may store only part of what it is given; the rest is written, not dropped."""
    real = os.pwritev

    def stingy(fd: int, buffers: list[memoryview], offset: int) -> int:
        first = bytes(buffers[0])[:7]
        return real(fd, [first], offset)

    path = tmp_path / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        monkeypatch.setattr(os, "pwritev", stingy)
        chunks = [b"header-bytes", pa.py_buffer(b"payload" * 5), b"", b"end"]
        assert write_all(fd, chunks, 3) == 12 + 35 + 3
    finally:
        monkeypatch.undo()
        os.close(fd)
    assert path.read_bytes() == b"\0\0\0header-bytes" + b"payload" * 5 + b"end"


def test_an_io_error_at_fsync_keeps_nothing_and_the_log_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fsync failing (EIO) leaves the frame's fate unknown: it is cut off and the append refused."""
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("t", 1)
        log.append("t", 0, [Record(b"a")])
        size = sum(p.stat().st_size for p in tmp_path.glob("topics/*/*/*.log"))
        real = os.fdatasync
        calls = {"n": 0}

        def failing(fd: int) -> None:
            calls["n"] += 1
            if calls["n"] == 1:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            real(fd)

        monkeypatch.setattr(os, "fdatasync", failing)
        with pytest.raises(LogUnavailableError, match="Input/output error") as caught:
            log.append("t", 0, [Record(b"b")])
        assert not isinstance(caught.value, LogFullError)
        monkeypatch.undo()
        assert log.end_offset("t", 0) == 1
        assert sum(p.stat().st_size for p in tmp_path.glob("topics/*/*/*.log")) == size
        log.append("t", 0, [Record(b"c")])
        assert _values(log, "t") == [b"a", b"c"]
