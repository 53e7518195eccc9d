"""README: ``train.threshold`` may be a constraint (``precision >= 0.5``, ``fpr <= 0.1``); the
trained model's threshold then satisfies it on the out-of-fold predictions it was chosen on,
with the constraint's one-sided Wilson bound (``train.threshold_confidence``), and finds as
many positives as any threshold that does. Checked with sklearn and scipy, not tabloop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix, precision_score, recall_score

from tabloop.config import config_from_dict
from tabloop.train import train

CONFIDENCE = 0.95


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """One-sided Wilson bounds at CONFIDENCE: the ends of the two-sided 2c-1 interval."""
    if trials == 0:
        return 0.0, 1.0
    ci = binomtest(successes, trials).proportion_ci(2 * CONFIDENCE - 1, method="wilson")
    return ci.low, ci.high


def feasible(y: np.ndarray, flagged: np.ndarray, objective: str) -> bool:
    tn, fp, fn, tp = confusion_matrix(y, flagged, labels=[0, 1]).ravel()
    if objective == "precision >= 0.7":
        return wilson(tp, tp + fp)[0] >= 0.7
    assert objective == "fpr <= 0.1"
    return wilson(fp, fp + tn)[1] <= 0.1


@pytest.mark.parametrize("objective", ["precision >= 0.7", "fpr <= 0.1"])
def test_a_constraint_threshold_meets_it_on_the_rows_it_was_chosen_on(load, objective):
    config = config_from_dict(
        {
            "name": "t",
            "data": {"train": "(memory)", "target": "survived"},
            "train": {
                "models": ["linear"],
                "folds": 3,
                "ensemble": False,
                "learning_curve": False,
                "threshold": objective,
                "threshold_confidence": CONFIDENCE,
            },
        }
    )
    result = train(load("titanic"), config=config)
    y, oof, threshold = result.y_train, result.oof, result.model.threshold
    assert not np.isnan(oof).any()  # stratified folds score every training row
    flagged = oof >= threshold
    tn, fp, fn, tp = confusion_matrix(y, flagged, labels=[0, 1]).ravel()
    if objective.startswith("precision"):
        assert precision_score(y, flagged) >= 0.7
    else:
        assert fp / (fp + tn) <= 0.1
    assert feasible(y, flagged, objective)  # the bound, not only the estimate
    # no threshold meeting the constraint finds more positives
    best = max(
        recall_score(y, oof >= v) for v in np.unique(oof) if feasible(y, oof >= v, objective)
    )
    assert recall_score(y, flagged) == pytest.approx(best, abs=1e-12)
    assert best > 0  # the constraint is reachable on this data: the check has teeth
