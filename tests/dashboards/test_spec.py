"""The dashboard file: what validates, what is refused (naming the field), and the packaged dashboards."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.dashboards.spec import Dashboard, DashboardSpecError, from_data, from_yaml, range_ms, to_yaml
from headwater.dashboards.store import API, FOLDER, PACKAGED, DashboardReadOnly, DashboardStore

PANEL = {"id": "events", "title": "Events", "type": "timeseries", "query": "SELECT * FROM T EMIT CHANGES;",
         "x": "WINDOWSTART", "y": ["EVENTS"]}


def board(**changes: object) -> dict[str, object]:
    return {"id": "b1", "title": "B", "panels": [dict(PANEL)], **changes}


def test_a_valid_dashboard_round_trips_through_yaml() -> None:
    parsed = from_data(board(), "test")
    assert parsed.panels[0].is_push and parsed.refresh_s == 5 and parsed.time_range == "1h"
    assert from_yaml(to_yaml(parsed), "again") == parsed


@pytest.mark.parametrize(("change", "field"), [
    ({"colour": "red"}, "colour"),
    ({"id": "Has Space"}, "id"),
    ({"time_range": "an hour"}, "time_range"),
    ({"panels": [{**PANEL, "type": "gauge"}]}, "panels.0.type"),
    ({"panels": [{**PANEL, "width": 13}]}, "panels.0.width"),
    ({"panels": [{**PANEL, "query": "DROP TABLE T;"}]}, "panels.0.query"),
    ({"panels": [{**PANEL, "query": "SELECT * FROM T; SELECT * FROM U;"}]}, "panels.0.query"),
    ({"panels": [{**PANEL, "query": "SELEKT 1;"}]}, "panels.0.query"),
    ({"panels": [{**PANEL, "x": None}]}, "panels.0"),
    ({"panels": [{**PANEL, "type": "topn"}]}, "panels.0"),
    ({"panels": [{**PANEL, "extra": 1}]}, "panels.0.extra"),
    ({"panels": [PANEL, PANEL]}, "panels"),
])
def test_an_invalid_dashboard_is_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(DashboardSpecError) as caught:
        from_data(board(**change), "file.yaml")
    assert f"file.yaml: {field}" in str(caught.value) or f"; {field}" in str(caught.value), str(caught.value)


def test_yaml_that_is_not_a_mapping_or_not_yaml_is_refused() -> None:
    with pytest.raises(DashboardSpecError, match="not valid YAML"):
        from_yaml("id: [unclosed", "x.yaml")
    with pytest.raises(DashboardSpecError, match="mapping"):
        from_yaml("- a\n- b\n", "x.yaml")
    with pytest.raises(DashboardSpecError):  # safe_load: no Python objects
        from_yaml("!!python/object/apply:os.system ['true']", "x.yaml")


def test_time_ranges() -> None:
    assert range_ms("5m") == 300_000 and range_ms("24h") == 86_400_000 and range_ms("7d") == 604_800_000
    with pytest.raises(ValueError):
        range_ms("1y")


def test_the_packaged_clickstream_dashboard_loads(tmp_path: Path) -> None:
    loaded = DashboardStore(None, str(tmp_path)).load()
    entry = loaded.entries["clickstream"]
    assert entry.source == PACKAGED and not [p for p in loaded.problems if "clickstream" in p["file"]]
    panels = {p.id: p for p in entry.dashboard.panels}
    assert {"events_per_min", "pages_per_min", "bandwidth_per_user", "status_codes", "user_sessions"} <= set(panels)
    assert panels["events_per_min"].is_push and panels["events_per_min"].x == "WINDOWSTART"
    assert not panels["user_sessions"].is_push


def test_a_folder_overrides_packaged_and_bad_files_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "boards"
    folder.mkdir()
    (folder / "clickstream.yaml").write_text(to_yaml(Dashboard(id="clickstream", title="Mine")))
    (folder / "broken.yaml").write_text("id: broken\ntitle: B\npanels: [{id: p}]\n")
    (folder / "misnamed.yaml").write_text(to_yaml(Dashboard(id="other", title="O")))
    store = DashboardStore(str(folder), str(tmp_path / "api"))
    loaded = store.load()
    assert loaded.entries["clickstream"].dashboard.title == "Mine" and loaded.entries["clickstream"].source == FOLDER
    problems = " ".join(p["error"] for p in loaded.problems)
    assert "broken.yaml: panels.0.title" in problems and "must be named other.yaml" in problems
    assert "broken" not in loaded.entries and "other" not in loaded.entries
    store.delete("clickstream")  # the override goes, the packaged one is back
    assert store.get("clickstream").source == PACKAGED
    with pytest.raises(DashboardReadOnly):
        store.delete("clickstream")


def test_put_writes_into_the_api_directory_without_a_folder(tmp_path: Path) -> None:
    store = DashboardStore(None, str(tmp_path / "api"))
    entry = store.put(Dashboard(id="mine", title="Mine"))
    assert entry.source == API and Path(entry.path) == tmp_path / "api" / "mine.yaml"
    assert store.get("mine").dashboard.title == "Mine"
    assert [p.name for p in (tmp_path / "api").iterdir()] == ["mine.yaml"]  # no temporary file left
