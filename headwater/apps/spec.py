"""An app folder read and checked: ``app.yaml`` (pydantic, extra="forbid"), its SQL and connector configs.

Connector configs may hold placeholders the runner fills: ``${data_dir}`` (the
server's data directory), ``${files_dir}`` (the one directory connectors may
use, the server's ``--connect-files-dir``) and ``${database_url}`` (the JDBC
URL of the app's database: SQLite in ``files_dir`` unless ``--database-url``
names MariaDB or PostgreSQL). Entries of ``connectors`` may be glob patterns
(``connectors/s3-*.json``): a pattern that matches nothing is skipped, so a
connector shipped by another part of Headwater joins the app when it lands.
"""

from __future__ import annotations

import glob
import json
import re
from pathlib import Path
from string import Template
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from headwater.errors import ConfigError

APPS_DIR = Path(__file__).resolve().parent
_NAME = re.compile(r"^[a-z0-9_-]+$")
Requirement = Literal["mariadb", "postgres"]


class AppSpec(BaseModel):
    """``app.yaml`` (the shared contract's fields, plus ``database`` and ``demo``)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    description: str
    seed: str | None = None
    sql: list[str] = Field(default_factory=list)
    connectors: list[str] = Field(default_factory=list)
    dashboards: list[str] = Field(default_factory=list)
    requires: list[Requirement] = Field(default_factory=list)
    #: The database file name under files_dir when no --database-url is given (None: the app has no database).
    database: str | None = None
    #: Connector names that generate data (started by ``headwater demo`` and by ``apps run``).
    generators: list[str] = Field(default_factory=list)
    #: Why the app cannot run yet (a folder whose parts have not landed): ``apps run`` says it and stops.
    missing: str | None = None
    #: A pull query that has rows once the app works (``headwater demo --once`` waits for them).
    probe: str | None = None
    #: Connector classes the app cannot run without (checked before anything is applied).
    needs_classes: list[str] = Field(default_factory=list)

    #: The folder, filled by :func:`load_app`.
    folder: Path = Field(default=APPS_DIR, exclude=True)

    def sql_texts(self) -> list[tuple[str, str]]:
        """(file name, text) of each SQL script, in order."""
        return [(name, (self.folder / name).read_text()) for name in self.sql]

    def connector_files(self) -> list[Path]:
        files: list[Path] = []
        for entry in self.connectors:
            matched = sorted(glob.glob(str(self.folder / entry)))
            files += [Path(m) for m in matched if Path(m) not in files]
        return files

    def connector_configs(self, placeholders: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
        """(name, config) of each connector, placeholders filled; an unknown placeholder is an error."""
        out = []
        for path in self.connector_files():
            try:
                document = json.loads(path.read_text())
                name, raw = str(document["name"]), dict(document["config"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"app {self.name}: {path.name}: not a connector config with name and config "
                                  f"({type(exc).__name__}: {exc})") from None
            try:
                config = {str(k): Template(str(v)).substitute(placeholders) for k, v in raw.items()}
            except (KeyError, ValueError) as exc:
                raise ConfigError(f"app {self.name}: {path.name}: unknown placeholder {exc} (known: "
                                  f"{', '.join('${' + p + '}' for p in placeholders)})") from None
            out.append((name, config))
        return out

    def dashboard_documents(self) -> list[dict[str, Any]]:
        return [yaml.safe_load((self.folder / name).read_text()) for name in self.dashboards]


def app_names() -> list[str]:
    return sorted(p.parent.name for p in APPS_DIR.glob("*/app.yaml"))


def load_app(name: str) -> AppSpec:
    """The app of that name, checked; a clear ConfigError for an unknown name or a bad app.yaml."""
    if not _NAME.match(name) or not (APPS_DIR / name / "app.yaml").is_file():
        raise ConfigError(f"no app named {name!r}; the apps are: {', '.join(app_names())}")
    folder = APPS_DIR / name
    try:
        spec = AppSpec.model_validate({**(yaml.safe_load((folder / "app.yaml").read_text()) or {}),
                                       "folder": folder})
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigError(f"app {name}: app.yaml is not valid: {exc}") from None
    if spec.name != name:
        raise ConfigError(f"app {name}: app.yaml names it {spec.name!r}; the folder's name must be the app's")
    for entry in (*spec.sql, *spec.dashboards):
        if not (folder / entry).is_file():
            raise ConfigError(f"app {name}: {entry} is listed in app.yaml but not in the folder")
    return spec


def all_apps() -> list[AppSpec]:
    return [load_app(name) for name in app_names()]
