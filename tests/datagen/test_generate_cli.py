"""``headwater generate``: quickstart records appended to the log, JSON values, keys as Connect writes them."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

from typer.testing import CliRunner

from headwater.cli import app
from headwater.log import open_log
from tests.cli_runner import cli_runner


def read_all(log_dir: str, topic: str) -> list[dict]:
    with open_log(log_dir) as log:
        rows = []
        for partition in range(log.describe_topic(topic).partitions):
            rows += log.read(topic, partition, 0, max_records=100_000).records.to_pylist()
    return rows


def test_generate_users_with_int_keys(tmp_path: Path) -> None:
    log_dir = str(tmp_path / "log")
    result = CliRunner().invoke(app, ["generate", "clickstream_users", "--count", "300", "--seed", "4",
                                      "--log", log_dir])
    assert result.exit_code == 0, result.output
    assert "Generated 300 clickstream_users records into clickstream_users" in result.stdout
    rows = read_all(log_dir, "clickstream_users")
    values = [json.loads(r["value"]) for r in rows]
    assert [v["user_id"] for v in values] == list(range(1, 301))
    # IntegerConverter's key: 4-byte big-endian, as ksqlDB's KAFKA format reads an INT key.
    assert [struct.unpack(">i", r["key"])[0] for r in rows] == list(range(1, 301))
    again = tmp_path / "again"
    CliRunner().invoke(app, ["generate", "clickstream_users", "--count", "300", "--seed", "4", "--log", str(again)])
    assert [json.loads(r["value"]) for r in read_all(str(again), "clickstream_users")] == values


def test_generate_at_a_rate_into_a_named_topic(tmp_path: Path) -> None:
    log_dir = str(tmp_path / "log")
    begin = time.monotonic()
    result = CliRunner().invoke(app, ["generate", "clickstream", "--count", "40", "--rate", "100",
                                      "--topic", "clicks", "--partitions", "2", "--log", log_dir])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - begin >= 0.3  # 40 records at 100/s: the last ones are due after 0.3-0.4 s
    rows = read_all(log_dir, "clicks")
    assert len(rows) == 40
    for row in rows:
        value = json.loads(row["value"])
        assert row["key"] == value["ip"].encode() and value["status"] in {"200", "302", "404", "405", "406", "407"}


def test_generate_unknown_quickstart(tmp_path: Path) -> None:
    result = cli_runner().invoke(app, ["generate", "nope", "--log", str(tmp_path / "log")])
    assert result.exit_code == 1
    assert "Error: datagen: unknown quickstart 'nope'" in result.stderr
