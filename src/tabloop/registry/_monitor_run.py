"""The monitor's verdicts as MLflow metrics, beside the runs that trained the models.

Each monitored model version (and A/B variant) has one run in the project's experiment,
``monitor <project> v<N>`` (tagged ``tabloop.kind=monitor``, ``tabloop.model``,
``tabloop.variant``); every ``tabloop monitor`` adds one point to each of its metrics
(step 0, 1, 2 ... at the time of the run), so MLflow's charts draw drift and production
performance over time, and the latest ``monitor.json``/``.html`` are its artifacts. The
report is read as plain data: this stage sits below the monitor.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabloop.exceptions import RegistryError
from tabloop.registry._registry import _experiment, run_tags
from tabloop.registry._tracking import connect, quiet_mlflow, tracking_uri
from tabloop.registry._verdicts import monitor_figures

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig

_OPERATORS = ((">=", " ge "), ("<=", " le "), ("==", " eq "), ("!=", " ne "), (">", " gt "),
              ("<", " lt "), ("/", " div "))  # fmt: skip


def monitor_metrics(data: dict[str, Any]) -> dict[str, float]:
    """The verdicts of a monitor report (``MonitorReport.to_dict()``) as numbers.

    ``monitor_passed`` (1/0), ``failed_requirements``; ``rows``, ``labelled_rows``;
    ``drift_share``, ``drifted_columns``, ``drift_multivariate_auc``; ``production_<m>``
    and ``estimated_<m>`` per metric; ``fairness_max_gap`` and ``fairness_violation``
    (1/0); and ``requirement/<expression>`` per requirement: 1 pass, 0 fail, -1 unknown.
    Figures the report lacks are left out.
    """
    figures = monitor_figures(data)
    out: dict[str, Any] = {
        "monitor_passed": float(figures.passed),
        "failed_requirements": figures.failed_requirements,
        "rows": figures.rows,
        "labelled_rows": figures.labelled_rows,
        "drift_share": figures.drift_share,
        "drifted_columns": figures.drifted_columns,
        "drift_multivariate_auc": figures.multivariate_auc,
    }
    out.update({f"production_{m}": v for m, v in figures.production.items()})
    out.update({f"estimated_{m}": v for m, v in figures.estimated.items()})
    if figures.fairness_violation is not None:
        out["fairness_max_gap"] = figures.fairness_max_gap
        out["fairness_violation"] = float(figures.fairness_violation)
    out.update({f"requirement/{_key(r.expression)}": r.status for r in figures.requirements})
    return {k: float(v) for k, v in out.items() if v is not None and _number(v)}


def log_monitor(
    data: dict[str, Any],
    config: ProjectConfig,
    *,
    reports: list[Path] | None = None,
    variant: str | None = None,
) -> str | None:
    """Add the verdicts of monitor report ``data`` to the run of the model version it
    monitored (created on first use); return the run's id. A model read from a folder
    rather than a registry (``--model path/``) is not logged (None): it has no store."""
    import mlflow
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException

    model = data.get("model") or {}
    model_uri, version = str(model.get("uri") or ""), str(model.get("version") or "")
    if not model_uri.startswith("models:/"):
        return None
    uri = connect(tracking_uri(config))
    try:
        with quiet_mlflow(), _silent_mlflow_logs():
            client = mlflow.MlflowClient()
            experiment = _experiment(mlflow, config.name, uri)
            run_id = _monitor_run(client, experiment, config.name, model_uri, version, variant)
            step = len(client.get_metric_history(run_id, "monitor_passed"))
            now = int(time.time() * 1000)
            metrics = [Metric(k, v, now, step) for k, v in monitor_metrics(data).items()]
            client.log_batch(run_id, metrics=metrics)
            for path in reports or []:
                client.log_artifact(run_id, str(path), artifact_path="reports")
    except (MlflowException, OSError) as exc:  # a locked SQLite file, a full disk, a 5xx
        raise RegistryError(f"the store {uri} refused them ({_root_cause(exc)})") from exc
    return run_id


def _monitor_run(
    client: Any, experiment: str, project: str, model: str, version: str, variant: str | None
) -> str:
    """The run of ``model`` (and ``variant``) in ``experiment``, created when missing."""
    found = client.search_runs(
        [experiment],
        filter_string=(
            "tags.`tabloop.kind` = 'monitor' and "
            f"tags.`tabloop.model` = '{_quoted(model)}' and "
            f"tags.`tabloop.variant` = '{_quoted(variant or '-')}'"
        ),
        max_results=1,
    )
    if found:
        return str(found[0].info.run_id)
    name = f"monitor {project}" + (f" v{version}" if version else "")
    name += f" ({variant})" if variant else ""
    tags = {
        **run_tags("monitor", project),
        "tabloop.model": model,
        "tabloop.variant": variant or "-",
        "mlflow.runName": name,
    }
    run = client.create_run(experiment, tags=tags, run_name=name)
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


@contextmanager
def _silent_mlflow_logs() -> Iterator[None]:
    """MLflow logs a failed database write with its whole traceback before raising; the
    raised error becomes a :class:`RegistryError` naming the cause, so the log is noise."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _root_cause(exc: BaseException) -> str:
    """The first line of the innermost error behind ``exc`` (``database is locked``), not
    MLflow's wrapping of it with the SQL and its parameters."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    lines = str(exc).strip().splitlines()
    return f"{lines[0] if lines else type(exc).__name__}"[:200]


def _key(expression: str) -> str:
    """A requirement as an MLflow metric name (letters, digits, ``_-.`` and spaces only):
    ``precision >= 0.5`` is ``precision ge 0.5``."""
    for operator, word in _OPERATORS:
        expression = expression.replace(operator, word)
    return re.sub(r"\s+", " ", re.sub(r"[^\w.\- ]", "_", expression)).strip()


def _quoted(text: str) -> str:
    return text.replace("'", "\\'")


def _number(value: Any) -> bool:
    import math

    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
