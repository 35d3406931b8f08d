"""Partition counts: bounded on creation, and never one open file per partition."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from headwater.errors import InvalidTopicConfigError
from headwater.log import Record
from headwater.log.embedded import DEFAULT_MAX_PARTITIONS, EmbeddedLog

UNDER_ULIMIT = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    from headwater.log import Record, TopicPartition
    from headwater.log.embedded import EmbeddedLog
    path, step = sys.argv[1], sys.argv[2]
    with EmbeddedLog(path) as log:
        if step == "write":
            log.create_topic("wide", 1100)
            for p in range(1100):
                log.append("wide", p, [Record(f"{p}".encode())])
            # one transaction over 300 partitions holds 300 appenders at once
            log.transact([("wide", p, [Record(b"tx")]) for p in range(300)], group="g",
                         offsets={TopicPartition("wide", p): 1 for p in range(300)})
            produced = log.produce("wide", [Record(b"k%d" % i, key=b"k%d" % i) for i in range(5000)])
            print(sum(r.count for r in produced))
        else:
            total = 0
            for p in range(1100):
                total += len(log.read("wide", p, 0, max_records=100_000))
            log.append("wide", 1099, [Record(b"after restart")])
            print(total)
    """
)


def test_partition_count_is_bounded_with_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with EmbeddedLog(str(tmp_path / "a")) as log:
        with pytest.raises(InvalidTopicConfigError, match=rf"1100 partitions .* \({DEFAULT_MAX_PARTITIONS};"):
            log.create_topic("wide", 1100)
        assert "wide" not in log.list_topics()
        assert log.create_topic("ok", DEFAULT_MAX_PARTITIONS).partitions == DEFAULT_MAX_PARTITIONS
    monkeypatch.setenv("HEADWATER_LOG_MAX_PARTITIONS", "8")
    with EmbeddedLog(str(tmp_path / "b")) as log:
        with pytest.raises(InvalidTopicConfigError, match="HEADWATER_LOG_MAX_PARTITIONS"):
            log.create_topic("t", 9)
    with EmbeddedLog(str(tmp_path / "c"), max_partitions=2) as log:
        with pytest.raises(InvalidTopicConfigError):
            log.create_topic("t", 3)


def test_1100_partitions_work_and_restart_under_ulimit_1024(tmp_path: Path) -> None:
    env = {**os.environ, "HEADWATER_LOG_MAX_PARTITIONS": "2000"}
    run = [sys.executable, "-c", UNDER_ULIMIT, str(tmp_path)]
    written = subprocess.run([*run, "write"], capture_output=True, text=True, env=env, timeout=300)
    assert written.returncode == 0, written.stderr[-3000:]
    assert written.stdout.split() == ["5000"]
    read = subprocess.run([*run, "read"], capture_output=True, text=True, env=env, timeout=300)
    assert read.returncode == 0, read.stderr[-3000:]
    assert read.stdout.split() == [str(1100 + 300 + 5000)]
