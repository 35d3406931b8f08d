"""``headwater up``: run the server (collector, ksqlDB REST, topics, Connect, /metrics) with uvicorn.

Every option has an environment variable (``HEADWATER_...``), so a service
manager can configure it without flags. It binds 127.0.0.1:8088 unless told
otherwise, and refuses another address without an admin key (``--insecure``
overrides, with a warning): the admin APIs run SQL and connectors that read
and write files. SIGTERM and SIGINT stop it gracefully: uvicorn stops accepting,
finishes the requests in flight (their events are appended and answered),
then the app's shutdown stops the collector's writer, the persistent queries
and the log.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import ipaddress
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
from headwater.server.app import create_app
from headwater.server.config import ServerConfig
from headwater.server.log_format import FORMATS, configure_logging
from headwater.server.memory import configure_allocators

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
        list[str] | None,
        typer.Option("--admin-key", envvar="HEADWATER_ADMIN_KEY",
                     help="API key that may read and change everything (X-API-Key, Bearer or HTTP Basic "
                     "password; repeat for several; env: comma-separated). With keys set, every API but the "
                     "collector and health checks needs one."),
    ] = None,
    read_key: Annotated[
        list[str] | None,
        typer.Option("--read-key", envvar="HEADWATER_READ_KEYS",
                     help="API key that may read (topics, queries, SHOW/DESCRIBE, /metrics) but change nothing."),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option("--allowed-host", envvar="HEADWATER_ALLOWED_HOSTS",
                     help="Host header name accepted besides 127.0.0.1, localhost, [::1] and the bound address "
                     "(against DNS rebinding); '*' accepts any."),
    ] = None,
    allowed_origin: Annotated[
        list[str] | None,
        typer.Option("--allowed-origin", envvar="HEADWATER_ALLOWED_ORIGINS",
                     help="Web origin (https://host[:port]) whose pages may call the admin APIs (CORS)."),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", envvar="HEADWATER_INSECURE",
                           help="Allow binding a non-loopback address without an admin key.")
    ] = False,
    connect_files_dir: Annotated[
        str | None,
        typer.Option(envvar="HEADWATER_CONNECT_FILES_DIR",
                     help="The only directory file connectors and jdbc:sqlite: may use (default: "
                     "<data dir>/connect-files; '/' opens all)."),
    ] = None,
    connect_allow_host: Annotated[
        list[str] | None,
        typer.Option("--connect-allow-host", envvar="HEADWATER_CONNECT_ALLOW_HOSTS",
                     help="Database host or host:port JDBC and CDC connectors may reach (repeat; '*' allows any)."),
    ] = None,
    tls_cert: Annotated[
        str | None, typer.Option(envvar="HEADWATER_TLS_CERT", help="PEM certificate (chain): serve HTTPS.")
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option(envvar="HEADWATER_TLS_KEY", help="PEM private key of --tls-cert.")
    ] = None,
    log_format: Annotated[
        str, typer.Option(envvar="HEADWATER_LOG_FORMAT", help="text (readable) or json (one object per line).")
    ] = "text",
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
    http2: Annotated[
        bool, typer.Option("--http2", envvar="HEADWATER_HTTP2",
                           help="Also serve HTTP/2 without TLS (h2c), as the ksqlDB clients' /query-stream "
                           "calls need (pip install 'headwater\\[http2]').")
    ] = False,
    workers: Annotated[
        int, typer.Option(envvar="HEADWATER_WORKERS", min=1, help="Server processes: one primary (SQL, "
                          "connectors) and N-1 collector workers sharing the port.")
    ] = 1,
    dashboards: Annotated[
        str | None, typer.Option("--dashboards", envvar="HEADWATER_DASHBOARDS",
                                 help="Folder of dashboard files (<id>.yaml); PUT /dashboards saves there.")
    ] = None,
    role: Annotated[str, typer.Option(hidden=True)] = "all",
    private_port: Annotated[int, typer.Option(hidden=True)] = 0,
    primary_url: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run the server: collector (/v1/...), ksqlDB REST API, topic API, Connect API, /metrics."""
    admin_keys, read_keys = _listed(admin_key), _listed(read_key)
    if not _is_loopback(host) and not admin_keys:
        if not insecure:
            raise fail(f"refusing to bind {host}: anyone who reaches it could run SQL and connectors. Set "
                       "--admin-key (HEADWATER_ADMIN_KEY), or pass --insecure to serve without one.")
        if role == "all":  # once, not again from each worker process
            typer.echo(f"WARNING: serving {host}:{port} without an admin key (--insecure): anyone who reaches it "
                       "can run SQL, read topics and start connectors.", err=True)
    if bool(tls_cert) != bool(tls_key):
        raise fail("--tls-cert and --tls-key go together.")
    if log_format not in FORMATS:
        raise fail(f"--log-format must be text or json, got {log_format!r}")
    if workers > 1 and role == "all":
        raise typer.Exit(supervise(workers, host, port))
    import uvicorn

    keys = _listed(write_key)
    properties = dict(_property(p) for item in (ksql_property or []) for p in item.split(",") if p.strip())
    config = ServerConfig(
        host=host, port=port, log_url=log, write_keys=keys, events_topic=events_topic,
        events_partitions=events_partitions, dead_letter_topic=dead_letter_topic, dedupe_window_s=dedupe_window_s,
        dedupe_max_ids=dedupe_max_ids, admin_keys=admin_keys, read_keys=read_keys,
        allowed_hosts=_listed(allowed_host), allowed_origins=_listed(allowed_origin),
        connect_files_dir=connect_files_dir, connect_allowed_hosts=_listed(connect_allow_host),
        max_body_bytes=max_body_bytes,
        max_event_bytes=max_event_bytes, raw_batch=raw_batch, ksql_properties=properties,
        workers=workers, role=role, primary_url=primary_url, dashboards_dir=dashboards,
    )
    configure_logging(log_level, log_format)
    configure_allocators()  # before the queries' threads start
    try:
        application = create_app(config)
    except HeadwaterError as exc:
        raise fail(str(exc)) from None
    tune_gc()
    protocol: dict[str, object] = {}
    if http2:  # uvicorn's zttp protocol answers HTTP/1.1 and prior-knowledge HTTP/2 on one port
        if not _has_zttp():
            raise fail("--http2 needs the zttp package: pip install 'headwater[http2]'")
        protocol = {"http": "zttp", "http2": True}
    if tls_cert:
        protocol.update(ssl_certfile=tls_cert, ssl_keyfile=tls_key)
        if _has_zttp():  # h2 by ALPN beside HTTP/1.1
            protocol.update(http="zttp", http2=True)
    options = {"log_level": log_level.lower(), "access_log": False, "timeout_graceful_shutdown": 10,
               "log_config": None, **protocol}
    if role == "all":
        uvicorn.run(application, host=host, port=port, **options)  # type: ignore[arg-type]
        return
    sockets = [shared_socket(host, port)]
    if role == "primary":
        sockets.append(shared_socket("127.0.0.1", private_port))
    server = uvicorn.Server(uvicorn.Config(application, **options))  # type: ignore[arg-type]
    server.run(sockets=sockets)


def _listed(values: list[str] | None) -> tuple[str, ...]:
    """Repeated options and comma-separated environment values, as one tuple."""
    return tuple(v.strip() for item in (values or []) for v in item.split(",") if v.strip())


def _is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _has_zttp() -> bool:
    return importlib.util.find_spec("zttp") is not None


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
