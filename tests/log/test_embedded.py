"""Embedded-log behaviour beyond the shared contract: crashes, damage, processes, cleaning."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from headwater.errors import CorruptLogError
from headwater.log import RECORD_SCHEMA, Record, TopicPartition
from headwater.log.embedded import EmbeddedLog
from headwater.log.segment import TRANSACTIONAL, encode_frame

WRITER = textwrap.dedent(
    """
    import sys
    from headwater.log import RECORD_SCHEMA, Record
    from headwater.log.embedded import EmbeddedLog
    log = EmbeddedLog(sys.argv[1])
    log.create_topic("t", 1, exist_ok=True)
    tag, batch, seq = sys.argv[2], int(sys.argv[3]), 0
    while True:
        records = [Record(f"{tag}-{seq + i}".encode(), key=tag.encode()) for i in range(batch)]
        result = log.append("t", 0, records)
        seq += batch
        print(result.base_offset, result.count, flush=True)
    """
)


def _start_writer(path: Path, tag: str, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), tag, str(batch)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _all_records(log: EmbeddedLog, topic: str = "t", partition: int = 0) -> pa.Table:
    batches, offset = [], log.beginning_offset(topic, partition)
    while offset < log.end_offset(topic, partition):
        fetched = log.read(topic, partition, offset, max_records=100_000)
        batches.append(fetched.records)
        offset = fetched.next_offset
    return pa.Table.from_batches(batches) if batches else pa.table({})


@pytest.mark.parametrize("round_", range(3))
def test_kill_9_keeps_every_acknowledged_record(tmp_path: Path, round_: int) -> None:
    writer = _start_writer(tmp_path, "w", 500)
    acked: list[tuple[int, int]] = []
    assert writer.stdout is not None
    target = 20 + 15 * round_
    while len(acked) < target:
        line = writer.stdout.readline()
        assert line, "writer died before being killed"
        base, count = map(int, line.split())
        acked.append((base, count))
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()

    with EmbeddedLog(str(tmp_path)) as log:
        table = _all_records(log)
        offsets = table.column("offset").to_pylist()
        values = table.column("value").to_pylist()
    last_acked = acked[-1][0] + acked[-1][1] - 1
    assert len(offsets) >= last_acked + 1, "an acknowledged record is missing"
    assert offsets == list(range(len(offsets))), "offsets have a gap or a duplicate"
    # Values were written in sequence: record at offset n carries w-n.
    assert values == [f"w-{n}".encode() for n in range(len(values))]


def test_concurrent_writer_processes_share_a_partition(tmp_path: Path) -> None:
    EmbeddedLog(str(tmp_path)).create_topic("t", 1)
    writers = [_start_writer(tmp_path, tag, 200) for tag in ("a", "b")]
    counts = {"a": 0, "b": 0}
    for tag, writer in zip(("a", "b"), writers, strict=True):
        assert writer.stdout is not None
        for _ in range(15):
            assert writer.stdout.readline()
        counts[tag] = 15 * 200
    for writer in writers:
        writer.terminate()
        writer.wait()
    with EmbeddedLog(str(tmp_path)) as log:
        table = _all_records(log)
    offsets = table.column("offset").to_pylist()
    assert offsets == list(range(len(offsets)))
    for tag in ("a", "b"):
        mine = [v.decode() for v in table.column("value").to_pylist() if v.startswith(tag.encode())]
        # Each writer's records are in its own order, none lost, none doubled.
        assert mine[: counts[tag]] == [f"{tag}-{i}" for i in range(counts[tag])]


def test_reader_in_another_process_is_woken_by_an_append(tmp_path: Path) -> None:
    log = EmbeddedLog(str(tmp_path))
    log.create_topic("t", 1)
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from headwater.log.embedded import EmbeddedLog\n"
            "log = EmbeddedLog(sys.argv[1]); print('ready', flush=True); t = time.monotonic()\n"
            "f = log.read('t', 0, 0, timeout_s=30)\n"
            "print(len(f), round(time.monotonic() - t, 3), flush=True)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None
    assert reader.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    log.append("t", 0, [Record(b"hello")])
    count, waited = reader.stdout.readline().split()
    reader.wait(timeout=10)
    assert int(count) == 1
    assert float(waited) < 5, "the reader slept through the append"
    log.close()


def _segment_files(root: Path) -> list[Path]:
    return sorted(root.glob("topics/*/*/*.log"))


def test_corrupt_payload_is_reported_on_open_and_never_read(tmp_path: Path) -> None:
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("t", 1)
        log.append("t", 0, [Record(b"x" * 100) for _ in range(10)])
    segment = _segment_files(tmp_path)[0]
    data = bytearray(segment.read_bytes())
    data[-20] ^= 0xFF
    segment.write_bytes(bytes(data))
    with EmbeddedLog(str(tmp_path)) as log:
        assert ("t", 0) in log.problems
        assert "checksum" in log.problems[("t", 0)]
        with pytest.raises(CorruptLogError, match=r"t\[0\] offsets 0\.\.9 are damaged") as caught:
            log.read("t", 0, 0)
        assert caught.value.next_offset == 10
        assert log.append("t", 0, [Record(b"y")]).base_offset == 10  # in a fresh segment
        assert log.read("t", 0, 10).records.column("value").to_pylist() == [b"y"]
        assert len(_segment_files(tmp_path)) == 2


def test_corruption_in_an_older_batch_is_caught_at_read(tmp_path: Path) -> None:
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("t", 1)
        log.append("t", 0, [Record(b"a" * 100) for _ in range(10)])
        log.append("t", 0, [Record(b"b" * 100) for _ in range(10)])
    segment = _segment_files(tmp_path)[0]
    data = bytearray(segment.read_bytes())
    data[200] ^= 0xFF  # inside the first batch
    segment.write_bytes(bytes(data))
    with EmbeddedLog(str(tmp_path)) as log:
        assert log.read("t", 0, 10).records.num_rows == 10  # the intact batch still reads
        with pytest.raises(CorruptLogError, match=r"t\[0\] offsets 0\.\.9 are damaged"):
            log.read("t", 0, 0)


def test_truncated_segment_is_reported_on_open(tmp_path: Path) -> None:
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("t", 1)
        log.append("t", 0, [Record(b"x" * 100) for _ in range(10)])
    segment = _segment_files(tmp_path)[0]
    os.truncate(segment, segment.stat().st_size - 10)
    with EmbeddedLog(str(tmp_path)) as log:
        assert "truncated" in log.problems[("t", 0)]
        with pytest.raises(CorruptLogError, match="truncated"):
            log.read("t", 0, 0)
        # Appends go on, in a fresh segment, after the lost offsets.
        assert log.append("t", 0, [Record(b"y")]).base_offset == 10
        assert log.read("t", 0, 10).records.column("value").to_pylist() == [b"y"]


def test_torn_tail_is_cut_and_unindexed_frame_recovered(tmp_path: Path) -> None:
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("t", 1)
        log.append("t", 0, [Record(b"a")])
    segment = _segment_files(tmp_path)[0]
    # A complete frame a killed writer fsynced but never indexed: offsets 1..2.
    batch = pa.RecordBatch.from_pylist(
        [
            {"offset": 1, "timestamp": 5, "key": None, "value": b"b", "headers": None},
            {"offset": 2, "timestamp": 6, "key": None, "value": b"c", "headers": None},
        ],
        schema=RECORD_SCHEMA,
    )
    _, chunks = encode_frame(batch)
    with open(segment, "ab") as f:
        for chunk in chunks:
            f.write(chunk)
        f.write(b"HWB1 torn half frame")
    with EmbeddedLog(str(tmp_path)) as log:
        assert log.problems == {}
        assert log.end_offset("t", 0) == 3
        assert log.read("t", 0, 0).records.column("value").to_pylist() == [b"a", b"b", b"c"]
        log.append("t", 0, [Record(b"d")])
        assert log.read("t", 0, 3).records.column("value").to_pylist() == [b"d"]


def test_batches_are_stored_not_records(tmp_path: Path) -> None:
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("t", 1)
        for _ in range(3):
            log.append("t", 0, [Record(b"x") for _ in range(1000)])
        rows = log._query("SELECT COUNT(*) FROM batches")[0][0]
    assert rows == 3


def test_retention_by_bytes_runs_beside_readers_and_writers(tmp_path: Path) -> None:
    log = EmbeddedLog(str(tmp_path))
    log.create_topic("t", 1, {"segment.bytes": "20000", "retention.bytes": "60000"})
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            while not stop.is_set():
                log.append("t", 0, [Record(b"v" * 100) for _ in range(50)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read() -> None:
        offset = 0
        try:
            while not stop.is_set():
                start = log.beginning_offset("t", 0)
                offset = max(offset, start)
                try:
                    fetched = log.read("t", 0, offset, timeout_s=0.05)
                except Exception as exc:  # out of range only if retention overtook us
                    if "out of range" not in str(exc):
                        raise
                    continue
                offsets = fetched.records.column("offset").to_pylist()
                assert offsets == sorted(offsets)
                offset = fetched.next_offset
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        log.run_cleaner()
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors, errors
    log.run_cleaner()
    start, end = log.beginning_offset("t", 0), log.end_offset("t", 0)
    assert start > 0, "retention removed nothing"
    stored = sum(path.stat().st_size for path in _segment_files(tmp_path))
    assert stored <= 60000 + 20000 + 10000
    assert _all_records(log).column("offset").to_pylist() == list(range(start, end))
    log.close()


def test_retention_by_time_keeps_the_active_segment(tmp_path: Path) -> None:
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("t", 1, {"segment.bytes": "2000", "retention.ms": "60000"})
        old = int(time.time() * 1000) - 3_600_000
        for i in range(5):
            log.append("t", 0, [Record(b"x" * 100, timestamp=old) for _ in range(20)])
        log.append("t", 0, [Record(b"new")])
        log.run_cleaner()
        assert log.beginning_offset("t", 0) == 100
        assert log.read("t", 0, 100).records.column("value").to_pylist() == [b"new"]


def test_compaction_keeps_latest_value_per_key(tmp_path: Path) -> None:
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("c", 1, {"cleanup.policy": "compact", "segment.bytes": "1500", "delete.retention.ms": "0"})
        for round_ in range(6):
            log.append("c", 0, [Record(f"{k}-{round_}".encode(), key=f"k{k}".encode()) for k in range(5)])
        log.append("c", 0, [Record(None, key=b"k0")])  # tombstone for k0
        log.append("c", 0, [Record(b"tail", key=b"k9")])  # rolls: the tombstone's segment closes
        before = log.end_offset("c", 0)
        log.run_cleaner()
        table = _all_records(log, "c")
        latest = dict(zip(table.column("key").to_pylist(), table.column("value").to_pylist(), strict=True))
        offsets = table.column("offset").to_pylist()
        assert log.end_offset("c", 0) == before
        assert offsets == sorted(offsets) and len(offsets) < before
        assert latest[b"k1"] == b"1-5" and latest[b"k4"] == b"4-5"
        assert b"k0" not in latest or latest[b"k0"] is None
        keys = table.column("key").to_pylist()
        closed = keys[:-1]
        assert len(closed) == len(set(closed)), "a key survived twice in closed segments"


TRANSACTOR = textwrap.dedent(
    """
    import sys
    from headwater.log import Record, TopicPartition
    from headwater.log.embedded import EmbeddedLog
    log = EmbeddedLog(sys.argv[1])
    n = 0
    while True:
        log.transact(
            [("out", 0, [Record(b"o%d" % n)] * 100), ("out", 1, [Record(b"p%d" % n)] * 100)],
            group="g", offsets={TopicPartition("in", 0): n + 1}, transactional_id="q1",
        )
        n += 1
        print(n, flush=True)
    """
)


def test_transaction_output_and_offsets_survive_kill_9_together(tmp_path: Path) -> None:
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("in", 1)
        log.create_topic("out", 2)
    proc = subprocess.Popen([sys.executable, "-c", TRANSACTOR, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    acked = 0
    while acked < 30:
        acked = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with EmbeddedLog(str(tmp_path)) as log:
        committed = log.committed("g", [TopicPartition("in", 0)])[TopicPartition("in", 0)]
        assert committed is not None and committed >= acked
        # Exactly the committed transactions are visible, in both partitions: none half.
        assert log.end_offset("out", 0) == committed * 100
        assert log.end_offset("out", 1) == committed * 100
        # A fresh append after the crash continues cleanly (a torn uncommitted frame was cut).
        log.append("out", 0, [Record(b"after")])
        last = log.read("out", 0, committed * 100).records.column("value").to_pylist()
        assert last == [b"after"]


def test_uncommitted_transaction_frame_is_never_recovered(tmp_path: Path) -> None:
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("t", 1)
        log.append("t", 0, [Record(b"a")])
    segment = _segment_files(tmp_path)[0]
    batch = pa.RecordBatch.from_pylist(
        [{"offset": 1, "timestamp": 5, "key": None, "value": b"ghost", "headers": None}], schema=RECORD_SCHEMA
    )
    _, chunks = encode_frame(batch, TRANSACTIONAL)
    with open(segment, "ab") as f:
        for chunk in chunks:
            f.write(chunk)
    with EmbeddedLog(str(tmp_path)) as log:
        assert log.end_offset("t", 0) == 1
        log.append("t", 0, [Record(b"b")])
        assert log.read("t", 0, 0).records.column("value").to_pylist() == [b"a", b"b"]


def test_poll_waits_on_several_partitions_at_once(tmp_path: Path) -> None:
    with EmbeddedLog(str(tmp_path)) as log:
        log.create_topic("t", 3)
        positions = {TopicPartition("t", p): 0 for p in range(3)}
        assert log.poll(positions, timeout_s=0.05) == []
        timer = threading.Timer(0.3, lambda: log.append("t", 2, [Record(b"late")]))
        timer.start()
        started = time.monotonic()
        fetched = log.poll(positions, timeout_s=20)
        timer.join()
        assert time.monotonic() - started < 5
        assert [(f.partition, f.records.column("value").to_pylist()) for f in fetched] == [(2, [b"late"])]
