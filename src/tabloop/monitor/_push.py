"""The monitor's verdicts as Prometheus metrics: pushed to a Pushgateway or written as a
textfile for node_exporter's textfile collector, so the alerting rules and the Grafana
dashboard shipped with the service see them beside the service's own metrics.

Every metric carries ``project`` and ``variant`` (empty when the whole log was monitored);
the Pushgateway groups them under ``job="tabloop_monitor"``, ``project`` and, when given,
``variant``, so monitors of two variants do not replace each other's verdicts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabloop.exceptions import MonitorError
from tabloop.registry import monitor_figures

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from tabloop.monitor._monitor import MonitorReport

JOB = "tabloop_monitor"
#: Seconds to wait for the Pushgateway.
PUSH_TIMEOUT_S = 10.0


def verdict_registry(
    report: MonitorReport | dict[str, Any], *, variant: str | None = None
) -> CollectorRegistry:
    """A registry holding ``report``'s verdicts (the metric names are in the README)."""
    from prometheus_client import CollectorRegistry, Gauge

    data = report if isinstance(report, dict) else report.to_dict()
    common = {"project": str(data.get("project") or ""), "variant": variant or ""}
    registry = CollectorRegistry()
    gauges: dict[str, Gauge] = {}  # one family, several label sets

    def gauge(name: str, doc: str, value: Any, **labels: str) -> None:
        if value is None:
            return
        if name not in gauges:
            gauges[name] = Gauge(name, doc, [*common, *labels], registry=registry)
        gauges[name].labels(*common.values(), *labels.values()).set(float(value))

    model = data.get("model") or {}
    figures = monitor_figures(data)  # the figures MLflow's monitor run holds too
    gauge(
        "tabloop_monitor_last_run_timestamp_seconds",
        "When the monitor ran (Unix time)",
        time.time(),
    )
    gauge(
        "tabloop_monitor_passed",
        "1 when every requirement held (unknown ones do not count), else 0",
        figures.passed,
    )
    gauge(
        "tabloop_monitor_model_info",
        "The model version monitored (value 1)",
        1,
        model=str(model.get("uri") or ""),
        version=str(model.get("version") or ""),
    )
    for r in figures.requirements:
        gauge(
            "tabloop_monitor_requirement_status",
            "Each requirement: 1 pass, 0 fail, -1 unknown (its figure does not exist yet)",
            r.status,
            requirement=r.expression,
        )
        gauge(
            "tabloop_monitor_requirement_value",
            "The figure each requirement was judged on",
            r.value,
            requirement=r.expression,
        )
    gauge("tabloop_monitor_rows", "Rows in the monitored window", figures.rows)
    gauge("tabloop_monitor_labelled_rows", "Rows with an outcome", figures.labelled_rows)
    gauge("tabloop_monitor_drifted_columns", "Input columns that drifted", figures.drifted_columns)
    gauge(
        "tabloop_monitor_drift_share",
        "Share of input columns that drifted",
        figures.drift_share,
    )
    gauge(
        "tabloop_monitor_multivariate_auc",
        "ROC-AUC of the classifier telling training from production rows (0.5: no drift)",
        figures.multivariate_auc,
    )
    for metric, value in figures.production.items():
        gauge(
            "tabloop_monitor_metric",
            "Production performance on the labelled rows of the window",
            value,
            metric=metric,
        )
    return registry


def push_verdicts(
    report: MonitorReport | dict[str, Any],
    *,
    pushgateway: str | None = None,
    textfile: str | Path | None = None,
    variant: str | None = None,
) -> list[str]:
    """Push ``report``'s verdicts to ``pushgateway`` and/or write them to ``textfile``; say
    where, one line each. Both are tried; a target that refuses is a :class:`MonitorError`
    naming every failure in one line (and what was done).

    Example
    -------
    >>> push_verdicts(report, textfile="/var/lib/node_exporter/tabloop.prom")  # doctest: +SKIP
    """
    registry = verdict_registry(report, variant=variant)
    done: list[str] = []
    failures: list[str] = []
    targets: list[Callable[[], str]] = []
    if textfile is not None:
        targets.append(lambda: _write(registry, Path(textfile)))
    if pushgateway is not None:
        targets.append(lambda: _push(registry, pushgateway, report, variant))
    for target in targets:
        try:
            done.append(target())
        except MonitorError as exc:
            failures.append(str(exc))
    if failures:
        also = "".join(f" {line}." for line in done)
        raise MonitorError(f"{'; '.join(failures)}.{also} The report was written.")
    return done


def _write(registry: CollectorRegistry, path: Path) -> str:
    from prometheus_client import write_to_textfile

    if path.suffix != ".prom":
        raise MonitorError(
            f"--textfile {str(path)!r} must end in .prom: node_exporter's textfile collector "
            "reads only *.prom files"
        )
    try:
        write_to_textfile(str(path), registry)  # a temporary file renamed: never half-read
    except OSError as exc:
        raise MonitorError(
            f"--textfile {str(path)!r}: cannot write it ({exc.strerror or exc}); give a file "
            "in an existing, writable folder (node_exporter's --collector.textfile.directory)"
        ) from None
    return f"Verdicts written to {path}"


def _push(
    registry: CollectorRegistry,
    url: str,
    report: MonitorReport | dict[str, Any],
    variant: str | None,
) -> str:
    from prometheus_client import push_to_gateway

    data = report if isinstance(report, dict) else report.to_dict()
    key = {"project": str(data.get("project") or "tabloop")}
    if variant:
        key["variant"] = variant
    try:
        push_to_gateway(url, job=JOB, registry=registry, grouping_key=key, timeout=PUSH_TIMEOUT_S)
    except Exception as exc:  # urllib's errors, a malformed URL: all say the same to a user
        reason = getattr(exc, "reason", None) or exc
        raise MonitorError(
            f"--pushgateway {url!r}: the push failed ({reason}); give the Pushgateway's "
            "address, e.g. http://localhost:9091"
        ) from None
    return f"Verdicts pushed to {url} (job {JOB}, {', '.join(f'{k} {v}' for k, v in key.items())})"
