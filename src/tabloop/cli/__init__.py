"""The ``tabloop`` command line (Typer). Every verb is a thin layer over a Python function."""

from tabloop.cli._app import app, main

__all__ = ["app", "main"]
