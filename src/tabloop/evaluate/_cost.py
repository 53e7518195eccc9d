"""The cost of a cost threshold on the test split, beside the two trivial policies.

``train.threshold: cost`` chooses the threshold that minimises the expected cost per row on
out-of-fold predictions; that figure is optimistic (the threshold was chosen on it). The
test split tells what the policy costs on rows nobody chose anything on, and whether it
beats the two policies that need no model: flag every row (all positive) or none (all
negative). Each cost per row has a percentile-bootstrap interval over test rows, and so
has the saving against the cheaper trivial policy, from the same resamples (paired: the
three policies are judged on the same rows).

:func:`threshold_report` is the evaluation's threshold section: the choice made in
training and, for a cost threshold, :func:`policy_costs` on the test split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tabloop.evaluate._bootstrap import bootstrap_counts, percentile_interval

if TYPE_CHECKING:
    from tabloop.train import TrainResult

#: The policies compared, in display order.
POLICIES = ("threshold", "all_positive", "all_negative")


def policy_costs(
    y: np.ndarray,
    proba: np.ndarray,
    *,
    threshold: float,
    costs: dict[str, float],
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Cost per test row of predicting positive when ``proba >= threshold``, of all
    positive and of all negative, each ``{"value", "ci_low", "ci_high"}``; and
    ``saving``: the cheaper trivial policy's cost minus the threshold's, with its interval.

    ``costs`` maps ``tp``, ``fp``, ``tn``, ``fn`` to a cost (missing keys cost 0).

    >>> out = policy_costs(
    ...     np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.6, 0.7]),
    ...     threshold=0.5, costs={"fp": 1, "fn": 5}, n_boot=0,
    ... )
    >>> out["threshold"]["value"], out["all_positive"]["value"], out["all_negative"]["value"]
    (0.25, 0.5, 2.5)
    """
    c = {k: float(costs.get(k, 0.0)) for k in ("tp", "fp", "tn", "fn")}
    y = np.asarray(y).astype(bool)
    flagged = np.asarray(proba, dtype=float) >= threshold

    def row_cost(positive: np.ndarray) -> np.ndarray:
        return np.where(
            positive, np.where(y, c["tp"], c["fp"]), np.where(y, c["fn"], c["tn"])
        ).astype(float)

    matrix = np.column_stack(
        [row_cost(flagged), row_cost(np.ones_like(y)), row_cost(np.zeros_like(y))]
    )
    n = len(y)
    values = matrix.mean(axis=0)
    trivial = int(np.argmin(values[1:])) + 1
    replicates = []
    if n_boot > 0 and n > 0:
        for counts in bootstrap_counts(n, n_boot=n_boot, seed=seed):
            replicates.append(counts @ matrix / n)
    boot = np.concatenate(replicates) if replicates else np.empty((0, 3))
    out: dict[str, Any] = {"n_test": n, "costs": c}
    for j, name in enumerate(POLICIES):
        low, high = percentile_interval(boot[:, j], confidence) if len(boot) else (None, None)
        out[name] = {"value": float(values[j]), "ci_low": low, "ci_high": high}
    saving = boot[:, trivial] - boot[:, 0]
    low, high = percentile_interval(saving, confidence) if len(boot) else (None, None)
    out["saving"] = {
        "against": POLICIES[trivial],
        "value": float(values[trivial] - values[0]),
        "ci_low": low,
        "ci_high": high,
    }
    return out


def threshold_report(
    result: TrainResult, y: np.ndarray, scores: np.ndarray, seed: int
) -> dict[str, Any] | None:
    """The threshold choice; for a cost threshold also ``test``: its cost per test row
    beside all positive and all negative, with intervals (:func:`policy_costs`)."""
    if result.threshold is None:
        return None
    out = result.threshold.to_dict()
    if result.threshold.optimised == "cost" and result.task == "binary":
        ev = result.config.evaluate
        out["test"] = policy_costs(
            y,
            scores,
            threshold=result.threshold.threshold,
            costs=dict(result.config.train.costs),
            n_boot=ev.bootstrap,
            confidence=ev.confidence,
            seed=seed,
        )
    return out
