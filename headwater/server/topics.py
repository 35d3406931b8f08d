"""The topic API, for the UI and for scripts: list, describe, read, produce (JSON shapes in docs/ARCHITECTURE.md).

GET  /topics                                         list (name, partitions)
POST /topics                                         create {"name", "partitions", "config"}       (admin)
GET  /topics/{topic}                                 describe: config, partitions with offsets
DELETE /topics/{topic}                               delete                                         (admin)
GET  /topics/{topic}/partitions/{p}/messages         read: ?offset=N | ?timestamp=ms-or-ISO, &limit, &timeout_ms
POST /topics/{topic}/messages                        produce {"records": [{"key", "value", "partition", "headers"}]} (admin)

Keys, values and header values are bytes in the log. A message is shown
with ``"encoding": "utf-8"`` when all of them are valid UTF-8, else
``"base64"`` (and then each of them is base64). Errors are
``{"error_code": <HTTP status>, "message": ...}``.
"""

from __future__ import annotations

import base64
import binascii
import random
from typing import Any

import orjson
from prometheus_client import Counter
import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from headwater.errors import (
    HeadwaterError,
    InvalidTopicConfigError,
    LogUnavailableError,
    OffsetOutOfRangeError,
    TopicExistsError,
    UnknownPartitionError,
    UnknownTopicError,
)
from headwater.log import Log, Record
from headwater.log.partitioner import partition_for_keys
from headwater.connect.store import CONFIG_TOPIC
from headwater.server.state import ServerState
from headwater.server.guard import READ, request_role
from headwater.server.http import BodyTooLarge, read_body
from headwater.server.tracking import EventRejected, parse_time_ms

MAX_READ_LIMIT = 10_000
MAX_WAIT_MS = 30_000
#: Timestamps are 64-bit milliseconds in the log's index; this is year 292,278,994.
MAX_TIMESTAMP_MS = 2**63 - 1


class TopicApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error_code": status, "message": message}, status)


def _int_param(request: Request, name: str, default: int | None, low: int, high: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TopicApiError(400, f"Query parameter {name} must be an integer, got {raw!r}.") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise TopicApiError(400, f"Query parameter {name} must be {bound}, got {value}.")
    return value


def render_message(offset: int, timestamp: int, key: bytes | None, value: bytes | None,
                   headers: list[dict[str, Any]] | None) -> dict[str, Any]:
    parts = [key, value, *((h["value"] for h in headers or []))]
    try:
        for part in parts:
            if part is not None:
                part.decode("utf-8")
        encoding = "utf-8"

        def show(b: bytes | None) -> str | None:
            return None if b is None else b.decode("utf-8")
    except UnicodeDecodeError:
        encoding = "base64"

        def show(b: bytes | None) -> str | None:
            return None if b is None else base64.b64encode(b).decode()
    return {"offset": offset, "timestamp": timestamp, "encoding": encoding, "key": show(key), "value": show(value),
            "headers": [{"key": h["key"], "value": show(h["value"])} for h in headers or []]}


class TopicApi:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.log: Log = state.log
        self.requests = Counter("headwater_topic_api_requests", "Topic API requests by operation and HTTP status.",
                                ["operation", "status"], registry=state.registry)

    async def dispatch(self, request: Request, work: Any) -> Response:
        response = await self._dispatch(request, work)
        self.requests.labels(work_name(request), str(response.status_code)).inc()
        return response

    async def _dispatch(self, request: Request, work: Any) -> Response:
        try:
            return _json(await work())
        except TopicApiError as exc:
            return _error(exc.status, exc.message)
        except (UnknownTopicError, UnknownPartitionError) as exc:
            return _error(404, str(exc))
        except TopicExistsError as exc:
            return _error(409, str(exc))
        except (InvalidTopicConfigError, OffsetOutOfRangeError) as exc:
            return _error(400, str(exc))
        except LogUnavailableError as exc:  # a full disk: nothing stored, retry later
            return _error(503, str(exc))
        except HeadwaterError as exc:
            return _error(422, str(exc))

    async def _body(self, request: Request) -> Any:
        try:
            raw = await read_body(request, self.state.config.max_body_bytes)
        except BodyTooLarge as exc:
            raise TopicApiError(413, str(exc)) from None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise TopicApiError(400, f"The body is not valid JSON: {exc}") from None

    # -- endpoints -------------------------------------------------------------------
    async def list_topics(self, request: Request) -> Response:
        def work() -> Any:
            return {"topics": [{"name": t, "partitions": self.log.describe_topic(t).partitions}
                               for t in self.log.list_topics()]}

        return await self.dispatch(request, lambda: run_in_threadpool(work))

    async def describe(self, request: Request) -> Response:
        name = request.path_params["topic"]

        def work() -> Any:
            info = self.log.describe_topic(name)
            return {"name": info.name, "config": dict(info.config), "partitions": [
                {"partition": p, "beginning_offset": self.log.beginning_offset(name, p),
                 "end_offset": self.log.end_offset(name, p)} for p in range(info.partitions)]}

        return await self.dispatch(request, lambda: run_in_threadpool(work))

    async def create(self, request: Request) -> Response:
        async def work() -> Any:
            body = await self._body(request)
            if not isinstance(body, dict) or not isinstance(body.get("name"), str):
                raise TopicApiError(400, 'Expected {"name": str, "partitions": int, "config": {str: str}}.')
            partitions = body.get("partitions", 1)
            config = body.get("config") or {}
            if not isinstance(config, dict):
                raise TopicApiError(400, "config must be an object of topic configs.")
            info = await run_in_threadpool(self.log.create_topic, body["name"], partitions, config)
            return {"name": info.name, "partitions": info.partitions, "config": dict(info.config)}

        return await self.dispatch(request, work)

    async def delete(self, request: Request) -> Response:
        name = request.path_params["topic"]

        async def work() -> Any:
            await run_in_threadpool(self.log.delete_topic, name)
            return {"deleted": name}

        return await self.dispatch(request, work)

    async def read(self, request: Request) -> Response:
        name = request.path_params["topic"]
        try:
            partition = int(request.path_params["partition"])
        except ValueError:
            return _error(400, f"Partition must be an integer, got {request.path_params['partition']!r}.")
        if name == CONFIG_TOPIC and request_role(request) == READ:
            return _error(403, f"Topic {CONFIG_TOPIC} holds connector secrets: reading it needs an admin key.")

        def work() -> Any:
            limit = _int_param(request, "limit", 100, 1, MAX_READ_LIMIT)
            wait_ms = _int_param(request, "timeout_ms", 0, 0, MAX_WAIT_MS)
            offset = _int_param(request, "offset", None, 0)
            stamp = request.query_params.get("timestamp")
            if offset is not None and stamp is not None:
                raise TopicApiError(400, "Give offset or timestamp, not both.")
            self.log.describe_topic(name)
            if stamp is not None:
                try:
                    at = int(stamp) if stamp.lstrip("-").isdecimal() else parse_time_ms(stamp, "timestamp")
                except EventRejected as exc:
                    raise TopicApiError(400, exc.message) from None
                if not -MAX_TIMESTAMP_MS <= at <= MAX_TIMESTAMP_MS:
                    raise TopicApiError(400, f"Query parameter timestamp must be between -{MAX_TIMESTAMP_MS} and "
                                             f"{MAX_TIMESTAMP_MS} ms since the epoch, got {stamp!r}.")
                found = self.log.offset_for_time(name, partition, at)
                offset = self.log.end_offset(name, partition) if found is None else found
            elif offset is None:
                offset = self.log.beginning_offset(name, partition)
            fetched = self.log.read(name, partition, offset, max_records=limit or 100,
                                    timeout_s=(wait_ms or 0) / 1000)
            rows = fetched.records.slice(0, limit).to_pylist()
            next_offset = rows[-1]["offset"] + 1 if len(rows) < len(fetched) else fetched.next_offset
            return {"topic": name, "partition": partition, "next_offset": next_offset,
                    "high_watermark": fetched.high_watermark,
                    "messages": [render_message(r["offset"], r["timestamp"], r["key"], r["value"], r["headers"])
                                 for r in rows]}

        return await self.dispatch(request, lambda: run_in_threadpool(work))

    async def produce(self, request: Request) -> Response:
        name = request.path_params["topic"]

        async def work() -> Any:
            body = await self._body(request)
            records = body.get("records") if isinstance(body, dict) else None
            if not isinstance(records, list) or not records:
                raise TopicApiError(400, 'Expected {"records": [{"key": ..., "value": ...}, ...]} with at least '
                                         "one record.")
            parsed = [_record(i, r) for i, r in enumerate(records)]
            return {"offsets": await run_in_threadpool(self._append, name, parsed)}

        return await self.dispatch(request, work)

    def _append(self, name: str, parsed: list[tuple[int | None, Record]]) -> list[dict[str, int]]:
        """Append each record to its partition (given, else Kafka's: murmur2 of the key, or one
        random partition for the records without a key); the offset of each, in request order."""
        partitions = self.log.describe_topic(name).partitions
        keys = pa.array([r.key for _, r in parsed], pa.binary())
        targets = partition_for_keys(keys, partitions, random.randrange(partitions)).tolist()
        for i, (chosen, _) in enumerate(parsed):
            if chosen is not None:
                if not 0 <= chosen < partitions:
                    raise TopicApiError(400, f"record {i}: topic {name!r} has partitions 0..{partitions - 1}, "
                                             f"got {chosen}")
                targets[i] = chosen
        out: list[dict[str, int]] = [{} for _ in parsed]
        for p in sorted(set(targets)):
            indexes = [i for i, t in enumerate(targets) if t == p]
            result = self.log.append(name, p, [parsed[i][1] for i in indexes])
            for n, i in enumerate(indexes):
                out[i] = {"partition": p, "offset": result.base_offset + n}
        return out


def work_name(request: Request) -> str:
    """The operation label of a request: the endpoint's name (list_topics, read, produce ...)."""
    endpoint = request.scope.get("endpoint")
    return getattr(endpoint, "__name__", "unknown")


def _bytes(value: Any, index: int, what: str) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict) and set(value) == {"base64"} and isinstance(value["base64"], str):
        try:
            return base64.b64decode(value["base64"], validate=True)
        except binascii.Error:
            raise TopicApiError(400, f"record {index}: {what} is not valid base64.") from None
    return orjson.dumps(value)  # any other JSON value is stored as its JSON text


def _record(index: int, raw: Any) -> tuple[int | None, Record]:
    if not isinstance(raw, dict):
        raise TopicApiError(400, f"record {index}: expected an object with key, value, partition, headers.")
    unknown = set(raw) - {"key", "value", "partition", "headers", "timestamp"}
    if unknown:
        raise TopicApiError(400, f"record {index}: unknown fields {sorted(unknown)}.")
    partition = raw.get("partition")
    if partition is not None and (not isinstance(partition, int) or isinstance(partition, bool)):
        raise TopicApiError(400, f"record {index}: partition must be an integer.")
    timestamp = raw.get("timestamp")
    if timestamp is not None and (not isinstance(timestamp, int) or isinstance(timestamp, bool)):
        raise TopicApiError(400, f"record {index}: timestamp must be milliseconds since the epoch.")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict):
        raise TopicApiError(400, f"record {index}: headers must be an object of name: value.")
    record = Record(value=_bytes(raw.get("value"), index, "value"), key=_bytes(raw.get("key"), index, "key"),
                    timestamp=timestamp,
                    headers=tuple((str(k), _bytes(v, index, f"header {k!r}")) for k, v in headers.items()))
    return partition, record


def routes(state: ServerState) -> list[BaseRoute]:
    api = TopicApi(state)
    return [
        Route("/topics", api.list_topics, methods=["GET"]),
        Route("/topics", api.create, methods=["POST"]),
        Route("/topics/{topic}", api.describe, methods=["GET"]),
        Route("/topics/{topic}", api.delete, methods=["DELETE"]),
        Route("/topics/{topic}/partitions/{partition}/messages", api.read, methods=["GET"]),
        Route("/topics/{topic}/messages", api.produce, methods=["POST"]),
    ]
