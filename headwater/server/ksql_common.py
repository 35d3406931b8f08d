"""What the ksqlDB REST endpoints share: error bodies, request parsing, auth, row JSON, metrics.

ksqlDB answers every error as ``{"@type", "error_code", "message"}`` where
``error_code`` is the HTTP status times 100 plus a detail digit (40000 bad
request, 40001 bad statement, 40002 "use /query", 40003 too many push
queries, 40100 unauthorized, 40300 forbidden, 40400 not found, 50000 server
error); statement errors add
``statementText`` and the ``entities`` of the statements that ran before the
failing one. Clients (the ksql CLI, ksql-python, the ksqldb package) key on
these codes, so every handler raises :class:`KsqlHttpError` and one wrapper
renders it and counts the outcome.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request
from starlette.responses import Response

from headwater.server.config import ServerConfig
from headwater.server.http import BodyTooLarge, read_body
from headwater.sql.types import ArrayType, MapType, SqlType, StructType

logger = logging.getLogger(__name__)

#: ksqlDB's REST media type; also accepted: application/json.
KSQL_MEDIA_TYPE = "application/vnd.ksql.v1+json"
DELIMITED_MEDIA_TYPE = "application/vnd.ksqlapi.delimited.v1"

BAD_REQUEST = 40000
BAD_STATEMENT = 40001
QUERY_ENDPOINT = 40002
MAX_PUSH = 40003
UNAUTHORIZED = 40100
FORBIDDEN = 40300
NOT_FOUND = 40400
NOT_ACCEPTABLE = 40600
TOO_LARGE = 41300
SERVER_ERROR = 50000


class KsqlHttpError(Exception):
    """An error answered in ksqlDB's shape; ``statement_text`` makes it a ``statement_error``."""

    def __init__(self, status: int, error_code: int, message: str, *, statement_text: str | None = None,
                 entities: list[dict[str, Any]] | None = None, position: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.statement_text = statement_text
        self.entities = entities or []
        self.position = position

    def body(self) -> dict[str, Any]:
        if self.statement_text is None:
            return {"@type": "generic_error", "error_code": self.error_code, "message": self.message}
        body = {"@type": "statement_error", "error_code": self.error_code, "message": self.message,
                "statementText": self.statement_text, "entities": self.entities}
        if self.position is not None:  # Headwater's extra field: where in the request text (the UI marks it)
            body["position"] = self.position
        return body


def error_position(error: BaseException) -> dict[str, int] | None:
    """``{"line", "column"}`` (1-based) of a SQL error that knows where it happened, else None."""
    line, column = getattr(error, "line", 0), getattr(error, "column", 0)
    if isinstance(line, int) and isinstance(column, int) and line > 0:
        return {"line": line, "column": max(1, column)}
    return None


def statement_error(message: str, text: str, entities: list[dict[str, Any]] | None = None,
                    code: int = BAD_STATEMENT, position: dict[str, int] | None = None) -> KsqlHttpError:
    return KsqlHttpError(400, code, message, statement_text=text, entities=entities, position=position)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def json_row(row: list[Any], types: list[SqlType]) -> list[Any]:
    """A result row in ksqlDB's JSON: MAPs as objects, TIMESTAMPs as ISO text, BYTES as base64."""
    return [_json_value(v, t) for v, t in zip(row, types, strict=False)]


def _json_value(value: Any, sql_type: SqlType) -> Any:
    if value is None:
        return None
    if isinstance(sql_type, MapType):
        pairs = value.items() if isinstance(value, Mapping) else value
        return {str(k): _json_value(v, sql_type.value) for k, v in pairs}
    if isinstance(sql_type, ArrayType):
        return [_json_value(v, sql_type.element) for v in value]
    if isinstance(sql_type, StructType) and isinstance(value, Mapping):
        return {f.name: _json_value(value.get(f.name), f.type) for f in sql_type.fields}
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return value


def schema_text(columns: list[str], types: list[SqlType], keys: set[str] | None = None) -> str:
    """The ``schema`` of a /query header: ```ID` STRING KEY, `COUNT` BIGINT``."""
    keys = keys or set()
    return ", ".join(f"`{c}` {t.sql()}{' KEY' if c in keys else ''}" for c, t in zip(columns, types, strict=False))


@dataclass
class KsqlRequest:
    """A /ksql, /query or /query-stream body: statement text, properties, session variables."""

    text: str
    properties: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    sequence: int | None = None


async def read_request(request: Request, config: ServerConfig, text_field: str, properties_field: str) -> KsqlRequest:
    """Parse a request body; every problem is a 4xx naming the field that was wrong."""
    try:
        raw = await read_body(request, config.max_body_bytes)
    except BodyTooLarge as exc:
        raise KsqlHttpError(413, TOO_LARGE, str(exc)) from None
    if not raw.strip():
        raise KsqlHttpError(400, BAD_REQUEST, f"The request body is empty; expected a JSON object with \"{text_field}\".")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise KsqlHttpError(400, BAD_REQUEST, f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise KsqlHttpError(400, BAD_REQUEST, f"The request body must be a JSON object, not {type(body).__name__}.")
    text = body.get(text_field)
    if not isinstance(text, str) or not text.strip():
        raise KsqlHttpError(400, BAD_REQUEST, f"The request needs a non-empty string field \"{text_field}\".")
    properties = _string_map(body, properties_field)
    variables = _string_map(body, "sessionVariables")
    sequence = body.get("commandSequenceNumber")
    if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool)):
        raise KsqlHttpError(400, BAD_REQUEST, "\"commandSequenceNumber\" must be an integer.")
    return KsqlRequest(text, properties, variables, sequence)


def _string_map(body: dict[str, Any], name: str) -> dict[str, str]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise KsqlHttpError(400, BAD_REQUEST, f"\"{name}\" must be a JSON object of names to values.")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, (dict, list)):
            raise KsqlHttpError(400, BAD_REQUEST, f"\"{name}\".{key} must be a string, number or boolean.")
        out[key] = "" if item is None else (str(item).lower() if isinstance(item, bool) else str(item))
    return out


def response_media_type(request: Request) -> str:
    """ksqlDB answers in the media type asked for: application/json or its own (the default)."""
    accept = request.headers.get("accept", "")
    if "application/json" in accept and KSQL_MEDIA_TYPE not in accept:
        return "application/json"
    return KSQL_MEDIA_TYPE


def error_response(exc: KsqlHttpError, media_type: str = KSQL_MEDIA_TYPE) -> Response:
    return Response(dumps(exc.body()), status_code=exc.status, media_type=media_type)


class RequestCounter:
    """``headwater_ksql_requests_total{endpoint, outcome}`` on the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.counter = Counter("headwater_ksql_requests", "ksqlDB REST requests by endpoint and outcome.",
                               ["endpoint", "outcome"], registry=registry)

    def wrap(self, endpoint: str, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def counted(request: Request) -> Response:
            try:
                response = await handler(request)
            except KsqlHttpError as exc:
                self.counter.labels(endpoint, "client_error" if exc.status < 500 else "server_error").inc()
                return error_response(exc, response_media_type(request))
            except Exception as exc:  # a defect, not the client's fault: say so, log the trace
                logger.exception("ksql endpoint %s failed", endpoint)
                self.counter.labels(endpoint, "server_error").inc()
                return error_response(KsqlHttpError(500, SERVER_ERROR, f"Internal server error: {exc}"))
            outcome = "ok" if response.status_code < 400 else (
                "client_error" if response.status_code < 500 else "server_error")
            self.counter.labels(endpoint, outcome).inc()
            return response

        return counted
