"""``headwater up``: run the server (collector, ksqlDB REST, topics, Connect, /metrics) with uvicorn.

Every option has an environment variable (``HEADWATER_...``), so a service
manager can configure it without flags. It binds 127.0.0.1:8088 unless told
otherwise. SIGTERM and SIGINT stop it gracefully: uvicorn stops accepting,
finishes the requests in flight (their events are appended and answered),
then the app's shutdown stops the collector's writer, the persistent queries
and the log.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from headwater.cli.common import LogUrl, app, fail
from headwater.errors import HeadwaterError
from headwater.server.config import ServerConfig

_DEFAULTS = ServerConfig()


def _property(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise typer.BadParameter(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


@app.command()
def up(
    log: LogUrl = _DEFAULTS.log_url,
    host: Annotated[str, typer.Option(envvar="HEADWATER_HOST", help="Address to bind.")] = _DEFAULTS.host,
    port: Annotated[int, typer.Option(envvar="HEADWATER_PORT", help="Port to listen on.")] = _DEFAULTS.port,
    write_key: Annotated[
        list[str] | None,
        typer.Option("--write-key", envvar="HEADWATER_WRITE_KEYS",
                     help="Collector write key (repeat for several; env: comma-separated). None: open."),
    ] = None,
    admin_key: Annotated[
        str | None,
        typer.Option(envvar="HEADWATER_ADMIN_KEY", help="Key (X-API-Key header) for /ksql, /query*, topic "
                     "writes and connectors."),
    ] = None,
    events_topic: Annotated[str, typer.Option(envvar="HEADWATER_EVENTS_TOPIC")] = _DEFAULTS.events_topic,
    events_partitions: Annotated[
        int, typer.Option(envvar="HEADWATER_EVENTS_PARTITIONS", min=1, help="Partitions of a new events topic.")
    ] = _DEFAULTS.events_partitions,
    dead_letter_topic: Annotated[
        str, typer.Option(envvar="HEADWATER_DEAD_LETTER_TOPIC", help="Where refused input is kept, with the reason.")
    ] = _DEFAULTS.dead_letter_topic,
    dedupe_window_s: Annotated[
        float, typer.Option(envvar="HEADWATER_DEDUPE_WINDOW_S", min=0, help="messageId de-duplication window (s).")
    ] = _DEFAULTS.dedupe_window_s,
    dedupe_max_ids: Annotated[int, typer.Option(envvar="HEADWATER_DEDUPE_MAX_IDS", min=1)] = _DEFAULTS.dedupe_max_ids,
    raw_batch: Annotated[
        bool, typer.Option("--raw-batch", envvar="HEADWATER_RAW_BATCH",
                           help="POST /v1/batch stores the body byte for byte as one record.")
    ] = False,
    max_body_bytes: Annotated[
        int, typer.Option(envvar="HEADWATER_MAX_BODY_BYTES", min=1, help="Largest request body (after gunzip).")
    ] = _DEFAULTS.max_body_bytes,
    max_event_bytes: Annotated[
        int, typer.Option(envvar="HEADWATER_MAX_EVENT_BYTES", min=1)
    ] = _DEFAULTS.max_event_bytes,
    ksql_property: Annotated[
        list[str] | None,
        typer.Option("--ksql-property", envvar="HEADWATER_KSQL_PROPERTIES", help="NAME=VALUE session property."),
    ] = None,
    log_level: Annotated[str, typer.Option(envvar="HEADWATER_LOG_LEVEL")] = "info",
) -> None:
    """Run the server: collector (/v1/...), ksqlDB REST API, topic API, Connect API, /metrics."""
    import uvicorn

    from headwater.server.app import create_app

    keys = tuple(k.strip() for item in (write_key or []) for k in item.split(",") if k.strip())
    properties = dict(_property(p) for item in (ksql_property or []) for p in item.split(",") if p.strip())
    config = ServerConfig(
        host=host, port=port, log_url=log, write_keys=keys, events_topic=events_topic,
        events_partitions=events_partitions, dead_letter_topic=dead_letter_topic, dedupe_window_s=dedupe_window_s,
        dedupe_max_ids=dedupe_max_ids, admin_key=admin_key or None, max_body_bytes=max_body_bytes,
        max_event_bytes=max_event_bytes, raw_batch=raw_batch, ksql_properties=properties,
    )
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        application = create_app(config)
    except HeadwaterError as exc:
        raise fail(str(exc)) from None
    uvicorn.run(application, host=host, port=port, log_level=log_level.lower(), access_log=False,
                timeout_graceful_shutdown=10)
