"""MessageIdIndex: two writers on one topic (as two server processes) learn each other's ids."""

from __future__ import annotations

import time
from pathlib import Path

from headwater.log import open_log
from headwater.server.dedupe import MessageIdIndex
from headwater.server.event_writer import _table


def append(log, index: MessageIdIndex, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    index.catch_up()
    now = int(time.time() * 1000)
    results = log.produce("events", _table([b"k"] * len(ids), [b"{}"] * len(ids), ids, [now] * len(ids)))
    index.appended(results, {0: ids}, now)


def test_interleaved_writers_see_each_other_and_skip_their_own(tmp_path: Path) -> None:
    with open_log(str(tmp_path / "a")) as log_a, open_log(str(tmp_path / "a")) as log_b:
        log_a.create_topic("events", 1)
        a = MessageIdIndex(log_a, "events", window_s=3600, max_ids=1000)
        b = MessageIdIndex(log_b, "events", window_s=3600, max_ids=1000)
        a.rebuild()
        b.rebuild()
        append(log_a, a, ["a1", "a2"])
        append(log_b, b, ["b1"])           # b reads a1, a2 first
        append(log_a, a, ["a3"])           # a reads b1; its own a3 lands after b1
        append(log_b, b, ["b2", "b3"])     # b reads a3
        append(log_a, a, ["a4"])
        a.catch_up()
        b.catch_up()
        everything = {"a1", "a2", "a3", "a4", "b1", "b2", "b3"}
        assert set(a._seen) == everything and set(b._seen) == everything
        assert a._positions == b._positions == {0: 7}
        assert not a._own[0] and not b._own[0]


def test_own_append_between_others_is_not_read_back(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with open_log(str(tmp_path / "a")) as log_a, open_log(str(tmp_path / "a")) as log_b:
        log_a.create_topic("events", 1)
        a = MessageIdIndex(log_a, "events", window_s=3600, max_ids=1000)
        b = MessageIdIndex(log_b, "events", window_s=3600, max_ids=1000)
        a.rebuild()
        b.rebuild()
        append(log_a, a, ["a1"])                       # offset 0
        append(log_b, b, ["b1"])                       # offset 1: b wrote after a's last look
        now = int(time.time() * 1000)
        results = log_a.produce("events", _table([b"k"], [b"{}"], ["a2"], [now]))  # offset 2, no catch-up first
        a.appended(results, {0: ["a2"]}, now)
        append(log_b, b, ["b2"])                       # offset 3
        read: list[int] = []
        original = a._add_batch
        monkeypatch.setattr(a, "_add_batch", lambda records: (read.extend(records.column("offset").to_pylist()),
                                                               original(records)))
        a.catch_up()
        assert read == [1, 3]  # b's records only: a's own a2 (offset 2) is skipped
        assert {"b1", "b2", "a2"} <= set(a._seen)
        assert a._positions == {0: 4}
