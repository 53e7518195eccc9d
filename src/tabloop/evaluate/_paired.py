"""Two models on the same rows: the difference of a metric with a paired bootstrap interval.

Both models are scored on every bootstrap replicate with the *same* resampled rows, so
the interval of the difference reflects only how the models differ on those rows, not
the (shared) luck of the sample: it is much narrower than comparing two separate
intervals, and it is the honest way to say "the challenger is better on the held-out rows".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tabloop.config import HIGHER_IS_BETTER
from tabloop.evaluate._bootstrap import N_BOOT, bootstrap_counts, percentile_interval
from tabloop.evaluate._metrics import _prepare


def paired_difference(
    task: str,
    y_true: ArrayLike,
    *,
    metric: str,
    a: tuple[ArrayLike, ArrayLike | None],
    b: tuple[ArrayLike, ArrayLike | None],
    n_boot: int = N_BOOT,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """``metric`` of model ``b`` minus model ``a`` on the same rows, with a paired interval.

    ``a`` and ``b`` are ``(prediction, proba)`` in the encoding of
    :func:`~tabloop.evaluate.score_metrics`. Returns ``value_a``, ``value_b``,
    ``difference`` (b - a), ``ci_low``/``ci_high`` (percentile interval of the paired
    replicates), ``p_value`` (two-sided: twice the share of replicates on the other side of
    0, at most 1), ``improvement`` (the difference signed so that > 0 means ``b`` is better)
    and ``higher_is_better``.

    Examples
    --------
    >>> y = [0, 1, 1, 0, 1, 0]
    >>> out = paired_difference("binary", y, metric="accuracy",
    ...     a=([0, 0, 1, 0, 0, 1], None), b=([0, 1, 1, 0, 1, 0], None), n_boot=0)
    >>> round(out["value_a"], 3), out["value_b"], round(out["difference"], 3)
    (0.5, 1.0, 0.5)
    """
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"Unknown metric {metric!r}; use one of {', '.join(HIGHER_IS_BETTER)}.")
    scorer_a, _, n = _prepare(task, y_true, a[0], a[1])
    scorer_b, _, _ = _prepare(task, y_true, b[0], b[1])
    ones = np.ones((1, n))
    value_a, value_b = scorer_a(ones).get(metric), scorer_b(ones).get(metric)
    if value_a is None or value_b is None:
        raise ValueError(f"Metric {metric!r} needs probabilities for both models.")
    diff = float(value_b[0] - value_a[0])
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    out: dict[str, Any] = {
        "metric": metric,
        "rows": n,
        "value_a": float(value_a[0]),
        "value_b": float(value_b[0]),
        "difference": diff,
        "ci_low": None,
        "ci_high": None,
        "p_value": None,
        "improvement": sign * diff,
        "higher_is_better": HIGHER_IS_BETTER[metric],
    }
    if n_boot == 0 or not np.isfinite(diff):
        return out
    replicates = []
    for counts in bootstrap_counts(n, n_boot=n_boot, seed=seed):
        w = counts.astype(np.float64)
        replicates.append(scorer_b(w)[metric] - scorer_a(w)[metric])
    values = np.concatenate(replicates)
    out["ci_low"], out["ci_high"] = percentile_interval(values, confidence)
    finite = values[np.isfinite(values)]
    if finite.size:
        other_side = np.mean(finite <= 0) if diff > 0 else np.mean(finite >= 0)
        out["p_value"] = float(min(1.0, 2 * other_side))
    return out
