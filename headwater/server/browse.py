"""The topic browser's API: topics with offsets, sizes and live rates; messages shown for people; key search.

GET /ui/api/topics                                        every topic: partitions (offsets, size, rate), rate, sources
GET /ui/api/topics/{topic}                                one topic: the same plus its config and the consumer groups' lag
GET /ui/api/topics/{topic}/partitions/{p}/messages        ?offset=N | ?timestamp=ms-or-ISO, &limit (default 50, max 500)
GET /ui/api/topics/{topic}/search                         ?key=K [&match=exact|contains] [&limit] [&scan]: newest records first

Producing goes through ``POST /topics/{topic}/messages`` (``topics.py``; the guard asks an admin key when one is set).

A key, value or header value is shown as ``{"type": "json", "text", "json"}``
when it is a JSON document, ``{"type": "text", "text"}`` when it is other
UTF-8 text, else ``{"type": "binary", "hex", "base64"}``; every one carries its
``size`` in bytes. Sizes of partitions are the bytes of their segment files
(embedded log; ``null`` on Kafka). Errors are ``{"error_code", "message"}``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from headwater.connect.store import CONFIG_TOPIC
from headwater.errors import HeadwaterError, OffsetOutOfRangeError, UnknownPartitionError, UnknownTopicError
from headwater.log import Log, TopicPartition
from headwater.server.state import ServerState
from headwater.server.guard import READ, request_role
from headwater.server.rates import LiveRates, partition_counter
from headwater.server.tracking import EventRejected, parse_time_ms

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: Records a key search reads at most (over all partitions), and by default.
MAX_SCAN = 1_000_000
DEFAULT_SCAN = 100_000
MAX_TIMESTAMP_MS = 2**63 - 1


class BrowseError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def show_bytes(data: bytes | None) -> dict[str, Any] | None:
    """How a person reads these bytes: a JSON document, text, or hex and base64."""
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"type": "binary", "size": len(data), "hex": data.hex(), "base64": base64.b64encode(data).decode()}
    try:
        return {"type": "json", "size": len(data), "text": text, "json": orjson.loads(data)}
    except orjson.JSONDecodeError:
        return {"type": "text", "size": len(data), "text": text}


def show_record(row: dict[str, Any], partition: int) -> dict[str, Any]:
    return {"partition": partition, "offset": row["offset"], "timestamp": row["timestamp"],
            "key": show_bytes(row["key"]), "value": show_bytes(row["value"]),
            "headers": [{"key": h["key"], "value": show_bytes(h["value"])} for h in row["headers"] or []]}


def topic_sizes(log: Log) -> dict[tuple[str, int], int]:
    """Bytes on disk per (topic, partition) of an embedded log (its ``topics/<name>-<id>/<p>/`` folders)."""
    root = getattr(log, "root", None)
    if not isinstance(root, str):
        return {}
    sizes: dict[tuple[str, int], int] = {}
    base = os.path.join(root, "topics")
    try:
        topic_dirs = list(os.scandir(base))
    except OSError:
        return {}
    for topic_dir in topic_dirs:
        name, sep, topic_id = topic_dir.name.rpartition("-")
        if not sep or not (topic_id.isascii() and topic_id.isdigit()) or not topic_dir.is_dir():
            continue
        try:
            for part in os.scandir(topic_dir.path):
                if part.name.isascii() and part.name.isdigit() and part.is_dir():
                    sizes[(name, int(part.name))] = sum(f.stat().st_size for f in os.scandir(part.path) if f.is_file())
        except OSError:  # the topic went away while we looked
            continue
    return sizes


class BrowseApi:
    def __init__(self, state: ServerState, rates: LiveRates) -> None:
        self.state = state
        self.log: Log = state.log
        self.rates = rates

    async def run(self, work: Callable[[], Any]) -> Response:
        try:
            return json_response(await run_in_threadpool(work))
        except BrowseError as exc:
            return json_response({"error_code": exc.status, "message": exc.message}, exc.status)
        except (UnknownTopicError, UnknownPartitionError) as exc:
            return json_response({"error_code": 404, "message": str(exc)}, 404)
        except OffsetOutOfRangeError as exc:
            return json_response({"error_code": 400, "message": str(exc)}, 400)
        except HeadwaterError as exc:
            return json_response({"error_code": 422, "message": str(exc)}, 422)

    def _topic(self, name: str, rates: dict[str, float], sizes: dict[tuple[str, int], int]) -> dict[str, Any]:
        info = self.log.describe_topic(name)
        partitions = []
        for p in range(info.partitions):
            begin, end = self.log.beginning_offset(name, p), self.log.end_offset(name, p)
            partitions.append({"partition": p, "beginning_offset": begin, "end_offset": end,
                               "messages": max(0, end - begin), "size_bytes": sizes.get((name, p)),
                               "rate": round(rates.get(partition_counter(name, p), 0.0), 3)})
        session = self.state.session
        sources = [{"name": s.name, "kind": s.kind.value} for s in session.catalog.by_topic(name)] if session else []
        sized = [p["size_bytes"] for p in partitions if p["size_bytes"] is not None]
        return {"name": name, "partitions": partitions, "partition_count": info.partitions,
                "messages": sum(p["messages"] for p in partitions),
                "size_bytes": sum(sized) if sized else None,
                "rate": round(sum(p["rate"] for p in partitions), 3),
                "internal": name.startswith(("_", "connect-")) or name.endswith("ksql_processing_log"),
                "sources": sources}

    async def list_topics(self, request: Request) -> Response:
        def work() -> Any:
            rates, sizes = self.rates.rates(), topic_sizes(self.log)
            out = []
            for name in self.log.list_topics():
                try:
                    out.append(self._topic(name, rates, sizes))
                except UnknownTopicError:  # deleted while we listed
                    continue
            return {"topics": out}

        return await self.run(work)

    async def describe(self, request: Request) -> Response:
        name = request.path_params["topic"]

        def work() -> Any:
            topic = self._topic(name, self.rates.rates(), topic_sizes(self.log))
            topic["config"] = dict(self.log.describe_topic(name).config)
            partitions = [TopicPartition(name, p) for p in range(topic["partition_count"])]
            groups = []
            for group in self.log.list_groups():
                committed = self.log.committed(group, partitions)
                if any(v is not None for v in committed.values()):
                    lag = sum(max(0, self.log.end_offset(*tp) - v) for tp, v in committed.items() if v is not None)
                    groups.append({"group": group, "lag": lag})
            topic["consumer_groups"] = groups
            return topic

        return await self.run(work)

    def _check_readable(self, request: Request, name: str) -> None:
        if name == CONFIG_TOPIC and request_role(request) == READ:
            raise BrowseError(403, f"Topic {CONFIG_TOPIC} holds connector secrets: reading it needs an admin key.")

    async def messages(self, request: Request) -> Response:
        name = request.path_params["topic"]

        def work() -> Any:
            self._check_readable(request, name)
            partition = int_param(request.path_params.get("partition"), "partition", None, 0)
            assert partition is not None
            limit = int_param(request.query_params.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
            offset = int_param(request.query_params.get("offset"), "offset", None, 0)
            stamp = request.query_params.get("timestamp")
            if offset is not None and stamp:
                raise BrowseError(400, "Give offset or timestamp, not both.")
            count = self.log.describe_topic(name).partitions
            if partition >= count:
                raise UnknownPartitionError(name, partition, count)
            begin, end = self.log.beginning_offset(name, partition), self.log.end_offset(name, partition)
            if stamp:
                found = self.log.offset_for_time(name, partition, time_param(stamp))
                offset = end if found is None else found
            elif offset is None:
                offset = max(begin, end - (limit or DEFAULT_LIMIT))  # the newest page by default
            offset = min(max(offset, begin), end)
            fetched = self.log.read(name, partition, offset, max_records=limit or DEFAULT_LIMIT)
            rows = fetched.records.slice(0, limit).to_pylist()
            next_offset = rows[-1]["offset"] + 1 if rows else fetched.next_offset
            return {"topic": name, "partition": partition, "offset": offset, "next_offset": next_offset,
                    "beginning_offset": begin, "end_offset": end,
                    "messages": [show_record(r, partition) for r in rows]}

        return await self.run(work)

    async def search(self, request: Request) -> Response:
        name = request.path_params["topic"]

        def work() -> Any:
            self._check_readable(request, name)
            key = request.query_params.get("key")
            if key is None or key == "":
                raise BrowseError(400, "Query parameter key is required.")
            match = request.query_params.get("match", "exact")
            if match not in ("exact", "contains"):
                raise BrowseError(400, f"Query parameter match must be exact or contains, got {match!r}.")
            limit = int_param(request.query_params.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or 1
            scan = int_param(request.query_params.get("scan"), "scan", DEFAULT_SCAN, 1, MAX_SCAN) or 1
            return self._search(name, key, match == "contains", limit, scan)

        return await self.run(work)

    def _search(self, name: str, key: str, contains: bool, limit: int, scan: int) -> dict[str, Any]:
        """Scan the newest ``scan`` records (split over the partitions) for the key; newest matches first."""
        partitions = self.log.describe_topic(name).partitions
        per_partition = max(1, scan // partitions)
        wanted = key.encode()
        found: list[dict[str, Any]] = []
        scanned = 0
        for p in range(partitions):
            end = self.log.end_offset(name, p)
            position = max(self.log.beginning_offset(name, p), end - per_partition)
            while position < end:
                fetched = self.log.read(name, p, position, max_records=min(10_000, end - position))
                batch = fetched.records
                if batch.num_rows:
                    keys = batch.column("key")
                    hits = (pc.match_substring(keys, key) if contains
                            else pc.equal(keys, pa.scalar(wanted, pa.binary())))
                    selected = batch.filter(pc.fill_null(hits, False))
                    found.extend(show_record(r, p) for r in selected.to_pylist())
                    scanned += batch.num_rows
                if fetched.next_offset <= position:  # nothing more readable (a gap cannot stall the scan)
                    break
                position = fetched.next_offset
        found.sort(key=lambda m: m["timestamp"], reverse=True)
        return {"topic": name, "key": key, "match": "contains" if contains else "exact", "scanned": scanned,
                "messages": found[:limit], "more": len(found) > limit}


def int_param(raw: str | None, name: str, default: int | None, low: int, high: int | None = None) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BrowseError(400, f"Parameter {name} must be an integer, got {raw!r}.") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise BrowseError(400, f"Parameter {name} must be {bound}, got {value}.")
    return value


def time_param(stamp: str) -> int:
    try:
        at = int(stamp) if stamp.lstrip("-").isdecimal() else parse_time_ms(stamp, "timestamp")
    except EventRejected as exc:
        raise BrowseError(400, exc.message) from None
    if not -MAX_TIMESTAMP_MS <= at <= MAX_TIMESTAMP_MS:
        raise BrowseError(400, f"Parameter timestamp must be milliseconds since the epoch or ISO-8601, got {stamp!r}.")
    return at


def routes(state: ServerState, rates: LiveRates) -> list[BaseRoute]:
    api = BrowseApi(state, rates)
    handlers: list[tuple[str, Callable[[Request], Awaitable[Response]]]] = [
        ("/ui/api/topics", api.list_topics),
        ("/ui/api/topics/{topic}", api.describe),
        ("/ui/api/topics/{topic}/partitions/{partition}/messages", api.messages),
        ("/ui/api/topics/{topic}/search", api.search),
    ]
    return [Route(path, handler, methods=["GET"]) for path, handler in handlers]
