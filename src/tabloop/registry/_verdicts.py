"""A monitor report's verdicts as figures: the one reading that every chart of them uses.

MLflow's monitor run (:mod:`tabloop.registry._monitor_run`) and the Prometheus verdicts
(:mod:`tabloop.monitor`) name these figures their own way, but read them here, so the two
never disagree on what passed, how many rows there were or what drifted. The report is
read as plain data (``MonitorReport.to_dict()``): this stage sits below the monitor, which
imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A requirement's status as a number.
STATUS_VALUES = {"pass": 1.0, "fail": 0.0, "unknown": -1.0}


@dataclass(frozen=True)
class RequirementFigure:
    """One requirement: its ``expression``, ``status`` as a number (1 pass, 0 fail, -1
    unknown) and the ``value`` it was judged on (None when unknown)."""

    expression: str
    status: float
    value: Any


@dataclass(frozen=True)
class MonitorFigures:
    """The figures of a monitor report; None where the report has no such figure.

    ``passed`` is False when a requirement failed (unknown ones do not count);
    ``production`` and ``estimated`` map each metric to its value on the window;
    ``fairness_violation`` is None when the report has no fairness check of the model.
    """

    passed: bool
    failed_requirements: int
    rows: int | None
    labelled_rows: int | None
    drifted_columns: int
    drift_share: float | None
    multivariate_auc: float | None
    production: dict[str, Any]
    estimated: dict[str, Any]
    fairness_max_gap: float | None
    fairness_violation: bool | None
    requirements: list[RequirementFigure]


def monitor_figures(data: dict[str, Any]) -> MonitorFigures:
    """Read the verdicts of monitor report ``data`` (``MonitorReport.to_dict()``).

    Examples
    --------
    >>> data = {"window": {"rows": 10, "labelled": 4}, "drift": {"share_drifted": 0.5},
    ...         "requirements": [{"expression": "recall >= 0.5", "status": "fail"}]}
    >>> figures = monitor_figures(data)
    >>> figures.passed, figures.rows, figures.drift_share, figures.requirements[0].status
    (False, 10, 0.5, 0.0)
    """
    requirements = data.get("requirements") or []
    failed = sum(r.get("status") == "fail" for r in requirements)
    window = data.get("window") or {}
    drift = data.get("drift") or {}
    performance = (data.get("performance") or {}).get("metrics") or {}
    production = {
        str(m): f.get("value") if isinstance(f, dict) else None for m, f in performance.items()
    }
    estimated = ((data.get("estimated") or {}).get("estimated") or {}).get("metrics") or {}
    # an estimate may be a bare number; a measured figure not {"value": ...} is missing
    estimates = {str(m): f.get("value") if isinstance(f, dict) else f for m, f in estimated.items()}
    fairness = (data.get("fairness") or {}).get("model") or {}
    gaps = [g["gap"] for g in fairness.get("gaps") or [] if g.get("gap") is not None]
    return MonitorFigures(
        passed=not failed,
        failed_requirements=failed,
        rows=window.get("rows"),
        labelled_rows=window.get("labelled"),
        drifted_columns=len(drift.get("drifted_columns") or []),
        drift_share=drift.get("share_drifted"),
        multivariate_auc=(drift.get("multivariate") or {}).get("auc"),
        production=production,
        estimated=estimates,
        fairness_max_gap=max(gaps) if gaps else None,
        fairness_violation=fairness.get("verdict") == "violation" if fairness else None,
        requirements=[
            RequirementFigure(
                expression=str(r["expression"]),
                status=STATUS_VALUES.get(str(r.get("status")), -1.0),
                value=r.get("value"),
            )
            for r in requirements
        ],
    )
