"""Requirements such as ``precision >= 0.5`` or ``fairness.max_gap <= 0.05``, checked.

A requirement names a metric of the task (see :data:`tabloop.evaluate.METRICS`) or the
fairness gap, a comparison and a number. Names are checked when the config loads, so a
typo fails before an hour of training rather than after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tabloop.config import (
    DRIFT_NAMES,
    ESTIMATED_METRICS,
    FAIRNESS_NAMES,
    Requirement,
    check_requirement_metrics,
    parse_requirement,
)

__all__ = [
    "DRIFT_NAMES",
    "ESTIMATED_METRICS",
    "FAIRNESS_NAMES",
    "Requirement",
    "check_requirement_metrics",
    "check_requirements",
    "parse_requirement",
]


def check_requirements(
    requirements: Iterable[str], metrics: dict[str, Any], fairness: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Each requirement with the measured value, its CI and whether it holds.

    A metric requirement holds when its point estimate meets the target; ``certain`` says
    whether the whole confidence interval does too. ``fairness.max_gap`` holds unless a
    segment's gap is a violation (its CI lies entirely above the target), since a raw gap
    on small groups is biased upward by noise.
    """
    out = []
    for text in requirements:
        req = parse_requirement(text)
        if req.metric in FAIRNESS_NAMES:
            out.append(_fairness_requirement(req, fairness))
            continue
        entry = metrics.get(req.metric) or {}
        value = entry.get("value")
        low, high = entry.get("ci_low"), entry.get("ci_high")
        passed = value is not None and req.holds(value)
        bound = low if req.op in (">=", ">") else high
        out.append(
            {
                "expression": req.expression,
                "metric": req.metric,
                "value": value,
                "ci_low": low,
                "ci_high": high,
                "passed": bool(passed),
                "certain": bool(passed and bound is not None and req.holds(bound)),
            }
        )
    return out


def _fairness_requirement(req: Requirement, fairness: dict[str, Any] | None) -> dict[str, Any]:
    if not fairness:
        return {
            "expression": req.expression,
            "metric": req.metric,
            "value": None,
            "passed": False,
            "certain": False,
            "message": "no fairness audit: configure evaluate.fairness",
        }
    gaps = [g for g in fairness.get("gaps", []) if g.get("gap") is not None]
    worst = max(gaps, key=lambda g: g["gap"], default=None)
    violation = any(g.get("ci_low") is not None and not req.holds(g["ci_low"]) for g in gaps)
    return {
        "expression": req.expression,
        "metric": req.metric,
        "value": worst["gap"] if worst else None,
        "ci_low": worst.get("ci_low") if worst else None,
        "ci_high": worst.get("ci_high") if worst else None,
        "passed": not violation,
        "certain": all(g.get("ci_high") is not None and req.holds(g["ci_high"]) for g in gaps),
    }
