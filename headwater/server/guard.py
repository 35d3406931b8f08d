"""What stands in front of every API but the collector: Host, Origin, Content-Type, API keys and roles.

A browser lets any web page send requests to 127.0.0.1: a form or ``fetch``
with ``Content-Type: text/plain`` needs no CORS preflight, and a DNS
rebinding attack even makes the page same-origin with a name of the
attacker's. So, on every path but the collector's (``/v1/...``, which Segment
clients call cross-origin from browsers, with write keys and its own CORS)
and the health checks:

- the ``Host`` header must name this server: 127.0.0.1, localhost, [::1],
  the bound address or one of ``allowed_hosts`` (against DNS rebinding);
- an ``Origin`` header (browsers send it on every cross-origin request and
  on every POST, PUT, PATCH, DELETE) must be the server's own origin or one
  of ``allowed_origins`` (those get CORS answers; nothing gets a wildcard);
- a request with a body must say it is JSON (``application/json``, ksqlDB's
  ``application/vnd.ksql.v1+json``, ``application/vnd.ksqlapi.delimited.v1``
  or another ``+json`` type; none at all is tolerated), as ksqlDB and Kafka
  Connect require: a text/plain or form body is refused with 415;
- with keys configured, a key (``X-API-Key``, ``Authorization: Bearer``, or
  the password of HTTP Basic, as the ksql CLI sends it) of the right role:
  ``read`` keys may GET and run queries, ``admin`` keys may do everything.
  ``/ksql`` lets a read key through and checks each statement
  (:func:`request_role`). GETs of the web UI's pages and files (``/`` and
  ``/ui/...`` but ``/ui/api/...``) need no key: they carry no data, their
  scripts call the APIs with one.

Refusals are JSON in the shape of the API asked (ksqlDB's ``generic_error``
on its paths, ``{"error_code", "message"}`` elsewhere).
"""

from __future__ import annotations

import base64
import hmac
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.server.config import ServerConfig

ADMIN = "admin"
READ = "read"
_ROLE_KEY = "headwater.role"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]"})
_PUBLIC = frozenset({"/healthcheck", "/ksql/healthcheck", "/js/headwater.js"})
#: Answered without a key (still behind the Host and Origin checks): ksqlDB clients probe /info first.
_KEYLESS = frozenset({"/info", "/"})
#: The UI's pages and static files (GET only): shells without data, whose scripts call the APIs with a key.
#: The UI's own JSON lives under /ui/api/ and needs a key like every API.
_KEYLESS_PAGES = "/ui/"
_KEYED_UI = "/ui/api/"
_KSQL_PATHS = ("/ksql", "/query", "/query-stream", "/close-query", "/info", "/status")
#: POSTs that only read: queries (and closing one's own push query). /ksql checks each statement.
_READ_POSTS = frozenset({"/query", "/query-stream", "/close-query", "/ksql"})
_JSON_TYPES = frozenset({"application/json", "application/vnd.ksql.v1+json", "application/vnd.ksqlapi.delimited.v1"})
_CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
_CORS_HEADERS = "Authorization, Content-Type, X-API-Key, Accept"


def request_role(request: Request) -> str:
    """The role the guard gave this request: "admin" (also when no key is configured) or "read"."""
    return str(request.scope.get(_ROLE_KEY, ADMIN))


def presented_key(headers: Headers) -> str | None:
    """The API key a request carries: X-API-Key, a Bearer token, or the HTTP Basic password."""
    given = headers.get("x-api-key")
    if given is not None:
        return given
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ""
        user, sep, password = decoded.partition(":")
        return password if sep and password else user
    return None


def host_name(host_header: str) -> str:
    """The name part of a Host header, lower case, without port or IPv6 brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _origin_netloc(origin: str) -> str | None:
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


class Guard:
    """ASGI middleware applying the checks above; roles go into the scope for :func:`request_role`."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config
        self.roles = config.key_roles()
        names = {h.strip().lower().strip("[]") for h in config.allowed_hosts if h.strip()}
        self.any_host = "*" in names or (config.host.strip() in _WILDCARD_BINDS and not names)
        self.hosts = _LOOPBACK | names | {config.host.strip().lower().strip("[]")}
        self.origins = {n for n in (_origin_netloc(o) for o in config.allowed_origins) if n}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _PUBLIC or scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path, method = scope["path"], scope["method"]
        origin = headers.get("origin")
        refusal = self._refusal(scope, headers, origin)
        if refusal is not None:
            status, message = refusal
            await _answer(send, path, status, message)
            return
        cors_origin = origin if origin is not None and self._foreign_allowed(origin) else None
        if cors_origin is not None and method == "OPTIONS":
            await _cors_preflight(send, cors_origin)
            return
        if cors_origin is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"access-control-allow-origin", cors_origin.encode("latin-1")),
                                      (b"vary", b"Origin")]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _refusal(self, scope: Scope, headers: Headers, origin: str | None) -> tuple[int, str] | None:
        host = headers.get("host")
        if host is not None and not self.any_host and host_name(host) not in self.hosts:
            return 403, (f"Host {host!r} is not a name of this server (allowed: 127.0.0.1, localhost, [::1], the "
                         "bound address and --allowed-hosts); refused against DNS rebinding.")
        if origin is not None and not self._same_origin(origin, scope, host) and not self._foreign_allowed(origin):
            return 403, (f"Requests from the web origin {origin!r} are not allowed (same-origin pages and "
                         "--allowed-origins only).")
        fetch_site = headers.get("sec-fetch-site")
        if (origin is None and fetch_site in ("cross-site", "same-site")
                and headers.get("sec-fetch-mode") != "navigate"):
            return 403, "Cross-site requests from web pages are not allowed."
        method = scope["method"]
        if method in ("POST", "PUT", "PATCH", "DELETE") and _has_body(headers):
            # No Content-Type at all is let through: some ksqlDB clients send none, and a browser can send
            # such a body only with an Origin header, which is checked above.
            media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media and media not in _JSON_TYPES and not media.endswith("+json"):
                return 415, (f"Content-Type {media!r} is not accepted: send the body as application/json "
                             "(or application/vnd.ksql.v1+json).")
        return self._authorize(scope, headers, method)

    def _authorize(self, scope: Scope, headers: Headers, method: str) -> tuple[int, str] | None:
        path = scope["path"]
        if not self.roles or path in _KEYLESS:
            return None
        if method in ("GET", "HEAD") and path.startswith(_KEYLESS_PAGES) and not path.startswith(_KEYED_UI):
            return None
        given = presented_key(headers)
        if given is None:
            return 401, ("This endpoint needs an API key (header X-API-Key, Authorization: Bearer, or the "
                         "HTTP Basic password).")
        role = next((r for k, r in self.roles.items() if hmac.compare_digest(given.encode(), k.encode())), None)
        if role is None:
            return (403 if scope["path"].startswith(_KSQL_PATHS) else 401), "The API key is not valid."
        if role == READ and method not in ("GET", "HEAD", "OPTIONS") and scope["path"] not in _READ_POSTS:
            return 403, "This API key is read-only: it cannot change anything."
        scope[_ROLE_KEY] = role
        return None

    def _same_origin(self, origin: str, scope: Scope, host: str | None) -> bool:
        if host is None:
            return False
        scheme = scope.get("scheme", "http")
        return _origin_netloc(origin) == _origin_netloc(f"{scheme}://{host}")

    def _foreign_allowed(self, origin: str) -> bool:
        netloc = _origin_netloc(origin)
        return netloc is not None and netloc in self.origins


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in headers


def error_body(path: str, status: int, message: str) -> bytes:
    """An error in the shape of the API at ``path``: ksqlDB's generic_error or Connect's/the topic API's."""
    if path.startswith(_KSQL_PATHS):
        return orjson.dumps({"@type": "generic_error", "error_code": status * 100, "message": message})
    return orjson.dumps({"error_code": status, "message": message})


async def _answer(send: Send, path: str, status: int, message: str) -> None:
    body = error_body(path, status, message)
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json"),
                                          (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="headwater"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _cors_preflight(send: Send, origin: str) -> None:
    headers: list[Any] = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
                          (b"access-control-allow-methods", _CORS_METHODS.encode()),
                          (b"access-control-allow-headers", _CORS_HEADERS.encode()),
                          (b"access-control-max-age", b"600"), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
