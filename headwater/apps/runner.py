"""Apply an app to a running server (ksqlDB + Connect REST) or an embedded Session, idempotently.

In order: the requirements are checked (a database the app needs answers;
the app's parts have landed), each SQL script runs (statements are
``CREATE ... IF NOT EXISTS``, so a rerun changes nothing), each connector is
created, or updated when its config differs, or left alone when it is the
same; a connector whose class this installation lacks, whose service (S3's
``store.url``, Elasticsearch's ``connection.url``) does not answer, or whose
search URL was not given (``--search-url``) is skipped, with the reason, said
once for all the connectors skipped for it), and the app's dashboards are
named (``headwater.dashboards`` loads them from the app's folder). Every step
is reported as one line. ``stop_app`` pauses the connectors; a PostgreSQL
source is stopped and its replication slot dropped (``release_app``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import psycopg2
import sqlalchemy as sa

from headwater.apps.spec import AppSpec
from headwater.connect import plugins
from headwater.connect.api import ConnectError
from headwater.connect.cdc.postgres import release as pg_release
from headwater.connect.jdbc_dialect import MYSQL, create_engine, sqlalchemy_url
from headwater.connect.runtime import ConnectRequestError
from headwater.errors import ConfigError, HeadwaterError
from headwater.session import Session

#: Where a requirement is looked for when no --database-url says otherwise.
REQUIREMENT_PORTS = {"mariadb": 3306, "postgres": 5432}
SEARCH_SINK = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"
POSTGRES_SOURCE = "io.debezium.connector.postgresql.PostgresConnector"
HIDDEN = "[hidden]"


class AppError(HeadwaterError):
    """An app cannot run (a requirement is missing) or a step failed; the message says which and why."""


class Target(Protocol):
    def execute(self, text: str) -> list[dict[str, Any]]: ...

    def connector_config(self, name: str) -> dict[str, str] | None: ...

    def put_connector(self, name: str, config: Mapping[str, str]) -> None: ...

    def connector_state(self, name: str) -> str: ...

    def set_paused(self, name: str, paused: bool) -> None: ...

    def stop_connector(self, name: str) -> None: ...


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

    def stop_connector(self, name: str) -> None:
        self._checked(self.client.put(f"/connectors/{name}/stop"), f"connector {name}")

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

    def stop_connector(self, name: str) -> None:
        self.session.connect.stop_connector(name)


@dataclass
class Settings:
    """Where the app's files and database go."""

    data_dir: str
    files_dir: str
    database_url: str | None = None
    #: Elasticsearch/OpenSearch URL(s) for the apps' search sinks (``${search_url}``); None: those sinks are skipped.
    search_url: str | None = None
    #: Create connectors that generate data (datagen); off for tests that feed fixed input.
    generators: bool = True
    report: list[str] = field(default_factory=list)

    def placeholders(self, spec: AppSpec) -> dict[str, str]:
        url = self.database_url or (f"jdbc:sqlite:{os.path.join(self.files_dir, spec.database)}"
                                    if spec.database else "")
        return {"data_dir": self.data_dir, "files_dir": self.files_dir, "database_url": url,
                "search_url": self.search_url or ""}


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


def search_hosts(search_url: str | None) -> list[str]:
    """host:port of each Elasticsearch/OpenSearch URL (what a confined connector policy must allow)."""
    hosts = []
    for url in filter(None, (u.strip() for u in (search_url or "").split(","))):
        try:
            host, port = _host_port(url)
        except ValueError:
            raise AppError(f"search URL {url!r} has no valid port") from None
        if not host:
            raise AppError(f"search URL {url!r} names no host (e.g. http://127.0.0.1:9200)")
        hosts.append(f"{host}:{port}")
    return hosts


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


def _unset(config: Mapping[str, str]) -> str | None:
    """Why a search sink has nowhere to write (no ``--search-url`` was given), or None."""
    if config.get("connector.class") == SEARCH_SINK and not config.get("connection.url", "").strip():
        return "no Elasticsearch/OpenSearch URL was given: --search-url URL or HEADWATER_SEARCH_URL sends the tables there"
    return None


def _host_port(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL (80/443 when it names none); ValueError for a bad port."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _unreachable(config: Mapping[str, str]) -> str | None:
    """Why the service a sink writes to (S3's ``store.url``, Elasticsearch's first ``connection.url``) cannot be
    reached, or None."""
    key = "connection.url" if config.get("connector.class") == SEARCH_SINK else "store.url"
    url = config.get(key, "").split(",")[0].strip()
    if not url:
        return None
    try:
        address = _host_port(url)
    except ValueError:
        return f"{key} {url!r} has no valid port"
    try:
        with socket.create_connection(address, timeout=1.0):
            return None
    except OSError as exc:
        service = "Elasticsearch or OpenSearch" if key == "connection.url" else "an S3-compatible server"
        return f"nothing answers at {key} {url} ({exc.strerror or exc}): start {service} there"


def run_app(spec: AppSpec, target: Target, settings: Settings) -> list[str]:
    """Apply the app; return what was done, one line per step. Raises AppError with the reason."""
    check_requirements(spec, settings)
    placeholders = settings.placeholders(spec)
    report: list[str] = []
    skipped: dict[str, list[str]] = {}  # the reason -> the connectors skipped for it (said once)
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
        missing = _unset(config) or _available(config) or _unreachable(config)
        if missing is not None:
            skipped.setdefault(missing, []).append(name)
            continue
        current = target.connector_config(name)
        if current is not None and _same(current, config):
            if target.connector_state(name) in ("PAUSED", "STOPPED"):  # by `headwater apps stop`
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
    for reason, names in skipped.items():
        report.append(f"{'connectors' if len(names) > 1 else 'connector'} {', '.join(names)}: skipped ({reason})")
    for document in spec.dashboard_documents():
        report.append(f"dashboard {document.get('id')}: /ui/dashboards/{document.get('id')}")
    return report


def stop_app(spec: AppSpec, target: Target) -> list[str]:
    """Pause the app's connectors (its generators and sinks); ``run_app`` resumes them. Queries keep their state.

    A connector that holds something in a database while it runs (a PostgreSQL source's replication slot) is
    stopped instead (its task ends) and what it keeps there is dropped (:func:`release_app`)."""
    report = []
    for name, config in spec.connector_configs(Settings("", "").placeholders(spec)):
        if target.connector_config(name) is None:
            continue
        if config.get("connector.class") == POSTGRES_SOURCE:
            target.stop_connector(name)
            report.append(f"connector {name}: stopped")
        else:
            target.set_paused(name, True)
            report.append(f"connector {name}: paused")
    return report + release_app(spec)


def release_app(spec: AppSpec) -> list[str]:
    """Drop what the app's stopped PostgreSQL sources keep in their databases (slot; publication they made).

    ``headwater apps stop`` and a stopped ``headwater demo`` call it: a replication slot left behind makes the
    database keep its WAL for as long as it exists. Connectors still running keep theirs (the slot is in use:
    this waits for it, then raises). A database that does not answer is said, not raised."""
    report = []
    for name, config in spec.connector_configs(Settings("", "").placeholders(spec)):
        if config.get("connector.class") != POSTGRES_SOURCE:
            continue
        try:
            dropped = pg_release(config)
        except psycopg2.OperationalError as exc:
            report.append(f"connector {name}: could not reach its database to drop its slot ({exc})".strip())
            continue
        except psycopg2.Error as exc:
            raise AppError(f"connector {name}: dropping its replication slot failed: {exc}".strip()) from None
        report += [f"connector {name}: {what} dropped" for what in dropped]
    return report
