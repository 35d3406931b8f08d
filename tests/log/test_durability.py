"""Power cuts: what a commit hands back has reached the disk, or is derived again from what has."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from headwater.log import Record, TopicPartition
from headwater.log.embedded import EmbeddedLog

SCRIPT = textwrap.dedent(
    """
    import sys
    from headwater.log import Record, TopicPartition
    from headwater.log.embedded import EmbeddedLog
    log = EmbeddedLog(sys.argv[1])
    log.create_topic("t", 1, exist_ok=True)
    print("MARK", flush=True)
    if sys.argv[2] == "transact":
        log.transact([("t", 0, [Record(b"x")])], group="g", offsets={TopicPartition("t", 0): 1})
    elif sys.argv[2] == "commit":
        log.commit("g", {TopicPartition("t", 0): 1})
    else:
        log.append("t", 0, [Record(b"x")])
    print("DONE", flush=True)
    """
)


def _syncs(tmp_path: Path, what: str) -> list[str]:
    """The fsync/fdatasync calls made between MARK and DONE (with the file each was for)."""
    if shutil.which("strace") is None:
        pytest.skip("needs strace")
    done = subprocess.run(
        ["strace", "-f", "-y", "-e", "trace=fsync,fdatasync,write", sys.executable, "-c", SCRIPT,
         str(tmp_path / "data"), what],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if "MARK" in line)
    end = next(i for i, line in enumerate(lines) if "DONE" in line)
    return [line for line in lines[start:end] if "sync(" in line]


@pytest.mark.parametrize("what", ["transact", "commit"])
def test_transactions_and_offset_commits_fsync_the_index(tmp_path: Path, what: str) -> None:
    syncs = _syncs(tmp_path, what)
    assert any("meta.db-wal" in line for line in syncs), syncs


def test_plain_append_fsyncs_its_frame(tmp_path: Path) -> None:
    syncs = _syncs(tmp_path, "append")
    assert any(".log>" in line for line in syncs), syncs


def test_appends_whose_index_commits_a_power_cut_took_are_recovered(tmp_path: Path) -> None:
    """A plain append's index commit is not fsynced: if a power cut takes it, the frame brings it back.

    The cut is simulated at its worst: meta.db as it was at the last fsynced
    commit (a transaction), the segment files as fsynced by every append.
    """
    root = tmp_path / "data"
    saved = tmp_path / "saved"
    with EmbeddedLog(str(root)) as log:
        log.create_topic("t", 1, config={"segment.bytes": "4000"})  # several rolls below
        log.transact([("t", 0, [Record(b"tx")])], group="g", offsets={TopicPartition("t", 0): 1})
        saved.mkdir()
        for name in ("meta.db", "meta.db-wal"):
            shutil.copy(root / name, saved / name)
        expected = [b"tx"]
        for i in range(30):
            batch = [Record(f"{i}-{j}".encode() * 20) for j in range(5)]
            log.append("t", 0, batch)
            expected += [r.value for r in batch if r.value]
    for name in ("meta.db", "meta.db-wal"):
        shutil.copy(saved / name, root / name)
    (root / "meta.db-shm").unlink(missing_ok=True)
    with EmbeddedLog(str(root)) as log:
        assert log.problems == {}
        assert log.committed("g", [TopicPartition("t", 0)]) == {TopicPartition("t", 0): 1}
        values, offset = [], 0
        while offset < log.end_offset("t", 0):
            fetched = log.read("t", 0, offset)
            values += fetched.records.column("value").to_pylist()
            offset = fetched.next_offset
        assert values == expected
