"""``headwater sql``: scripts with -f and the interactive shell (driven through a pty with pexpect),
against a real server on 127.0.0.1 and against an embedded session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from headwater.log import Record
from tests.server.conftest import live_server  # noqa: F401 - the fixture
from tests.server.live import LiveServer

REPO = Path(__file__).resolve().parents[2]
HEADWATER = [sys.executable, "-c", "from headwater.cli import app; app(prog_name='headwater')"]

#: The clickstream script of Streaming SQL part 1, as a user keeps it in a file.
CLICKSTREAM_SCRIPT = """\
-- clickstream, part 1
CREATE STREAM clickstream (_time BIGINT, time VARCHAR, ip VARCHAR, request VARCHAR, status INT, userid INT,
    bytes BIGINT, agent VARCHAR) WITH (kafka_topic='clickstream', value_format='json', partitions=1);
CREATE STREAM errors AS SELECT userid, request, status FROM clickstream WHERE status >= 400 EMIT CHANGES;
SHOW STREAMS;
"""


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home), "TERM": "dumb", "COLUMNS": "120"}


def run_sql(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HEADWATER, "sql", *args], capture_output=True, text=True, env=_env(home), timeout=60)


def click(userid: int, status: int) -> Record:
    value = {"userid": userid, "request": f"GET /page/{userid}", "status": status, "bytes": 512}
    return Record(json.dumps(value).encode())


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:  # noqa: F811 - uses the imported fixture
    return live_server()


def test_script_runs_against_a_server(server: LiveServer, tmp_path: Path) -> None:
    script = tmp_path / "clickstream.sql"
    script.write_text(CLICKSTREAM_SCRIPT)
    result = run_sql([server.url, "-f", str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Stream created" in result.stdout
    assert "Created query with ID CSAS_ERRORS_1" in result.stdout
    assert " CLICKSTREAM | clickstream " in result.stdout and " ERRORS      | ERRORS " in result.stdout
    assert "CSAS_ERRORS_1" in server.state.session.queries


def test_script_error_exits_1_with_line_and_column(server: LiveServer, tmp_path: Path) -> None:
    script = tmp_path / "broken.sql"
    script.write_text(CLICKSTREAM_SCRIPT + "CREATE STREAM bad AS\n  SELECT nope FROM clickstream;\nSHOW TABLES;\n")
    result = run_sql([server.url, "-f", str(script)], tmp_path)
    assert result.returncode == 1
    assert f"Error: {script}: line 7:10: Column 'NOPE' cannot be resolved." in " ".join(result.stderr.split())
    assert "Table Name" not in result.stdout  # stopped at the failing statement
    syntax = tmp_path / "syntax.sql"
    syntax.write_text("SHOW STREAMS;\n\nSELEKT 1;\n")
    result = run_sql([server.url, "-f", str(syntax)], tmp_path)
    assert result.returncode == 1 and f"{syntax}: line 3:1: Syntax Error" in result.stderr


def test_unreachable_server_is_an_error(tmp_path: Path) -> None:
    from tests.server.live import free_port

    result = run_sql([f"http://127.0.0.1:{free_port()}", "-f", "/dev/null"], tmp_path)
    assert result.returncode == 1 and "Could not reach the ksqlDB REST API" in result.stderr


def test_embedded_script_with_set_define_run_script_and_a_limited_push_query(tmp_path: Path) -> None:
    inner = tmp_path / "inner.sql"
    inner.write_text("INSERT INTO clickstream (userid, request, status) VALUES (${uid}, 'GET /x', 404);\n")
    script = tmp_path / "embedded.sql"
    script.write_text(CLICKSTREAM_SCRIPT + "DEFINE uid = '77';\n"
                      f"RUN SCRIPT '{inner}';\n"
                      "SET 'auto.offset.reset'='earliest';\n"
                      "SHOW VARIABLES;\n"
                      "SELECT userid, status FROM errors EMIT CHANGES LIMIT 1;\n")
    result = run_sql(["--embedded", "--log", str(tmp_path / "log"), "-f", str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Successfully changed local property 'auto.offset.reset' to 'earliest'" in result.stdout
    assert " uid           | 77 " in result.stdout
    lines = result.stdout.splitlines()
    assert any(line.startswith("|77 ") and "|404" in line for line in lines)
    assert "Limit Reached" in result.stdout


def test_interactive_shell_streams_a_push_query_until_ctrl_c(server: LiveServer, tmp_path: Path) -> None:
    """The acceptance scenario: run the script, then watch a push query's rows arrive; Ctrl-C returns to the prompt."""
    script = tmp_path / "clickstream.sql"
    script.write_text(CLICKSTREAM_SCRIPT)
    assert run_sql([server.url, "-f", str(script)], tmp_path).returncode == 0
    log = server.state.log
    child = pexpect.spawn(HEADWATER[0], [*HEADWATER[1:], "sql", server.url], env=_env(tmp_path),
                          encoding="utf-8", timeout=20, dimensions=(40, 120))
    try:
        child.expect_exact("ksql> ")
        # a statement over several lines
        child.sendline("SELECT userid, request, status")
        child.expect_exact(">")
        child.sendline("  FROM errors EMIT CHANGES;")
        child.expect(r"\|USERID +\|REQUEST +\|STATUS")
        for n, (userid, status) in enumerate([(11, 200), (12, 404), (13, 503)]):
            log.append("clickstream", 0, [click(userid, status)])
            if status >= 400:  # each error row shows up while the query runs, before the next click exists
                child.expect(rf"\|{userid} +\|GET /page/{userid} +\|{status}")
            time.sleep(0.1 * n)
        assert len(server.state.session.push_queries) == 1
        child.sendintr()
        child.expect_exact("Query terminated")
        child.expect_exact("ksql> ")
        deadline = time.monotonic() + 10
        while server.state.session.push_queries and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.state.session.push_queries  # the server's query ended too
        # the shell goes on: errors are shown, statements still run
        child.sendline("DESCRIBE nosuch;")
        child.expect("NOSUCH")
        child.sendline("SHOW QUERIES;")
        child.expect_exact("CSAS_ERRORS_1")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    history = (tmp_path / ".headwater" / "sql_history").read_text()
    assert "FROM errors EMIT CHANGES;" in history and "SHOW QUERIES;" in history


def test_interactive_print_and_embedded_ctrl_c(tmp_path: Path) -> None:
    child = pexpect.spawn(HEADWATER[0], [*HEADWATER[1:], "sql", "--embedded", "--log", str(tmp_path / "log")],
                          env=_env(tmp_path), encoding="utf-8", timeout=20, dimensions=(40, 120))
    try:
        child.expect_exact("ksql> ")
        child.sendline(CLICKSTREAM_SCRIPT.split("\n", 1)[1].replace("\n", " "))  # without the comment line
        child.expect_exact("Created query with ID CSAS_ERRORS_1")
        child.sendline("INSERT INTO clickstream (userid, request, status) VALUES (5, 'GET /', 500);")
        child.expect_exact("ksql> ")
        child.sendline("PRINT clickstream FROM BEGINNING LIMIT 1;")
        child.expect_exact("Value format: JSON")
        child.expect_exact('"REQUEST":"GET /","STATUS":500,"USERID":5,"BYTES":null,"AGENT":null}, partition: 0, offset: 0')
        child.expect_exact("ksql> ")
        child.sendline("SELECT * FROM errors EMIT CHANGES;")
        child.expect(r"\|USERID")
        child.sendintr()
        child.expect_exact("Query terminated")
        child.expect_exact("ksql> ")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_statements_from_a_pipe(server: LiveServer, tmp_path: Path) -> None:
    """Without a terminal the shell reads lines from stdin (no prompt editing) until EOF."""
    result = subprocess.run([*HEADWATER, "sql", server.url], input=CLICKSTREAM_SCRIPT + "DESCRIBE nosuch;\nSHOW\n QUERIES;\n",
                            capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert result.returncode == 0
    assert "Created query with ID CSAS_ERRORS_1" in result.stdout and "CSAS_ERRORS_1 | PERSISTENT" in result.stdout
    assert "NOSUCH" in result.stderr  # shown, and the shell went on
    assert result.stdout.rstrip().endswith("Exiting Headwater SQL.")


def test_admin_key(live_server: Callable[..., LiveServer], tmp_path: Path) -> None:  # noqa: F811
    server = live_server(admin_key="k3y")
    script = tmp_path / "show.sql"
    script.write_text("SHOW STREAMS;\n")
    denied = run_sql([server.url, "-f", str(script)], tmp_path)
    assert denied.returncode == 1 and "needs an API key" in denied.stderr
    allowed = run_sql([server.url, "--api-key", "k3y", "-f", str(script)], tmp_path)
    assert allowed.returncode == 0 and "Stream Name" in allowed.stdout


def test_acceptance_with_headwater_up(tmp_path: Path) -> None:
    """The issue's criterion end to end: ``headwater up`` runs; ``headwater sql URL -f`` runs the clickstream
    script of part 1; the interactive shell shows a push query's rows as another process appends clicks."""
    from headwater.log import open_log
    from tests.server.server_process import ServerProcess

    server = ServerProcess(tmp_path / "data").start()
    try:
        script = tmp_path / "clickstream.sql"
        script.write_text(CLICKSTREAM_SCRIPT)
        result = run_sql([server.url, "-f", str(script)], tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Created query with ID CSAS_ERRORS_1" in result.stdout
        child = pexpect.spawn(HEADWATER[0], [*HEADWATER[1:], "sql", server.url], env=_env(tmp_path),
                              encoding="utf-8", timeout=30, dimensions=(40, 120))
        try:
            child.expect_exact("ksql> ")
            child.sendline("SELECT userid, status FROM errors EMIT CHANGES;")
            child.expect(r"\|USERID +\|STATUS")
            with open_log(str(tmp_path / "data")) as log:  # a second process appending to the same log
                for userid, status in ((21, 404), (22, 200), (23, 500)):
                    log.append("clickstream", 0, [click(userid, status)])
                    if status >= 400:
                        child.expect(rf"\|{userid} +\|{status}")
            child.sendintr()
            child.expect_exact("Query terminated")
            child.expect_exact("ksql> ")
            child.sendline("exit")
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
    finally:
        server.stop()
