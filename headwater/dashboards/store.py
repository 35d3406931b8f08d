"""Where dashboards come from, and where the API saves them.

Four sources, later ones overriding earlier ones with the same id:

1. ``packaged``: ``headwater/dashboards/packaged/*.yaml``;
2. ``packaged`` apps: ``headwater/apps/*/dashboards/*.yaml``;
3. ``folder``: ``--dashboards DIR`` (``ServerConfig.dashboards_dir``);
4. ``api``: those saved with ``PUT /dashboards/{id}`` when no folder is given, in ``dashboards/`` of the
   embedded log's directory (``./dashboards`` with a Kafka log).

``PUT`` writes ``<id>.yaml`` into the folder when one is given, else into the API directory; ``DELETE``
removes that file (a packaged dashboard cannot be deleted, only overridden). Files are re-read on every
call: they are small, and an edit in the folder shows on the next page load. A file that does not
validate is reported in :attr:`Loaded.problems` and left out, never fatal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from headwater.dashboards.spec import Dashboard, DashboardSpecError, from_yaml, to_yaml

logger = logging.getLogger(__name__)

PACKAGED, FOLDER, API = "packaged", "folder", "api"


class DashboardNotFound(DashboardSpecError):
    """No dashboard (or panel) with that id."""


class DashboardReadOnly(DashboardSpecError):
    """A packaged dashboard: it can be overridden with PUT, not deleted."""


@dataclass(frozen=True)
class Entry:
    dashboard: Dashboard
    source: str
    path: str


@dataclass
class Loaded:
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)


def api_dir_for(log_url: str) -> str:
    """The API's directory: beside the embedded log's data, or ./dashboards with a Kafka log."""
    url = log_url.removeprefix("file://")
    if "://" in url:
        return os.path.abspath("dashboards")
    return os.path.join(url, "dashboards")


def _packaged_files() -> Iterator[Traversable]:
    root = resources.files("headwater")
    packaged = root.joinpath("dashboards", "packaged")
    if packaged.is_dir():
        yield from sorted((f for f in packaged.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    apps = root.joinpath("apps")
    if apps.is_dir():
        for app in sorted(apps.iterdir(), key=lambda f: f.name):
            boards = app.joinpath("dashboards")
            if app.is_dir() and boards.is_dir():
                yield from sorted((f for f in boards.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)


def _folder_files(directory: str | None) -> Iterator[Path]:
    if directory is None or not os.path.isdir(directory):
        return
    yield from sorted(p for p in Path(directory).iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


class DashboardStore:
    def __init__(self, folder: str | None, api_dir: str) -> None:
        self.folder = os.path.abspath(folder) if folder else None
        self.api_dir = os.path.abspath(api_dir)

    @property
    def writable_dir(self) -> str:
        return self.folder or self.api_dir

    @property
    def writable_source(self) -> str:
        return FOLDER if self.folder else API

    def load(self) -> Loaded:
        loaded = Loaded()
        for packaged in _packaged_files():
            self._add(loaded, packaged.read_text(encoding="utf-8"), PACKAGED, str(packaged))
        sources = [(FOLDER, self.folder)] if self.folder else [(API, self.api_dir)]
        for source, directory in sources:
            for path in _folder_files(directory):
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    loaded.problems.append({"file": str(path), "error": f"cannot read: {exc}"})
                    continue
                self._add(loaded, text, source, str(path))
        return loaded

    def _add(self, loaded: Loaded, text: str, source: str, path: str) -> None:
        try:
            dashboard = from_yaml(text, path)
        except DashboardSpecError as exc:
            logger.warning("dashboards: %s", exc)
            loaded.problems.append({"file": path, "error": str(exc)})
            return
        stem = Path(path).stem
        if stem != dashboard.id:
            loaded.problems.append({"file": path, "error": f"{path}: the file of dashboard {dashboard.id!r} must be "
                                                           f"named {dashboard.id}.yaml"})
            return
        loaded.entries[dashboard.id] = Entry(dashboard, source, path)

    def get(self, dashboard_id: str) -> Entry:
        entry = self.load().entries.get(dashboard_id)
        if entry is None:
            raise DashboardNotFound(f"No dashboard with id {dashboard_id!r}.")
        return entry

    def put(self, dashboard: Dashboard) -> Entry:
        """Write ``<id>.yaml`` atomically into the writable directory."""
        os.makedirs(self.writable_dir, exist_ok=True)
        target = os.path.join(self.writable_dir, f"{dashboard.id}.yaml")
        handle, temporary = tempfile.mkstemp(prefix=f".{dashboard.id}.", suffix=".tmp", dir=self.writable_dir)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(to_yaml(dashboard))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return Entry(dashboard, self.writable_source, target)

    def delete(self, dashboard_id: str) -> None:
        entry = self.get(dashboard_id)
        if entry.source == PACKAGED:
            raise DashboardReadOnly(f"Dashboard {dashboard_id!r} is packaged with Headwater: it cannot be deleted "
                                    "(PUT one with the same id to override it).")
        os.unlink(entry.path)

