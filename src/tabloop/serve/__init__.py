"""The prediction service: A/B variants, a durable log, outcomes and live reports.

The A/B statistics are :func:`tabloop.evaluate.ab_report` (statistics over logged outcomes);
``ab_report`` and ``ABReport`` stay importable from here for the service's users.
"""

from tabloop.evaluate import ABReport, ab_report
from tabloop.serve._app import create_app
from tabloop.serve._ops import ops_file
from tabloop.serve._server import run
from tabloop.serve._variants import Router

__all__ = ["ABReport", "Router", "ab_report", "create_app", "ops_file", "run"]
