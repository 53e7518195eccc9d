"""Test-set metrics with percentile-bootstrap confidence intervals, without a resampling loop.

Maintainer note
---------------
Every metric here is written as a function of a ``(replicates, n)`` weight matrix ``w``: a
bootstrap replicate is the vector of how often each row was drawn (see
:func:`~tabloop.evaluate._bootstrap.bootstrap_counts`), and the point estimate is the single
replicate of all ones. So one code path gives both, and replicate ``b`` equals the
scikit-learn metric computed with ``sample_weight=w[b]`` (this is what the tests check).

- Confusion counts and per-row losses come from one matrix product ``w @ columns``, where
  each column is a per-row indicator (true positive, false positive, ...) or a per-row loss
  (log loss, squared error, ...). Ratios and weighted means follow per replicate.
- ROC-AUC is the weighted Mann-Whitney statistic. The scores are sorted once; rows with
  tied scores form one group, and per replicate ``np.add.reduceat`` sums the positive and
  negative weight of each group. A positive then beats every negative of a lower group and
  half of the negatives of its own group (sklearn's trapezoid over distinct thresholds
  counts a tied pair as 1/2 too).
- Average precision walks the same groups from the highest score down: the precision at
  each distinct threshold, weighted by the positive weight the group adds (sklearn's
  uninterpolated step sum).

Work per chunk of replicates is a few ``(chunk, n)`` arrays; ``bootstrap_counts`` bounds
the chunk size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tabloop.config import METRICS
from tabloop.evaluate._bootstrap import (
    N_BOOT,
    bootstrap_counts,
    percentile_interval,
    poisson_counts,
)

#: Metrics that need predicted probabilities; skipped when ``proba`` is None.
PROBA_METRICS = frozenset({"roc_auc", "pr_auc", "log_loss", "brier"})

Scorer = Callable[[np.ndarray], dict[str, np.ndarray]]


def score_metrics(
    task: str,
    y_true: ArrayLike,
    *,
    prediction: ArrayLike,
    proba: ArrayLike | None = None,
    n_boot: int = N_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
    weights: ArrayLike | None = None,
) -> dict[str, dict[str, Any]]:
    """Every metric of ``task`` with a percentile-bootstrap confidence interval.

    Parameters
    ----------
    task : {"binary", "multiclass", "regression"}
        Selects the metrics, see :data:`METRICS`.
    y_true : array-like of shape (n,)
        Binary: 0/1 with 1 the positive class. Multiclass: class codes ``0..K-1``.
        Regression: numbers.
    prediction : array-like of shape (n,)
        Predicted labels (same encoding as ``y_true``) or predicted values.
    proba : array-like, optional
        Binary: the positive-class probability, shape ``(n,)``. Multiclass: shape
        ``(n, K)``, column ``k`` for code ``k`` (a class may be absent from ``y_true``).
        Regression: must be None. Without it the probability metrics (``roc_auc``,
        ``pr_auc``, ``log_loss``, ``brier``) are left out.
    n_boot : int, default=1000
        Bootstrap replicates; 0 skips the intervals.
    confidence : float, default=0.95
        Coverage of the percentile interval.
    seed : int, default=0
        Seed of the resampling; the same seed gives the same intervals.
    weights : array-like of int, optional
        Row ``i`` stands for ``weights[i]`` identical rows (a table of counts, e.g. the
        monitor's merged partition statistics): every value equals the one on the expanded
        rows. The bootstrap is then the Poisson bootstrap: a replicate weighs row ``i``
        ``Poisson(weights[i])``, the distribution of the sum of ``weights[i]`` independent
        Poisson(1) row weights, so it does not depend on how the rows were grouped.

    Returns
    -------
    dict
        ``{name: {"value", "ci_low", "ci_high"}}`` in :data:`METRICS` order, and for
        classification ``"confusion_matrix": {"labels": [...], "matrix": [[...]]}`` with true
        labels as rows and predicted labels as columns (unweighted counts, no interval).
        A value is None where the metric is undefined: ROC-AUC with one class present (or,
        multiclass, a macro average over classes that have both positive and negative rows),
        average precision without positives, R² when ``y_true`` is constant (sklearn's
        ``force_finite`` would report 1.0 or 0.0) or has one row, and MAPE when a target
        value is 0 (with a ``reason``; sklearn's 1e15-sized value is not shown). Precision,
        recall and F1 use sklearn's ``zero_division=0``: 0.0 when nothing is predicted
        positive or nothing is positive. Balanced accuracy averages recall over the classes
        present in ``y_true``, and the macro averages run over the classes present in
        ``y_true`` or ``prediction``, as sklearn does. An interval is None when fewer than
        half of the replicates define the metric.

    Raises
    ------
    ValueError
        For an unknown task, arrays of different lengths, labels outside the encoding, a
        ``proba`` of the wrong shape or outside [0, 1], or no rows at all.

    Examples
    --------
    >>> out = score_metrics(
    ...     "binary", [0, 1, 1, 0], prediction=[0, 1, 0, 0], proba=[0.1, 0.8, 0.4, 0.3]
    ... )
    >>> out["roc_auc"]["value"], out["recall"]["value"]
    (1.0, 0.5)
    >>> out["confusion_matrix"]
    {'labels': [0, 1], 'matrix': [[2, 0], [1, 1]]}
    """
    if task not in METRICS:
        raise ValueError(
            f"task must be one of {', '.join(map(repr, METRICS))}; got {task!r}. "
            "Use the task of the trained model (tabloop.yaml 'task')."
        )
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0; got {n_boot!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1; got {confidence!r}.")
    counts = None if weights is None else _weights(weights, len(np.asarray(y_true)))
    scorer, confusion, n = _prepare(task, y_true, prediction, proba, counts)
    values = scorer(np.ones((1, n)) if counts is None else counts[None, :])
    replicates: dict[str, list[np.ndarray]] = {name: [] for name in values}
    if n_boot > 0:
        draws = (
            bootstrap_counts(n, n_boot=n_boot, seed=seed)
            if counts is None
            else poisson_counts(counts, n_boot=n_boot, seed=seed)
        )
        for drawn in draws:
            for name, array in scorer(drawn.astype(np.float64)).items():
                replicates[name].append(array)

    out: dict[str, dict[str, Any]] = {}
    for name in METRICS[task]:
        if name not in values:
            continue
        value = float(values[name][0]) if np.isfinite(values[name][0]) else None
        low, high = None, None
        if value is not None and n_boot > 0:
            low, high = percentile_interval(np.concatenate(replicates[name]), confidence)
        out[name] = {"value": value, "ci_low": low, "ci_high": high}
    if task == "regression" and "mape" in out:
        zeros = int(np.sum(np.asarray(y_true, dtype=np.float64) == 0))
        if zeros:  # sklearn divides by eps instead: 1e15 and more, a number nobody can use
            out["mape"] = {
                "value": None,
                "ci_low": None,
                "ci_high": None,
                "reason": f"hidden: {zeros} target value(s) are 0, MAPE divides by them",
            }
    if confusion is not None:
        out["confusion_matrix"] = confusion
    return out


def _prepare(
    task: str,
    y_true: ArrayLike,
    prediction: ArrayLike,
    proba: ArrayLike | None,
    weights: np.ndarray | None = None,
) -> tuple[Scorer, dict[str, list] | None, int]:
    """Validate the inputs; return the task's scorer, the confusion matrix and the row count."""
    y, pred = _column("y_true", y_true), _column("prediction", prediction)
    n = len(y)
    if n == 0:
        raise ValueError("y_true is empty; metrics need at least one row.")
    if len(pred) != n:
        raise ValueError(
            f"prediction has {len(pred)} rows but y_true has {n}; "
            "pass one prediction per row of y_true."
        )

    if task == "regression":
        if proba is not None:
            raise ValueError(
                f"proba must be None for a regression task; got shape {np.shape(proba)}."
            )
        scorer, confusion = _regression_scorer(
            _numbers("y_true", y), _numbers("prediction", pred), weights
        )
    elif task == "binary":
        y, pred = _codes("y_true", y, 2, "binary"), _codes("prediction", pred, 2, "binary")
        p = None if proba is None else _binary_proba(proba, n)
        scorer, confusion = _binary_scorer(y, pred, p), _confusion(y, pred, 2, weights)
    else:
        p = None if proba is None else _multiclass_proba(proba, n)
        k = p.shape[1] if p is not None else None
        y, pred = _codes("y_true", y, k, "multiclass"), _codes("prediction", pred, k, "multiclass")
        k = k if k is not None else int(max(y.max(), pred.max())) + 1
        scorer, confusion = _multiclass_scorer(y, pred, p, k), _confusion(y, pred, k, weights)

    return scorer, confusion, n


# --- scorers: weights (replicates, n) -> {metric: (replicates,)} -------------------------


def _binary_scorer(y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None) -> Scorer:
    pos, hit = y == 1, pred == 1
    columns = [pos & hit, ~pos & hit, pos & ~hit, ~pos & ~hit]  # tp, fp, fn, tn
    ranking = None
    if proba is not None:
        ranking = _Ranking(proba, pos)
        columns += [_row_log_loss(np.where(pos, proba, 1 - proba)), (y - proba) ** 2]
    matrix = np.column_stack(columns).astype(np.float64)

    def score(w: np.ndarray) -> dict[str, np.ndarray]:
        sums = w @ matrix
        tp, fp, fn, tn = sums[:, :4].T
        total = w.sum(axis=1)
        out: dict[str, np.ndarray] = {}
        if ranking is not None:
            group_pos, group_neg = ranking.group_weights(w)
            out["roc_auc"] = _mann_whitney_auc(group_pos, group_neg)
            out["pr_auc"] = _average_precision(group_pos, group_neg)
            out["log_loss"] = sums[:, 4] / total
            out["brier"] = sums[:, 5] / total
        recall_by_class = np.column_stack(
            [_ratio(tn, tn + fp, np.nan), _ratio(tp, tp + fn, np.nan)]
        )
        out["accuracy"] = (tp + tn) / total
        out["balanced_accuracy"] = _mean_defined(recall_by_class)
        out["precision"] = _ratio(tp, tp + fp, 0.0)
        out["recall"] = _ratio(tp, tp + fn, 0.0)
        out["f1"] = _ratio(2 * tp, 2 * tp + fp + fn, 0.0)
        return out

    return score


def _multiclass_scorer(y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, k: int) -> Scorer:
    classes = np.arange(k)
    is_true, is_pred = y[:, None] == classes, pred[:, None] == classes
    columns = [is_true & is_pred, is_true, is_pred]  # per class: tp, support, predicted
    rankings: list[_Ranking] = []
    if proba is not None:
        rankings = [_Ranking(proba[:, c], is_true[:, c]) for c in classes]
        columns.append(_row_log_loss(proba[np.arange(len(y)), y])[:, None])
    matrix = np.hstack(columns).astype(np.float64)
    # sklearn's labels=None: the macro averages run over classes seen in y_true or prediction
    seen = is_true.any(axis=0) | is_pred.any(axis=0)

    def score(w: np.ndarray) -> dict[str, np.ndarray]:
        sums = w @ matrix
        tp, support, predicted = sums[:, :k], sums[:, k : 2 * k], sums[:, 2 * k : 3 * k]
        total = w.sum(axis=1)
        out: dict[str, np.ndarray] = {}
        if rankings:
            aucs = np.column_stack([_mann_whitney_auc(*r.group_weights(w)) for r in rankings])
            out["roc_auc"] = _mean_defined(aucs)
            out["log_loss"] = sums[:, 3 * k] / total
        out["accuracy"] = tp.sum(axis=1) / total
        out["balanced_accuracy"] = _mean_defined(_ratio(tp, support, np.nan))
        per_class = {
            "precision": _ratio(tp, predicted, 0.0),
            "recall": _ratio(tp, support, 0.0),
            "f1": _ratio(2 * tp, support + predicted, 0.0),
        }
        for name, values in per_class.items():
            out[f"{name}_macro"] = values[:, seen].mean(axis=1)
        for name, values in per_class.items():
            out[f"{name}_weighted"] = (values * support).sum(axis=1) / support.sum(axis=1)
        return out

    return score


def _regression_scorer(
    y: np.ndarray, pred: np.ndarray, weights: np.ndarray | None = None
) -> tuple[Scorer, None]:
    error = pred - y
    # R²'s total sum of squares without cancellation on large values
    centred = y - np.average(y, weights=weights)
    ape = np.abs(error) / np.maximum(np.abs(y), np.finfo(np.float64).eps)  # sklearn's MAPE
    matrix = np.column_stack([np.abs(error), error**2, ape, centred, centred**2])

    def score(w: np.ndarray) -> dict[str, np.ndarray]:
        sums = w @ matrix
        total = w.sum(axis=1)
        mse = sums[:, 1] / total
        # sum w (y - weighted mean)^2; a replicate of one distinct y leaves rounding noise
        ss_tot = sums[:, 4] - sums[:, 3] ** 2 / total
        constant = ss_tot <= 1e-10 * sums[:, 4]
        return {
            "mae": sums[:, 0] / total,
            "rmse": np.sqrt(mse),
            "mse": mse,
            "r2": 1 - _ratio(sums[:, 1], np.where(constant, 0.0, ss_tot), np.nan),
            "mape": sums[:, 2] / total,
        }

    return score, None


class _Ranking:
    """Scores sorted once, tied scores grouped; per replicate, the weight in each group."""

    def __init__(self, score: np.ndarray, positive: np.ndarray) -> None:
        self.order = np.argsort(score, kind="stable")
        ranked = score[self.order]
        self.starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        self.positive = positive[self.order].astype(np.float64)

    def group_weights(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positive and negative weight per score group, lowest score first."""
        ranked = w[:, self.order]
        total = np.add.reduceat(ranked, self.starts, axis=1)
        positive = np.add.reduceat(ranked * self.positive, self.starts, axis=1)
        return positive, total - positive


def _mann_whitney_auc(group_pos: np.ndarray, group_neg: np.ndarray) -> np.ndarray:
    """P(score of a positive > score of a negative) + P(tie) / 2, per replicate."""
    below = np.cumsum(group_neg, axis=1) - group_neg  # negatives with a strictly lower score
    wins = (group_pos * (below + 0.5 * group_neg)).sum(axis=1)
    n_pos, n_neg = group_pos.sum(axis=1), group_neg.sum(axis=1)
    return _ratio(wins, n_pos * n_neg, np.nan)


def _average_precision(group_pos: np.ndarray, group_neg: np.ndarray) -> np.ndarray:
    """sklearn's average precision: sum over thresholds of precision x recall increment."""
    pos_desc, neg_desc = group_pos[:, ::-1], group_neg[:, ::-1]
    true_pos = np.cumsum(pos_desc, axis=1)
    precision = _ratio(true_pos, true_pos + np.cumsum(neg_desc, axis=1), 0.0)
    return _ratio((pos_desc * precision).sum(axis=1), group_pos.sum(axis=1), np.nan)


# --- helpers ------------------------------------------------------------------------------


def _ratio(num: np.ndarray, den: np.ndarray, undefined: float) -> np.ndarray:
    """``num / den`` with ``undefined`` where ``den`` is 0, without a warning."""
    num, den = np.broadcast_arrays(num, den)
    out = np.full(num.shape, undefined, dtype=np.float64)
    return np.divide(num, den, out=out, where=den != 0)


def _mean_defined(values: np.ndarray) -> np.ndarray:
    """Row means over the finite entries; NaN for a row without any, without a warning."""
    defined = np.isfinite(values)
    return _ratio(np.where(defined, values, 0.0).sum(axis=1), defined.sum(axis=1), np.nan)


def _row_log_loss(p_true: np.ndarray) -> np.ndarray:
    eps = np.finfo(np.float64).eps  # sklearn clips to [eps, 1 - eps]
    return -np.log(np.clip(p_true, eps, 1 - eps))


def _confusion(
    y: np.ndarray, pred: np.ndarray, k: int, weights: np.ndarray | None = None
) -> dict[str, list]:
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y, pred), 1 if weights is None else weights.astype(np.int64))
    return {"labels": list(range(k)), "matrix": matrix.tolist()}


def _weights(weights: ArrayLike, n: int) -> np.ndarray:
    array = np.asarray(weights)
    if array.shape != (n,) or array.dtype.kind not in "iu" or (array < 0).any():
        raise ValueError(
            f"weights must be {n} non-negative integer counts, one per row of y_true; got "
            f"an array of shape {array.shape} and dtype {array.dtype}."
        )
    return array.astype(np.float64)


def _column(name: str, values: ArrayLike) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per row); got shape {array.shape}.")
    return array


def _numbers(name: str, values: np.ndarray) -> np.ndarray:
    try:
        array = values.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers for a regression task.") from None
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values; drop or impute those rows.")
    return array


def _codes(name: str, values: np.ndarray, k: int | None, task: str) -> np.ndarray:
    """Integer class codes ``0..k-1`` (any non-negative integer when ``k`` is None)."""
    valid = values.dtype.kind in "biuf" and bool(np.isfinite(values).all())
    codes = values.astype(np.int64) if valid else values
    valid = valid and bool((codes == values).all()) and codes.min() >= 0
    if valid and k is not None:
        valid = codes.max() < k
    if not valid:
        allowed = "0/1 (1 = positive class)" if task == "binary" else "class codes 0..K-1"
        if task == "multiclass" and k is not None:
            allowed = f"class codes 0..{k - 1} (proba has {k} columns)"
        found = np.unique(values)[:10].tolist()
        raise ValueError(
            f"{name} for a {task} task must hold {allowed}; got values {found}. "
            "Encode the labels first."
        )
    return codes


def _binary_proba(proba: ArrayLike, n: int) -> np.ndarray:
    array = np.asarray(proba, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(
            f"proba for a binary task must have shape ({n},), one positive-class probability "
            f"per row of y_true; got shape {array.shape}. From predict_proba pass proba[:, 1]."
        )
    return _probabilities(array)


def _multiclass_proba(proba: ArrayLike, n: int) -> np.ndarray:
    array = np.asarray(proba, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != n or array.shape[1] < 2:
        raise ValueError(
            f"proba for a multiclass task must have shape ({n}, K), one column per class "
            f"and one row per row of y_true; got shape {array.shape}."
        )
    return _probabilities(array)


def _probabilities(array: np.ndarray) -> np.ndarray:
    outside = ~((array >= 0) & (array <= 1))  # NaN counts as outside
    if outside.any():
        raise ValueError(
            f"proba must hold probabilities in [0, 1]; got {float(array[outside][0])!r} "
            f"({int(outside.sum())} such values). Pass predict_proba output, not scores."
        )
    return array
