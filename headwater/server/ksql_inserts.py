"""``POST /inserts-stream``: ksqlDB's streaming inserts (HTTP/1.1 and HTTP/2), as its clients send them.

The body is newline-delimited JSON: first ``{"target": "STREAM"}`` (with
optional ``"properties"``), then one JSON object per row, column names to
values. Each row is serialised with the stream's key and value formats and
appended to its topic (the key's partition; the server's time as timestamp);
the answer has one line per row, ``{"status":"ok","seq":n}``, or on the first
row that cannot be inserted ``{"status":"error","seq":n,"error_code":40000,
"message":...}`` and nothing after it (as ksqlDB closes the stream). Rows are
inserted as their lines arrive; the answer is sent once the body ends.

The target must be a stream that is not a read-only SOURCE stream; an unknown
or wrong target is a 400 ``generic_error`` before any row. The lines are
newline-delimited JSON (``application/vnd.ksqlapi.delimited.v1``), or a JSON
array when the client accepts only ``application/json``.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pyarrow as pa
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from headwater.errors import HeadwaterError
from headwater.log.partitioner import partition_for_keys
from headwater.server.guard import READ, request_role
from headwater.server.ksql_common import (
    BAD_REQUEST, DELIMITED_MEDIA_TYPE, FORBIDDEN, TOO_LARGE, KsqlHttpError, RequestCounter,
)
from headwater.server.state import ServerState
from headwater.session import Session
from headwater.sql.records import RecordCodec


class StreamInserter:
    """Inserts the rows of one /inserts-stream request into its target stream."""

    def __init__(self, session: Session, header: bytes) -> None:
        try:
            body = orjson.loads(header)
        except orjson.JSONDecodeError as exc:
            raise KsqlHttpError(400, BAD_REQUEST, f"Invalid JSON in inserts stream: {exc}") from None
        target = body.get("target") if isinstance(body, dict) else None
        if not isinstance(target, str) or not target:
            raise KsqlHttpError(400, BAD_REQUEST, "Invalid JSON in inserts stream: the first object needs a string "
                                "field \"target\" (the stream to insert into).")
        source = session.catalog.find(target) or session.catalog.find(target.upper())
        if source is None:
            raise KsqlHttpError(400, BAD_REQUEST, f"Cannot insert into an unknown stream: {target}")
        if source.is_table:
            raise KsqlHttpError(400, BAD_REQUEST, "Cannot insert into a table")
        if source.is_source:
            raise KsqlHttpError(400, BAD_REQUEST, f"Cannot insert values into read-only stream: {source.name}")
        self.session = session
        self.source = source
        self.codec = RecordCodec(source)
        self.seq = 0

    def insert(self, line: bytes) -> dict[str, Any]:
        """Insert one row; its ack or error."""
        seq = self.seq
        self.seq += 1
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            return _error(seq, "Invalid JSON in inserts stream")
        if not isinstance(row, dict):
            return _error(seq, "Invalid JSON in inserts stream: a row must be a JSON object")
        try:
            key, value = self.codec.serialize_json(line)
        except HeadwaterError as exc:
            return _error(seq, f"Failed to insert values into '{self.source.name}'. {exc}")
        log = self.session.log
        partitions = log.describe_topic(self.source.topic).partitions
        keys = pa.array([key], pa.binary())
        partition = int(partition_for_keys(keys, partitions, 0)[0]) if key is not None else 0
        records = pa.table({"timestamp": pa.array([time.time_ns() // 1_000_000], pa.int64()), "key": keys,
                            "value": pa.array([value], pa.binary())})
        log.append(self.source.topic, partition, records)
        return {"status": "ok", "seq": seq}


def _error(seq: int, message: str) -> dict[str, Any]:
    return {"status": "error", "seq": seq, "error_code": BAD_REQUEST, "message": message}


def routes(state: ServerState, counter: RequestCounter) -> list[BaseRoute]:
    session = state.session
    limit = state.config.max_body_bytes

    async def inserts_stream(request: Request) -> Response:
        if request_role(request) == READ:
            raise KsqlHttpError(403, FORBIDDEN, "This API key is read-only: it may not insert rows.")
        accept = request.headers.get("accept", "")
        as_json = "application/json" in accept and DELIMITED_MEDIA_TYPE not in accept
        inserter: StreamInserter | None = None
        answers: list[dict[str, Any]] = []
        pending = b""
        size = 0
        failed = False
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise KsqlHttpError(413, TOO_LARGE, f"The request body is larger than {limit} bytes.")
            if failed:
                continue  # the stream ended at the first error; read the rest of the body and drop it
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if failed or not line.strip():
                    continue
                if inserter is None:
                    inserter = await to_thread.run_sync(StreamInserter, session, line)
                    continue
                answers.append(await to_thread.run_sync(inserter.insert, line))
                failed = answers[-1]["status"] == "error"
        if pending.strip() and not failed:
            if inserter is None:
                inserter = await to_thread.run_sync(StreamInserter, session, pending)
            else:
                answers.append(await to_thread.run_sync(inserter.insert, pending))
        if inserter is None:
            raise KsqlHttpError(400, BAD_REQUEST, "The request body is empty; expected {\"target\": ...} and rows.")
        if as_json:
            return Response(orjson.dumps(answers), media_type="application/json")
        return Response(b"".join(orjson.dumps(a) + b"\n" for a in answers), media_type=DELIMITED_MEDIA_TYPE)

    return [Route("/inserts-stream", counter.wrap("inserts-stream", inserts_stream), methods=["POST"])]
