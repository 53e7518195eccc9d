"""The decision threshold of a binary classifier, chosen on out-of-fold probabilities.

Objectives (``train.threshold``):

* ``"f1"`` maximises F1;
* ``"cost"`` minimises the expected cost per row, ``costs={"fp": 1, "fn": 5}`` (missing
  keys cost 0);
* a constraint ``"<metric> >= x"`` (precision, recall, specificity) or ``"<metric> <= x"``
  (fpr, fnr) maximises recall subject to it, or precision when the constraint is on the
  positives found (recall, fnr).

Maintainer note: why a constraint is checked on a confidence bound. Picking the threshold
where the out-of-fold estimate just touches the target selects on noise: in simulations
the chosen threshold then misses the target on new data about half the time (0.49, 0.50,
0.46 for ``precision >= 0.5``). So a candidate counts as meeting the constraint only when
the one-sided Wilson score bound of its proportion does, at ``confidence``: the lower bound
for ``>=``, the upper bound for ``<=``, each with its own denominator (predicted positives
for precision, actual positives for recall and fnr, actual negatives for specificity and
fpr). The margin ``bound - target`` (``target - bound`` for ``<=``) says how much room is
left. When no threshold reaches the bound, the one with the best bound is returned with
``met=False`` and a message rather than an error: too little data is a finding, not a bug.

Candidates and the convention: every distinct probability value ``v`` is a candidate and
the returned threshold is ``v`` itself, so ``proba >= threshold`` reproduces exactly the
counts the choice was made on. One more candidate predicts no row positive; its threshold
is the next float above the largest probability. Counts for all candidates come from one
sort and cumulative sums (O(n log n)). Ties in the objective go to the higher threshold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from tabloop.config import Objective, check_costs, parse_objective
from tabloop.data.frame import json_safe
from tabloop.exceptions import TrainError

#: Most points kept in :attr:`ThresholdChoice.curve`.
CURVE_POINTS = 200

_DENOMINATOR = {
    "precision": "predicted positives",
    "recall": "actual positives",
    "fnr": "actual positives",
    "specificity": "actual negatives",
    "fpr": "actual negatives",
}


@dataclass
class ThresholdChoice:
    """The chosen threshold and the out-of-fold evidence for it.

    Attributes
    ----------
    threshold : predict positive when ``proba >= threshold``.
    objective : the objective's text, e.g. ``"precision >= 0.5"``.
    optimised : what :attr:`value` measures: ``f1``, ``cost`` (per row), ``recall`` or
        ``precision``.
    value : that quantity at the threshold, on the out-of-fold predictions.
    estimate, bound, margin : for a constraint, its metric's point estimate, its one-sided
        Wilson bound at :attr:`confidence`, and how far the bound is inside the target
        (negative: outside); ``None`` otherwise.
    met : whether the constraint's bound meets the target (always true for f1 and cost).
    message : one sentence for people.
    counts : ``tp``, ``fp``, ``tn``, ``fn`` at the threshold.
    curve : ``threshold`` (ascending), ``precision``, ``recall``, ``f1`` at no more than
        200 candidate thresholds, for a chart.
    """

    threshold: float
    objective: str
    optimised: str
    value: float
    met: bool
    message: str
    counts: dict[str, int]
    estimate: float | None = None
    bound: float | None = None
    margin: float | None = None
    confidence: float | None = None
    curve: dict[str, list[float]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe data (undefined numbers become ``None``)."""
        return json_safe(asdict(self))


def choose_threshold(
    y_true: Any,
    proba: Any,
    *,
    objective: str | Objective = "f1",
    costs: dict[str, float] | None = None,
    confidence: float = 0.95,
) -> ThresholdChoice:
    """Choose the decision threshold on out-of-fold positive-class probabilities.

    Parameters
    ----------
    y_true : 0/1 codes (1 = positive class), one per row.
    proba : the out-of-fold probability of the positive class, in [0, 1].
    objective : ``"f1"``, ``"cost"`` or a constraint (see :func:`parse_objective`).
    costs : for ``"cost"``: cost of each outcome among ``tp``, ``fp``, ``tn``, ``fn``
        (missing keys cost 0); ignored by other objectives.
    confidence : one-sided confidence of a constraint's Wilson bound, in [0.5, 1); 0.5
        makes the bound the point estimate (no safety margin).

    Examples
    --------
    >>> choice = choose_threshold([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> choice.threshold, round(choice.value, 3)
    (0.4, 0.8)
    """
    y, p = _check_inputs(y_true, proba)
    obj = objective if isinstance(objective, Objective) else parse_objective(objective)
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not (0.5 <= confidence < 1)
    ):
        raise TrainError(
            f"confidence must be at least 0.5 and below 1 (one-sided level of the bound); "
            f"got {confidence!r}."
        )
    thresholds, tp, fp = _candidate_counts(y, p)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    fn, tn = pos - tp, neg - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
    recall = tp / pos
    f1 = 2 * tp / (2 * tp + fp + fn)

    estimate = bound = margin = None
    if obj.kind == "f1":
        best = int(np.argmax(f1))  # first maximum = highest threshold
        value, met = float(f1[best]), True
    elif obj.kind == "cost":
        c = check_costs(costs)
        cost = (c["tp"] * tp + c["fp"] * fp + c["tn"] * tn + c["fn"] * fn) / len(y)
        best = int(np.argmin(cost))
        value, met = float(cost[best]), True
    else:
        successes, trials = _proportion(obj.metric, tp, fp, tn, fn, pos, neg)  # type: ignore[arg-type]
        upper = obj.op == "<="
        z = NormalDist().inv_cdf(confidence)
        bounds = wilson_bound(successes, trials, z=z, upper=upper)
        margins = (obj.target - bounds) if upper else (bounds - obj.target)  # type: ignore[operator]
        opt = precision if obj.optimised == "precision" else recall
        opt_key, margin_key = np.nan_to_num(opt, nan=-np.inf), np.nan_to_num(margins, nan=-np.inf)
        feasible = margin_key >= 0
        higher = -np.arange(len(thresholds))  # last tie-breaker: the higher threshold
        if feasible.any():
            # best objective among feasible candidates, then the widest margin
            order = np.lexsort((higher, margin_key, np.where(feasible, opt_key, -np.inf)))
        else:
            order = np.lexsort((higher, opt_key, margin_key))
        best = int(order[-1])
        value, met = float(opt[best]), bool(feasible[best])
        with np.errstate(divide="ignore", invalid="ignore"):
            estimates = successes / trials
        estimate, bound, margin = (
            float(estimates[best]),
            float(bounds[best]),
            float(margins[best]),
        )

    counts = {"tp": int(tp[best]), "fp": int(fp[best]), "tn": int(tn[best]), "fn": int(fn[best])}
    choice = ThresholdChoice(
        threshold=float(thresholds[best]),
        objective=obj.text,
        optimised=obj.optimised,
        value=value,
        met=met,
        message="",
        counts=counts,
        estimate=estimate,
        bound=bound,
        margin=margin,
        confidence=confidence if obj.kind == "constraint" else None,
        curve=_curve(thresholds, precision, recall, f1, best),
    )
    if obj.kind == "constraint":
        best_estimate = np.nanmax(estimates) if not upper else np.nanmin(estimates)
        choice.message = _constraint_message(obj, choice, trials[best], best_estimate)
    else:
        choice.message = _plain_message(obj, choice, precision[best], recall[best])
    return choice


def wilson_bound(successes: Any, trials: Any, *, z: float, upper: bool = False) -> np.ndarray:
    """One-sided Wilson score bound of ``successes / trials`` (NaN where ``trials`` is 0).

    ``z`` is the standard normal quantile of the one-sided confidence (1.645 for 95%).
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        shrink = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / shrink
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / shrink
    bound = centre + half if upper else centre - half
    return np.where(n > 0, np.clip(bound, 0.0, 1.0), np.nan)


def _check_inputs(y_true: Any, proba: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    try:
        p = np.asarray(proba, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TrainError(f"proba must hold numbers (probabilities); {exc}.") from None
    if y.ndim != 1 or p.ndim != 1:
        raise TrainError(
            f"y_true and proba must be 1-D (one value per row); got shapes {y.shape} and "
            f"{p.shape}. For a binary classifier pass the positive-class column."
        )
    if len(y) != len(p):
        raise TrainError(f"y_true has {len(y)} rows but proba has {len(p)}; they must match.")
    if np.isnan(p).any():
        raise TrainError(
            f"proba has {int(np.isnan(p).sum())} NaN value(s); pass only rows with an "
            f"out-of-fold prediction."
        )
    if len(p) and (p.min() < 0 or p.max() > 1):
        raise TrainError(
            f"proba must lie in [0, 1]; got values from {p.min():.4g} to {p.max():.4g}. "
            f"Pass probabilities, not raw scores."
        )
    if y.dtype == bool:
        y = y.astype(int)
    try:
        codes = y.astype(float)
    except (TypeError, ValueError):
        codes = np.full(len(y), np.nan)
    if not np.isin(codes, (0.0, 1.0)).all():
        bad = y[~np.isin(codes, (0.0, 1.0))].tolist()[0]
        raise TrainError(f"y_true must hold 0/1 codes (1 = positive class); found {bad!r}.")
    if len(np.unique(codes)) < 2:
        only = "no rows" if len(codes) == 0 else f"only class {int(codes[0])}"
        raise TrainError(f"y_true has {only}; choosing a threshold needs both classes.")
    return codes.astype(np.int64), p


def _candidate_counts(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (descending, first one predicts nothing) and TP, FP counts at each."""
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(p_sorted)), len(p) - 1]  # end of each tie block
    tp = np.cumsum(y_sorted)[last]
    fp = last + 1 - tp
    above = np.nextafter(p_sorted[0], np.inf)
    return np.r_[above, p_sorted[last]], np.r_[0, tp], np.r_[0, fp]


def _proportion(
    metric: str, tp: np.ndarray, fp: np.ndarray, tn: np.ndarray, fn: np.ndarray, pos: int, neg: int
) -> tuple[np.ndarray, np.ndarray]:
    """Successes and trials of a constraint's metric at each candidate."""
    full = np.ones_like(tp)
    return {
        "precision": (tp, tp + fp),
        "recall": (tp, pos * full),
        "fnr": (fn, pos * full),
        "specificity": (tn, neg * full),
        "fpr": (fp, neg * full),
    }[metric]


def _curve(
    thresholds: np.ndarray, precision: np.ndarray, recall: np.ndarray, f1: np.ndarray, best: int
) -> dict[str, list[float]]:
    """Up to :data:`CURVE_POINTS` candidates, ascending, always including the chosen one."""
    real = np.arange(len(thresholds) - 1, 0, -1)  # ascending; skips "predict nothing"
    if len(real) > CURVE_POINTS:
        picks = np.unique(np.linspace(0, len(real) - 1, CURVE_POINTS - 1).round().astype(int))
        keep = real[picks]
        if best != 0 and best not in keep:
            keep = np.sort(np.r_[keep, best])[::-1]
        real = keep
    return {
        "threshold": thresholds[real].tolist(),
        "precision": precision[real].tolist(),
        "recall": recall[real].tolist(),
        "f1": f1[real].tolist(),
    }


def _plain_message(obj: Objective, c: ThresholdChoice, precision: float, recall: float) -> str:
    what = f"F1 {c.value:.3f}" if obj.kind == "f1" else f"expected cost {c.value:.4g} per row"
    shown = "undefined" if np.isnan(precision) else f"{precision:.3f}"
    return (
        f"{what} at threshold {c.threshold:.4g} on out-of-fold predictions "
        f"(precision {shown}, recall {recall:.3f})."
    )


def _constraint_message(
    obj: Objective, c: ThresholdChoice, trials: int, best_estimate: float
) -> str:
    side = "upper" if obj.op == "<=" else "lower"
    level = f"{c.confidence:.0%}"
    evidence = (
        f"estimate {c.estimate:.3f}, {level} {side} bound {c.bound:.3f} on {int(trials)} "
        f"{_DENOMINATOR[obj.metric]}"  # type: ignore[index]
    )
    if c.met:
        return (
            f"{obj.text} holds with {level} confidence at threshold {c.threshold:.4g}: "
            f"{evidence}, margin {c.margin:.3f}; {c.optimised} {c.value:.3f} (out-of-fold)."
        )
    reached = best_estimate <= obj.target if obj.op == "<=" else best_estimate >= obj.target  # type: ignore[operator]
    why = (
        "the out-of-fold estimate reaches the target, but not its confidence bound"
        if reached
        else "even the out-of-fold estimate never reaches the target"
    )
    return (
        f"{obj.text} cannot be guaranteed with this much data: {why}. The best threshold, "
        f"{c.threshold:.4g}, has {evidence}, {-c.margin:.3f} short of {obj.target:g}. "  # type: ignore[operator]
        f"Add rows, relax the target, or lower the confidence (train.threshold_confidence)."
    )
