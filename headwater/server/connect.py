"""The Kafka Connect REST API: Connect's paths, JSON shapes, status codes and error bodies.

Every route calls the session's connector runtime (the one SQL's CREATE
CONNECTOR uses). Errors answer ``{"error_code": <status>, "message": ...}``
as Connect's ConnectExceptionMapper does. Runtime calls block (tasks are
joined on stop), so they run in the thread pool.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from headwater.connect import plugins
from headwater.connect.api import ConnectError
from headwater.connect.converters import CONVERTERS
from headwater.connect.runtime import ConnectRequestError, ConnectRuntime
from headwater.connect.store import CONFIG_TOPIC
from headwater.connect.transforms import PREDICATES, TRANSFORMS
from headwater.connect.validation import config_infos, config_keys
from headwater.server.state import ServerState
from headwater.server.http import BodyTooLarge, read_body

Handler = Callable[[Request], Awaitable[Response]]
_VERSION = "3.9.0-headwater"


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error_code": status, "message": message}, status_code=status)


def routes(state: ServerState) -> list[BaseRoute]:
    api = ConnectApi(state)
    paths: list[tuple[str, Handler, list[str]]] = [
        ("/connectors", api.list_connectors, ["GET"]),
        ("/connectors", api.create, ["POST"]),
        ("/connectors/{name}", api.get, ["GET"]),
        ("/connectors/{name}", api.delete, ["DELETE"]),
        ("/connectors/{name}/config", api.get_config, ["GET"]),
        ("/connectors/{name}/config", api.put_config, ["PUT"]),
        ("/connectors/{name}/config", api.patch_config, ["PATCH"]),
        ("/connectors/{name}/status", api.status, ["GET"]),
        ("/connectors/{name}/restart", api.restart, ["POST"]),
        ("/connectors/{name}/pause", api.pause, ["PUT"]),
        ("/connectors/{name}/resume", api.resume, ["PUT"]),
        ("/connectors/{name}/stop", api.stop, ["PUT"]),
        ("/connectors/{name}/tasks", api.tasks, ["GET"]),
        ("/connectors/{name}/tasks-config", api.tasks_config, ["GET"]),
        ("/connectors/{name}/tasks/{task:int}/status", api.task_status, ["GET"]),
        ("/connectors/{name}/tasks/{task:int}/restart", api.restart_task, ["POST"]),
        ("/connectors/{name}/topics", api.topics, ["GET"]),
        ("/connectors/{name}/topics/reset", api.reset_topics, ["PUT"]),
        ("/connectors/{name}/offsets", api.get_offsets, ["GET"]),
        ("/connectors/{name}/offsets", api.patch_offsets, ["PATCH"]),
        ("/connectors/{name}/offsets", api.delete_offsets, ["DELETE"]),
        ("/connector-plugins", api.list_plugins, ["GET"]),
        ("/connector-plugins/{plugin}/config", api.plugin_config, ["GET"]),
        ("/connector-plugins/{plugin}/config/validate", api.validate, ["PUT"]),
        ("/", api.root, ["GET"]),
    ]
    out: list[BaseRoute] = []
    for path, handler, methods in paths:
        guarded = api.guard(handler)
        out.append(Route(path, guarded, methods=methods))
        if path != "/":  # clients (the clickstream scripts) also write /connectors/
            out.append(Route(path + "/", guarded, methods=methods, include_in_schema=False))
    return out


class ConnectApi:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._runtime: ConnectRuntime | None = None
        if CONFIG_TOPIC in state.log.list_topics():  # restored by the session: report this server's worker id
            _ = self.runtime

    @property
    def runtime(self) -> ConnectRuntime:
        """The session's runtime, made on first use: an app that never sees a connector makes no
        connect-* topics (the session itself restores the connectors of an earlier run)."""
        if self._runtime is None:
            runtime = self.state.session.connect
            runtime.worker_id = f"{self.state.config.host}:{self.state.config.port}"
            self.state.connect = runtime
            self._runtime = runtime
        return self._runtime

    def guard(self, handler: Handler) -> Handler:
        """Connect's error bodies for whatever the handler raises (keys and origins: ``guard.py``)."""

        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except ConnectRequestError as exc:
                return error(exc.status, exc.message)
            except BodyTooLarge as exc:
                return error(413, str(exc))
            except ConnectError as exc:
                return error(400, str(exc))

        return guarded

    async def _json(self, request: Request) -> Any:
        body = await read_body(request, self.state.config.max_body_bytes)
        if not body.strip():
            raise ConnectRequestError(400, "Request body is empty: expected a JSON object.")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ConnectRequestError(400, f"Request body is not valid JSON: {exc}") from None

    async def _object(self, request: Request) -> dict[str, Any]:
        body = await self._json(request)
        if not isinstance(body, dict):
            raise ConnectRequestError(400, f"Expected a JSON object, got {type(body).__name__}")
        return body

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await run_in_threadpool(fn, *args)

    # -- root and connectors --------------------------------------------------------
    async def root(self, request: Request) -> Response:
        return JSONResponse({"version": _VERSION, "commit": "headwater", "kafka_cluster_id": "headwater"})

    async def list_connectors(self, request: Request) -> Response:
        expand = set(request.query_params.getlist("expand"))
        names = self.runtime.names()
        if not expand & {"status", "info"}:
            return JSONResponse(names)
        out: dict[str, Any] = {}
        for name in names:
            try:
                entry: dict[str, Any] = {}
                if "status" in expand:
                    entry["status"] = self.runtime.status(name)
                if "info" in expand:
                    entry["info"] = self.runtime.info(name)
                out[name] = entry
            except ConnectRequestError:
                continue  # deleted meanwhile
        return JSONResponse(out)

    async def create(self, request: Request) -> Response:
        body = await self._object(request)
        config = body.get("config")
        name = body.get("name")
        if not isinstance(config, dict):
            raise ConnectRequestError(400, "Connector config is missing: expected {\"name\": ..., \"config\": {...}}")
        if name is None:
            name = config.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConnectRequestError(400, "Connector name is null or empty.")
        if "name" in config and config["name"] != name:
            raise ConnectRequestError(400, f"Connector name configuration ({config['name']}) doesn't match "
                                           f"connector name in the URL ({name})")
        initial = body.get("initial_state") or "RUNNING"
        info = await self._call(self.runtime.create, name, config, str(initial).upper())
        return JSONResponse(info, status_code=201, headers={"Location": f"/connectors/{name}"})

    async def get(self, request: Request) -> Response:
        return JSONResponse(self.runtime.info(request.path_params["name"]))

    async def delete(self, request: Request) -> Response:
        await self._call(self.runtime.delete, request.path_params["name"])
        return Response(status_code=204)

    async def get_config(self, request: Request) -> Response:
        return JSONResponse(self.runtime.info(request.path_params["name"])["config"])

    async def put_config(self, request: Request) -> Response:
        name = request.path_params["name"]
        config = await self._object(request)
        created, info = await self._call(self.runtime.put_config, name, config)
        if created:
            return JSONResponse(info, status_code=201, headers={"Location": f"/connectors/{name}"})
        return JSONResponse(info)

    async def patch_config(self, request: Request) -> Response:
        patch = await self._object(request)
        return JSONResponse(await self._call(self.runtime.patch_config, request.path_params["name"], patch))

    async def status(self, request: Request) -> Response:
        return JSONResponse(self.runtime.status(request.path_params["name"]))

    # -- lifecycle -------------------------------------------------------------------
    async def restart(self, request: Request) -> Response:
        flags = {k: request.query_params.get(k, "false").lower() == "true" for k in ("includeTasks", "onlyFailed")}
        status = await self._call(self.runtime.restart, request.path_params["name"], flags["includeTasks"],
                                  flags["onlyFailed"])
        if status is None:
            return Response(status_code=204)
        return JSONResponse(status, status_code=202)

    async def pause(self, request: Request) -> Response:
        await self._call(self.runtime.pause, request.path_params["name"])
        return Response(status_code=202)

    async def resume(self, request: Request) -> Response:
        await self._call(self.runtime.resume, request.path_params["name"])
        return Response(status_code=202)

    async def stop(self, request: Request) -> Response:
        await self._call(self.runtime.stop_connector, request.path_params["name"])
        return Response(status_code=204)

    # -- tasks -------------------------------------------------------------------------
    async def tasks(self, request: Request) -> Response:
        return JSONResponse(self.runtime.tasks(request.path_params["name"]))

    async def tasks_config(self, request: Request) -> Response:
        name = request.path_params["name"]
        return JSONResponse({f"{name}-{t['id']['task']}": t["config"] for t in self.runtime.tasks(name)})

    async def task_status(self, request: Request) -> Response:
        return JSONResponse(self.runtime.task_status(request.path_params["name"], request.path_params["task"]))

    async def restart_task(self, request: Request) -> Response:
        await self._call(self.runtime.restart_task, request.path_params["name"], request.path_params["task"])
        return Response(status_code=204)

    async def topics(self, request: Request) -> Response:
        name = request.path_params["name"]
        return JSONResponse({name: {"topics": await self._call(self.runtime.topics, name)}})

    async def reset_topics(self, request: Request) -> Response:
        self.runtime.info(request.path_params["name"])  # 404 for an unknown connector
        return Response(status_code=202)

    # -- offsets ------------------------------------------------------------------------
    async def get_offsets(self, request: Request) -> Response:
        return JSONResponse(await self._call(self.runtime.offsets, request.path_params["name"]))

    async def patch_offsets(self, request: Request) -> Response:
        body = await self._object(request)
        entries = body.get("offsets")
        if not isinstance(entries, list):
            raise ConnectRequestError(400, "The offsets to be modified must not be null or empty")
        return JSONResponse(await self._call(self.runtime.alter_offsets, request.path_params["name"], entries))

    async def delete_offsets(self, request: Request) -> Response:
        return JSONResponse(await self._call(self.runtime.alter_offsets, request.path_params["name"], None))

    # -- plug-ins -----------------------------------------------------------------------
    async def list_plugins(self, request: Request) -> Response:
        only_connectors = request.query_params.get("connectorsOnly", "true").lower() != "false"
        out = [{"class": p.class_name, "type": cls.type, "version": cls.version} for p, cls in plugins.available()]
        if not only_connectors:
            out += [{"class": c, "type": "converter", "version": _VERSION} for c in CONVERTERS]
            out += [{"class": t, "type": "transformation", "version": _VERSION} for t in TRANSFORMS]
            out += [{"class": "io.debezium.transforms.ExtractNewRecordState", "type": "transformation",
                     "version": _VERSION}]
            out += [{"class": p, "type": "predicate", "version": _VERSION} for p in PREDICATES]
        return JSONResponse(out)

    async def plugin_config(self, request: Request) -> Response:
        plugin = plugins.find_or_none(request.path_params["plugin"])
        if plugin is None:
            return error(404, f"Unknown plugin {request.path_params['plugin']}.")
        return JSONResponse(config_keys(plugin.load()))

    async def validate(self, request: Request) -> Response:
        name = request.path_params["plugin"]
        config = {str(k): str(v) for k, v in (await self._object(request)).items() if v is not None}
        class_name = config.get("connector.class", "")
        if not class_name:
            config["connector.class"] = name
            class_name = name
        if not class_name.endswith(name) and not name.endswith(class_name.rsplit(".", 1)[-1]):
            raise ConnectRequestError(400, "Included connector type " + class_name
                                      + " does not match request type " + name)
        plugin = plugins.find_or_none(class_name)
        if plugin is None:
            raise ConnectRequestError(400, f"Failed to find any class that implements Connector and which name "
                                           f"matches {class_name}")
        cls, errors = await self._call(self.runtime.validate, config)
        return JSONResponse(config_infos(plugin.class_name, plugin.load(), config, errors))
