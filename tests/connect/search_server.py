"""An Elasticsearch-compatible server for the Elasticsearch sink's tests, on a free 127.0.0.1 port.

Neither Elasticsearch nor OpenSearch can be installed here, and no emulator of their REST API is on PyPI,
so this is the subset the sink uses, answering as Elasticsearch 8 does: ``GET /``, ``PUT /{index}``
(``resource_already_exists_exception``), ``POST /_bulk`` (index, create, update with ``doc_as_upsert``,
delete; per-item statuses and errors), dynamic mapping of the first value of each field with
``mapper_parsing_exception`` for a later value that cannot be indexed as that type, ``GET
/{index}/_doc/{id}``, ``GET /{index}/_count``, ``GET /{index}/_search`` (all documents). ``fail_next(n,
status)`` makes the next n bulk requests answer ``status`` (429 or 503) to test the sink's retries. What it
does not check (analysis, refresh intervals, shards, versions) is listed in docs/ARCHITECTURE.md.
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


@dataclass
class SearchServer:
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)
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
            Route("/{index}", index, methods=["PUT", "HEAD", "GET"]),
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
