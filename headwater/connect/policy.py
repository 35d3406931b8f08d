"""Where connectors may reach: one directory for files, an allow-list of database hosts.

A connector config is code the server runs with its own rights: a
FileStreamSink writes wherever ``file`` says, a FileStreamSource reads any
file into a topic, a JDBC sink opens ``jdbc:sqlite:<any path>`` or connects
to any host. So a server confines them (``headwater up`` does by default):

- ``files_dir``: the paths of ``file``, ``topics.dir`` and ``jdbc:sqlite:``
  (or ``sqlite://``) URLs must resolve (symlinks and ``..`` followed) inside
  it; ``None`` allows any path;
- ``allowed_hosts``: a JDBC URL's host, a CDC source's ``database.hostname``,
  the hosts of a MongoDB ``connection.uri``, and the host of an HTTP service a
  sink writes to (S3's ``store.url``, Elasticsearch's ``connection.url``), or
  host:port, must be listed;
  ``None`` (or ``"*"`` in the list) allows any database.

An embedded use of the runtime (a :class:`~headwater.session.Session` in the
user's own program) is :meth:`ConnectPolicy.unconfined` unless told otherwise:
it already runs with the user's rights.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.engine import URL

from headwater.connect.jdbc_dialect import sqlalchemy_url
from headwater.errors import ConfigError

#: Config keys that name a file or directory the connector reads or writes.
PATH_KEYS = ("file", "topics.dir")
URL_KEYS = ("connection.url",)
#: Config keys that name an HTTP service (checked against the allowed hosts).
HTTP_URL_KEYS = ("store.url",)
#: The CDC sources' database host (Debezium's keys) and MongoDB's connection string.
HOST_KEY, PORT_KEY, MONGO_URI_KEY = "database.hostname", "database.port", "connection.uri"


@dataclass(frozen=True)
class ConnectPolicy:
    files_dir: str | None = None
    allowed_hosts: frozenset[str] | None = None

    @classmethod
    def unconfined(cls) -> ConnectPolicy:
        return cls(None, None)

    @classmethod
    def confined(cls, files_dir: str, allowed_hosts: Iterable[str] = ()) -> ConnectPolicy:
        hosts = frozenset(h.strip().lower() for h in allowed_hosts if h.strip())
        return cls(os.path.realpath(files_dir), None if "*" in hosts else hosts)

    def check(self, config: Mapping[str, str]) -> dict[str, list[str]]:
        """Errors per config key for what this policy does not allow; empty when all is allowed."""
        errors: dict[str, list[str]] = {}
        for key in PATH_KEYS:
            path = config.get(key, "")
            if key == "topics.dir" and config.get("s3.bucket.name"):
                continue  # the S3 sink's topics.dir is a prefix of object keys, not a local path
            if path:
                problem = self._path_problem(path)
                if problem:
                    errors.setdefault(key, []).append(f"{key}: {problem}")
        for key in (*URL_KEYS, *HTTP_URL_KEYS):
            url = config.get(key, "")
            if url:
                web = key in HTTP_URL_KEYS or url.strip().lower().startswith(("http://", "https://"))
                problem = self._http_problem(url) if web else self._url_problem(url)
                if problem:
                    errors.setdefault(key, []).append(f"{key}: {problem}")
        if config.get(HOST_KEY):
            problem = self._host_problem(config[HOST_KEY], config.get(PORT_KEY))
            if problem:
                errors.setdefault(HOST_KEY, []).append(f"{HOST_KEY}: {problem}")
        if config.get(MONGO_URI_KEY):
            for host, port in mongo_hosts(config[MONGO_URI_KEY]):
                problem = self._host_problem(host, port)
                if problem:
                    errors.setdefault(MONGO_URI_KEY, []).append(f"{MONGO_URI_KEY}: {problem}")
        return errors

    def _host_problem(self, host: str, port: str | None) -> str | None:
        if self.allowed_hosts is None:
            return None
        candidate = host.strip().lower()
        with_port = f"{candidate}:{port}" if port else candidate
        if candidate in self.allowed_hosts or with_port in self.allowed_hosts:
            return None
        return (f"the database host {with_port!r} is not allowed (the server's --connect-allow-host; "
                f"allowed: {', '.join(sorted(self.allowed_hosts)) or 'none'})")

    def _path_problem(self, path: str) -> str | None:
        if self.files_dir is None:
            return None
        if "\x00" in path:
            return "the path holds a NUL character"
        resolved = os.path.realpath(path)
        if resolved != self.files_dir and not resolved.startswith(self.files_dir.rstrip(os.sep) + os.sep):
            return (f"the path {path!r} is outside the connector files directory {self.files_dir!r} "
                    "(the server's --connect-files-dir)")
        return None

    def _url_problem(self, url: str) -> str | None:
        if self.files_dir is None and self.allowed_hosts is None:
            return None
        try:
            parsed = sqlalchemy_url(url)
        except ConfigError as exc:
            return str(exc)
        if parsed.drivername.startswith("sqlite"):
            return self._sqlite_problem(parsed)
        if self.allowed_hosts is None:
            return None
        # A database reached through a local socket is still a database the admin must allow.
        host = (parsed.host or "localhost").lower()
        query_hosts = [str(v) for k, v in parsed.query.items() if k in ("host", "hostaddr", "unix_socket")]
        for candidate in (host, *query_hosts):
            with_port = f"{candidate}:{parsed.port}" if parsed.port else candidate
            if candidate not in self.allowed_hosts and with_port not in self.allowed_hosts:
                return (f"the database host {with_port!r} is not allowed (the server's --connect-allow-host; "
                        f"allowed: {', '.join(sorted(self.allowed_hosts)) or 'none'})")
        return None

    def _http_problem(self, urls: str) -> str | None:
        """An HTTP service (S3's store.url, Elasticsearch's connection.url: comma-separated) must be allowed."""
        if self.allowed_hosts is None:
            return None
        for url in urls.split(","):
            parts = urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return f"{url.strip()!r} is not an http(s)://host[:port] URL"
            host = parts.hostname.lower()
            with_port = f"{host}:{parts.port}" if parts.port else host
            if host not in self.allowed_hosts and with_port not in self.allowed_hosts:
                return (f"the host {with_port!r} is not allowed (the server's --connect-allow-host; "
                        f"allowed: {', '.join(sorted(self.allowed_hosts)) or 'none'})")
        return None

    def _sqlite_problem(self, parsed: URL) -> str | None:
        database = parsed.database
        if not database or database == ":memory:":
            return None
        if self.files_dir is None:
            return None
        if parsed.query or database.startswith("file:"):
            return "SQLite URI options are not allowed in a confined server"
        return self._path_problem(database)


def mongo_hosts(uri: str) -> list[tuple[str, str | None]]:
    """The (host, port) pairs of a ``mongodb://`` or ``mongodb+srv://`` connection string."""
    match = re.match(r"mongodb(?:\+srv)?://(?:[^@/]*@)?([^/?]*)", uri.strip())
    if match is None:
        return [(uri, None)]
    out: list[tuple[str, str | None]] = []
    for part in match.group(1).split(","):
        host, _, port = part.rpartition(":") if not part.endswith("]") and ":" in part else (part, "", "")
        out.append((host.strip("[]"), port or None))
    return out
