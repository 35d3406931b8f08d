"""The runtime on both backends of the log: embedded and Kafka (the Tansu broker of the test suite)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import orjson

from headwater.connect.runtime import ConnectRuntime
from headwater.connect.store import StorageTopics
from headwater.log import Log, Record
from tests.connect.conftest import lines, wait_until


def test_sink_and_source_survive_a_runtime_restart(log: Log, new_topic: Callable[[str], str], tmp_path: Path) -> None:
    # Unique storage topics and names: the Kafka broker lives for the whole test session.
    storage = StorageTopics(new_topic("configs"), new_topic("status"), new_topic("offsets"))
    events, lines_topic = new_topic("events"), new_topic("lines")
    sink_name, source_name = new_topic("sink"), new_topic("tail")
    log.create_topic(events, 2)
    log.append(events, 0, [Record(orjson.dumps({"n": i})) for i in range(0, 10)])
    log.append(events, 1, [Record(orjson.dumps({"n": i})) for i in range(10, 20)])
    out, source = tmp_path / "out.txt", tmp_path / "in.log"
    source.write_text("a\nb\n")

    runtime = ConnectRuntime(log, topics=storage)
    try:
        runtime.create(sink_name, {"connector.class": "FileStreamSink", "topics": events, "file": str(out)})
        runtime.create(source_name, {"connector.class": "FileStreamSource", "topic": lines_topic,
                                     "file": str(source),
                                     "value.converter": "org.apache.kafka.connect.storage.StringConverter"})
        wait_until(lambda: len(lines(out)) == 20, timeout_s=20, what="20 lines")
        wait_until(lambda: runtime.offsets(source_name)["offsets"] != [], timeout_s=20, what="source offsets")
    finally:
        runtime.close()

    log.append(events, 1, [Record(orjson.dumps({"n": 20}))])
    with source.open("a") as handle:
        handle.write("c\n")
    again = ConnectRuntime(log, topics=storage)
    try:
        assert sorted(again.names()) == sorted([sink_name, source_name])
        wait_until(lambda: len(lines(out)) == 21, timeout_s=20, what="the 21st line")
        wait_until(lambda: again.offsets(source_name)["offsets"][0]["offset"] == {"position": 6}, timeout_s=20,
                   what="offset after c")
    finally:
        again.close()
    assert sorted(json.loads(x)["n"] for x in lines(out)) == list(range(21))
    values: list[bytes] = []
    position = log.beginning_offset(lines_topic, 0)
    while position < log.end_offset(lines_topic, 0):
        fetched = log.read(lines_topic, 0, position)
        values += fetched.records.column("value").to_pylist()
        position = fetched.next_offset
    assert values == [b"a", b"b", b"c"]
