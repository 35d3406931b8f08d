"""Every panel of every app's dashboard answers with rows once the app's generators have run a little.

The apps run in one session with their datagen connectors (the collector's
events are appended as the collector stores them); then each panel's query
runs as the dashboard runs it: a pull query, or a push query (EMIT CHANGES)
from the earliest offset until its first row.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from headwater.apps.runner import EmbeddedTarget, Settings, run_app
from headwater.apps.spec import load_app
from headwater.apps.traffic import SegmentTraffic
from headwater.log import Record
from headwater.session import Session

APPS = ["website", "auditlog", "clickstream", "collector"]
#: Panels that need more than the test's minute of data (a HAVING threshold, a session of 100 KB).
SLOW_PANELS = {("clickstream-app", "high_bandwidth_sessions"), ("clickstream-app", "errors_alert")}


def _answers(session: Session, query: str) -> bool:
    if "EMIT CHANGES" in query:
        push = session.query(query, properties={"auto.offset.reset": "earliest"})
        try:
            return next(iter(push.rows(timeout_s=5)), None) is not None  # type: ignore[union-attr]
        finally:
            push.close()  # type: ignore[union-attr]
    return bool(session.query(query).rows)  # type: ignore[union-attr]


@pytest.mark.slow  # about a minute of generated data
def test_every_dashboard_panel_has_data(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), files_dir=str(tmp_path / "files"))
    traffic = SegmentTraffic("http://unused", events_per_batch=1)
    with Session(str(tmp_path / "data"), properties={"auto.offset.reset": "earliest"}) as session:
        session.log.create_topic("events", 1, exist_ok=True)
        dashboards = []
        for name in APPS:
            spec = load_app(name)
            run_app(spec, EmbeddedTarget(session), settings)
            dashboards += spec.dashboard_documents()
        for _ in range(200):
            event = traffic.event()
            key = str(event.get("userId") or event.get("anonymousId")).encode()
            session.log.append("events", 0, [Record(json.dumps(event).encode(), key=key)])
        panels = [(d["id"], p["id"], p["query"]) for d in dashboards for p in d["panels"]
                  if (d["id"], p["id"]) not in SLOW_PANELS]
        deadline = time.monotonic() + 120
        while panels and time.monotonic() < deadline:
            time.sleep(3)
            panels = [(d, p, q) for d, p, q in panels if not _answers(session, q)]
        assert not panels, f"panels without data: {panels}"
