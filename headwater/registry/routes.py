"""Confluent Schema Registry's REST API under ``/registry`` (a client's base URL: ``http://HOST:PORT/registry``).

GET  /subjects[?deleted&subjectPrefix]             GET|POST /subjects/{s}/versions
GET|DELETE /subjects/{s}/versions/{v}              GET /subjects/{s}/versions/{v}/schema
POST /subjects/{s} (lookup)                        DELETE /subjects/{s}[?permanent=true]
GET  /schemas/ids/{id}[/schema|/versions|/subjects] GET /schemas/types
GET|PUT|DELETE /config[/{s}]                       POST /compatibility/subjects/{s}/versions[/{v}]
GET  /mode[/{s}]                                   GET / ({})

Errors are Confluent's ``{"error_code", "message"}`` with its codes; the
server's guard checks hosts, origins, content types and keys first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from headwater.registry.base import RegistryError, Schema, references_of
from headwater.registry.store import LogSchemaRegistry

PREFIX = "/registry"
MAX_BODY_BYTES = 8 * 1024 * 1024
_MEDIA = "application/vnd.schemaregistry.v1+json"
Handler = Callable[[Request], Awaitable[Response]]


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=_MEDIA)


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").strip().lower() == "true"


async def _body(request: Request) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise RegistryError(413, 413, f"Request body is larger than the limit of {MAX_BODY_BYTES} bytes.")
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise RegistryError(400, 400, f"Unrecognized JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise RegistryError(422, 422, "The request body must be a JSON object.")
    return body


def _schema_of(body: dict[str, Any]) -> Schema:
    text = body.get("schema")
    if not isinstance(text, str):
        raise RegistryError(422, 42201, "Invalid schema: the body needs a \"schema\" string")
    kind = body.get("schemaType") or "AVRO"
    if not isinstance(kind, str):
        raise RegistryError(422, 42201, "Invalid schema: schemaType must be a string")
    return Schema(text, kind.upper(), references_of(body.get("references")))


def _schema_id(request: Request) -> int:
    raw = request.path_params["schema_id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise RegistryError(404, 40403, f"Schema {raw} not found")
    return int(raw)


def routes(registry: LogSchemaRegistry) -> list[BaseRoute]:
    """The registry's routes, mounted under :data:`PREFIX`."""

    def handler(work: Callable[[Request], Awaitable[Any]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return _json(await work(request))
            except RegistryError as exc:
                return _json(exc.body(), exc.status)

        return endpoint

    def blocking(work: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await run_in_threadpool(work, *args, **kwargs)

        return call

    async def root(request: Request) -> Any:
        return {}

    async def subjects(request: Request) -> Any:
        return await blocking(registry.subjects)(deleted=_flag(request, "deleted"),
                                                 prefix=request.query_params.get("subjectPrefix", ""))

    async def versions(request: Request) -> Any:
        subject = request.path_params["subject"]
        if request.method == "POST":
            body = await _body(request)
            found = await blocking(registry.register_version)(subject, _schema_of(body))
            return found.to_json()
        return await blocking(registry.versions)(subject, deleted=_flag(request, "deleted"))

    async def version(request: Request) -> Any:
        subject, number = request.path_params["subject"], request.path_params["version"]
        if request.method == "DELETE":
            return await blocking(registry.delete_version)(subject, number, permanent=_flag(request, "permanent"))
        found = await blocking(registry.version)(subject, number, deleted=_flag(request, "deleted"))
        return found.to_json()

    async def version_schema(request: Request) -> Response:
        try:
            found = await blocking(registry.version)(request.path_params["subject"], request.path_params["version"])
        except RegistryError as exc:
            return _json(exc.body(), exc.status)
        return Response(found.schema.text, media_type=_MEDIA)

    async def subject(request: Request) -> Any:
        name = request.path_params["subject"]
        if request.method == "DELETE":
            return await blocking(registry.delete_subject)(name, permanent=_flag(request, "permanent"))
        body = await _body(request)
        found = await blocking(registry.lookup)(name, _schema_of(body), deleted=_flag(request, "deleted"))
        return found.to_json()

    async def by_id(request: Request) -> Any:
        found = await blocking(registry.schema)(_schema_id(request))
        return found.to_json()

    async def by_id_schema(request: Request) -> Response:
        try:
            found = await blocking(registry.schema)(_schema_id(request))
        except RegistryError as exc:
            return _json(exc.body(), exc.status)
        return Response(found.text, media_type=_MEDIA)

    async def id_versions(request: Request) -> Any:
        pairs = await blocking(registry.id_versions)(_schema_id(request))
        return [{"subject": s, "version": v} for s, v in pairs]

    async def id_subjects(request: Request) -> Any:
        pairs = await blocking(registry.id_versions)(_schema_id(request))
        return sorted({s for s, _ in pairs})

    async def types(request: Request) -> Any:
        return ["JSON", "PROTOBUF", "AVRO"]

    async def config(request: Request) -> Any:
        name = request.path_params.get("subject")
        if request.method == "PUT":
            body = await _body(request)
            level = await blocking(registry.set_compatibility)(body.get("compatibility"), name)
            return {"compatibility": level}
        if request.method == "DELETE":
            return {"compatibilityLevel": await blocking(registry.delete_compatibility)(name)}
        level = await blocking(registry.compatibility)(name, default_to_global=name is None or _flag(
            request, "defaultToGlobal"))
        return {"compatibilityLevel": level}

    async def compatibility(request: Request) -> Any:
        body = await _body(request)
        version = request.path_params.get("version")
        messages = await blocking(registry.check)(request.path_params["subject"], _schema_of(body), version)
        answer: dict[str, Any] = {"is_compatible": not messages}
        if _flag(request, "verbose"):
            answer["messages"] = messages
        return answer

    async def mode(request: Request) -> Any:
        if request.method != "GET":
            raise RegistryError(422, 42204, "Modes other than READWRITE are not supported by this registry.")
        return {"mode": "READWRITE"}

    inner = [
        Route("/", handler(root), methods=["GET"]),
        Route("/subjects", handler(subjects), methods=["GET"]),
        Route("/subjects/{subject}/versions", handler(versions), methods=["GET", "POST"]),
        Route("/subjects/{subject}/versions/{version}", handler(version), methods=["GET", "DELETE"]),
        Route("/subjects/{subject}/versions/{version}/schema", version_schema, methods=["GET"]),
        Route("/subjects/{subject}", handler(subject), methods=["POST", "DELETE"]),
        Route("/schemas/types", handler(types), methods=["GET"]),
        Route("/schemas/ids/{schema_id}", handler(by_id), methods=["GET"]),
        Route("/schemas/ids/{schema_id}/schema", by_id_schema, methods=["GET"]),
        Route("/schemas/ids/{schema_id}/versions", handler(id_versions), methods=["GET"]),
        Route("/schemas/ids/{schema_id}/subjects", handler(id_subjects), methods=["GET"]),
        Route("/config", handler(config), methods=["GET", "PUT", "DELETE"]),
        Route("/config/{subject}", handler(config), methods=["GET", "PUT", "DELETE"]),
        Route("/compatibility/subjects/{subject}/versions", handler(compatibility), methods=["POST"]),
        Route("/compatibility/subjects/{subject}/versions/{version}", handler(compatibility), methods=["POST"]),
        Route("/mode", handler(mode), methods=["GET", "PUT"]),
        Route("/mode/{subject}", handler(mode), methods=["GET", "PUT"]),
    ]
    return [Mount(PREFIX, routes=inner)]
