"""The ``headwater`` command line against a real embedded log in tmp_path."""

from __future__ import annotations

import calendar
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from headwater.cli import app
from headwater.log import Record, open_log
from headwater.log.embedded import EmbeddedLog
from tests.cli_runner import cli_runner

PRINT_LINE = re.compile(
    r"^rowtime: (?P<rowtime>\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) Z, "
    r"key: (?P<key>.*), value: (?P<value>.*), partition: (?P<partition>\d+), offset: (?P<offset>\d+)$"
)

Run = Callable[..., Result]


@pytest.fixture
def log_dir(tmp_path: Path) -> str:
    return str(tmp_path / "log")


@pytest.fixture
def run(log_dir: str) -> Run:
    """Invoke the CLI in-process on the test's log: run("topics", "list", input=...)."""
    runner = cli_runner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, [*args, "--log", log_dir], input=input)

    return invoke


def records(result: Result) -> list[dict[str, str]]:
    """The record lines of a print's stdout, parsed; every other line must be a format line."""
    out = []
    for line in result.stdout.splitlines():
        if line.startswith(("Key format: ", "Value format: ")):
            continue
        match = PRINT_LINE.match(line)
        assert match, f"not in PRINT's layout: {line!r}"
        out.append(match.groupdict())
    return out


def table_rows(text: str) -> list[list[str]]:
    """The cells of each row of the rich tables in ``text`` (header rows included)."""
    return [[cell.strip() for cell in re.split("[│┃]", line)[1:-1]] for line in text.splitlines() if line[:1] in "│┃"]


def assert_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr


def test_topics_create_list_describe_delete(run: Run) -> None:
    result = run("topics", "create", "clicks", "--partitions", "3", "--config", "retention.ms=1000")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Created topic clicks (3 partitions).\n"
    assert run("topics", "create", "pages").exit_code == 0
    assert run("produce", "pages", input="a\nb\nc\n").exit_code == 0

    listed = run("topics", "list")
    assert listed.exit_code == 0, listed.output
    assert table_rows(listed.stdout) == [["Topic", "Partitions", "Records"], ["clicks", "3", "0"], ["pages", "1", "3"]]

    described = run("topics", "describe", "clicks")
    assert described.exit_code == 0, described.output
    assert described.stdout.splitlines()[0] == "Topic: clicks  Partitions: 3  Records: 0"
    rows = table_rows(described.stdout)
    assert rows[:4] == [
        ["Partition", "Beginning offset", "End offset", "Records"],
        ["0", "0", "0", "0"],
        ["1", "0", "0", "0"],
        ["2", "0", "0", "0"],
    ]
    assert ["retention.ms", "1000", "topic"] in rows and ["cleanup.policy", "delete", "default"] in rows

    assert table_rows(run("topics", "describe", "pages").stdout)[1] == ["0", "0", "3", "3"]

    deleted = run("topics", "delete", "clicks")
    assert deleted.exit_code == 0 and deleted.stdout == "Deleted topic clicks.\n"
    assert "clicks" not in run("topics", "list").stdout
    assert_error(run("topics", "describe", "clicks"), "unknown topic 'clicks'")


def test_topics_list_empty(run: Run, log_dir: str) -> None:
    result = run("topics", "list")  # a mistyped --log is refused, not made into an empty log
    assert result.exit_code == 1 and "no log at" in result.stderr and not os.path.exists(log_dir)
    open_log(log_dir).close()
    result = run("topics", "list")
    assert result.exit_code == 0 and result.stdout == "No topics.\n"


def test_create_existing_topic(run: Run) -> None:
    assert run("topics", "create", "t", "--partitions", "2").exit_code == 0
    assert_error(run("topics", "create", "t"), "'t' already exists")
    again = run("topics", "create", "t", "--if-not-exists")
    assert again.exit_code == 0 and again.stdout == "Topic t already exists (2 partitions).\n"


def test_bad_topic_arguments(run: Run) -> None:
    malformed = run("topics", "create", "t", "--config", "retention.ms")
    assert malformed.exit_code == 2
    assert "expected key=value, got 'retention.ms'" in malformed.stderr
    assert_error(run("topics", "create", "t", "--config", "retention.mss=5"), "unknown config 'retention.mss'")
    assert_error(run("topics", "create", "t", "--config", "retention.ms=soon"), "retention.ms must be an integer")
    assert_error(run("topics", "create", "t", "--partitions", "0"), "partitions must be a positive integer")
    assert_error(run("topics", "create", "bad/name"), "invalid topic name 'bad/name'")
    assert run("topics", "list").stdout == "No topics.\n"


def test_produce_then_print_from_beginning(run: Run) -> None:
    run("topics", "create", "lines")
    before = time.time()
    produced = run("produce", "lines", input='hello\n{"a": 1}\n\nlast line without newline')
    assert produced.exit_code == 0, produced.output
    assert produced.stdout == "Produced 4 records to lines.\n"

    result = run("print", "lines", "--from-beginning", "--limit", "4")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == ["Key format: KAFKA_STRING", "Value format: KAFKA_STRING"]
    assert lines[2].endswith(", key: <null>, value: hello, partition: 0, offset: 0")
    printed = records(result)
    assert [(r["key"], r["value"], r["offset"]) for r in printed] == [
        ("<null>", "hello", "0"),
        ("<null>", '{"a": 1}', "1"),
        ("<null>", "", "2"),
        ("<null>", "last line without newline", "3"),
    ]
    rowtime = calendar.timegm(time.strptime(printed[0]["rowtime"][:19], "%Y/%m/%d %H:%M:%S"))
    assert before - 1 <= rowtime <= time.time()  # UTC, at produce time


def test_produce_with_key_separator_spreads_keys(run: Run, log_dir: str) -> None:
    run("topics", "create", "users", "--partitions", "3")
    lines = [f'user{i}:{{"id": {i}}}' for i in range(30)] + ['user1:{"at": "12:30"}']
    produced = run("produce", "users", "--key-separator", ":", input="\n".join(lines) + "\n")
    assert produced.exit_code == 0, produced.output
    assert produced.stdout == "Produced 31 records to users.\n"

    result = run("print", "users", "--from-beginning", "--limit", "31")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == ["Key format: KAFKA_STRING", "Value format: JSON"]
    printed = records(result)
    assert sorted(r["key"] for r in printed) == sorted([f"user{i}" for i in range(30)] + ["user1"])
    by_key = [r for r in printed if r["key"] == "user1"]
    assert [r["value"] for r in by_key] == ['{"id": 1}', '{"at": "12:30"}']
    assert by_key[0]["partition"] == by_key[1]["partition"]  # same key, same partition
    assert len({r["partition"] for r in printed}) > 1
    with open_log(log_dir) as log:  # what was printed is what is stored, offset for offset
        for r in printed:
            fetched = log.read("users", int(r["partition"]), int(r["offset"]), max_records=1)
            assert fetched.records.column("key")[0].as_py() == r["key"].encode()


def test_produce_to_partition_and_print_at_offset(run: Run) -> None:
    run("topics", "create", "p", "--partitions", "2")
    assert (
        run(
            "produce",
            "p",
            "--partition",
            "1",
            input="k0=a\nk1=b\nk2=c\n",
        ).exit_code
        == 0
    )
    result = run("print", "p", "--partition", "1", "--offset", "1", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert [(r["value"], r["partition"], r["offset"]) for r in records(result)] == [
        ("k1=b", "1", "1"),
        ("k2=c", "1", "2"),
    ]
    # Partition 0 got nothing: print waits for new records and stops at the timeout.
    empty = run("print", "p", "--partition", "0", "--from-beginning", "--timeout-s", "0.2")
    assert empty.exit_code == 0, empty.output
    assert empty.stdout.splitlines() == [
        "Key format: ¯\\_(ツ)_/¯ - no data processed",
        "Value format: ¯\\_(ツ)_/¯ - no data processed",
    ]


def test_produce_line_without_separator(run: Run) -> None:
    run("topics", "create", "t")
    assert_error(run("produce", "t", "--key-separator", "|", input="a|1\nno separator\n"), "line 2", "'|'")
    assert run("produce", "t", "--key-separator", "", input="a\n").exit_code == 2


def test_print_without_from_beginning_shows_only_new_records(run: Run, log_dir: str) -> None:
    run("topics", "create", "live", "--partitions", "2")
    run("produce", "live", "--partition", "0", input="old\n")

    def append_later() -> None:
        time.sleep(0.5)
        with open_log(log_dir) as log:
            log.append("live", 1, [Record(b"new", key=b"k", timestamp=1_795_329_107_123)])

    writer = threading.Thread(target=append_later)
    writer.start()
    started = time.monotonic()
    result = run("print", "live", "--limit", "1", "--timeout-s", "20")
    writer.join()
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2:] == [
        "rowtime: 2026/11/22 06:31:47.123 Z, key: k, value: new, partition: 1, offset: 0"
    ]
    assert time.monotonic() - started < 10  # woken by the append, not by the timeout


def test_log_errors_exit_1_naming_the_position(run: Run) -> None:
    run("topics", "create", "t", "--partitions", "2")
    run("produce", "t", "--partition", "0", input="a\nb\n")
    assert_error(run("print", "nope", "--from-beginning"), "unknown topic 'nope'")
    assert_error(run("produce", "nope", input="a\n"), "unknown topic 'nope'")
    assert_error(run("topics", "delete", "nope"), "unknown topic 'nope'")
    assert_error(run("print", "t", "--partition", "-1"), "'t'", "partition -1")
    assert_error(run("print", "t", "--partition", "2"), "'t'", "partition 2")
    assert_error(run("produce", "t", "--partition", "-1", input="a\n"), "'t'", "partition -1")
    assert_error(run("print", "t", "--partition", "0", "--offset", "3"), "offset 3", "t[0]", "0..2")
    assert_error(run("print", "t", "--partition", "0", "--offset", "-1"), "offset -1", "t[0]")


def test_bad_print_arguments(run: Run) -> None:
    run("topics", "create", "t")
    assert run("print", "t", "--offset", "0").exit_code == 2
    assert run("print", "t", "--limit", "0").exit_code == 2


def test_log_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_LOG", str(tmp_path / "from-env"))
    assert CliRunner().invoke(app, ["topics", "create", "envtopic"]).exit_code == 0
    with open_log(str(tmp_path / "from-env")) as log:
        assert log.list_topics() == ["envtopic"]


def test_console_script(log_dir: str) -> None:
    script = Path(sys.executable).with_name("headwater")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "headwater.cli"]
    env = {**os.environ, "HEADWATER_LOG": log_dir}

    def headwater(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *args], check=False, input=stdin, env=env, capture_output=True, text=True, timeout=60
        )

    assert headwater("topics", "create", "s").returncode == 0
    assert headwater("produce", "s", "--key-separator", ",", stdin="k,v\n").stdout == "Produced 1 records to s.\n"
    printed = headwater("print", "s", "--from-beginning", "--limit", "1")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines()[2].endswith(", key: k, value: v, partition: 0, offset: 0")
    missing = headwater("print", "missing")
    assert missing.returncode == 1 and missing.stderr == "Error: log: unknown topic 'missing'\n"


def test_print_tombstones_and_binary(run: Run, log_dir: str) -> None:
    run("topics", "create", "t")
    with open_log(log_dir) as log:
        log.append("t", 0, [Record(None, key=b"gone", timestamp=0), Record(b"\xff\x01ok", key=None, timestamp=1)])
    result = run("print", "t", "--from-beginning", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2:] == [
        "rowtime: 1970/01/01 00:00:00.000 Z, key: gone, value: <null>, partition: 0, offset: 0",
        "rowtime: 1970/01/01 00:00:00.001 Z, key: <null>, value: \\xff\x01ok, partition: 0, offset: 1",
    ]


def test_tour_fills_and_shows_the_clickstream_topic(tmp_path: Path) -> None:
    log_dir = tmp_path / "demo"
    result = CliRunner().invoke(app, ["tour", "--records", "5000", "--log", str(log_dir)])
    assert result.exit_code == 0, result.output
    assert "Appended 5,000 click events to clickstream" in result.output
    assert "rowtime: " in result.output and '"userid":' in result.output
    assert "rows in BANDWIDTH_PER_MIN" in result.output
    assert "A stream" in result.output and "pull query" in result.output and "headwater up" in result.output
    assert "headwater sql" in result.output and "http://127.0.0.1:8088/" in result.output
    with EmbeddedLog(str(log_dir)) as log:
        assert sum(log.end_offset("clickstream", p) for p in range(3)) == 5000
        errors = sum(log.end_offset("ERRORS", p) for p in range(3))
    # About 2/3 of generated clicks have a status >= 400 (404, 405, 406, 407 of six codes).
    assert 2500 < errors < 4200
