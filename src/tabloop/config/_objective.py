"""The decision-threshold objective of ``train.threshold``: ``f1``, ``cost`` or a constraint.

Parsed here, below the stages, so the config validates it on load; ``tabloop.train``
chooses the threshold that meets it (see ``train/_threshold.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tabloop.exceptions import TrainError

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
