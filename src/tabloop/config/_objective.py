"""The decision-threshold objective of ``train.threshold``: ``f1``, ``cost`` or a constraint.

Parsed here, below the stages, so the config validates it on load; ``tabloop.train``
chooses the threshold that meets it (see ``train/_threshold.py``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from tabloop.exceptions import TrainError

#: Keys of the ``costs`` mapping of ``train.threshold: cost``.
COST_KEYS = ("tp", "fp", "tn", "fn")
#: Metrics a constraint may name.
CONSTRAINT_METRICS = ("precision", "recall", "specificity", "fpr", "fnr")
_LOWER_LIMITS = ("precision", "recall", "specificity")  # constrained with >=
_PATTERN = re.compile(r"^([a-z_][a-z0-9_]*)\s*(>=|<=)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)$")


@dataclass(frozen=True)
class Objective:
    """A parsed threshold objective; ``metric``, ``op`` and ``target`` only for constraints."""

    kind: Literal["f1", "cost", "constraint"]
    text: str
    metric: str | None = None
    op: Literal[">=", "<="] | None = None
    target: float | None = None

    @property
    def optimised(self) -> str:
        """What is maximised (minimised for cost): f1, cost, recall or precision."""
        if self.kind != "constraint":
            return self.kind
        return "precision" if self.metric in ("recall", "fnr") else "recall"


def parse_objective(text: str) -> Objective:
    """Parse ``"f1"``, ``"cost"`` or a constraint such as ``"precision >= 0.5"``.

    Raises :class:`~tabloop.exceptions.TrainError` quoting malformed text, listing the
    metrics a constraint may name, or giving the direction a metric is limited in.

    Examples
    --------
    >>> parse_objective("recall >= 0.8")
    Objective(kind='constraint', text='recall >= 0.8', metric='recall', op='>=', target=0.8)
    >>> parse_objective("f1").optimised
    'f1'
    """
    if not isinstance(text, str):
        raise TrainError(
            f"The threshold objective must be a string such as 'f1', 'cost' or "
            f"'precision >= 0.5'; got {text!r}."
        )
    clean = " ".join(text.strip().lower().split())
    if clean in ("f1", "cost"):
        return Objective(clean, clean)  # type: ignore[arg-type]
    match = _PATTERN.match(clean)
    if match is None:
        raise TrainError(
            f"Threshold objective {text!r} is not 'f1', 'cost' or '<metric> >= <number>' / "
            f"'<metric> <= <number>' (e.g. 'precision >= 0.5', 'fpr <= 0.1')."
        )
    metric, op, number = match.groups()
    if metric not in CONSTRAINT_METRICS:
        raise TrainError(
            f"Threshold objective {text!r} names {metric!r}; a constraint may name one of "
            f"{', '.join(CONSTRAINT_METRICS)}."
        )
    expected = ">=" if metric in _LOWER_LIMITS else "<="
    if op != expected:
        raise TrainError(
            f"Threshold objective {text!r}: {metric} is limited with {expected!r} "
            f"(e.g. '{metric} {expected} {number}')."
        )
    target = float(number)
    if not 0 < target < 1:
        raise TrainError(
            f"Threshold objective {text!r}: the target must be strictly between 0 and 1 "
            f"(a proportion); got {number}."
        )
    return Objective("constraint", f"{metric} {op} {number}", metric, op, target)  # type: ignore[arg-type]


def check_costs(costs: dict[str, float] | None) -> dict[str, float]:
    """``costs`` of the four outcomes (missing ones cost 0) when a threshold can trade them:
    a wrong decision must cost more than the right one (``fp > tn`` and ``fn > tp``), else
    one trivial policy is always best and no threshold means anything.

    Examples
    --------
    >>> check_costs({"fp": 1, "fn": 5})
    {'tp': 0.0, 'fp': 1.0, 'tn': 0.0, 'fn': 5.0}
    """
    if not costs:
        raise TrainError(
            "Threshold objective 'cost' needs costs, e.g. costs={'fp': 1, 'fn': 5} "
            "(keys tp, fp, tn, fn; missing keys cost 0)."
        )
    unknown = sorted(set(costs) - set(COST_KEYS))
    if unknown:
        raise TrainError(f"costs has unknown key(s) {unknown}; use {', '.join(COST_KEYS)}.")
    out = dict.fromkeys(COST_KEYS, 0.0)
    for key, value in costs.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = math.nan
        if not math.isfinite(out[key]):
            raise TrainError(f"costs[{key!r}] must be a finite number; got {value!r}.")
    for wrong, right in (("fp", "tn"), ("fn", "tp")):
        if out[wrong] <= out[right]:
            raise TrainError(
                f"costs: a {wrong} must cost more than a {right} ({wrong} > {right}); got "
                f"{wrong} {out[wrong]:g} and {right} {out[right]:g}, so predicting every row "
                f"{'positive' if wrong == 'fp' else 'negative'} is never worse and no "
                "threshold can trade the errors."
            )
    return out
