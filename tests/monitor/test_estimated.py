"""estimated_performance (CBPE) checked against scikit-learn on labels drawn from the model.

Run this file as a script for the timings we quote (1M predictions); the test suite itself
never times anything.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from tabloop.exceptions import MonitorError
from tabloop.monitor._estimated import (
    ESTIMATED_METRICS,
    calibration_check,
    estimated_by_chunk,
    estimated_performance,
)

SKLEARN = {
    "accuracy": lambda y, p, t: accuracy_score(y, p >= t),
    "precision": lambda y, p, t: precision_score(y, p >= t),
    "recall": lambda y, p, t: recall_score(y, p >= t),
    "f1": lambda y, p, t: f1_score(y, p >= t),
    "selection_rate": lambda y, p, t: float(np.mean(p >= t)),
    "roc_auc": lambda y, p, t: roc_auc_score(y, p),
}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def population(n: int, *, shift: float = 0.0, seed: int = 0, slope: float = 2.0):
    """``x ~ N(shift, 1)``, the calibrated model ``p = sigmoid(2x)`` and ``y ~ Bernoulli(p)``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    y = (rng.random(n) < sigmoid(slope * x)).astype(int)
    return x, sigmoid(2.0 * x), y


def metric_values(out: dict) -> dict[str, float | None]:
    """The point estimates of a result, or of its ``estimated`` part."""
    estimated = out.get("estimated", out)
    return {name: m["value"] for name, m in estimated["metrics"].items()}


# -- the estimate ------------------------------------------------------------------------------
def test_expected_confusion_counts_match_hand_arithmetic():
    p = [0.9, 0.6, 0.4, 0.2, 0.7]  # predicted positive at 0.5: rows 0, 1, 4
    out = estimated_performance(p, threshold=0.5)
    tp, fp, fn, tn = 0.9 + 0.6 + 0.7, 0.1 + 0.4 + 0.3, 0.4 + 0.2, 0.6 + 0.8
    assert out["estimated"]["confusion"] == pytest.approx({"tp": tp, "fp": fp, "fn": fn, "tn": tn})
    # the expected ROC-AUC by brute force: pairs (i as positive, j as negative), ties count 1/2
    pairs = sum(
        pi * (1 - pj) * (1.0 if pi > pj else 0.5 if pi == pj else 0.0) for pi in p for pj in p
    )
    auc = pairs / (sum(p) * sum(1 - pj for pj in p))
    assert metric_values(out) == pytest.approx(
        {
            "accuracy": (tp + tn) / 5,
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
            "selection_rate": 3 / 5,
            "roc_auc": auc,
        }
    )
    assert out["n"] == 5 and out["labelled"] is None and out["calibration"] is None


def test_estimated_roc_auc_is_the_weighted_auc_of_each_row_as_both_classes():
    # each row is a positive with weight p and a negative with weight 1 - p: sklearn's
    # weighted ROC-AUC of that table is the area under the expected ROC curve
    rng = np.random.default_rng(3)
    p = np.round(rng.beta(2, 3, 2000), 2)  # rounded: many ties
    out = estimated_performance(p, threshold=0.5)
    expected = roc_auc_score(
        np.r_[np.ones(len(p)), np.zeros(len(p))], np.r_[p, p], sample_weight=np.r_[p, 1 - p]
    )
    assert out["estimated"]["metrics"]["roc_auc"]["value"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("p", "auc"),
    [
        ([0.0, 1.0, 1.0, 0.0, 0.0], 1.0),  # certain and right: perfect separation
        ([1.0, 1.0, 1.0], None),  # no expected negatives: undefined
        ([0.0, 0.0], None),  # no expected positives: undefined
        ([0.3] * 1000, 0.5),  # one score for all: the diagonal
        # expected negatives 1 at 0 and 1.4 at 0.3; positives 0.6 at 0.3 and 1 at 1: each
        # negative counts the positives above it and half of those tied with it
        ([0.0, 0.3, 0.3, 1.0], (1.0 * 1.6 + 1.4 * (1.0 + 0.5 * 0.6)) / (1.6 * 2.4)),
    ],
)
def test_estimated_roc_auc_at_the_edges(p, auc):
    out = estimated_performance(p, threshold=0.5)
    assert out["estimated"]["metrics"]["roc_auc"]["value"] == pytest.approx(auc)


def test_constant_probability_gives_auc_one_half_in_every_simulated_draw():
    out = estimated_performance(np.full(500, 0.3), threshold=0.5)
    roc = out["estimated"]["metrics"]["roc_auc"]
    assert roc == {"value": 0.5, "ci_low": 0.5, "ci_high": 0.5}
    precision = out["estimated"]["metrics"]["precision"]  # nothing predicted positive
    assert precision == {"value": None, "ci_low": None, "ci_high": None}
    json.dumps(out, allow_nan=False)


def test_estimates_match_sklearn_on_labels_drawn_from_the_probabilities():
    _, p, y = population(50_000, seed=0)
    out = estimated_performance(p, threshold=0.5, seed=0)
    for name in ESTIMATED_METRICS:
        realised = SKLEARN[name](y, p, 0.5)
        metric = out["estimated"]["metrics"][name]
        assert metric["value"] == pytest.approx(realised, abs=0.02), name
        assert metric["ci_low"] <= realised <= metric["ci_high"], name


def test_labelled_rows_report_realised_and_estimated_on_the_same_rows():
    _, p, y = population(20_000, seed=4)
    y_true = y.astype(object)
    unlabelled = np.random.default_rng(5).random(len(y)) < 0.4
    y_true[unlabelled] = None
    out = estimated_performance(p, threshold=0.3, y_true=y_true)
    labelled = out["labelled"]
    assert out["n_labelled"] == labelled["n"] == int((~unlabelled).sum())
    pl, yl = p[~unlabelled], y[~unlabelled]
    for name in ESTIMATED_METRICS:
        assert labelled["realised"]["metrics"][name] == pytest.approx(
            SKLEARN[name](yl, pl, 0.3), abs=1e-12
        )
    alone = estimated_performance(pl, threshold=0.3)
    assert metric_values(labelled["estimated"]) == pytest.approx(metric_values(alone))
    pred = pl >= 0.3
    assert labelled["realised"]["confusion"] == {
        "tp": int((pred & (yl == 1)).sum()),
        "fp": int((pred & (yl == 0)).sum()),
        "fn": int((~pred & (yl == 1)).sum()),
        "tn": int((~pred & (yl == 0)).sum()),
    }
    assert labelled["inside"] == dict.fromkeys(ESTIMATED_METRICS, True)
    assert out["calibration"]["calibrated"] is True and out["warning"] is None
    json.dumps(out, allow_nan=False)


def test_no_labelled_row_yet_leaves_the_labelled_part_empty():
    out = estimated_performance([0.2, 0.8], threshold=0.5, y_true=[np.nan, None])
    assert out["n_labelled"] == 0 and out["labelled"] is None and out["calibration"] is None


def test_estimate_tracks_realised_metric_under_covariate_shift():
    _, p_ref, y_ref = population(50_000, seed=6)
    _, p_new, y_new = population(50_000, shift=1.0, seed=7)
    reference = estimated_performance(p_ref, threshold=0.5)
    shifted = estimated_performance(p_new, threshold=0.5)
    moved = []
    for name in ESTIMATED_METRICS:
        before, after = SKLEARN[name](y_ref, p_ref, 0.5), SKLEARN[name](y_new, p_new, 0.5)
        assert metric_values(reference)[name] == pytest.approx(before, abs=0.02), name
        assert metric_values(shifted)[name] == pytest.approx(after, abs=0.02), name
        if abs(after - before) > 0.04:
            moved.append(name)
    # the shift changes performance, so tracking it is not trivial
    assert {"accuracy", "precision", "recall", "f1"} <= set(moved)


def test_miscalibrated_probabilities_are_flagged_and_the_estimate_misses():
    # the model is overconfident: it reports sigmoid(2x) when the truth is sigmoid(x)
    _, p, y = population(50_000, seed=8, slope=1.0)
    out = estimated_performance(p, threshold=0.5, y_true=y)
    gaps = {
        name: abs(metric_values(out)[name] - SKLEARN[name](y, p, 0.5))
        for name in ("accuracy", "roc_auc")
    }
    assert min(gaps.values()) > 0.05
    assert out["labelled"]["inside"]["accuracy"] is False
    assert out["calibration"]["calibrated"] is False
    assert "miscalibrated on the 50000 labelled rows" in out["warning"]


# -- calibration -------------------------------------------------------------------------------
def test_calibration_numbers_match_sklearn_and_hand_binning():
    rng = np.random.default_rng(9)
    p = rng.uniform(size=3000)
    p[:10] = [0.0, 1.0, 0.1, 0.2, 0.95, 0.5, 0.05, 0.99, 0.3, 0.7]  # edges of the bins
    y = (rng.random(3000) < p**1.5).astype(int)
    out = calibration_check(p, y)
    assert out["brier"] == pytest.approx(brier_score_loss(y, p))
    assert out["brier_if_calibrated"] == pytest.approx(np.mean(p * (1 - p)))
    gaps = 0.0
    for b in range(10):
        rows = [i for i in range(len(p)) if b / 10 <= p[i] < (b + 1) / 10 or (b == 9 and p[i] == 1)]
        gaps += abs(sum(y[i] for i in rows) - sum(p[i] for i in rows))
        assert out["bins"][b]["n"] == len(rows)
    assert out["ece"] == pytest.approx(gaps / len(p))
    assert sum(b["n"] for b in out["bins"]) == len(p)


@pytest.mark.parametrize("n", [200, 2000, 200_000])
def test_a_calibrated_model_is_not_flagged_at_any_sample_size(n):
    _, p, y = population(n, seed=n)
    out = calibration_check(p, y)
    assert out["calibrated"] is True
    assert out["ece_limit"] > 0


def test_too_few_labelled_rows_give_no_calibration_verdict():
    _, p, y = population(500, seed=10, slope=1.0)
    y_true = y.astype(float)
    y_true[50:] = np.nan
    out = calibration_check(p, y_true)
    assert out["n"] == 50 and out["calibrated"] is None and out["ece"] is not None


def test_interval_covers_the_realised_accuracy_about_95_percent_of_the_time():
    inside = {name: 0 for name in ("accuracy", "precision", "roc_auc")}
    repeats = 200
    for seed in range(repeats):
        _, p, y = population(2000, seed=100 + seed)
        out = estimated_performance(p, threshold=0.5, y_true=y, n_sim=400, seed=seed)
        for name in inside:
            inside[name] += out["labelled"]["inside"][name]
    for name, hits in inside.items():
        assert 0.90 <= hits / repeats <= 0.99, name


# -- chunks ------------------------------------------------------------------------------------
def test_by_chunk_gives_one_row_per_chunk_in_order_with_the_chunks_own_estimate():
    _, p, y = population(6000, seed=11)
    day = pd.Series(np.array(["2024-01-03", "2024-01-01", "2024-01-02"])[np.arange(6000) % 3])
    rows = estimated_by_chunk(p, day, threshold=0.5, y_true=y)
    assert [r["chunk"] for r in rows] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    for row in rows:
        mask = (day == row["chunk"]).to_numpy()
        alone = estimated_performance(p[mask], threshold=0.5, y_true=y[mask])
        assert row["n"] == mask.sum() == 2000
        assert metric_values(row) == pytest.approx(metric_values(alone))
        assert row["labelled"]["realised"] == alone["labelled"]["realised"]
    json.dumps(rows, allow_nan=False)
    # a new chunk leaves the others' intervals alone
    more = estimated_by_chunk(
        np.r_[p, 0.5], pd.concat([day, pd.Series(["2024-01-04"])]), threshold=0.5
    )
    assert more[0]["estimated"] == estimated_by_chunk(p, day, threshold=0.5)[0]["estimated"]


def test_chunk_labels_that_are_timestamps_become_strings():
    days = pd.to_datetime(["2024-01-01", "2024-01-02"])
    rows = estimated_by_chunk([0.2, 0.9], days, threshold=0.5)
    assert [r["chunk"] for r in rows] == ["2024-01-01T00:00:00", "2024-01-02T00:00:00"]
    json.dumps(rows, allow_nan=False)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("probability", "message"),
    [
        ([0.2, 1.2, -0.1], r"probability must hold numbers in \[0, 1\].*got 1\.2 at position 1"),
        ([0.2, 0.4, np.nan], r"probability must hold numbers .*got a missing value .* position 2"),
        ([0.2, None], r"probability must hold numbers .*got a missing value .* at position 1"),
        ([0.2, "high"], r"probability must hold numbers .*got 'high' at position 1"),
        ([], r"probability is empty"),
        (np.full((3, 2), 0.5), r"probability must be one-dimensional .*proba\[:, 1\]"),
    ],
)
def test_bad_probabilities_name_the_first_bad_value_and_its_position(probability, message):
    with pytest.raises(MonitorError, match=message):
        estimated_performance(probability, threshold=0.5)


@pytest.mark.parametrize("threshold", [0, 1, 1.5, -0.2, float("nan"), "0.5"])
def test_threshold_outside_the_open_unit_interval_is_rejected(threshold):
    with pytest.raises(MonitorError, match=r"threshold must be a number in \(0, 1\)"):
        estimated_performance([0.2, 0.8], threshold=threshold)


def test_bad_outcomes_and_lengths_are_named():
    with pytest.raises(MonitorError, match="y_true has 3 rows but probability has 2"):
        estimated_performance([0.2, 0.8], threshold=0.5, y_true=[0, 1, 1])
    with pytest.raises(MonitorError, match="y_true must hold 0, 1 or NaN.*got 2 at position 1"):
        estimated_performance([0.2, 0.8], threshold=0.5, y_true=[0, 2])
    with pytest.raises(MonitorError, match="y_true must hold 0, 1 or NaN.*got 'yes' at position 0"):
        calibration_check([0.2, 0.8], ["yes", "no"])
    with pytest.raises(MonitorError, match="chunks has 1 rows but probability has 2"):
        estimated_by_chunk([0.2, 0.8], ["a"], threshold=0.5)
    with pytest.raises(MonitorError, match="chunks must label every row.*position 1"):
        estimated_by_chunk([0.2, 0.8], ["a", None], threshold=0.5)
    with pytest.raises(MonitorError, match="n_sim must be an integer >= 1"):
        estimated_performance([0.2, 0.8], threshold=0.5, n_sim=0)
    with pytest.raises(MonitorError, match=r"confidence must be a number in \(0, 1\)"):
        calibration_check([0.2, 0.8], [0, 1], confidence=95)


def _print_timings() -> None:  # pragma: no cover - run by hand: python tests/monitor/...
    _, p, y = population(1_000_000, seed=0)
    y_true = y.astype(float)
    y_true[::2] = np.nan
    chunks = np.repeat(np.arange(30), -(-len(p) // 30))[: len(p)]
    for label, call in {
        "estimated_performance, 1M predictions": lambda: estimated_performance(p, threshold=0.5),
        "  + y_true (500k labelled)": lambda: estimated_performance(
            p, threshold=0.5, y_true=y_true
        ),
        "estimated_by_chunk, 1M in 30 chunks, y_true": lambda: estimated_by_chunk(
            p, chunks, threshold=0.5, y_true=y_true
        ),
    }.items():
        times = []
        for _ in range(3):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        print(f"{label}: {min(times):.2f} s (best of 3)")


if __name__ == "__main__":
    _print_timings()
