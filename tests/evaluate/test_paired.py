"""The paired bootstrap of a metric difference, checked against sklearn replicate by replicate."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, mean_squared_error, roc_auc_score

from tabloop.evaluate import paired_difference
from tabloop.evaluate._bootstrap import bootstrap_counts, percentile_interval


def _data(n: int = 400, seed: int = 3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    good = np.clip(y * 0.6 + rng.normal(0.2, 0.25, n), 0, 1)
    bad = np.clip(y * 0.2 + rng.normal(0.4, 0.25, n), 0, 1)
    return y, good, bad


def test_point_values_and_interval_equal_sklearn_on_the_same_replicates():
    y, good, bad = _data()
    a, b = ((bad >= 0.5).astype(int), bad), ((good >= 0.5).astype(int), good)
    out = paired_difference("binary", y, metric="roc_auc", a=a, b=b, n_boot=300, seed=7)
    assert out["value_a"] == pytest.approx(roc_auc_score(y, bad))
    assert out["value_b"] == pytest.approx(roc_auc_score(y, good))
    assert out["difference"] == pytest.approx(out["value_b"] - out["value_a"])
    replicates = []
    for counts in bootstrap_counts(len(y), n_boot=300, seed=7):
        for w in counts:
            replicates.append(
                roc_auc_score(y, good, sample_weight=w) - roc_auc_score(y, bad, sample_weight=w)
            )
    low, high = percentile_interval(np.array(replicates))
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((low, high))
    assert out["improvement"] > 0 and out["p_value"] < 0.01


def test_a_model_against_itself_differs_by_exactly_zero():
    y, good, _ = _data()
    pair = ((good >= 0.5).astype(int), good)
    out = paired_difference("binary", y, metric="f1", a=pair, b=pair, n_boot=200)
    assert out["value_a"] == pytest.approx(f1_score(y, pair[0]))
    assert out["difference"] == out["ci_low"] == out["ci_high"] == 0.0
    assert out["p_value"] == 1.0


def test_lower_is_better_metrics_sign_the_improvement():
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    close, far = y + rng.normal(0, 0.1, 300), y + rng.normal(0, 1.0, 300)
    out = paired_difference("regression", y, metric="mse", a=(far, None), b=(close, None))
    assert out["difference"] == pytest.approx(
        mean_squared_error(y, close) - mean_squared_error(y, far)
    )
    assert out["higher_is_better"] is False
    assert out["improvement"] == pytest.approx(-out["difference"]) and out["improvement"] > 0


def test_unknown_metric_and_missing_probabilities_are_value_errors():
    y, good, _ = _data(50)
    pair = ((good >= 0.5).astype(int), None)
    with pytest.raises(ValueError, match="Unknown metric 'auc'"):
        paired_difference("binary", y, metric="auc", a=pair, b=pair)
    with pytest.raises(ValueError, match="needs probabilities"):
        paired_difference("binary", y, metric="roc_auc", a=pair, b=pair)
