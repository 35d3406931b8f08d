"""A Headwater engine in a child process, for tests that kill it with SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from headwater.engine import changelog
    from headwater.session import Session
    if os.environ.get("HEADWATER_TEST_SNAPSHOT_EVERY_BATCH"):  # stress: a snapshot before every batch
        changelog.SNAPSHOT_INTERVAL_S = 0.0
    session = Session(sys.argv[1], properties={"auto.offset.reset": "earliest"})
    if sys.argv[2] == "create":
        session.execute(sys.argv[3])
    print("ready", flush=True)
    while True:
        time.sleep(1)
    """
)


def start_engine(root: str, statements: str, *, create: bool,
                 env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start an engine on the log at ``root``; with ``create`` it runs ``statements`` first.

    Without ``create`` it only replays the command log (a restart). Returns once it is running.
    """
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, root, "create" if create else "resume", statements],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc
