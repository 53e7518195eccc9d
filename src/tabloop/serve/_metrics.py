"""Prometheus metrics of one app, in a registry of its own (so apps in one process,
as in tests, do not share counters).

With ``--workers`` above 1 each worker process counts for itself and a scrape reaches one
of them; run one worker per container and scale out when the counts must be exact.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class ServiceMetrics:
    """The service's counters, histogram and gauges."""

    def __init__(self, backlog: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tabloop_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tabloop_request_seconds",
            "Request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "tabloop_predictions",
            "Predicted rows by variant and model version",
            ["variant", "model_version"],
            registry=self.registry,
        )
        self.validation_errors = Counter(
            "tabloop_validation_errors",
            "Requests refused for their content, by error code",
            ["code"],
            registry=self.registry,
        )
        self.outcomes = Counter("tabloop_outcomes", "Outcomes stored", registry=self.registry)
        self.log_refused = Counter(
            "tabloop_log_refused_rows",
            "Predicted rows refused with 503 because the log could not keep them, by reason",
            ["reason"],
            registry=self.registry,
        )
        backlog_gauge = Gauge(
            "tabloop_log_backlog",
            "Predictions not yet in the log database (queued or spooled)",
            registry=self.registry,
        )
        backlog_gauge.set_function(backlog)

    def render(self) -> bytes:
        return generate_latest(self.registry)
