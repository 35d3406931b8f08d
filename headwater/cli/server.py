"""``headwater up``: run the server (collector, ksqlDB REST, topics, Connect, /metrics) with uvicorn.

Every option has an environment variable (``HEADWATER_...``), so a service
manager can configure it without flags. It binds 127.0.0.1:8088 unless told
otherwise. SIGTERM and SIGINT stop it gracefully: uvicorn stops accepting,
finishes the requests in flight (their events are appended and answered),
then the app's shutdown stops the collector's writer, the persistent queries
and the log.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
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
    workers: Annotated[
        int, typer.Option(envvar="HEADWATER_WORKERS", min=1, help="Server processes: one primary (SQL, "
                          "connectors) and N-1 collector workers sharing the port.")
    ] = 1,
    role: Annotated[str, typer.Option(hidden=True)] = "all",
    private_port: Annotated[int, typer.Option(hidden=True)] = 0,
    primary_url: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run the server: collector (/v1/...), ksqlDB REST API, topic API, Connect API, /metrics."""
    if workers > 1 and role == "all":
        raise typer.Exit(supervise(workers, host, port))
    import uvicorn

    from headwater.server.app import create_app

    keys = tuple(k.strip() for item in (write_key or []) for k in item.split(",") if k.strip())
    properties = dict(_property(p) for item in (ksql_property or []) for p in item.split(",") if p.strip())
    config = ServerConfig(
        host=host, port=port, log_url=log, write_keys=keys, events_topic=events_topic,
        events_partitions=events_partitions, dead_letter_topic=dead_letter_topic, dedupe_window_s=dedupe_window_s,
        dedupe_max_ids=dedupe_max_ids, admin_key=admin_key or None, max_body_bytes=max_body_bytes,
        max_event_bytes=max_event_bytes, raw_batch=raw_batch, ksql_properties=properties,
        workers=workers, role=role, primary_url=primary_url,
    )
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        application = create_app(config)
    except HeadwaterError as exc:
        raise fail(str(exc)) from None
    tune_gc()
    if role == "all":
        uvicorn.run(application, host=host, port=port, log_level=log_level.lower(), access_log=False,
                    timeout_graceful_shutdown=10)
        return
    sockets = [shared_socket(host, port)]
    if role == "primary":
        sockets.append(shared_socket("127.0.0.1", private_port))
    server = uvicorn.Server(uvicorn.Config(application, log_level=log_level.lower(), access_log=False,
                                           timeout_graceful_shutdown=10))
    server.run(sockets=sockets)


def tune_gc() -> None:
    """Make the cyclic GC cheap for a server that parses thousands of events per request.

    A batch is alive while it is parsed, so its objects survive young
    collections, are promoted and then trigger full collections that rescan
    everything the process holds (Arrow, DuckDB, the app): measured at about a
    sixth of the collector's CPU. Freezing what startup built removes it from
    those scans, and a higher first threshold lets parsed batches die by
    reference counting before a collection sees them.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket that other processes may bind too (SO_REUSEPORT: the kernel spreads connections)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the supervisor dies (even by kill -9), on Linux.

    The children run in their own session, so a terminal's Ctrl-C reaches only
    the supervisor, which then stops each child once (a second signal would
    make uvicorn skip the graceful part).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def supervise(workers: int, host: str, port: int) -> int:
    """Run one primary and ``workers - 1`` collector workers; stop them all on SIGTERM/SIGINT.

    The primary starts first (it creates the topics and replays the command
    log); the collector workers then bind the same port. Counters of every
    process go to one PROMETHEUS_MULTIPROC_DIR, which the primary's /metrics sums.
    Exits with 1 when a process dies on its own (the others are stopped).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        private = int(probe.getsockname()[1])
    metrics_dir = tempfile.mkdtemp(prefix="headwater-metrics-")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
    base = [sys.executable, "-m", "headwater.cli", *sys.argv[1:], "--workers", "1"]
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        primary = subprocess.Popen([*base, "--role", "primary", "--private-port", str(private)], env=env,
                                   start_new_session=True, preexec_fn=_die_with_parent)
        children.append(primary)
        deadline = time.monotonic() + 120
        while not stopping and time.monotonic() < deadline and primary.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", private), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            stopping = True
        if not stopping:
            for _ in range(workers - 1):
                children.append(subprocess.Popen(
                    [*base, "--role", "collector", "--primary-url", f"http://127.0.0.1:{private}"], env=env,
                    start_new_session=True, preexec_fn=_die_with_parent))
        failed = False
        while not stopping:
            if any(child.poll() is not None for child in children):
                failed = True
                break
            time.sleep(0.2)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return 1 if failed else 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(metrics_dir, ignore_errors=True)
