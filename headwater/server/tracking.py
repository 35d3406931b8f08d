"""Segment's tracking API events: validation and the fields the collector adds.

A client sends events (``track``, ``identify``, ``page``, ``screen``,
``group``, ``alias``) alone or in a batch. Each event that passes
:func:`prepare_event` becomes one record of the events topic: its value is
the event as JSON with ``messageId``, ``receivedAt``, ``sentAt``,
``timestamp`` and ``originalTimestamp`` filled in as Segment does; its key is
the ``userId`` (else the ``anonymousId``).

Clock skew: a device's clock may be wrong, but the difference between its
``timestamp`` and its ``sentAt`` is right. So, when both are given, the
collector sets ``timestamp = receivedAt - (sentAt - originalTimestamp)`` (the
client's own value stays in ``originalTimestamp``). Without ``sentAt`` the
client's timestamp is kept; without a timestamp, ``receivedAt`` is used.
"""

from __future__ import annotations

import functools
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import orjson

EVENT_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})

#: Fields an event of a type must carry, besides userId or anonymousId.
_REQUIRED: dict[str, tuple[str, ...]] = {"track": ("event",), "group": ("groupId",), "alias": ("previousId",)}
#: Numeric timestamps beyond year 9999 cannot be written as ISO-8601 (and overflow 64-bit indexes).
MAX_TIME_MS = 253_402_300_799_999


class EventRejected(Exception):
    """An event the collector refuses; ``outcome`` is the reason's label in /metrics."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


#: One accepted event, ready for the log: (messageId, key, value). A plain tuple: one is made per event.
PreparedEvent = tuple[str, bytes | None, bytes]


@functools.lru_cache(maxsize=4096)
def iso_ms(epoch_ms: int) -> str:
    """``2026-11-22T09:30:00.123Z``: the form Segment writes its timestamps in."""
    seconds, millis = divmod(epoch_ms, 1000)
    t = time.gmtime(seconds)
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
            f"{t.tm_sec:02d}.{millis:03d}Z")


def parse_time_ms(value: Any, field: str) -> int:
    """Milliseconds since the epoch of an ISO-8601 string (or of a number of ms)."""
    if isinstance(value, str):
        parsed = _parse_iso_ms(value)
        if parsed is not None:
            return parsed
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if not -MAX_TIME_MS <= value <= MAX_TIME_MS:  # also NaN, which no comparison holds for
            raise EventRejected("invalid_field", f"{field} must be milliseconds between -{MAX_TIME_MS} and "
                                                 f"{MAX_TIME_MS} (years 1 to 9999), got {value!r}")
        return int(value)
    raise EventRejected("invalid_field", f"{field} must be an ISO-8601 date, got {value!r}")


@functools.lru_cache(maxsize=8192)
def _parse_iso_ms(value: str) -> int | None:
    """Cached: the events of one batch mostly share their sentAt, and often their timestamps."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def _identity(event: dict[str, Any], name: str) -> str | None:
    value = event.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # Segment accepts numeric ids and stores them as strings
    if not isinstance(value, str):
        raise EventRejected("invalid_field", f"{name} must be a string, got {type(value).__name__}")
    return value


def prepare_event(
    event: Any,
    *,
    received_ms: int,
    received_at: str,
    batch_sent_at: Any = None,
    batch_context: dict[str, Any] | None = None,
    forced_type: str | None = None,
    max_event_bytes: int,
) -> PreparedEvent:
    """Validate one event and fill in the collector's fields; raise EventRejected with the reason.

    ``forced_type`` is the type of a single-event endpoint (``/v1/track``
    stores a track whatever the body's ``type`` says, as Segment does).
    """
    if not isinstance(event, dict):
        raise EventRejected("invalid_event", f"an event must be a JSON object, got {type(event).__name__}")
    kind = forced_type or event.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise EventRejected("unknown_type", f"unknown event type {kind!r}; expected one of "
                                            f"{', '.join(sorted(EVENT_TYPES))}")
    user_id = _identity(event, "userId")
    anonymous_id = _identity(event, "anonymousId")
    if user_id is None and anonymous_id is None:
        raise EventRejected("missing_id", f"{kind} event needs a userId or an anonymousId")
    for name in _REQUIRED.get(kind, ()):
        if not event.get(name):
            raise EventRejected("invalid_field", f"{kind} event needs {name!r}")
    out = event  # freshly parsed from the request and ours: filled in place, not copied
    out["type"] = kind
    if user_id is not None:
        out["userId"] = user_id
    if anonymous_id is not None:
        out["anonymousId"] = anonymous_id
    if batch_context and isinstance(batch_context, dict):
        own = out.get("context")
        out["context"] = {**batch_context, **own} if isinstance(own, dict) else batch_context
    message_id = out.get("messageId")
    if message_id is None or message_id == "":
        message_id = f"api-{uuid.uuid4()}"
    elif not isinstance(message_id, str):
        message_id = str(message_id)
    out["messageId"] = message_id
    out["receivedAt"] = received_at
    sent_at = out.get("sentAt", batch_sent_at)
    timestamp = out.get("timestamp")
    if timestamp is None:
        out["timestamp"] = received_at
    else:
        original_ms = parse_time_ms(timestamp, "timestamp")
        out["originalTimestamp"] = timestamp
        if sent_at is not None:
            skew = parse_time_ms(sent_at, "sentAt") - original_ms
            out["timestamp"] = iso_ms(received_ms - skew)
    if sent_at is not None:
        out["sentAt"] = sent_at
    try:
        value = orjson.dumps(out)
    except TypeError as exc:  # orjson writes at most 255 levels of nesting
        raise EventRejected("invalid_event", f"the event cannot be stored as JSON: {exc} (at most 255 levels "
                                             "of nested objects and arrays)") from None
    if len(value) > max_event_bytes:
        raise EventRejected("too_large", f"event is {len(value)} bytes, over the limit of {max_event_bytes}")
    key = (user_id if user_id is not None else anonymous_id or "").encode()
    return message_id, key, value
