"""An Elasticsearch-compatible server for the Elasticsearch sink's tests, on a free 127.0.0.1 port.

Neither Elasticsearch nor OpenSearch can be installed here, and no emulator of their REST API is on PyPI,
so this is the subset the sink uses, answering as Elasticsearch 8 does: ``GET /``, ``PUT /{index}``
(``resource_already_exists_exception``), ``POST /_bulk`` (index, create, update with ``doc_as_upsert``,
delete; per-item statuses and errors), dynamic mapping of the first value of each field with
``mapper_parsing_exception`` for a later value that cannot be indexed as that type, ``GET
/{index}/_doc/{id}``, ``GET /{index}/_count``, ``GET /{index}/_search`` (all documents). ``fail_next(n,
status)`` makes the next n bulk requests answer ``status`` (429 or 503) to test the sink's retries. What it
does not check (analysis, refresh intervals, shards, versions) is listed in docs/ARCHITECTURE.md.

Explicit mappings: ``PUT``/``GET /{index}/_mapping``; a value that the explicit type cannot take (a
non-numeric string for a number, a non-boolean for ``boolean``, a scalar for an object) is a
``mapper_parsing_exception``, numeric strings coerced as Elasticsearch does. Data streams: ``PUT
/_data_stream/{name}`` succeeds for names matching the built-in ``logs-*-*`` and ``metrics-*-*``
templates (``index_template_missing_exception`` otherwise) and maps ``@timestamp`` as a date; writes to a data stream must be ``create``
and carry ``@timestamp``, as Elasticsearch 8 requires.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(status: int, kind: str, reason: str, index: str | None = None) -> dict[str, Any]:
    cause = {"type": kind, "reason": reason, **({"index": index} if index else {})}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "text"
    return "text"


_NUMBERS = frozenset({"byte", "short", "integer", "long", "float", "double", "half_float", "scaled_float"})


def _explicit_problem(kind: str, value: Any) -> bool:
    """Whether Elasticsearch refuses ``value`` for a field mapped as ``kind``."""
    if kind in _NUMBERS:
        if isinstance(value, bool) or isinstance(value, (dict, list)):
            return True
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return True
        return False
    if kind == "boolean":
        return not (isinstance(value, bool) or value in ("true", "false", ""))
    if kind == "date":
        return not isinstance(value, (int, str)) or isinstance(value, bool)
    if kind in ("text", "keyword", "binary"):
        return isinstance(value, dict)
    return False


def _leaves(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``path -> type`` of an explicit mapping's properties (objects as ``object``)."""
    out: dict[str, str] = {}
    for name, spec in properties.items():
        if "properties" in spec:
            out[f"{prefix}{name}"] = "object"
            out.update(_leaves(spec["properties"], f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = str(spec.get("type", "object"))
    return out


@dataclass
class SearchServer:
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Mappings put explicitly (``PUT /{index}/_mapping``), as sent.
    explicit: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_streams: set[str] = field(default_factory=set)
    bulk_requests: int = 0
    _failures: list[int] = field(default_factory=list)
    url: str = ""

    def fail_next(self, count: int, status: int = 429) -> None:
        self._failures.extend([status] * count)

    def _mapping_problem(self, index: str, document: dict[str, Any], prefix: str = "") -> str | None:
        mapping = self.mappings.setdefault(index, {})
        for key, value in document.items():
            if value is None:
                continue
            path = f"{prefix}{key}"
            kind, known = _kind(value), mapping.get(path)
            explicit = _leaves(self.explicit.get(index, {}).get("properties", {})).get(path)
            if explicit is not None:
                if _explicit_problem(explicit, value):
                    return f"failed to parse field [{path}] of type [{explicit}] in document"
                if explicit == "object" and isinstance(value, dict):
                    problem = self._mapping_problem(index, value, f"{path}.")
                    if problem:
                        return problem
                continue
            if known is None:
                mapping[path] = kind
            elif known != kind and not (known in ("long", "float") and kind in ("long", "float")) and not (
                    known == "text" and kind in ("long", "float", "boolean")):
                return f"failed to parse field [{path}] of type [{known}] in document"
            if kind == "object":
                problem = self._mapping_problem(index, value, f"{path}.")
                if problem:
                    return problem
        return None

    def _item(self, action: str, meta: dict[str, Any], source: Any) -> dict[str, Any]:
        index, doc_id = meta.get("_index"), meta.get("_id")
        docs = self.indexes.setdefault(str(index), {})
        if index in self.data_streams:
            if action != "create":
                return {"_index": index, "_id": doc_id, "status": 400, "error": _error(
                    400, "illegal_argument_exception", f"only write ops with an op_type of create are allowed in "
                    f"data streams")["error"]}
            if not isinstance(source, dict) or "@timestamp" not in source:
                return {"_index": index, "_id": doc_id, "status": 400, "error": _error(
                    400, "mapper_parsing_exception", "data stream timestamp field [@timestamp] is missing")["error"]}
        if action == "delete":
            found = docs.pop(str(doc_id), None)
            return {"_index": index, "_id": doc_id, "status": 200 if found is not None else 404,
                    "result": "deleted" if found is not None else "not_found"}
        if action == "update":
            document = dict(docs.get(str(doc_id), {}))
            if not isinstance(source, dict) or not isinstance(source.get("doc"), dict):
                return {"_index": index, "_id": doc_id, "status": 400,
                        "error": _error(400, "action_request_validation_exception", "doc is missing")["error"]}
            if str(doc_id) not in docs and not source.get("doc_as_upsert"):
                return {"_index": index, "_id": doc_id, "status": 404,
                        "error": _error(404, "document_missing_exception", "document missing")["error"]}
            document.update(source["doc"])
        else:
            document = source
        if not isinstance(document, dict):
            return {"_index": index, "_id": doc_id, "status": 400, "error": _error(
                400, "mapper_parsing_exception", "failed to parse, document is empty or not an object")["error"]}
        problem = self._mapping_problem(str(index), document)
        if problem:
            return {"_index": index, "_id": doc_id, "status": 400,
                    "error": _error(400, "mapper_parsing_exception", problem)["error"]}
        existed = str(doc_id) in docs
        if action == "create" and existed:
            return {"_index": index, "_id": doc_id, "status": 409,
                    "error": _error(409, "version_conflict_engine_exception", "document already exists")["error"]}
        docs[str(doc_id)] = document
        return {"_index": index, "_id": doc_id, "status": 200 if existed else 201,
                "result": "updated" if existed else "created"}

    def app(self) -> Starlette:
        async def root(request: Request) -> Response:
            return _json({"name": "headwater-test", "cluster_name": "test", "version": {
                "number": "8.13.0", "build_flavor": "default"}, "tagline": "You Know, for Search"})

        async def index(request: Request) -> Response:
            name = request.path_params["index"]
            if request.method == "PUT":
                if name in self.indexes:
                    return _json(_error(400, "resource_already_exists_exception",
                                        f"index [{name}/x] already exists", name), 400)
                self.indexes[name] = {}
                return _json({"acknowledged": True, "shards_acknowledged": True, "index": name})
            return Response(status_code=200 if name in self.indexes else 404)

        async def bulk(request: Request) -> Response:
            self.bulk_requests += 1
            if self._failures:
                status = self._failures.pop(0)
                return _json(_error(status, "es_rejected_execution_exception", "rejected"), status)
            lines = [orjson.loads(line) for line in (await request.body()).splitlines() if line.strip()]
            items, position = [], 0
            while position < len(lines):
                action, meta = next(iter(lines[position].items()))
                position += 1
                source = None
                if action != "delete":
                    source, position = lines[position], position + 1
                items.append({action: self._item(action, meta, source)})
            errors = any(next(iter(i.values())).get("error") for i in items)
            return _json({"took": 1, "errors": errors, "items": items})

        async def mapping(request: Request) -> Response:
            name = request.path_params["index"]
            if name not in self.indexes:
                return _json(_error(404, "index_not_found_exception", f"no such index [{name}]", name), 404)
            if request.method == "PUT":
                body = orjson.loads(await request.body())
                if not isinstance(body, dict) or not isinstance(body.get("properties", {}), dict):
                    return _json(_error(400, "mapper_parsing_exception", "Root mapping definition has "
                                        "unsupported parameters"), 400)
                merged = self.explicit.setdefault(name, {"properties": {}})
                for path, kind in _leaves(body.get("properties", {})).items():
                    known = _leaves(merged["properties"]).get(path)
                    if known is not None and known != kind:
                        return _json(_error(400, "illegal_argument_exception", f"mapper [{path}] cannot be changed "
                                            f"from type [{known}] to [{kind}]"), 400)
                merged["properties"].update(body.get("properties", {}))
                return _json({"acknowledged": True})
            dynamic = {path: {"type": kind} for path, kind in self.mappings.get(name, {}).items() if "." not in path}
            properties = {**dynamic, **self.explicit.get(name, {}).get("properties", {})}
            return _json({name: {"mappings": {"properties": properties} if properties else {}}})

        async def data_stream(request: Request) -> Response:
            name = request.path_params["name"]
            if name in self.data_streams:
                return _json(_error(400, "resource_already_exists_exception", f"data_stream [{name}] already exists",
                                    name), 400)
            parts = name.split("-")
            if len(parts) < 3 or parts[0] not in ("logs", "metrics"):
                return _json(_error(404, "index_template_missing_exception", f"no matching index template found for "
                                    f"data stream [{name}]"), 404)
            self.data_streams.add(name)
            self.indexes.setdefault(name, {})
            self.explicit[name] = {"properties": {"@timestamp": {"type": "date"}}}  # as the built-in templates
            return _json({"acknowledged": True})

        async def doc(request: Request) -> Response:
            name, doc_id = request.path_params["index"], request.path_params["doc_id"]
            found = self.indexes.get(name, {}).get(doc_id)
            if found is None:
                return _json({"_index": name, "_id": doc_id, "found": False}, 404)
            return _json({"_index": name, "_id": doc_id, "found": True, "_source": found})

        async def count(request: Request) -> Response:
            return _json({"count": len(self.indexes.get(request.path_params["index"], {}))})

        async def search(request: Request) -> Response:
            docs = self.indexes.get(request.path_params["index"], {})
            hits = [{"_index": request.path_params["index"], "_id": k, "_source": v} for k, v in docs.items()]
            return _json({"hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}})

        return Starlette(routes=[
            Route("/", root), Route("/_bulk", bulk, methods=["POST"]),
            Route("/_data_stream/{name}", data_stream, methods=["PUT"]),
            Route("/{index}", index, methods=["PUT", "HEAD", "GET"]),
            Route("/{index}/_mapping", mapping, methods=["PUT", "GET"]),
            Route("/{index}/_doc/{doc_id}", doc), Route("/{index}/_count", count),
            Route("/{index}/_search", search, methods=["GET", "POST"]),
        ])


@contextmanager
def search_server() -> Iterator[SearchServer]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = SearchServer(url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(state.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the search server did not start")
        time.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(10)
