"""Connector secrets: masked in what the Connect API and statements answer, redacted from logs.

As Kafka Connect does for ``PASSWORD`` config keys, the value of a password
key (one the connector declares as PASSWORD, or any key whose last part is
``password``) is answered as ``[hidden]``, and so is the password part of a
connection URL (``//user:secret@host`` or ``password=secret``). The stored
config keeps the real value, which the connector uses. A config sent back
with ``[hidden]`` where a secret was (GET, edit, PUT) keeps the stored secret.

Every secret the runtime accepts is remembered by the process's
:data:`REDACTOR`, whose :class:`RedactingFilter` replaces it in log records
(messages, arguments and tracebacks), so no handler ever writes one.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping

HIDDEN = "[hidden]"
_URL_USERINFO = re.compile(r"(?P<head>//[^/@:\s]*:)(?P<secret>[^@/\s]+)(?=@)")
_URL_PARAM = re.compile(r"(?P<head>(?:password|passwd|pwd)=)(?P<secret>[^&;\s]+)", re.IGNORECASE)


def is_password_key(key: str, password_keys: Iterable[str] = ()) -> bool:
    last = key.rsplit(".", 1)[-1].lower()
    # basic.auth.user.info is "user:password" (the schema-registry converters' credentials).
    return (key in password_keys or last in ("password", "passwd", "secret") or last.endswith("password")
            or key.lower().endswith("basic.auth.user.info"))


def url_secrets(url: str) -> list[str]:
    """The passwords written inside a connection URL."""
    return [m.group("secret") for pattern in (_URL_USERINFO, _URL_PARAM) for m in pattern.finditer(url)]


def mask_url(url: str) -> str:
    masked = _URL_USERINFO.sub(lambda m: m.group("head") + HIDDEN, url)
    return _URL_PARAM.sub(lambda m: m.group("head") + HIDDEN, masked)


def masked_config(config: Mapping[str, str], password_keys: Iterable[str] = ()) -> dict[str, str]:
    """The config as the API shows it: password values and URL passwords as ``[hidden]``."""
    keys = set(password_keys)
    out: dict[str, str] = {}
    for key, value in config.items():
        if value and is_password_key(key, keys):
            out[key] = HIDDEN
        elif isinstance(value, str) and "url" in key.lower():
            out[key] = mask_url(value)
        else:
            out[key] = value
    return out


def config_secrets(config: Mapping[str, str], password_keys: Iterable[str] = ()) -> list[str]:
    keys = set(password_keys)
    found = [v for k, v in config.items() if v and is_password_key(k, keys) and v != HIDDEN]
    for key, value in config.items():
        if isinstance(value, str) and "url" in key.lower():
            found.extend(s for s in url_secrets(value) if s != HIDDEN)
    return found


def unmasked(new: Mapping[str, str], stored: Mapping[str, str], password_keys: Iterable[str] = ()) -> dict[str, str]:
    """``new`` with each ``[hidden]`` put back to the stored secret it stands for (GET, edit, PUT)."""
    keys = set(password_keys)
    out = dict(new)
    for key, value in new.items():
        old = stored.get(key)
        if old is None or not isinstance(value, str) or HIDDEN not in value:
            continue
        if value == HIDDEN and is_password_key(key, keys):
            out[key] = old
        elif mask_url(old) == value:
            out[key] = old
    return out


class Redactor:
    """The secrets of this process's connectors; replaces them in any text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def remember(self, secrets: Iterable[str]) -> None:
        # Very short values would redact ordinary words; a real password is longer than 3 characters.
        fresh = {s for s in secrets if len(s) >= 4}
        with self._lock:
            if fresh - self._secrets:
                self._secrets |= fresh
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def redact(self, text: str) -> str:
        pattern = self._pattern
        text = mask_url(text) if "//" in text or "=" in text else text
        return pattern.sub(HIDDEN, text) if pattern is not None else text


#: The one redactor of the process (log handlers are process-wide too).
REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """Put on a handler: the record's message and traceback leave with every known secret redacted."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = self.redactor.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True
