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
    #: Topic where the collector keeps what it refused (bad JSON, invalid events), with the reason.
    dead_letter_topic: str = "events_dlq"
    #: messageId de-duplication window of the collector, in seconds.
    dedupe_window_s: float = 24 * 3600.0
    #: Most messageIds remembered for de-duplication (the oldest are forgotten first; ~200 bytes each).
    dedupe_max_ids: int = 1_000_000
    #: POST /v1/batch stores the body byte for byte as one record (what seed 004's Go collector did).
    raw_batch: bool = False
    #: Largest single event, in bytes of JSON (Segment's limit is 32 KB).
    max_event_bytes: int = 32 * 1024
    #: Most events one group commit appends at once.
    max_group_events: int = 50_000
    #: An admin key (kept for the single-key setups); it joins ``admin_keys``.
    admin_key: str | None = None
    #: Keys that may read and change everything (X-API-Key, Bearer, or the HTTP Basic password).
    admin_keys: tuple[str, ...] = ()
    #: Keys that may read (topics, queries, SHOW/DESCRIBE, connector configs with secrets masked) but not change.
    read_keys: tuple[str, ...] = ()
    #: Host header names accepted besides 127.0.0.1, localhost, [::1] and the bound address (DNS rebinding);
    #: "*" accepts any. With a wildcard bind (0.0.0.0, ::) and none given, any Host is accepted.
    allowed_hosts: tuple[str, ...] = ()
    #: Origins (scheme://host[:port]) whose pages may call the admin APIs; same-origin pages always may.
    allowed_origins: tuple[str, ...] = ()
    #: The one directory file connectors and jdbc:sqlite: URLs may use; None: <embedded log>/connect-files
    #: (./connect-files with a Kafka log). "/" opens the whole file system.
    connect_files_dir: str | None = None
    #: Database hosts (host or host:port) JDBC connectors may reach; "*" allows any. Empty: none.
    connect_allowed_hosts: tuple[str, ...] = ()
    #: Largest request body accepted, in bytes (after gzip decompression for the collector).
    max_body_bytes: int = 4 * 1024 * 1024
    #: Session properties for the SQL engine (ksqlDB names).
    ksql_properties: dict[str, str] = field(default_factory=dict)
    #: Server processes (``headwater up --workers``): one primary, the others collector workers.
    workers: int = 1
    #: "all" (one process does everything), "primary" (SQL, connectors, topics, metrics; serves also on
    #: a private port) or "collector" (collector only; forwards the rest to ``primary_url``).
    role: str = "all"
    primary_url: str | None = None
    #: A folder of dashboard files (<id>.yaml, ``headwater up --dashboards DIR``); PUT /dashboards writes there.
    #: None: dashboards saved over the API go to dashboards/ beside the embedded log's data.
    dashboards_dir: str | None = None

    def key_roles(self) -> dict[str, str]:
        """Every configured API key and its role ("admin" or "read"); empty: the APIs are open."""
        roles = {key: "read" for key in self.read_keys if key}
        roles.update({key: "admin" for key in (*self.admin_keys, self.admin_key or "") if key})
        return roles
