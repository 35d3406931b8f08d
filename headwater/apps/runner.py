"""Apply an app to a running server (ksqlDB + Connect REST) or an embedded Session, idempotently.

In order: the requirements are checked (a database the app needs answers;
the app's parts have landed), each SQL script runs (statements are
``CREATE ... IF NOT EXISTS``, so a rerun changes nothing), each connector is
created, or updated when its config differs, or left alone when it is the
same (a connector whose class this installation lacks, or whose object store
(``store.url``, the S3 sinks) does not answer, is skipped, with the reason), and the app's dashboards are named (``headwater.dashboards`` loads
them from the app's folder). Every step is reported as one line.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from headwater.apps.spec import AppSpec
from headwater.connect import plugins
from headwater.connect.api import ConnectError
from headwater.connect.jdbc_dialect import MYSQL, create_engine, sqlalchemy_url
from headwater.connect.runtime import ConnectRequestError
from headwater.errors import ConfigError, HeadwaterError
from headwater.session import Session

#: Where a requirement is looked for when no --database-url says otherwise.
REQUIREMENT_PORTS = {"mariadb": 3306, "postgres": 5432}
HIDDEN = "[hidden]"


class AppError(HeadwaterError):
    """An app cannot run (a requirement is missing) or a step failed; the message says which and why."""


class Target(Protocol):
    def execute(self, text: str) -> list[dict[str, Any]]: ...

    def connector_config(self, name: str) -> dict[str, str] | None: ...

    def put_connector(self, name: str, config: Mapping[str, str]) -> None: ...

    def connector_state(self, name: str) -> str: ...

    def set_paused(self, name: str, paused: bool) -> None: ...


class HttpTarget:
    """A running server, through its ksqlDB (/ksql) and Connect (/connectors) REST APIs."""

    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 120.0) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def _checked(self, response: httpx.Response, what: str) -> Any:
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise AppError(f"{what}: {message.strip()} (HTTP {response.status_code})")
        return response.json() if response.content else None

    def execute(self, text: str) -> list[dict[str, Any]]:
        try:
            response = self.client.post("/ksql", json={"ksql": text, "streamsProperties": {}},
                                        headers={"Content-Type": "application/vnd.ksql.v1+json"})
        except httpx.HTTPError as exc:
            raise AppError(f"could not reach the server at {self.url}: {exc}") from None
        return list(self._checked(response, "SQL") or [])

    def connector_config(self, name: str) -> dict[str, str] | None:
        response = self.client.get(f"/connectors/{name}/config")
        if response.status_code == 404:
            return None
        return dict(self._checked(response, f"connector {name}"))

    def put_connector(self, name: str, config: Mapping[str, str]) -> None:
        self._checked(self.client.put(f"/connectors/{name}/config", json=dict(config)), f"connector {name}")

    def connector_state(self, name: str) -> str:
        status = self._checked(self.client.get(f"/connectors/{name}/status"), f"connector {name}")
        return str(status["connector"]["state"])

    def set_paused(self, name: str, paused: bool) -> None:
        action = "pause" if paused else "resume"
        self._checked(self.client.put(f"/connectors/{name}/{action}"), f"connector {name}")

    def close(self) -> None:
        self.client.close()


class EmbeddedTarget:
    """A Session in this process (its persistent queries and connectors run here)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def execute(self, text: str) -> list[dict[str, Any]]:
        try:
            return self.session.execute(text)
        except HeadwaterError as exc:
            raise AppError(f"SQL: {exc}") from None

    def connector_config(self, name: str) -> dict[str, str] | None:
        instance = self.session.connect.connectors.get(name)
        return None if instance is None else dict(instance.config)

    def put_connector(self, name: str, config: Mapping[str, str]) -> None:
        try:
            self.session.connect.put_config(name, config)
        except ConnectRequestError as exc:
            raise AppError(f"connector {name}: {exc}") from None

    def connector_state(self, name: str) -> str:
        return str(self.session.connect.status(name)["connector"]["state"])

    def set_paused(self, name: str, paused: bool) -> None:
        if paused:
            self.session.connect.pause(name)
        else:
            self.session.connect.resume(name)


@dataclass
class Settings:
    """Where the app's files and database go."""

    data_dir: str
    files_dir: str
    database_url: str | None = None
    #: Create connectors that generate data (datagen); off for tests that feed fixed input.
    generators: bool = True
    report: list[str] = field(default_factory=list)

    def placeholders(self, spec: AppSpec) -> dict[str, str]:
        url = self.database_url or (f"jdbc:sqlite:{os.path.join(self.files_dir, spec.database)}"
                                    if spec.database else "")
        return {"data_dir": self.data_dir, "files_dir": self.files_dir, "database_url": url}


def unavailable(spec: AppSpec) -> str | None:
    """What of the app is not part of this installation (its ``missing`` text, a connector class), or None."""
    if spec.missing:
        return spec.missing
    absent = [c for c in spec.needs_classes if _available({"connector.class": c}) is not None]
    return f"connector {', '.join(absent)} not installed" if absent else None


def check_requirements(spec: AppSpec, settings: Settings) -> None:
    if spec.missing:
        raise AppError(f"app {spec.name} cannot run yet: {spec.missing}")
    for class_name in spec.needs_classes:
        why = _available({"connector.class": class_name})
        if why is not None:
            raise AppError(f"app {spec.name} cannot run: it needs the connector {class_name}, and {why}")
    for requirement in spec.requires:
        port = REQUIREMENT_PORTS[requirement]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                pass
        except OSError as exc:
            raise AppError(f"app {spec.name} needs {requirement} on 127.0.0.1:{port}, which does not answer "
                           f"({exc.strerror or exc}); start it, or run the other apps") from None


def database_host(url: str) -> str:
    """host:port of a JDBC URL (what a confined connector policy must allow)."""
    try:
        parsed = sqlalchemy_url(url)
    except ConfigError as exc:
        raise AppError(str(exc)) from None
    return f"{parsed.host or 'localhost'}:{parsed.port}" if parsed.port else (parsed.host or "localhost")


def ensure_database(url: str) -> None:
    """MariaDB/MySQL: create the URL's database when missing (the JDBC sink creates tables, not databases)."""
    try:
        parsed = sqlalchemy_url(url)
    except ConfigError as exc:
        raise AppError(str(exc)) from None
    if parsed.get_backend_name() not in MYSQL or not parsed.database:
        return
    engine = create_engine(parsed.set(database=None))
    try:
        with engine.begin() as conn:
            quoted = conn.dialect.identifier_preparer.quote(parsed.database)
            conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS {quoted} CHARACTER SET utf8mb4")
    except sa.exc.DBAPIError as exc:
        raise AppError(f"could not create database {parsed.database!r}: {exc.orig}") from None
    finally:
        engine.dispose()


def _same(current: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Equal configs, ignoring ``name`` and values the server masks."""
    keys = (set(current) | set(wanted)) - {"name"}
    return all(current.get(k) == wanted.get(k) or current.get(k) == HIDDEN for k in keys)


def _available(config: Mapping[str, str]) -> str | None:
    """Why this installation cannot run the connector's class, or None."""
    plugin = plugins.find_or_none(config.get("connector.class", ""))
    if plugin is None:
        return f"connector class {config.get('connector.class')} is not part of this installation"
    try:
        plugin.load()
    except ConnectError as exc:
        return str(exc)
    return None


def _unreachable(config: Mapping[str, str]) -> str | None:
    """Why the object store a sink writes to (``store.url``) cannot be reached, or None."""
    url = config.get("store.url")
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"store.url {url!r} has no valid port"
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=1.0):
            return None
    except OSError as exc:
        return f"nothing answers at store.url {url} ({exc.strerror or exc}): start an S3-compatible server there"


def run_app(spec: AppSpec, target: Target, settings: Settings) -> list[str]:
    """Apply the app; return what was done, one line per step. Raises AppError with the reason."""
    check_requirements(spec, settings)
    placeholders = settings.placeholders(spec)
    report: list[str] = []
    if placeholders["database_url"]:
        ensure_database(placeholders["database_url"])
    os.makedirs(settings.files_dir, exist_ok=True)
    for name, text in spec.sql_texts():
        try:
            results = target.execute(text)
        except AppError as exc:
            raise AppError(f"app {spec.name}: {name}: {exc}") from None
        report.append(f"{name}: {len(results)} statements")
    for name, config in spec.connector_configs(placeholders):
        if name in spec.generators and not settings.generators:
            report.append(f"connector {name}: generator left out")
            continue
        missing = _available(config) or _unreachable(config)
        if missing is not None:
            report.append(f"connector {name}: skipped ({missing})")
            continue
        current = target.connector_config(name)
        if current is not None and _same(current, config):
            if target.connector_state(name) == "PAUSED":  # stopped by `headwater apps stop`
                target.set_paused(name, False)
                report.append(f"connector {name}: resumed")
            else:
                report.append(f"connector {name}: unchanged")
            continue
        try:
            target.put_connector(name, config)
        except AppError as exc:
            raise AppError(f"app {spec.name}: {exc}") from None
        report.append(f"connector {name}: {'created' if current is None else 'updated'}")
    for document in spec.dashboard_documents():
        report.append(f"dashboard {document.get('id')}: /ui/dashboards/{document.get('id')}")
    return report


def stop_app(spec: AppSpec, target: Target) -> list[str]:
    """Pause the app's connectors (its generators and sinks); ``run_app`` resumes them. Queries keep their state."""
    report = []
    for name in (n for n, _ in spec.connector_configs({"data_dir": "", "files_dir": "", "database_url": ""})):
        if target.connector_config(name) is None:
            continue
        target.set_paused(name, True)
        report.append(f"connector {name}: paused")
    return report

