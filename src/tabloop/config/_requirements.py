"""Requirements such as ``precision >= 0.5`` or ``fairness.max_gap <= 0.05``: the grammar.

A requirement names a metric of the task (see :data:`METRICS`) or the fairness gap, a
comparison and a number. Names are checked when the config loads, so a typo fails before
an hour of training rather than after it; ``tabloop.evaluate`` and ``tabloop.monitor``
check the parsed requirements against measured values.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tabloop.config._names import METRICS
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
