"""App folders: every packaged app loads, unknown names and placeholders are clear errors, cdc says what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headwater.apps.runner import AppError, Settings, check_requirements
from headwater.apps.spec import AppSpec, all_apps, load_app
from headwater.cli import app
from headwater.errors import ConfigError


def test_every_app_loads_with_its_files() -> None:
    specs = {spec.name: spec for spec in all_apps()}
    assert set(specs) == {"auditlog", "cdc", "clickstream", "collector", "website"}
    for spec in specs.values():
        assert spec.sql_texts() and spec.dashboard_documents() and spec.probe
        assert (spec.folder / "README.md").is_file()
    assert [d["id"] for d in specs["clickstream"].dashboard_documents()] == ["clickstream-app"]


def test_unknown_app_and_placeholder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no app named 'nope'; the apps are: auditlog, cdc"):
        load_app("nope")
    with pytest.raises(ConfigError, match="no app named"):
        load_app("../website")
    (tmp_path / "connectors").mkdir()
    (tmp_path / "connectors" / "x.json").write_text(json.dumps({"name": "x", "config": {"file": "${nowhere}/x"}}))
    spec = AppSpec(name="t", title="t", description="t", connectors=["connectors/*.json"], folder=tmp_path)
    with pytest.raises(ConfigError, match=r"unknown placeholder 'nowhere' \(known: \$\{files_dir\}\)"):
        spec.connector_configs({"files_dir": "/f"})


def test_cdc_says_what_is_missing(tmp_path: Path) -> None:
    spec = load_app("cdc")
    settings = Settings(data_dir=str(tmp_path), files_dir=str(tmp_path))
    try:
        check_requirements(spec, settings)
    except AppError as exc:  # until the CDC connectors are installed (or a database does not answer)
        assert "needs the connector io.debezium" in str(exc) or "which does not answer" in str(exc)
    listed = CliRunner().invoke(app, ["apps", "list"])
    assert listed.exit_code == 0 and "website" in listed.stdout and "cdc" in listed.stdout
