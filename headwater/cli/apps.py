"""``headwater apps list|run``: the packaged apps (the five seed systems) on a server or an embedded session.

``apps run NAME`` applies the app's SQL, connectors and dashboards to a running
server (``--server``, default http://127.0.0.1:8088) or, with ``--embedded
--log DIR``, to a session in this process that runs it until Ctrl-C. A rerun
changes nothing and fails on nothing.
"""

from __future__ import annotations

import os
import threading
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from headwater.apps.runner import AppError, EmbeddedTarget, HttpTarget, Settings, database_host, run_app, \
    search_hosts, stop_app, unavailable
from headwater.apps.spec import all_apps, load_app
from headwater.cli.common import MARKUP, LogUrl, app, console, fail
from headwater.connect.policy import ConnectPolicy
from headwater.errors import HeadwaterError
from headwater.log import DEFAULT_LOG_URL
from headwater.session import Session

apps_app = typer.Typer(help="The packaged apps: the five seed systems, each started by one command.",
                       no_args_is_help=True, rich_markup_mode=MARKUP)
app.add_typer(apps_app, name="apps")
DEFAULT_SERVER = "http://127.0.0.1:8088"


@apps_app.command("list")
def apps_list() -> None:
    """List the apps with what each shows and what it needs."""
    table = Table("App", "Title", "Seed", "Needs")
    try:
        specs = all_apps()
    except HeadwaterError as exc:
        raise fail(str(exc)) from None
    for spec in specs:
        missing = unavailable(spec)
        needs = ", ".join(spec.requires) or "-"
        if missing:
            needs += f" (not ready: {missing})"
        table.add_row(spec.name, spec.title, (spec.seed or "-")[:3], needs)
    console.print(table)
    console.print("`headwater apps run NAME` starts one (each app's README.md says what it shows).")


def _files_dir(log_url: str, files_dir: str | None) -> str:
    if files_dir:
        return os.path.abspath(files_dir)
    path = log_url.removeprefix("file://")
    return os.path.abspath(os.path.join(path, "connect-files") if "://" not in path else "connect-files")


@apps_app.command("run")
def apps_run(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The app (see `headwater apps list`).")],
    server: Annotated[str | None, typer.Option(help=f"A running server (default {DEFAULT_SERVER}).")] = None,
    embedded: Annotated[bool, typer.Option("--embedded", help="Run the app in this process until Ctrl-C.")] = False,
    log_url: LogUrl = DEFAULT_LOG_URL,
    files_dir: Annotated[str | None, typer.Option(
        help="The server's connector files directory (default <log dir>/connect-files, the server's default).")
    ] = None,
    database_url: Annotated[str | None, typer.Option(
        envvar="HEADWATER_APPS_DATABASE_URL",
        help="JDBC URL of the app's database, e.g. jdbc:mariadb://127.0.0.1:3306/website_stats?user=root "
        "(the server needs --connect-allow-host 127.0.0.1:3306). Default: SQLite in the files directory.")
    ] = None,
    search_url: Annotated[str | None, typer.Option(
        envvar="HEADWATER_SEARCH_URL",
        help="Elasticsearch/OpenSearch URL the clickstream app sends its tables to, e.g. http://127.0.0.1:9200 "
        "(the server needs --connect-allow-host 127.0.0.1:9200). Default: those sinks are skipped.")
    ] = None,
    generators: Annotated[bool, typer.Option(help="Create the app's data generators.")] = True,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="HEADWATER_API_KEY")] = None,
) -> None:
    """Start an app: its topics, streaming SQL, connectors and dashboards. A rerun changes nothing."""
    if embedded and server:
        raise fail("give --server or --embedded, not both.")
    try:
        spec = load_app(name)
    except HeadwaterError as exc:
        raise fail(str(exc)) from None
    path = log_url.removeprefix("file://")
    settings = Settings(data_dir=os.path.abspath(path) if "://" not in path else path,
                        files_dir=_files_dir(log_url, files_dir), database_url=database_url, search_url=search_url,
                        generators=generators)
    if not embedded:
        target = HttpTarget(server or DEFAULT_SERVER, api_key)
        try:
            report = run_app(spec, target, settings)
        except HeadwaterError as exc:
            raise fail(str(exc)) from None
        finally:
            target.close()
        _print_report(spec.title, report, (server or DEFAULT_SERVER).rstrip("/"))
        return
    hosts = ([database_host(database_url)] if database_url else []) + search_hosts(search_url)
    try:
        with Session(log_url, connect_policy=ConnectPolicy.confined(settings.files_dir, hosts)) as session:
            report = run_app(spec, EmbeddedTarget(session), settings)
            _print_report(spec.title, report, None)
            console.print("The app runs in this process; Ctrl-C stops it.")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                console.print("Stopping.")
    except (AppError, HeadwaterError) as exc:
        raise fail(str(exc)) from None


@apps_app.command("stop")
def apps_stop(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The app.")],
    server: Annotated[str | None, typer.Option(help=f"A running server (default {DEFAULT_SERVER}).")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="HEADWATER_API_KEY")] = None,
) -> None:
    """Pause an app's connectors (generators and sinks) on a server; `apps run` resumes them. A PostgreSQL
    source is stopped and its replication slot dropped (the database would keep its WAL for it)."""
    target = HttpTarget(server or DEFAULT_SERVER, api_key)
    try:
        report = stop_app(load_app(name), target)
    except HeadwaterError as exc:
        raise fail(str(exc)) from None
    finally:
        target.close()
    _print_report(load_app(name).title, report or ["nothing to pause"], None)


def _print_report(title: str, report: list[str], url: str | None) -> None:
    console.print(Text(f"{title}:", style="bold"))
    for line in report:
        if url and line.startswith("dashboard "):
            line = line.replace(": /ui/", f": {url}/ui/")
        console.print(Text(f"  {line}"), soft_wrap=True)
