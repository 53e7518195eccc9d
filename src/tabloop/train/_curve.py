"""The learning curve: score against training rows, with a verdict, within the budget.

Maintainer note. The curve answers one question: would more rows help? So it ends in a
verdict (:func:`curve_verdict`), not only a chart.

Sizes double: 1/8, 1/4, 1/2 of a training fold and the whole fold, so the step between two
points is one doubling and "+x per doubling" reads straight off the curve. The whole-fold
point is the cross-validation the run already did (the same folds, the same model), so
only the three smaller sizes are fitted: 7/8 of one fold fit per fold used.

Verdict: the gain of each doubling is compared with its standard error (the spread over
folds of the paired per-fold gains, the folds being the same at every size; with one fold,
the spread of the cross-validation scores). A gain within one standard error is noise, the
rule :mod:`tabloop.train._sample` uses to stop sampling. "plateau from about N rows" when
every doubling from N rows on gains no more than its standard error; otherwise "still
rising: +x per doubling", x the gain of the last doubling (for an error metric, "still
falling: -x").

Smaller sizes: rows drawn at random from the fold (seeded), except under ``features.lags``,
where a lag reads "k rows back" in the rows the model is fitted on: a random 1/8 of a fold
would leave each entity's history thinned, its lags and windows spanning periods they do
not span at prediction time. There a size keeps the *latest* rows of the fold (by the
lags' ``order`` column, as the time sample orders rows): the history just before the
validation rows stays whole, and the curve asks what a forecaster asks -- would a longer
history help? (``subsample`` in the curve says which.)

Budget: the fits are planned before any runs (:func:`plan_curve`): each fit of a fraction
``f`` of a fold is estimated at ``f`` times the cross-validation's seconds per fold, and the
plan is the richest (folds, sizes) whose estimate fits the time left. Sizes run smallest
first and stop when the next one's estimate no longer fits, so a slow first fit cannot take
the run far past its deadline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig
    from tabloop.train._cv import CVResult

#: Fractions of a training fold fitted for the curve (the whole fold comes from the CV).
FRACTIONS = (0.125, 0.25, 0.5)
#: Folds the curve uses at most.
MAX_FOLDS = 3

_CURVE_SCORING = {
    "roc_auc": "roc_auc",
    "pr_auc": "average_precision",
    "log_loss": "neg_log_loss",
    "brier": "neg_brier_score",
    "accuracy": "accuracy",
    "rmse": "neg_root_mean_squared_error",
    "mse": "neg_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}


@dataclass
class CurvePlan:
    """The fits the curve will make: ``folds`` folds at each of ``fractions``."""

    folds: int
    fractions: tuple[float, ...]
    seconds: float  # estimated cost

    @property
    def fits(self) -> int:
        return self.folds * len(self.fractions)


#: (folds, sizes) in order of preference: two folds give a paired standard error, and
#: the largest size decides the verdict.
_PLANS = ((3, 3), (2, 3), (3, 2), (2, 2), (1, 3), (1, 2), (1, 1))


def plan_curve(
    fold_seconds: float, seconds_left: float | None, *, n_folds: int
) -> CurvePlan | None:
    """The first plan of :data:`_PLANS` whose estimated cost fits ``seconds_left``
    (``None``: no limit); ``None`` when not even one fit of the smallest size fits.

    >>> plan_curve(2.0, 3.0, n_folds=5)
    CurvePlan(folds=3, fractions=(0.125, 0.25), seconds=2.25)
    """
    for folds, k in _PLANS:
        if folds > max(1, min(MAX_FOLDS, n_folds)):
            continue
        fractions = FRACTIONS[:k]
        cost = folds * sum(fractions) * fold_seconds
        if seconds_left is None or cost <= seconds_left:
            return CurvePlan(folds, fractions, cost)
    return None


class CurveResult(NamedTuple):
    """What :func:`learning_curve` returns: the curve, or ``None`` and why it was not drawn
    (a line for the run's notes)."""

    curve: dict[str, Any] | None
    skipped: str | None = None


def learning_curve(
    config: ProjectConfig,
    best: CVResult,
    task: str,
    metric: str,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    deadline: float | None = None,
) -> CurveResult:
    """Score vs training rows (mean and spread over folds) for the best single model, its
    verdict, and the work done; no curve, and the reason, when ``metric`` has no scorer or
    the time left allows no fit."""
    from sklearn.model_selection import learning_curve as sklearn_curve

    from tabloop.train._cv import LOWER_IS_BETTER, make_pipeline

    if metric not in _CURVE_SCORING:
        return CurveResult(None, f"learning curve: skipped, no scikit-learn scorer for {metric!r}")
    fold_seconds = best.seconds / max(1, len(best.fold_scores))
    left = None if deadline is None else deadline - time.monotonic()
    plan = plan_curve(fold_seconds, left, n_folds=len(folds))
    if plan is None:
        return CurveResult(
            None,
            f"learning curve: skipped, its smallest fit needs about "
            f"{FRACTIONS[0] * fold_seconds:.1f} s and {max(0.0, left or 0.0):.1f} s are left",
        )
    scoring = _CURVE_SCORING[metric]
    if task == "multiclass" and metric == "roc_auc":
        scoring = "roc_auc_ovr"
    sign = -1.0 if scoring.startswith("neg_") else 1.0
    used = folds[: plan.folds]
    subsample = "random"
    if config.features.lags:  # the latest rows of each fold first: lags read whole history
        from tabloop.train._sample import newest_first

        order = next(iter(config.features.lags.values())).order
        subsample = f"latest by {order}"
        used = [(fit[newest_first(X.iloc[fit], order)], val) for fit, val in used]
    sizes, train_rows, val_rows = [], [], []
    fits = 0
    for fraction in plan.fractions:
        cost = plan.folds * fraction * fold_seconds
        if deadline is not None and time.monotonic() + cost > deadline:
            break
        size, train_scores, val_scores = sklearn_curve(
            make_pipeline(config, best.name, task, params=best.params),
            X,
            y,
            cv=used,
            train_sizes=[fraction],
            scoring=scoring,
            shuffle=subsample == "random",  # else the first rows of each fold: the latest
            random_state=0,
            error_score=np.nan,
        )
        fits += plan.folds
        sizes.append(int(size[0]))
        train_rows.append(sign * train_scores[0])
        val_rows.append(sign * val_scores[0])
    # the whole fold: the cross-validation's own scores on the same folds
    natural = -1.0 if metric in LOWER_IS_BETTER else 1.0
    sizes.append(int(len(used[0][0])))
    val_rows.append(natural * np.asarray(best.fold_scores[: plan.folds], dtype=float))
    train_rows.append(np.full(plan.folds, np.nan))
    val = np.vstack(val_rows)
    curve = {
        "model": best.name,
        "metric": metric,
        "sizes": sizes,
        "train_mean": [_mean_or_none(r) for r in train_rows],
        "val_mean": np.nanmean(val, axis=1).tolist(),
        "val_std": np.nanstd(val, axis=1).tolist(),
        "val_folds": val.tolist(),
        "folds": plan.folds,
        "fits": fits,
        "planned_fits": plan.fits,
        "subsample": subsample,
    }
    cv_se = best.std / np.sqrt(max(1, len(best.fold_scores)))
    curve["verdict"] = curve_verdict(
        sizes, val, lower_is_better=metric in LOWER_IS_BETTER, single_se=cv_se, metric=metric
    )
    return CurveResult(curve)


def _mean_or_none(row: np.ndarray) -> float | None:
    return None if np.all(np.isnan(row)) else float(np.nanmean(row))


def curve_verdict(
    sizes: list[int],
    scores: np.ndarray,
    *,
    lower_is_better: bool,
    single_se: float = 0.0,
    step_se: list[float] | None = None,
    metric: str = "score",
) -> dict[str, Any]:
    """``plateau`` from the smallest size after which no step gains more than its standard
    error, or ``rising`` with the last step's gain per doubling (see the module's note).

    ``scores`` is ``(len(sizes), folds)`` in the metric's own units; with one fold the
    standard error of a gain is ``single_se`` (the CV's), or ``step_se[i]`` for step ``i``
    when given (independent samples: the square root of the two sizes' squared standard
    errors). Returns ``kind``, ``from_rows``
    (plateau), ``per_doubling`` (the last step's gain per doubling, in the metric's units),
    ``headline`` (one terminal line) and ``message``.

    >>> v = curve_verdict([100, 200, 400], np.array([[0.70, 0.72], [0.75, 0.74], [0.75, 0.745]]),
    ...                   lower_is_better=False, metric="roc_auc")
    >>> v["kind"], v["from_rows"]
    ('plateau', 200)
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    if len(sizes) < 2:
        line = "learning curve: fewer than two sizes, no verdict"
        return {"kind": "none", "headline": line, "message": line}
    orient = -1.0 if lower_is_better else 1.0
    gains, ses, doublings = [], [], []
    for i in range(len(sizes) - 1):
        paired = orient * (scores[i + 1] - scores[i])
        paired = paired[np.isfinite(paired)]
        gains.append(float(paired.mean()) if len(paired) else float("nan"))
        if step_se is not None:
            ses.append(step_se[i])
        elif len(paired) > 1:
            ses.append(float(paired.std(ddof=1) / np.sqrt(len(paired))))
        else:
            ses.append(single_se)
        doublings.append(max(np.log2(sizes[i + 1] / sizes[i]), 1e-9))
    noise = [not (g > s) for g, s in zip(gains, ses, strict=True)]  # NaN gain counts as noise
    per_doubling = gains[-1] / doublings[-1]
    start = len(noise)
    while start > 0 and noise[start - 1]:
        start -= 1
    unit = orient * per_doubling
    if start < len(noise):
        rows = sizes[start]
        return {
            "kind": "plateau",
            "from_rows": int(rows),
            "per_doubling": float(unit),
            "headline": f"learning curve: plateau from about {rows:,} rows",
            "message": f"learning curve: plateau from about {rows:,} rows (each doubling "
            f"after gains less than its standard error); more rows of the same kind will "
            "hardly help",
        }
    verb = "falling" if lower_is_better else "rising"
    return {
        "kind": "rising",
        "from_rows": None,
        "per_doubling": float(unit),
        "headline": f"learning curve: still {verb}, {unit:+.4g} {metric} per doubling of rows",
        "message": f"learning curve: still {verb}: {unit:+.4g} {metric} per doubling of "
        f"the training rows (last step, {sizes[-2]:,} to {sizes[-1]:,}, ±{ses[-1]:.2g} "
        "standard error); more rows would likely help",
    }


def sampled_curve_verdict(curve: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`curve_verdict` of the curve ``train.sample: auto`` drew (one cross-validation
    per sample size; ``steps`` are :attr:`Sampling.curve`, each with its ``se``)."""
    from tabloop.train._cv import LOWER_IS_BETTER

    se = [float(np.hypot(a["se"], b["se"])) for a, b in zip(steps, steps[1:], strict=False)]
    return curve_verdict(
        curve["sizes"],
        np.asarray(curve["val_mean"], dtype=float)[:, None],
        lower_is_better=curve["metric"] in LOWER_IS_BETTER,
        step_se=se,
        metric=curve["metric"],
    )
