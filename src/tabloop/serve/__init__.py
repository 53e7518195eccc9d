"""The prediction service: A/B variants, a durable log, outcomes and live reports."""

from tabloop.serve._ab import ABReport, ab_report
from tabloop.serve._app import create_app
from tabloop.serve._server import run
from tabloop.serve._variants import Router

__all__ = ["ABReport", "Router", "ab_report", "create_app", "run"]
