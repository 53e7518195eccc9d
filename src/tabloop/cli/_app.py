"""The Typer application, global options and error handling.

Errors tabloop raises on purpose print as one line on stderr and exit with status 2; any
other exception is a bug and prints one line asking for ``--debug`` (exit 1). ``--debug``
shows the full traceback instead. Commands import pandas & co. inside their bodies so that
``tabloop --help`` stays fast.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Annotated

import typer

from tabloop import __version__

app = typer.Typer(
    name="tabloop",
    help="From a table of historical cases to a monitored prediction service and back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tabloop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    _state["debug"] = debug


def main() -> None:
    """Entry point of the ``tabloop`` script."""
    from tabloop.cli import (  # noqa: F401  (register the commands)
        _commands,
        _log_commands,
        _monitor_commands,
        _serve_commands,
    )
    from tabloop.exceptions import TabloopError

    unwrap_help(app)
    try:
        app()
    except TabloopError as exc:
        if _state["debug"]:
            raise
        _fail(f"error: {exc}", 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # a bug: say so in one line, traceback with --debug
        if _state["debug"]:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)", 1)


def unwrap_help(typer_app: typer.Typer) -> None:
    """Join the lines of each paragraph of every command's help into one, so the help
    wraps at the terminal's width instead of also breaking where the docstring's lines
    end (Typer's Rich help keeps those breaks); blank lines still separate paragraphs."""
    for command in typer_app.registered_commands:
        text = command.help or inspect.getdoc(command.callback) or ""
        command.help = re.sub(r"(?<=\S)\n(?=\S)", " ", text)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            unwrap_help(group.typer_instance)


def _fail(message: str, code: int) -> None:
    from tabloop.cli._output import err_console

    err_console.print(message, markup=False)
    sys.exit(code)
