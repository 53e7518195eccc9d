"""Requirements such as ``precision >= 0.5`` or ``fairness.max_gap <= 0.05``, parsed and checked.

A requirement names a metric of the task (see :data:`tabloop.evaluate.METRICS`) or the
fairness gap, a comparison and a number. Names are checked when the config loads, so a
typo fails before an hour of training rather than after it.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tabloop.exceptions import ConfigError

_PATTERN = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d*)?|-?\.\d+)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
#: Names that refer to the fairness audit rather than to a metric of the task.
FAIRNESS_NAMES = ("fairness.max_gap",)
#: Drift figures a monitor requirement may name.
DRIFT_NAMES = ("drift.share_drifted_columns", "drift.multivariate_auc")
#: Metrics estimated from probabilities before outcomes arrive (binary classifiers).
ESTIMATED_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "selection_rate")


@dataclass(frozen=True)
class Requirement:
    expression: str
    metric: str
    op: str
    target: float

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.target)


def parse_requirement(text: str) -> Requirement:
    """Parse ``"<metric> <op> <number>"``; raise :class:`ConfigError` quoting bad text.

    Examples
    --------
    >>> parse_requirement("precision >= 0.5")
    Requirement(expression='precision >= 0.5', metric='precision', op='>=', target=0.5)
    """
    match = _PATTERN.match(str(text))
    if not match:
        raise ConfigError(
            f"Requirement {text!r} is not '<metric> <op> <number>' with op one of "
            ">=, <=, >, < (e.g. 'precision >= 0.5')."
        )
    metric, op, number = match.groups()
    return Requirement(" ".join(str(text).split()), metric, op, float(number))


def check_requirement_metrics(
    requirements: Iterable[str], task: str, *, monitor: bool = False
) -> None:
    """Raise :class:`ConfigError` when a requirement names a metric the task does not have.

    ``monitor=True`` also allows the names only production has: ``estimated.<metric>``
    (before outcomes arrive) and the drift figures in :data:`DRIFT_NAMES`.
    """
    from tabloop.evaluate._metrics import METRICS

    allowed = [*METRICS.get(task, ()), *FAIRNESS_NAMES]
    if monitor:
        estimated = [f"estimated.{m}" for m in ESTIMATED_METRICS] if task == "binary" else []
        allowed += [*estimated, *DRIFT_NAMES]
    for text in requirements:
        req = parse_requirement(text)
        if req.metric not in allowed:
            import difflib

            close = difflib.get_close_matches(req.metric, allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"Requirement {text!r} names unknown metric {req.metric!r} for a {task} task. "
                f"Known: {', '.join(allowed)}.{hint}"
            )


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
