"""An external Confluent-compatible registry (``schema.registry.url``), through its REST API.

Ids never change meaning, so schemas by id are cached for good; a
registration is cached per (subject, schema). Basic auth comes from the URL's
``user:password@`` or ``basic.auth.user.info``.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from headwater.registry.base import Reference, RegisteredSchema, RegistryError, Schema, SchemaRegistry

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RemoteSchemaRegistry(SchemaRegistry):
    """A registry at ``url`` (comma-separated URLs: the first that answers)."""

    def __init__(self, url: str, *, user_info: str | None = None, timeout_s: float = 10.0) -> None:
        self.urls: list[str] = []
        auth: tuple[str, str] | None = None
        for part in url.split(","):
            parts = urlsplit(part.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise RegistryError(400, 400, f"schema.registry.url: expected http(s)://host[:port][/path], got {part!r}")
            if parts.username is not None:
                auth = (parts.username, parts.password or "")
            netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
            self.urls.append(urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")))
        if user_info:
            user, _, password = user_info.partition(":")
            auth = (user, password)
        self._client = httpx.Client(timeout=timeout_s, auth=auth,
                                    headers={"Accept": _CONTENT_TYPE, "Content-Type": _CONTENT_TYPE})
        self._lock = threading.Lock()
        self._by_id: dict[int, Schema] = {}
        self._ids: dict[tuple[str, Schema], int] = {}

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        last: Exception | None = None
        for base in self.urls:
            try:
                response = self._client.request(method, base + path, json=body)
            except httpx.HTTPError as exc:
                last = exc
                continue
            if response.status_code >= 400:
                try:
                    payload = response.json()
                    raise RegistryError(response.status_code, int(payload.get("error_code", response.status_code)),
                                        str(payload.get("message", response.text)))
                except ValueError:
                    raise RegistryError(response.status_code, response.status_code, response.text) from None
            return response.json()
        raise RegistryError(503, 50003, f"schema registry at {', '.join(self.urls)} unreachable: {last}")

    def register(self, subject: str, schema: Schema, *, normalize: bool = False) -> int:
        with self._lock:
            found = self._ids.get((subject, schema))
        if found is not None:
            return found
        answer = self._request("POST", f"/subjects/{quote(subject, safe='')}/versions"
                                       f"?normalize={'true' if normalize else 'false'}", schema.to_json())
        schema_id = int(answer["id"])
        with self._lock:
            self._ids[(subject, schema)] = schema_id
            self._by_id.setdefault(schema_id, schema)
        return schema_id

    def schema(self, schema_id: int) -> Schema:
        with self._lock:
            found = self._by_id.get(schema_id)
        if found is not None:
            return found
        answer = self._request("GET", f"/schemas/ids/{int(schema_id)}")
        schema = _schema_of(answer)
        with self._lock:
            self._by_id[schema_id] = schema
        return schema

    def version(self, subject: str, version: int | str = "latest") -> RegisteredSchema:
        answer = self._request("GET", f"/subjects/{quote(subject, safe='')}/versions/{quote(str(version), safe='')}")
        return RegisteredSchema(str(answer["subject"]), int(answer["version"]), int(answer["id"]), _schema_of(answer))

    def close(self) -> None:
        self._client.close()


def _schema_of(answer: dict[str, Any]) -> Schema:
    refs = tuple(Reference(r["name"], r["subject"], int(r["version"])) for r in answer.get("references") or ())
    return Schema(str(answer["schema"]), str(answer.get("schemaType") or "AVRO"), refs)
