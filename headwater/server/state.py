"""The state every route module of the server shares (``routes(state)``): configuration, log, SQL
session, connector runtime, Prometheus registry, and what to close on shutdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from headwater.log import Log
from headwater.server.config import ServerConfig
from headwater.session import Session


@dataclass
class ServerState:
    config: ServerConfig
    log: Log
    session: Session
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    #: Set by the connect module when it starts its runtime.
    connect: Any = None
    #: Objects with a ``close()`` to call when the app shuts down (runtimes, background writers).
    closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer.close()
        self.closers.clear()
