"""Requirements checked in production, e.g. ``precision >= 0.5`` or ``drift.share_drifted_columns
< 0.3``, with a three-way status.

In production a figure may not exist yet (no outcomes have arrived, the protected column
is not logged), so a requirement is ``pass``, ``fail`` or ``unknown`` (with the reason).
Only ``fail`` makes ``tabloop monitor`` exit 1: a missing outcome is not a broken model.
Metric requirements follow the evaluation (the point estimate decides, ``certain`` says
whether the whole interval agrees); ``fairness.max_gap`` fails only on a segment whose gap
interval lies entirely above the target (see :mod:`tabloop.evaluate._fairness`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tabloop.config import (
    DRIFT_NAMES,
    FAIRNESS_NAMES,
    Requirement,
    parse_requirement,
)


def check_production(
    requirements: Iterable[str],
    *,
    metrics: dict[str, Any],
    estimated: dict[str, Any] | None,
    drift: dict[str, float | None],
    fairness: dict[str, Any] | None,
    fairness_note: str | None = None,
) -> list[dict[str, Any]]:
    """One entry per requirement: ``expression``, ``value``, ``ci_low``/``ci_high``,
    ``status`` (pass / fail / unknown), ``certain`` and, when unknown, ``message``."""
    out = []
    for text in requirements:
        req = parse_requirement(text)
        entry: dict[str, Any] = {"expression": req.expression, "metric": req.metric}
        if req.metric in FAIRNESS_NAMES:
            if not fairness:
                entry.update(status="unknown", value=None, certain=False)
                entry["message"] = fairness_note or "no fairness audit in this window"
            else:
                entry.update(_fairness_status(req, fairness))
            out.append(entry)
            continue
        if req.metric in DRIFT_NAMES:
            value = drift.get(req.metric.split(".", 1)[1])
            low = high = None  # a share of columns or a cross-validated AUC: no interval
            source = "drift"
        elif req.metric.startswith("estimated."):
            found = (estimated or {}).get(req.metric.split(".", 1)[1]) or {}
            value, low, high = found.get("value"), found.get("ci_low"), found.get("ci_high")
            source = "estimated performance (binary classifiers with probabilities)"
        else:
            found = metrics.get(req.metric) or {}
            value, low, high = found.get("value"), found.get("ci_low"), found.get("ci_high")
            source = "labelled rows"
        entry.update(value=value, ci_low=low, ci_high=high)
        if value is None:
            entry.update(status="unknown", certain=False, message=f"no {source} in this window")
        else:
            passed = req.holds(value)
            bound = low if req.op in (">=", ">") else high
            entry["status"] = "pass" if passed else "fail"
            entry["certain"] = bool(
                passed and (source == "drift" or (bound is not None and req.holds(bound)))
            )
        out.append(entry)
    return out


def _fairness_status(req: Requirement, audit: dict[str, Any]) -> dict[str, Any]:
    """The three-way verdict against the requirement's own target, segment by segment:
    fail when some gap's interval lies entirely above it, pass when every interval lies
    below it, unknown (inconclusive, with the rows still needed) otherwise."""
    gaps = [g for g in audit.get("gaps", []) if g.get("gap") is not None]
    if not gaps:
        return {
            "status": "unknown",
            "value": None,
            "certain": False,
            "message": "no segment has two groups large enough to compare",
        }
    worst = max(gaps, key=lambda g: g["gap"])
    out = {"value": worst["gap"], "ci_low": worst.get("ci_low"), "ci_high": worst.get("ci_high")}
    above = [g for g in gaps if g.get("ci_low") is not None and not req.holds(g["ci_low"])]
    unsure = [g for g in gaps if g.get("ci_high") is None or not req.holds(g["ci_high"])]
    if above:
        names = ", ".join(str(g["segment"]) for g in above[:5])
        return {**out, "status": "fail", "certain": True, "message": f"violation in {names}"}
    if not unsure:
        return {**out, "status": "pass", "certain": True}
    needed = [g.get("rows_needed") for g in unsure if g.get("rows_needed")]
    more = f"; about {max(needed):,} labelled rows per group needed" if needed else ""
    names = ", ".join(str(g["segment"]) for g in unsure[:5])
    return {
        **out,
        "status": "unknown",
        "certain": False,
        "message": f"inconclusive in {names}: the gap interval straddles {req.target}{more}",
    }


def failed(requirements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requirements if r["status"] == "fail"]
