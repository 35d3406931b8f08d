"""The Segment-compatible collector: POST /v1/batch, /v1/track, /v1/identify, ... and GET /healthcheck.

Segment's libraries (analytics-python, analytics.js, analytics-go, ...) work
unchanged: the write key is the HTTP Basic user (or ``writeKey`` in the
body), bodies may be gzip-compressed, and a 200 means the events are on
disk: the answer is sent only after the group-commit writer's append has
returned (:mod:`headwater.server.event_writer`).

Errors a client can cause get a 4xx whose JSON body says what was wrong,
``{"code": ..., "message": ...}`` (the shape Segment's libraries read), and
are counted in /metrics. What was refused but readable (bad JSON, invalid
events) is kept in the dead-letter topic with the reason, so nothing a client
sent is silently lost. In a batch, valid events are stored even when others
are refused; the 400 names the refused ones (a retry of the whole batch is
harmless: messageIds are de-duplicated).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import time
import zlib
from importlib import resources
from typing import Any

import orjson
from prometheus_client import Counter, Histogram
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from headwater.server.state import ServerState
from headwater.server.dedupe import MessageIdIndex
from headwater.server.event_writer import DeadLetter, EventWriter, Submission
from headwater.server.http import BodyTooLarge, read_body
from headwater.server.tracking import EventRejected, iso_ms, prepare_event

_CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, GET, OPTIONS",
    "access-control-allow-headers": "Authorization, Content-Type, Content-Encoding",
    "access-control-max-age": "86400",
}
_OK = orjson.dumps({"success": True})
_SINGLE = ("track", "identify", "page", "screen", "group", "alias")


@functools.cache
def _tracker_script() -> bytes:
    return resources.files("headwater.server").joinpath("static/headwater.js").read_bytes()


class ClientError(Exception):
    """A request refused as a whole: HTTP status, metrics outcome, message for the client."""

    def __init__(self, status: int, outcome: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome
        self.message = message


class CollectorMetrics:
    """The collector's figures on the app's registry."""

    def __init__(self, state: ServerState) -> None:
        self.requests = Counter("headwater_collector_requests", "Collector requests by endpoint and outcome.",
                                ["endpoint", "outcome"], registry=state.registry)
        self.events = Counter("headwater_collector_events", "Collector events by outcome.",
                              ["outcome"], registry=state.registry)
        self.latency = Histogram(
            "headwater_collector_request_seconds", "Collector request latency (until the append is durable).",
            ["endpoint"], registry=state.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.group_commit = Histogram(
            "headwater_collector_append_events", "Events per durable append of the collector (group commit size).",
            registry=state.registry, buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000, 50000),
        )
        self._children: dict[tuple[str, ...], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """Cached labelled child: ``labels()`` costs more than the increment itself."""
        key = (metric._name, *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found


class Collector:
    """Request handling of the collector; one per app."""

    def __init__(self, state: ServerState) -> None:
        config = state.config
        self.config = config
        self.write_keys = tuple(k.encode() for k in config.write_keys)
        log = state.log
        topic_config = {}
        if config.raw_batch:
            # A raw body is one record: let the topic take bodies up to the request limit.
            topic_config["max.message.bytes"] = str(max(1_048_588, config.max_body_bytes + 1024))
        log.create_topic(config.events_topic, config.events_partitions, topic_config, exist_ok=True)
        log.create_topic(config.dead_letter_topic, 1, {"max.message.bytes": str(config.max_body_bytes + 1024)},
                         exist_ok=True)
        self.max_record_bytes = int(log.describe_topic(config.events_topic).setting("max.message.bytes")) - 512
        self.dead_letter_bytes = int(log.describe_topic(config.dead_letter_topic).setting("max.message.bytes")) - 512
        # An event the topic would refuse must be refused alone, not fail the whole group commit.
        self.max_event_bytes = min(config.max_event_bytes, self.max_record_bytes)
        dedupe = MessageIdIndex(log, config.events_topic, window_s=config.dedupe_window_s,
                                max_ids=config.dedupe_max_ids)
        dedupe.rebuild()
        self.metrics = CollectorMetrics(state)
        self.writer = EventWriter(log, config.events_topic, config.dead_letter_topic, dedupe,
                                  max_group_events=config.max_group_events,
                                  on_append=self.metrics.group_commit.observe)
        state.closers.append(self.writer)

    # -- endpoints -------------------------------------------------------------------
    async def healthcheck(self, request: Request) -> Response:
        return Response(b"Alive", media_type="text/plain")

    async def preflight(self, request: Request) -> Response:
        return Response(status_code=204, headers=_CORS)

    async def tracker(self, request: Request) -> Response:
        return Response(_tracker_script(), media_type="application/javascript",
                        headers={**_CORS, "cache-control": "public, max-age=300"})

    async def batch(self, request: Request) -> Response:
        return await self._handle(request, "batch", None)

    def single(self, kind: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return await self._handle(request, kind, kind)

        endpoint.__name__ = f"collect_{kind}"
        return endpoint

    # -- the work ----------------------------------------------------------------------
    async def _handle(self, request: Request, endpoint: str, kind: str | None) -> Response:
        started = time.perf_counter()
        metrics = self.metrics
        try:
            status, body, outcome = await self._collect(request, kind)
        except ClientError as exc:
            status, outcome = exc.status, exc.outcome
            body = orjson.dumps({"success": False, "code": exc.outcome, "message": exc.message})
        metrics.child(metrics.requests, endpoint, outcome).inc()
        metrics.child(metrics.latency, endpoint).observe(time.perf_counter() - started)
        return Response(body, status_code=status, media_type="application/json", headers=_CORS)

    async def _collect(self, request: Request, kind: str | None) -> tuple[int, bytes, str]:
        config = self.config
        header_key = self._header_write_key(request)
        if self.write_keys and header_key is not None:
            self._check_write_key(header_key)
        try:
            body = await read_body(request, config.max_body_bytes)
        except BodyTooLarge as exc:
            raise ClientError(413, "too_large", str(exc)) from None
        body = self._decoded(request, body)
        received_ms = int(time.time() * 1000)
        if kind is None and config.raw_batch:
            if self.write_keys and header_key is None:
                raise ClientError(401, "bad_write_key", "A write key is needed (HTTP Basic user).")
            if len(body) > self.max_record_bytes:
                raise ClientError(413, "too_large", f"Request body is larger than the limit of "
                                                    f"{self.max_record_bytes} bytes for one record.")
            client = request.client
            key = f"address-{client.host}:{client.port}".encode() if client else None
            status, _, outcome = await self._submit(Submission(keys=[key], values=[body], raw=True,
                                                               received_ms=received_ms))
            return status, b"", outcome  # seed 004's Go service: an empty 200
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if self.write_keys and header_key is None:
                raise ClientError(401, "bad_write_key", "A write key is needed (HTTP Basic user).") from None
            await self._submit(Submission(dead_letters=[self._dead("bad_json", f"bad JSON: {exc}", body)],
                                          received_ms=received_ms))
            raise ClientError(400, "bad_json", f"The body is not valid JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise ClientError(400, "invalid_event", f"The body must be a JSON object, got {type(payload).__name__}.")
        if self.write_keys and header_key is None:
            body_key = payload.get("writeKey")
            if not isinstance(body_key, str):
                raise ClientError(401, "bad_write_key", "A write key is needed (HTTP Basic user or writeKey).")
            self._check_write_key(body_key.encode())
        received_at = iso_ms(received_ms)
        if kind is None:
            events = payload.get("batch")
            if not isinstance(events, list):
                raise ClientError(400, "invalid_event", "A batch body needs a \"batch\" array of events.")
            context = payload.get("context")
            sent_at = payload.get("sentAt")
        else:
            events, context, sent_at = [payload], None, None
        prepared = Submission(received_ms=received_ms)
        dead: list[DeadLetter] = []
        problems: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            try:
                prepared.add(prepare_event(event, received_ms=received_ms, received_at=received_at,
                                              batch_sent_at=sent_at, batch_context=context, forced_type=kind,
                                              max_event_bytes=self.max_event_bytes))
            except EventRejected as exc:
                problems.append({"index": index, "code": exc.outcome, "message": exc.message})
                self.metrics.child(self.metrics.events, exc.outcome).inc()
                dead.append(self._dead(exc.outcome, f"event {index}: {exc.message}", _json_or_repr(event)))
        prepared.dead_letters = dead
        status, _, outcome = await self._submit(prepared)
        if not problems:
            return status, _OK, outcome
        first = problems[0]
        if kind is not None:
            raise ClientError(400, first["code"], first["message"])
        message = (f"{len(problems)} of {len(events)} events refused (the others were stored): event "
                   f"{first['index']}: {first['message']}")
        return 400, orjson.dumps({"success": False, "code": first["code"], "message": message,
                                  "accepted": len(prepared.values), "rejected": problems}), first["code"]

    async def _submit(self, submission: Submission) -> tuple[int, bytes, str]:
        done = await self.writer.submit(submission)
        if done.error is not None:
            raise ClientError(503, "unavailable", f"The events could not be stored: {done.error}")
        metrics = self.metrics
        if done.accepted:
            metrics.child(metrics.events, "accepted").inc(done.accepted)
        if done.duplicates:
            metrics.child(metrics.events, "duplicate").inc(done.duplicates)
        return 200, _OK, "ok"

    def _dead(self, reason: str, message: str, value: bytes) -> DeadLetter:
        if len(value) > self.dead_letter_bytes:
            value = value[: self.dead_letter_bytes]
            message += " (body truncated)"
        return DeadLetter(reason=f"{reason}: {message}", value=value)

    def _decoded(self, request: Request, body: bytes) -> bytes:
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("identity", ""):
            return body
        if encoding not in ("gzip", "deflate"):
            raise ClientError(415, "bad_encoding", f"Content-Encoding {encoding!r} is not supported; "
                                                   "send gzip, deflate or identity.")
        limit = self.config.max_body_bytes
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
        try:
            out = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise ClientError(400, "bad_encoding", f"The body is not valid {encoding}: {exc}") from None
        if len(out) > limit or inflater.unconsumed_tail:
            raise ClientError(413, "too_large", f"Request body is larger than the limit of {limit} bytes "
                                                "after decompression.")
        return out

    @staticmethod
    def _header_write_key(request: Request) -> bytes | None:
        auth = request.headers.get("authorization")
        if not auth or not auth[:6].lower() == "basic ":
            return None
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ClientError(401, "bad_write_key", "The Authorization header is not valid HTTP Basic.") from None
        return decoded.split(b":", 1)[0]

    def _check_write_key(self, key: bytes) -> None:
        if not any(hmac.compare_digest(key, known) for known in self.write_keys):
            raise ClientError(401, "bad_write_key", "The write key is not valid.")


def _json_or_repr(event: Any) -> bytes:
    """The refused event for the dead-letter topic; too deeply nested for JSON (orjson stops at 255
    levels), its Python text, which the reason header explains."""
    try:
        return orjson.dumps(event)
    except TypeError:
        try:
            return repr(event).encode()
        except RecursionError:
            return b"(an event nested too deeply to be shown)"


def routes(state: ServerState) -> list[BaseRoute]:
    collector = Collector(state)
    if state.config.raw_batch:  # seed 004's router: these two routes, 404 for every other path
        return [Route("/healthcheck", collector.healthcheck, methods=["GET"]),
                Route("/v1/batch", collector.batch, methods=["POST"])]
    out: list[BaseRoute] = [
        Route("/healthcheck", collector.healthcheck, methods=["GET"]),
        Route("/js/headwater.js", collector.tracker, methods=["GET"]),
        Route("/v1/batch", collector.batch, methods=["POST"]),
        Route("/v1/import", collector.batch, methods=["POST"]),
    ]
    out += [Route(f"/v1/{kind}", collector.single(kind), methods=["POST"]) for kind in _SINGLE]
    out += [Route(f"/v1/{path}", collector.preflight, methods=["OPTIONS"]) for path in ("batch", "import", *_SINGLE)]
    return out
