"""The verbs of the service: serve, and store (the prediction log's schema)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from tabloop.cli._app import app
from tabloop.cli._commands import ConfigOption
from tabloop.cli._output import console

store_app = typer.Typer(
    help="The prediction log: its schema revision, upgrades and a Parquet export."
)
app.add_typer(store_app, name="store")

# The bounds of serve.port and serve.workers in tabloop.yaml
PORTS = (1, 65535)
WORKERS = (1, 64)


def _within(low: int, high: int) -> Callable[[int | None], int | None]:
    """A callback making a value outside [low, high] a usage error that names the range and
    the value (Typer's own ``min``/``max`` message gives neither)."""

    def check(value: int | None) -> int | None:
        if value is not None and not low <= value <= high:
            raise typer.BadParameter(f"must be from {low} to {high}; got {value}.")
        return value

    return check


def _shipped(value: str | None) -> str | None:
    from tabloop.serve import ops_file

    if value is not None:
        try:
            ops_file(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default serve.host).")] = None,
    port: Annotated[
        int | None,
        typer.Option(
            callback=_within(*PORTS),
            help=f"Port, {PORTS[0]}-{PORTS[1]} (default serve.port, 8000).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            callback=_within(*WORKERS),
            help=f"Worker processes, {WORKERS[0]}-{WORKERS[1]} (default serve.workers, 1).",
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a non-local bind without API keys.")
    ] = False,
    print_file: Annotated[
        str | None,
        typer.Option(
            "--print",
            metavar="grafana|rules",
            callback=_shipped,
            help="Print the Grafana dashboard (JSON) or the Prometheus alerting rules (YAML) "
            "for this service, and exit.",
        ),
    ] = None,
) -> None:
    """Serve the project's model variants over HTTP until Ctrl-C or SIGTERM."""
    from tabloop.config import load_config
    from tabloop.serve import run

    if print_file is not None:  # no project needed: the files are the package's
        from tabloop.serve import ops_file

        sys.stdout.write(ops_file(print_file))
        return
    run(
        load_config(config),
        host=host,
        port=port,
        workers=workers,
        insecure=insecure,
        say=lambda line: console.print(line, markup=False),
    )


def _store(config: ConfigOption, *, create: bool = True):  # type: ignore[no-untyped-def]
    from tabloop.config import load_config
    from tabloop.store import Store

    return Store(Store.project_url(load_config(config), create=create))


@store_app.command("status")
def store_status(config: ConfigOption = None) -> None:
    """Show the log's URL, its schema revision and the one this tabloop needs; changes
    nothing (a log that does not exist yet is reported missing, exit 0, and not created).

    Exits 1 when the log cannot be used as it is: an older revision (upgrade the log), a
    newer one (upgrade tabloop), or tabloop tables without a version table.
    """
    store = _store(config, create=False)
    try:
        status = store.status()
    finally:
        store.close()
    if status.state in ("newer", "unversioned"):
        console.print(status.problem, markup=False)
        raise typer.Exit(1)
    if not status.exists:  # a new project's state: exit 0, nothing to fix
        console.print(
            f"{store.url}: no log yet — missing (tabloop serve creates it at revision "
            f"{status.head}); nothing was created.",
            markup=False,
        )
        return
    revision = status.revision or "(none)"
    console.print(f"{store.url}: revision {revision}, needs {status.head} — {status.state}")
    if status.state == "needs upgrade":
        raise typer.Exit(1)


@store_app.command("upgrade")
def store_upgrade(config: ConfigOption = None) -> None:
    """Migrate the log's tables to this tabloop's schema (back the database up first)."""
    store = _store(config)
    try:
        before, after = store.upgrade()
    finally:
        store.close()
    if before == after:
        console.print(f"{store.url} is already at revision {after}.")
    else:
        console.print(f"{store.url}: upgraded from {before or '(empty)'} to {after}.")


@store_app.command("export")
def store_export(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="Folder to write: new, empty, or replaced with --overwrite."
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option("--since", help="Window start, inclusive (ISO date or time; UTC by default)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Window end, exclusive (ISO date or time).")
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace DIR if it holds files (once the export is complete)."
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Write the log (all periods, with outcomes) as Parquet partitioned by day
    (DIR/day=YYYY-MM-DD/part-N.parquet), inputs and context as typed columns.

    Nothing is written on a bad or empty window or a failure half-way: the files are
    written beside DIR and moved into place at the end.
    """
    from tabloop.store import export_log

    store = _store(config, create=False)  # an export reads: a missing log is not made
    try:
        result = export_log(store, folder, since=since, until=until, overwrite=overwrite)
    finally:
        store.close()
    days = sorted(result.days)
    span = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    console.print(
        f"Exported {result.rows:,} predictions of {len(days)} day(s) ({span}) and "
        f"{len(result.columns)} columns to {result.folder}",
        markup=False,
    )
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
