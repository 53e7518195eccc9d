"""A model that does not beat the dummy is never returned as if it were fine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from tabloop.config import config_from_dict
from tabloop.evaluate import evaluate
from tabloop.train import train
from tabloop.train._baseline import check_against_dummy


def project(target: str, **train_section) -> object:
    return config_from_dict(
        {
            "name": "t",
            "data": {"train": "(memory)", "target": target},
            "train": {"learning_curve": False, **train_section},
            "evaluate": {"bootstrap": 100, "importance": False},
        }
    )


def noise(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """A target drawn independently of every feature."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.choice(["x", "y", "z"], n),
            "y": rng.random(n) < 0.3,
        }
    )


def test_a_noise_target_does_not_beat_the_dummy_by_the_corrected_fold_interval():
    result = train(noise(), config=project("y", models=["linear"], folds=5))
    check = result.baseline_check

    # the rule recomputed by hand: paired per-fold ROC-AUC gains over the dummy (0.5 on
    # every fold: a constant score), Nadeau-Bengio standard error, one-sided t bound
    y, oof = result.y_train, result.oof
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y))
    gains = np.array([roc_auc_score(y[v], oof[v]) - 0.5 for _, v in folds])
    share = np.mean([len(v) / len(f) for f, v in folds])
    se = gains.std(ddof=1) * np.sqrt(1 / 5 + share)
    lower = gains.mean() - stats.t.ppf(0.95, 4) * se
    assert check.improvement == pytest.approx(gains.mean())
    assert check.lower_bound == pytest.approx(lower)
    assert check.lower_bound < 0 and check.dummy_score == 0.5 and check.folds == 5

    assert result.beats_dummy is False
    assert check.message.startswith("No model beat the dummy baseline: linear scored roc_auc")
    assert check.message in result.warnings
    # still a usable object: it can be evaluated and inspected, and says so in the report
    evaluation = evaluate(result)
    assert evaluation.beats_dummy is False
    assert {"kind": "baseline", "severity": "bad", "message": check.message} in (
        evaluation.diagnostics
    )
    assert evaluation.to_dict()["baseline_check"]["beats_dummy"] is False


def test_a_real_signal_beats_the_dummy_with_room_to_spare(load):
    result = train(load("titanic"), config=project("survived", models=["linear"], folds=4))
    assert result.beats_dummy is True
    assert result.baseline_check.lower_bound > 0.2
    assert result.warnings == []
    assert "beats the dummy baseline" in result.baseline_check.message


def test_the_dummy_alone_is_never_a_model_that_beats_the_dummy(load):
    result = train(load("titanic"), config=project("survived", models=["dummy"], folds=3))
    assert result.weights == {"dummy": 1.0}
    assert result.beats_dummy is False
    assert result.baseline_check.reason == "train.models names only the dummy"


def test_lower_is_better_metrics_are_compared_in_their_own_orientation():
    # log loss, negated per fold as score() gives it: the model is 0.04 better on average
    chosen, dummy = [-0.60, -0.62, -0.61], [-0.65, -0.66, -0.64]
    check = check_against_dummy(
        chosen, dummy, metric="log_loss", weights={"linear": 1.0}, validation_share=0.5
    )
    gains = np.array([0.05, 0.04, 0.03])  # by hand
    lower = 0.04 - stats.t.ppf(0.95, 2) * gains.std(ddof=1) * np.sqrt(1 / 3 + 0.5)
    assert check.model_score == pytest.approx(0.61) and check.dummy_score == pytest.approx(0.65)
    assert check.improvement == pytest.approx(0.04)
    assert check.lower_bound == pytest.approx(lower)
    assert lower > 0 and check.beats_dummy is True
