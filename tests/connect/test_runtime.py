"""The runtime: tasks move records, offsets and configs live in the log, errors are tolerated or fail the task."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import orjson

from headwater.connect.runtime import ConnectRequestError, ConnectRuntime
from headwater.log import Log, Record, TopicPartition
from tests.connect.conftest import lines, wait_until

Factory = Callable[[], ConnectRuntime]


def events(log: Log, start: int, count: int, topic: str = "events") -> None:
    log.create_topic(topic, 1, exist_ok=True)
    log.append(topic, 0, [Record(orjson.dumps({"n": i})) for i in range(start, start + count)])


def file_sink(path: Path, **extra: str) -> dict[str, str]:
    return {"connector.class": "FileStreamSink", "tasks.max": "1", "topics": "events", "file": str(path), **extra}


def test_sink_commits_offsets_and_resumes_after_restart_without_duplicates(
        connect_log: Log, runtime_factory: Factory, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    events(connect_log, 0, 50)
    runtime = runtime_factory()
    runtime.create("sink", file_sink(out))
    wait_until(lambda: len(lines(out)) == 50, what="50 lines")
    wait_until(lambda: connect_log.committed("connect-sink", [TopicPartition("events", 0)])
               [TopicPartition("events", 0)] == 50, what="committed offset 50")
    runtime.close()

    events(connect_log, 50, 25)  # written while the process is down
    again = runtime_factory()
    assert again.names() == ["sink"]
    assert again.wait_for("sink")["type"] == "sink"
    wait_until(lambda: len(lines(out)) == 75, what="75 lines")
    assert [json.loads(x)["n"] for x in lines(out)] == list(range(75))
    assert again.offsets("sink") == {"offsets": [
        {"partition": {"kafka_topic": "events", "kafka_partition": 0}, "offset": {"kafka_offset": 75}}]}


def test_file_source_tails_and_resumes_from_its_byte_position(
        connect_log: Log, runtime_factory: Factory, tmp_path: Path) -> None:
    source = tmp_path / "app.log"
    source.write_text("one\ntwo\nthree-partial")
    runtime = runtime_factory()
    runtime.create("tail", {"connector.class": "FileStreamSource", "file": str(source), "topic": "logs",
                            "value.converter": "org.apache.kafka.connect.storage.StringConverter"})

    def values() -> list[bytes]:
        if "logs" not in connect_log.list_topics():
            return []
        return connect_log.read("logs", 0, 0).records.column("value").to_pylist()

    wait_until(lambda: values() == [b"one", b"two"], what="two complete lines")
    expected = [{"partition": {"filename": str(source)}, "offset": {"position": 8}}]
    wait_until(lambda: runtime.offsets("tail")["offsets"] == expected, what="the offset after two")
    runtime.close()
    with source.open("a") as handle:
        handle.write("\nfour\n")
    again = runtime_factory()
    wait_until(lambda: len(values()) >= 4, what="four lines")
    again.close()
    assert values() == [b"one", b"two", b"three-partial", b"four"]


def test_tolerance_all_sends_bad_records_to_the_dead_letter_topic_with_the_reason(
        connect_log: Log, runtime_factory: Factory, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    connect_log.create_topic("events", 1)
    connect_log.append("events", 0, [Record(b'{"n": 1}'), Record(b"{broken", b"k1", headers=(("h", b"v"),)),
                                     Record(orjson.dumps("two\nlines")), Record(b'{"n": 2}')])
    runtime = runtime_factory()
    runtime.create("sink", file_sink(out, **{"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq",
                                             "errors.deadletterqueue.context.headers.enable": "true"}))
    wait_until(lambda: len(lines(out)) == 2, what="the two good lines")
    wait_until(lambda: connect_log.end_offset("dlq", 0) == 2, what="two dead letters")
    assert [json.loads(x) for x in lines(out)] == [{"n": 1}, {"n": 2}]
    dead = connect_log.read("dlq", 0, 0).records.to_pylist()
    assert [d["value"] for d in dead] == [b"{broken", orjson.dumps("two\nlines")]
    assert dead[0]["key"] == b"k1"
    first = {h["key"]: h["value"].decode() for h in dead[0]["headers"]}
    assert first["h"] == "v"  # the original headers stay
    assert first["__connect.errors.topic"] == "events"
    assert first["__connect.errors.offset"] == "1"
    assert first["__connect.errors.stage"] == "VALUE_CONVERTER"
    assert "serialization error" in first["__connect.errors.exception.message"]
    second = {h["key"]: h["value"].decode() for h in dead[1]["headers"]}
    assert second["__connect.errors.stage"] == "TASK_PUT"
    assert "line break" in second["__connect.errors.exception.message"]
    assert runtime.status("sink")["tasks"][0]["state"] == "RUNNING"


def test_tolerance_none_fails_the_task_with_a_trace_and_restart_retries(
        connect_log: Log, runtime_factory: Factory, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    connect_log.create_topic("events", 1)
    connect_log.append("events", 0, [Record(b'{"n": 1}'), Record(b"{broken")])
    runtime = runtime_factory()
    runtime.create("sink", file_sink(out))
    wait_until(lambda: runtime.status("sink")["tasks"][0]["state"] == "FAILED", what="FAILED task")
    task = runtime.status("sink")["tasks"][0]
    assert "Tolerance exceeded in error handler" in task["trace"]
    assert "serialization error" in task["trace"]
    assert runtime.status("sink")["connector"]["state"] == "RUNNING"
    assert lines(out) == []  # the batch failed before anything was put
    assert connect_log.committed("connect-sink", [TopicPartition("events", 0)])[TopicPartition("events", 0)] is None
    restarted = runtime.restart("sink", include_tasks=True, only_failed=True)
    assert restarted is not None and restarted["tasks"][0]["state"] == "RESTARTING"
    wait_until(lambda: runtime.status("sink")["tasks"][0]["state"] == "FAILED", what="FAILED again")


def test_retriable_errors_are_retried_until_errors_retry_timeout(
        connect_log: Log, runtime_factory: Factory, tmp_path: Path) -> None:
    events(connect_log, 0, 3)
    later = tmp_path / "mount" / "out.txt"  # the directory appears later (seed: mkdir the mountpoint)
    runtime = runtime_factory()
    runtime.create("patient", file_sink(later, **{"errors.retry.timeout": "20000",
                                                  "errors.retry.delay.max.ms": "200"}))
    never = tmp_path / "never" / "out.txt"
    runtime.create("impatient", file_sink(never))
    wait_until(lambda: runtime.status("impatient")["tasks"][0]["state"] == "FAILED", what="impatient FAILED")
    assert "cannot open" in runtime.status("impatient")["tasks"][0]["trace"]
    # Retrying, not failed: RUNNING, and the status says what it retries (as Connect shows the last error).
    wait_until(lambda: "trace" in runtime.status("patient")["tasks"][0], what="patient's trace while it retries")
    retrying = runtime.status("patient")["tasks"][0]
    assert retrying["state"] == "RUNNING"
    assert "cannot open" in retrying["trace"] and "errors.retry.timeout" in retrying["trace"]
    later.parent.mkdir()
    wait_until(lambda: len(lines(later)) == 3, what="lines once the directory exists")
    wait_until(lambda: "trace" not in runtime.status("patient")["tasks"][0], what="the trace cleared once it wrote")
    assert runtime.status("patient")["tasks"][0]["state"] == "RUNNING"


def test_pause_stop_resume_and_target_state_survive_restart(
        connect_log: Log, runtime_factory: Factory, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    events(connect_log, 0, 1)
    runtime = runtime_factory()
    runtime.create("sink", file_sink(out))
    wait_until(lambda: len(lines(out)) == 1, what="first line")
    runtime.pause("sink")
    assert runtime.wait_for("sink", "PAUSED")["connector"]["state"] == "PAUSED"
    events(connect_log, 1, 1)
    runtime.close()
    again = runtime_factory()
    again.wait_for("sink", "PAUSED")
    assert len(lines(out)) == 1  # paused: nothing moves
    again.stop_connector("sink")
    assert again.status("sink")["tasks"] == [] and again.info("sink")["tasks"] == []
    again.resume("sink")
    again.wait_for("sink", "RUNNING")
    wait_until(lambda: len(lines(out)) == 2, what="second line after resume")


def test_offsets_can_be_altered_only_when_stopped(connect_log: Log, runtime_factory: Factory, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    events(connect_log, 0, 5)
    runtime = runtime_factory()
    runtime.create("sink", file_sink(out))
    wait_until(lambda: len(lines(out)) == 5, what="five lines")
    try:
        runtime.alter_offsets("sink", [])
        raise AssertionError("expected a refusal")
    except ConnectRequestError as exc:
        assert exc.status == 400 and "STOPPED" in exc.message
    runtime.stop_connector("sink")
    runtime.alter_offsets("sink", [{"partition": {"kafka_topic": "events", "kafka_partition": 0},
                                    "offset": {"kafka_offset": 3}}])
    runtime.resume("sink")
    wait_until(lambda: len(lines(out)) == 7, what="offsets 3 and 4 again")
    assert [json.loads(x)["n"] for x in lines(out)][5:] == [3, 4]


def test_bad_configs_are_refused_with_connects_messages(runtime_factory: Factory) -> None:
    runtime = runtime_factory()
    for config, expected in [
        ({}, "Missing required configuration \"connector.class\""),
        ({"connector.class": "com.example.Nope", "topics": "a"}, "Failed to find any class"),
        ({"connector.class": "FileStreamSink", "topics": "a", "topics.regex": "b"}, "mutually exclusive"),
        ({"connector.class": "FileStreamSink", "topics": "a", "tasks.max": "0"}, "tasks.max"),
        ({"connector.class": "FileStreamSink", "topics": "a", "errors.tolerance": "some"}, "none, all"),
        ({"connector.class": "FileStreamSink", "topics": "a", "value.converter": "Nope"}, "Nope could not be found"),
        ({"connector.class": "FileStreamSource", "file": "/x"}, "topic"),
    ]:
        try:
            runtime.create("bad", config)
            raise AssertionError(f"accepted {config}")
        except ConnectRequestError as exc:
            assert exc.status == 400
            assert expected in exc.message, exc.message
    assert runtime.names() == []


def test_topics_regex_picks_up_topics_created_later(
        connect_log: Log, runtime_factory: Factory, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    runtime = runtime_factory()
    runtime.create("regex", {"connector.class": "FileStreamSink", "topics.regex": "audit\\..*", "file": str(out),
                             "value.converter": "org.apache.kafka.connect.storage.StringConverter"})
    runtime.wait_for("regex")
    for topic in ("audit.orders", "audit.users", "other"):
        connect_log.create_topic(topic, 1)
        connect_log.append(topic, 0, [Record(f"from {topic}".encode())])
    wait_until(lambda: sorted(lines(out)) == ["from audit.orders", "from audit.users"], what="both audit topics")
    assert runtime.topics("regex") == ["audit.orders", "audit.users"]


def test_source_path_applies_transforms_and_the_json_schema_envelope(
        connect_log: Log, runtime_factory: Factory, tmp_path: Path) -> None:
    source = tmp_path / "app.log"
    source.write_text("hello\nskip me\n")
    runtime = runtime_factory()
    runtime.create("tail", {
        "connector.class": "FileStreamSource", "file": str(source), "topic": "wrapped",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "true",
        "key.converter": "org.apache.kafka.connect.converters.IntegerConverter",
        "transforms": "dropSkips", "transforms.dropSkips.type": "org.apache.kafka.connect.transforms.Filter",
        "transforms.dropSkips.predicate": "isWrapped", "transforms.dropSkips.negate": "true",
        "predicates": "isWrapped",
        "predicates.isWrapped.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        "predicates.isWrapped.pattern": "wrapped"})
    wait_until(lambda: runtime.offsets("tail")["offsets"] != [], what="source offsets")
    rows = connect_log.read("wrapped", 0, 0).records.to_pylist()
    assert [orjson.loads(r["value"]) for r in rows] == [
        {"schema": {"type": "string", "optional": False}, "payload": "hello"},
        {"schema": {"type": "string", "optional": False}, "payload": "skip me"}]
    assert all(r["key"] is None for r in rows)
