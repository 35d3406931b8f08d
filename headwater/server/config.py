"""What a server is configured with; ``headwater up`` fills it from options and environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from headwater.log import DEFAULT_LOG_URL


@dataclass(frozen=True)
class ServerConfig:
    #: Address to bind; 127.0.0.1 unless the operator says otherwise.
    host: str = "127.0.0.1"
    port: int = 8088
    #: The log: an embedded directory or kafka://host:port.
    log_url: str = DEFAULT_LOG_URL
    #: Collector write keys (HTTP Basic user); empty means the collector is open.
    write_keys: tuple[str, ...] = ()
    #: Topic the collector appends events to.
    events_topic: str = "events"
    events_partitions: int = 1
    #: messageId de-duplication window of the collector, in seconds.
    dedupe_window_s: float = 24 * 3600.0
    #: When set, /ksql, /query*, topic writes and the connector API need header X-API-Key (or Bearer).
    admin_key: str | None = None
    #: Largest request body accepted, in bytes (after gzip decompression for the collector).
    max_body_bytes: int = 4 * 1024 * 1024
    #: Session properties for the SQL engine (ksqlDB names).
    ksql_properties: dict[str, str] = field(default_factory=dict)
