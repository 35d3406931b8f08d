"""``headwater demo``: the server, the five seed systems as apps, their generators; the URL and what to look at.

It starts ``headwater up`` (a child process on ``--port``, data in ``--log``),
applies every app whose requirements are met (``cdc`` needs the CDC
connectors, MariaDB and PostgreSQL; the others need nothing), starts their
generators at a moderate rate (datagen connectors, and Segment batches posted
to the collector), prints where to look, and runs until Ctrl-C, which stops
the traffic and then the server cleanly. ``--seconds N`` stops by itself after
N seconds (tests, the memory benchmark). Run it again: the apps are already
there (a rerun changes nothing) and go on from their data.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Annotated

import httpx
import sqlalchemy as sa
import typer
from rich.text import Text

from headwater.apps.producers import CdcProducers
from headwater.apps.runner import AppError, HttpTarget, Settings, check_requirements, release_app, run_app, \
    search_hosts, unavailable
from headwater.apps.spec import all_apps, load_app
from headwater.apps.traffic import SegmentTraffic
from headwater.cli.common import LogUrl, app, console, err_console, fail
from headwater.log import DEFAULT_LOG_URL

WRITE_KEY = "demo-write-key"
DATABASE_HOSTS = ("127.0.0.1:3306", "127.0.0.1:5432")

EXPLAINED = "\n".join([
    "[bold]What you are looking at[/bold]",
    "- A [bold]stream[/bold] is an unbounded sequence of events over a topic: every website visit, every click.",
    "- A [bold]table[/bold] holds the latest value per key, updated as events arrive: visit seconds per last page "
    "in 5-second windows (website), counts per day and product (auditlog), bytes per user per minute "
    "(clickstream).",
    "- Persistent queries turn streams into streams and tables, continuously and exactly once: ABANDONED_CARTS "
    "takes the visits that ended in the cart, [bold]ERRORS_PER_MIN[/bold] counts the clicks with an error status.",
    "- A [bold]pull query[/bold] asks a table for its current rows and ends, like a database query "
    "(SELECT * FROM VISIT_LEADERBOARD;); a push query (EMIT CHANGES) streams every change until stopped.",
])


def _wait_healthy(url: str, server: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise fail(f"the server exited (code {server.returncode}); its messages are above")
        try:
            if httpx.get(f"{url}/healthcheck", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise fail(f"the server did not answer on {url} within {timeout_s:.0f} s")


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _start_apps(url: str, settings: Settings, databases: str | None) -> list[str]:
    """Apply every app that can run here; return the names of those started. ``databases``: why the apps that
    need a database cannot have one, or None."""
    target = HttpTarget(url)
    started = []
    try:
        for spec in all_apps():
            missing = unavailable(spec)
            try:
                if missing is None:
                    check_requirements(spec, settings)
            except AppError as exc:
                missing = str(exc)
            if missing is None and spec.requires and databases is not None:
                missing = databases
            if missing is not None:
                console.print(Text(f"  {spec.name}: not started ({missing})"), soft_wrap=True)
                continue
            try:
                report = run_app(spec, target, settings)
            except AppError as exc:  # one app that cannot start does not stop the others
                console.print(Text(f"  {spec.name}: failed to start ({exc})", style="red"), soft_wrap=True)
                continue
            changed = [line for line in report if line.startswith("connector ") and "unchanged" not in line]
            console.print(Text(f"  {spec.name}: {spec.title}" + (f" ({len(changed)} connectors started)"
                                                                  if changed else "")), soft_wrap=True)
            started.append(spec.name)
    finally:
        target.close()
    return started


@app.command()
def demo(
    log_url: LogUrl = DEFAULT_LOG_URL,
    port: Annotated[int, typer.Option(envvar="HEADWATER_PORT", help="Port of the demo's server.")] = 8088,
    seconds: Annotated[float | None, typer.Option(
        min=0, help="Stop by itself after this many seconds (default: run until Ctrl-C).")] = None,
    once: Annotated[bool, typer.Option(
        "--once", help="Stop as soon as every app's tables have data (at most --seconds, default 180).")] = False,
    traffic_interval_s: Annotated[float, typer.Option(
        min=0.05, help="Seconds between the Segment batches sent to the collector.")] = 1.0,
    search_url: Annotated[str | None, typer.Option(
        envvar="HEADWATER_SEARCH_URL",
        help="Elasticsearch/OpenSearch URL for the clickstream app's sinks (default: those sinks are skipped).")
    ] = None,
) -> None:
    """The server with the five seed systems as apps and their generators; prints where to look."""
    if "://" in log_url.removeprefix("file://"):
        raise fail("the demo runs on an embedded log directory (--log DIR)")
    data_dir = os.path.abspath(log_url.removeprefix("file://"))
    url = f"http://127.0.0.1:{port}"
    console.print("[bold]Headwater demo[/bold]: the five seed systems as apps on one server\n")
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise fail(f"port {port} is in use (a running `headwater up`?): stop it, or give the demo --port") from None
    databases = all(_answers(host) for host in DATABASE_HOSTS)
    command = [sys.executable, "-m", "headwater", "up", "--log", data_dir, "--port", str(port), "--host",
               "127.0.0.1", "--write-key", WRITE_KEY, "--ksql-property", "auto.offset.reset=earliest"]
    try:
        allowed = [*(DATABASE_HOSTS if databases else ()), *search_hosts(search_url)]
    except AppError as exc:
        raise fail(str(exc)) from None
    command += [arg for host in allowed for arg in ("--connect-allow-host", host)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    server = subprocess.Popen(command, env={**env, "HEADWATER_LOG_LEVEL": "warning"}, start_new_session=True)
    traffic: SegmentTraffic | None = None
    producers: CdcProducers | None = None
    started: list[str] = []
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C stops the demo even when it was started with SIGINT ignored (a background job of a script does)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _wait_healthy(url, server, 120)
        console.print(f"Server up on {url} (data in {data_dir}). Starting the apps:")
        settings = Settings(data_dir=data_dir, files_dir=os.path.join(data_dir, "connect-files"),
                            search_url=search_url)
        if databases:  # the cdc app's source tables exist before its connectors take their first snapshot
            producers = _prepared_producers()
        started = _start_apps(url, settings, None if producers is not None else (
            "its source tables could not be made" if databases else "MariaDB or PostgreSQL does not answer"))
        if "collector" in started:
            traffic = SegmentTraffic(url, WRITE_KEY, interval_s=traffic_interval_s).start()
        if producers is not None and "cdc" in started:
            producers.start()
        console.print()
        console.print(EXPLAINED)
        console.print(f"\n[bold]Open {url}/[/bold] (the web UI). Dashboards, filling within a minute:")
        for name in started:
            console.print(f"  {url}/ui/dashboards/{'clickstream-app' if name == 'clickstream' else name}")
        console.print(
            f"\nNext: [bold]headwater sql {url}[/bold] (the SQL shell on this server: try SELECT * FROM "
            "VISIT_LEADERBOARD; and 'help'), [bold]headwater apps list[/bold], and later [bold]headwater up --log "
            f"{data_dir}[/bold] brings the same apps back (their queries and connectors are kept in the log)."
            "\nCtrl-C stops the demo.")
        if once:
            _wait_for_data(url, started, stop, seconds if seconds is not None else 180.0)
        else:
            stop.wait(seconds)
    except KeyboardInterrupt:
        pass
    except AppError as exc:
        raise fail(str(exc)) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        err_console.print("Stopping the demo...")
        if traffic is not None:
            traffic.stop()
        if producers is not None:
            producers.stop()
        _stop_server(server)
        if "cdc" in started:  # the replication slot would make PostgreSQL keep its WAL until the next demo
            _release_cdc()
    if traffic is not None and traffic.refused:
        console.print(f"{traffic.refused} Segment events of the demo's traffic were refused by the collector.")
    if producers is not None and producers.failed:
        console.print(f"{producers.failed} rounds of the cdc app's database writes failed.")
    console.print("Demo stopped.")


def _release_cdc() -> None:
    try:
        for line in release_app(load_app("cdc")):
            err_console.print(Text(f"  {line}"), soft_wrap=True)
    except AppError as exc:
        err_console.print(Text(f"  cdc: {exc}", style="red"), soft_wrap=True)


def _prepared_producers() -> CdcProducers | None:
    """The cdc app's producers with their tables made, or None (said) when a database refuses."""
    producers = CdcProducers()
    try:
        producers.prepare()
    except sa.exc.SQLAlchemyError as exc:
        console.print(Text(f"  cdc: the source tables could not be made ({exc.__class__.__name__}: "
                           f"{str(exc).splitlines()[0]})"), soft_wrap=True)
        producers.stop()
        return None
    return producers


def _has_rows(client: httpx.Client, sql: str) -> bool:
    try:
        response = client.post("/query", json={"ksql": sql, "streamsProperties": {}},
                               headers={"Content-Type": "application/vnd.ksql.v1+json"})
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and any("row" in item for item in response.json())


def _wait_for_data(url: str, started: list[str], stop: threading.Event, timeout_s: float) -> None:
    """Until each started app's probe query has rows; says which have none at the timeout."""
    probes = {spec.name: spec.probe for spec in all_apps() if spec.name in started and spec.probe}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=url, timeout=10) as client:
        while probes and time.monotonic() < deadline and not stop.is_set():
            probes = {name: sql for name, sql in probes.items() if not _has_rows(client, sql)}
            if probes:
                stop.wait(1)
    if probes:
        raise fail(f"no data after {timeout_s:.0f} s in: {', '.join(sorted(probes))}")
    console.print("Every app has data.")


def _answers(host_port: str) -> bool:
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False
