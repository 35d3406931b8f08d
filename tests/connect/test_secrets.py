"""Connector secrets: masked as Kafka Connect masks PASSWORD values, put back on a round trip, and
redacted from every log line (text and JSON) once the runtime has seen them."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from headwater.connect.runtime import ConnectRuntime
from headwater.connect.secrets import HIDDEN, mask_url, masked_config, unmasked
from headwater.log import open_log
from headwater.server.log_format import configure_logging

SECRET = "correct-horse-battery"


def test_passwords_and_url_passwords_are_masked_and_put_back() -> None:
    config = {"connection.url": f"jdbc:postgresql://app:{SECRET}@db:5432/x?password={SECRET}&ssl=true",
              "connection.password": SECRET, "ssl.key.password": SECRET, "topics": "t"}
    shown = masked_config(config, ["connection.password"])
    assert SECRET not in json.dumps(shown)
    assert shown["connection.password"] == HIDDEN and shown["ssl.key.password"] == HIDDEN
    assert shown["connection.url"] == f"jdbc:postgresql://app:{HIDDEN}@db:5432/x?password={HIDDEN}&ssl=true"
    assert shown["topics"] == "t"
    assert unmasked({**shown, "topics": "u"}, config, ["connection.password"]) == {**config, "topics": "u"}
    changed = unmasked({**shown, "connection.password": "new-one"}, config)
    assert changed["connection.password"] == "new-one"
    assert mask_url("mysql://root@h/db") == "mysql://root@h/db"


def test_log_lines_never_show_a_secret_the_runtime_accepted(tmp_path: Path) -> None:
    with open_log(str(tmp_path / "log")) as log:
        runtime = ConnectRuntime(log)
        try:
            runtime.create("j", {"connector.class": "JdbcSink", "topics": "t", "connection.password": SECRET,
                                 "connection.url": f"jdbc:sqlite:{tmp_path / 'a.db'}"})
        finally:
            runtime.close()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        for fmt in ("text", "json"):
            out = io.StringIO()
            configure_logging("info", fmt, out)
            logger = logging.getLogger("headwater.test")
            logger.warning("config was %s", {"connection.password": SECRET}, extra={"connector": "j"})
            try:
                raise RuntimeError(f"could not log in with {SECRET}")
            except RuntimeError:
                logger.exception("connector %s failed", "j")
            text = out.getvalue()
            assert SECRET not in text and HIDDEN in text and "RuntimeError" in text, text
            if fmt == "json":
                entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
                assert entries[0]["connector"] == "j" and "exception" in entries[1]
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
