"""Prometheus metrics of one app, in a registry of its own (so apps in one process,
as in tests, do not share counters).

Maintainer note: workers
------------------------
With ``--workers`` above 1, ``tabloop serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh folder before the workers start (:func:`prepare_multiprocess_dir`; a folder the user
set is created and emptied, and then one worker counts the same way); prometheus_client
then keeps every counter and histogram in a memory-mapped file per process, and a scrape,
whichever worker answers it, sums the files of all workers (``MultiProcessCollector``), so
counts are whole. The log backlog is a ``livesum`` gauge each worker refreshes every second;
the model-info gauge and the process metrics are those of the worker that answers the
scrape (custom collectors cannot be summed across processes).

Score buckets
-------------
``tabloop_score`` observes the positive-class probability (binary), the predicted class's
probability (multiclass) or the predicted value (regression). Probabilities use buckets
every 0.05; a regression uses the training target's quantiles (1, 5, 10, 20, ..., 90, 95,
99 %) read from the reference rows registered with the model, else prometheus_client's
default buckets. Variants of one service predict one target, so they share the buckets of
the first (control) variant.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from tabloop.serve._scoring import Scored
    from tabloop.serve._variants import Variant

LATENCY_BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
#: Probability buckets: every 0.05 up to 1 (the +Inf bucket is added by prometheus_client).
PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
#: Target quantiles that bound a regression's score buckets.
REGRESSION_QUANTILES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds between a worker's refreshes of the backlog gauge in multiprocess mode.
BACKLOG_REFRESH_S = 1.0


def multiprocess_mode() -> bool:
    """Whether this process's metrics live in ``PROMETHEUS_MULTIPROC_DIR`` files (the variable
    was set before prometheus_client was imported, as in ``tabloop serve``'s workers)."""
    return values.ValueClass is not values.MutexValue


def prepare_multiprocess_dir(folder: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """The folder for a multi-worker run's metric files, and whether it is ours to remove.

    ``folder`` (a ``PROMETHEUS_MULTIPROC_DIR`` the user set) is created if missing and its
    ``*.db`` files are deleted: files of an earlier run would add its counts to this one's.
    Without it, a fresh temporary folder.
    """
    if folder is None:
        return Path(tempfile.mkdtemp(prefix="tabloop-metrics-")), True
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink()
    return path, False


class ServiceMetrics:
    """The service's counters, histograms and gauges."""

    def __init__(
        self,
        backlog: Callable[[], float],
        *,
        score_buckets: Sequence[float] = PROBABILITY_BUCKETS,
        variants: Callable[[], Mapping[str, Variant]] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = multiprocess_mode()
        #: the variants served now (read at each scrape for ``tabloop_model_info``)
        self.variants: Callable[[], Mapping[str, Variant]] = variants or dict
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
        self.scores = Histogram(
            "tabloop_score",
            "Scores by variant: positive-class probability (binary), the predicted class's "
            "probability (multiclass), the predicted value (regression)",
            ["variant"],
            buckets=tuple(score_buckets),
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
        self._backlog = backlog
        self._stop = threading.Event()
        self._backlog_gauge = Gauge(
            "tabloop_log_backlog",
            "Predictions not yet in the log database (queued or spooled)",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        if self.multiprocess:
            self._start_backlog_refresh()
            atexit.register(_mark_dead, os.getpid())
        else:
            self._backlog_gauge.set_function(backlog)
            ProcessCollector(registry=self.registry)
            self.registry.register(_ModelInfo(self))

    def count_predictions(self, variant: Variant, scored: Scored) -> None:
        """Count a variant's predicted rows and observe their scores."""
        self.predictions.labels(variant.name, variant.version).inc(len(scored.predictions))
        histogram = self.scores.labels(variant.name)
        for value in observed_scores(scored):
            histogram.observe(value)

    def render(self) -> bytes:
        """The exposition text: this app's registry, or in multiprocess mode the sum over
        every worker's files plus this worker's model info and process metrics."""
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        self._backlog_gauge.set(self._backlog())
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        ProcessCollector(registry=registry)
        registry.register(_ModelInfo(self))
        return generate_latest(registry)

    def close(self) -> None:
        """Stop refreshing the backlog gauge (a process that will serve nothing, such as the
        parent of ``tabloop serve``'s workers)."""
        self._stop.set()

    def _start_backlog_refresh(self) -> None:
        def refresh() -> None:
            while not stop.wait(BACKLOG_REFRESH_S):
                try:
                    self._backlog_gauge.set(self._backlog())
                except Exception:  # a closing writer: the next refresh or the exit settles it
                    continue

        stop = self._stop
        atexit.register(stop.set)
        threading.Thread(target=refresh, name="tabloop-metrics-backlog", daemon=True).start()


def observed_scores(scored: Scored) -> Iterable[float]:
    """The values ``tabloop_score`` observes for a scored batch (none for clustering)."""
    if any(s is not None for s in scored.scores):
        return (float(s) for s in scored.scores if s is not None)
    return (max(p.values()) for p in scored.probabilities if p)


def score_buckets(task: str, target: Any = None) -> tuple[float, ...]:
    """Histogram buckets for a model's scores: probabilities for a classifier; for a
    regression the quantiles of ``target`` (training values), else prometheus_client's
    defaults."""
    if task in ("binary", "multiclass"):
        return PROBABILITY_BUCKETS
    from prometheus_client.metrics import Histogram as _Histogram

    if target is not None:
        import numpy as np

        known = np.asarray(target, dtype=float)
        known = known[np.isfinite(known)]
        if len(known):
            edges = sorted({float(f"{q:.4g}") for q in np.quantile(known, REGRESSION_QUANTILES)})
            if len(edges) > 1:
                return tuple(edges)
    return tuple(b for b in _Histogram.DEFAULT_BUCKETS if b != float("inf"))


class _ModelInfo:
    """``tabloop_model_info{variant,model,version} 1`` for each variant served now."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "tabloop_model_info",
            "The model version each variant serves (value 1)",
            labels=["variant", "model", "version"],
        )
        for name, variant in self._metrics.variants().items():
            family.add_metric([name, variant.model_name, variant.version], 1)
        yield family


def _mark_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    folder = os.environ.get(MULTIPROC_VARIABLE)
    if folder and Path(folder).is_dir():
        multiprocess.mark_process_dead(pid, folder)
