"""score_metrics against scikit-learn: point values, single bootstrap replicates, intervals.

A bootstrap replicate is a vector of row counts, so each replicate of the vectorised code
must equal the scikit-learn metric computed with ``sample_weight=counts``.
"""

from __future__ import annotations

import doctest
import time
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from tabloop.config import HIGHER_IS_BETTER
from tabloop.evaluate import _metrics
from tabloop.evaluate._bootstrap import bootstrap_counts, percentile_interval
from tabloop.evaluate._metrics import METRICS, score_metrics

TOL = 1e-9


# --- data ---------------------------------------------------------------------------------


def binary_data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Probabilities on a 0.05 grid, so many scores are tied across both classes."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    proba = np.clip(np.round((0.35 * y + 0.65 * rng.random(n)) * 20) / 20, 0, 1)
    return {"y_true": y, "prediction": (proba >= 0.5).astype(int), "proba": proba}


def multiclass_data(n: int, seed: int = 0, classes_in_y: int = 3) -> dict[str, np.ndarray]:
    """Three probability columns; ``y_true`` uses the first ``classes_in_y`` codes only."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes_in_y, n)
    logits = np.round(rng.normal(size=(n, 3)) + 1.2 * np.eye(3)[y], 1)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return {"y_true": y, "prediction": proba.argmax(axis=1), "proba": proba}


def regression_data(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(50, 10, n)
    return {"y_true": y, "prediction": y + rng.normal(0, 4, n)}


# --- independent references (scikit-learn, optional sample_weight) -----------------------


def _ovr_macro_auc(y, proba, sample_weight=None):
    """Macro one-vs-rest AUC over the classes present with both positives and negatives."""
    w = np.ones(len(y)) if sample_weight is None else sample_weight
    k = proba.shape[1]
    present = [c for c in range(k) if w[y == c].sum() > 0 and w[y != c].sum() > 0]
    if len(present) == k:
        return skm.roc_auc_score(
            y, proba, multi_class="ovr", average="macro", labels=list(range(k)), sample_weight=w
        )
    scores = [skm.roc_auc_score(y == c, proba[:, c], sample_weight=w) for c in present]
    return float(np.mean(scores))


def sklearn_binary(d, w=None):
    y, pred, p = d["y_true"], d["prediction"], d["proba"]
    return {
        "roc_auc": skm.roc_auc_score(y, p, sample_weight=w),
        "pr_auc": skm.average_precision_score(y, p, sample_weight=w),
        "log_loss": skm.log_loss(y, p, labels=[0, 1], sample_weight=w),
        "brier": skm.brier_score_loss(y, p, sample_weight=w),
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred, sample_weight=w),
        "precision": skm.precision_score(y, pred, zero_division=0, sample_weight=w),
        "recall": skm.recall_score(y, pred, zero_division=0, sample_weight=w),
        "f1": skm.f1_score(y, pred, zero_division=0, sample_weight=w),
    }


def sklearn_multiclass(d, w=None):
    y, pred, p = d["y_true"], d["prediction"], d["proba"]
    out = {
        "roc_auc": _ovr_macro_auc(y, p, w),
        "log_loss": skm.log_loss(y, p, labels=list(range(p.shape[1])), sample_weight=w),
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
    }
    with warnings.catch_warnings():  # a predicted class absent from y_true
        warnings.simplefilter("ignore", UserWarning)
        out["balanced_accuracy"] = skm.balanced_accuracy_score(y, pred, sample_weight=w)
    for average in ("macro", "weighted"):
        kw = {"average": average, "zero_division": 0, "sample_weight": w}
        out[f"precision_{average}"] = skm.precision_score(y, pred, **kw)
        out[f"recall_{average}"] = skm.recall_score(y, pred, **kw)
        out[f"f1_{average}"] = skm.f1_score(y, pred, **kw)
    return out


def sklearn_regression(d, w=None):
    y, pred = d["y_true"], d["prediction"]
    return {
        "mae": skm.mean_absolute_error(y, pred, sample_weight=w),
        "rmse": skm.root_mean_squared_error(y, pred, sample_weight=w),
        "mse": skm.mean_squared_error(y, pred, sample_weight=w),
        "r2": skm.r2_score(y, pred, sample_weight=w),
        "mape": skm.mean_absolute_percentage_error(y, pred, sample_weight=w),
    }


CASES = {
    "binary": (binary_data(400), sklearn_binary),
    "multiclass": (multiclass_data(400), sklearn_multiclass),
    "multiclass_absent_class": (multiclass_data(400, classes_in_y=2), sklearn_multiclass),
    "regression": (regression_data(400), sklearn_regression),
}


def _task(case: str) -> str:
    return case.removesuffix("_absent_class")


def _values(result: dict) -> dict[str, float | None]:
    return {name: entry["value"] for name, entry in result.items() if name != "confusion_matrix"}


# --- point values -------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_every_value_equals_sklearn_on_the_unweighted_data(case):
    data, reference = CASES[case]
    result = score_metrics(_task(case), **data, n_boot=0)
    expected = reference(data)
    assert list(_values(result)) == list(METRICS[_task(case)])
    for name, value in _values(result).items():
        assert type(value) is float, name
        assert value == pytest.approx(expected[name], abs=TOL), name


def test_binary_scores_have_many_ties_so_tie_handling_is_exercised():
    data = CASES["binary"][0]
    assert len(np.unique(data["proba"])) < len(data["proba"]) / 10


def test_multiclass_roc_auc_averages_only_the_classes_present_in_y_true():
    data = CASES["multiclass_absent_class"][0]
    assert set(data["y_true"]) == {0, 1} and 2 in set(data["prediction"])
    result = score_metrics("multiclass", **data, n_boot=0)
    y, p = data["y_true"], data["proba"]
    expected = np.mean([skm.roc_auc_score(y == c, p[:, c]) for c in (0, 1)])
    assert result["roc_auc"]["value"] == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("case", ["binary", "multiclass", "multiclass_absent_class"])
def test_confusion_matrix_equals_sklearn_with_true_labels_as_rows(case):
    data, _ = CASES[case]
    result = score_metrics(_task(case), **data, n_boot=0)
    labels = [0, 1] if case == "binary" else [0, 1, 2]
    expected = skm.confusion_matrix(data["y_true"], data["prediction"], labels=labels)
    assert result["confusion_matrix"] == {"labels": labels, "matrix": expected.tolist()}


def test_regression_has_no_confusion_matrix():
    assert "confusion_matrix" not in score_metrics("regression", **regression_data(50), n_boot=0)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_probability_metrics_are_skipped_without_proba(task):
    data = binary_data(100) if task == "binary" else multiclass_data(100)
    data.pop("proba")
    result = score_metrics(task, **data, n_boot=20)
    expected = [m for m in METRICS[task] if m not in {"roc_auc", "pr_auc", "log_loss", "brier"}]
    assert list(_values(result)) == expected


# --- bootstrap replicates -----------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_single_bootstrap_replicates_equal_sklearn_with_counts_as_sample_weight(case):
    data, reference = CASES[case]
    n = len(data["y_true"])
    task = _task(case)
    scorer, _, _ = _metrics._prepare(task, data["y_true"], data["prediction"], data.get("proba"))
    counts = np.vstack(list(bootstrap_counts(n, n_boot=200, seed=7)))
    replicates = scorer(counts.astype(np.float64))
    for b in (0, 1, 58, 137, 199):
        expected = reference(data, counts[b])
        for name in METRICS[task]:
            assert replicates[name][b] == pytest.approx(expected[name], abs=TOL), (name, b)


def test_intervals_are_percentiles_of_sklearn_replicates_for_the_same_seed():
    data = binary_data(300, seed=3)
    result = score_metrics("binary", **data, n_boot=60, confidence=0.9, seed=11)
    counts = np.vstack(list(bootstrap_counts(300, n_boot=60, seed=11)))
    by_replicate = [sklearn_binary(data, row) for row in counts]
    for name in METRICS["binary"]:
        low, high = percentile_interval(np.array([r[name] for r in by_replicate]), 0.9)
        assert result[name]["ci_low"] == pytest.approx(low, abs=TOL), name
        assert result[name]["ci_high"] == pytest.approx(high, abs=TOL), name


@pytest.mark.parametrize("case", CASES)
def test_interval_contains_the_value(case):
    data, _ = CASES[case]
    for name, entry in score_metrics(_task(case), **data, n_boot=300).items():
        if name != "confusion_matrix":
            assert entry["ci_low"] <= entry["value"] <= entry["ci_high"], name


@pytest.mark.parametrize(
    ("task", "make"),
    [("binary", binary_data), ("multiclass", multiclass_data), ("regression", regression_data)],
)
def test_interval_narrows_as_the_number_of_rows_grows(task, make):
    small = score_metrics(task, **make(200, seed=1), n_boot=300)
    large = score_metrics(task, **make(5000, seed=1), n_boot=300)
    for name in METRICS[task]:
        width_small = small[name]["ci_high"] - small[name]["ci_low"]
        width_large = large[name]["ci_high"] - large[name]["ci_low"]
        assert width_large < width_small, name


def test_same_seed_gives_the_same_intervals_and_zero_replicates_gives_none():
    data = binary_data(200)
    assert score_metrics("binary", **data, seed=4) == score_metrics("binary", **data, seed=4)
    result = score_metrics("binary", **data, n_boot=0)
    intervals = [(e["ci_low"], e["ci_high"]) for m, e in result.items() if m != "confusion_matrix"]
    assert intervals == [(None, None)] * len(METRICS["binary"])


def test_a_wider_confidence_gives_a_wider_interval():
    data = regression_data(300)
    narrow = score_metrics("regression", **data, confidence=0.5)["mae"]
    wide = score_metrics("regression", **data, confidence=0.99)["mae"]
    assert wide["ci_low"] < narrow["ci_low"] < narrow["ci_high"] < wide["ci_high"]


# --- degenerate inputs: None or sklearn's zero_division=0, never an error or a warning ----


def test_one_class_only_gives_none_for_auc_and_average_precision():
    rng = np.random.default_rng(0)
    proba = rng.random(30)
    result = score_metrics(
        "binary", np.zeros(30, int), prediction=(proba > 0.5).astype(int), proba=proba
    )
    for name in ("roc_auc", "pr_auc"):
        assert result[name] == {"value": None, "ci_low": None, "ci_high": None}
    assert result["recall"]["value"] == 0.0  # no positives: zero_division=0
    assert result["precision"]["value"] == 0.0
    assert result["balanced_accuracy"]["value"] == pytest.approx(np.mean(proba <= 0.5))
    assert result["log_loss"]["value"] == pytest.approx(
        skm.log_loss(np.zeros(30), proba, labels=[0, 1])
    )


def test_only_positives_gives_no_auc_but_perfect_average_precision():
    proba = np.linspace(0.1, 0.9, 20)
    result = score_metrics("binary", np.ones(20, int), prediction=np.ones(20, int), proba=proba)
    assert result["roc_auc"]["value"] is None
    assert result["pr_auc"]["value"] == 1.0
    assert result["precision"]["value"] == result["recall"]["value"] == 1.0


def test_no_predicted_positives_gives_zero_precision_recall_and_f1():
    data = binary_data(100)
    data["prediction"] = np.zeros(100, int)
    result = score_metrics("binary", **data)
    for name in ("precision", "recall", "f1"):
        assert result[name]["value"] == 0.0
        assert result[name]["ci_low"] == result[name]["ci_high"] == 0.0
    expected = skm.precision_score(data["y_true"], data["prediction"], zero_division=0)
    assert result["precision"]["value"] == expected


def test_multiclass_with_one_class_only_gives_no_auc():
    proba = np.tile([0.7, 0.2, 0.1], (10, 1))
    y = np.zeros(10, int)
    result = score_metrics("multiclass", y, prediction=y, proba=proba)
    assert result["roc_auc"]["value"] is None
    assert result["accuracy"]["value"] == 1.0
    assert result["confusion_matrix"]["matrix"] == [[10, 0, 0], [0, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize(
    ("task", "y", "prediction", "proba", "undefined"),
    [
        ("binary", [1], [1], [0.8], {"roc_auc"}),
        ("binary", [0], [1], [0.8], {"roc_auc", "pr_auc"}),
        ("multiclass", [2], [1], [[0.2, 0.5, 0.3]], {"roc_auc"}),
        ("regression", [3.0], [2.5], None, {"r2"}),
    ],
)
def test_a_single_row_gives_none_for_undefined_metrics_and_no_error(
    task, y, prediction, proba, undefined
):
    result = score_metrics(task, y, prediction=prediction, proba=proba, n_boot=50)
    for name in METRICS[task]:
        entry = result[name]
        if name in undefined:
            assert entry == {"value": None, "ci_low": None, "ci_high": None}, name
        else:  # every replicate of one row is that row
            assert entry["ci_low"] == entry["value"] == entry["ci_high"], name


def test_constant_target_gives_no_r2_instead_of_sklearns_forced_finite_value():
    y = np.full(20, 7.0)
    result = score_metrics("regression", y, prediction=y + np.linspace(-1, 1, 20))
    assert result["r2"]["value"] is None
    assert result["mae"]["value"] == pytest.approx(
        skm.mean_absolute_error(y, y + np.linspace(-1, 1, 20))
    )


def test_mape_on_a_target_with_zeros_is_hidden_with_a_reason():
    y = np.array([0.0, 0.0, 10.0, 20.0, 30.0, 5.0])
    pred = np.array([1.0, 2.0, 11.0, 18.0, 33.0, 5.0])
    assert skm.mean_absolute_percentage_error(y, pred) > 1e14  # what was printed
    out = score_metrics("regression", y, prediction=pred, n_boot=50)
    assert out["mape"]["value"] is None and out["mape"]["ci_low"] is None
    assert "2 target value(s) are 0" in out["mape"]["reason"]
    assert out["mae"]["value"] == pytest.approx(skm.mean_absolute_error(y, pred))
    nonzero = score_metrics("regression", y + 1, prediction=pred + 1, n_boot=0)
    assert nonzero["mape"]["value"] == pytest.approx(
        skm.mean_absolute_percentage_error(y + 1, pred + 1)
    )
    assert "reason" not in nonzero["mape"]


# --- invalid inputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "kwargs", "message"),
    [
        (
            "binary",
            {"y_true": [0, 1, 1, 0, 1], "prediction": [0, 1, 1, 0]},
            r"prediction has 4 rows but y_true has 5",
        ),
        (
            "regression",
            {"y_true": [1.0, 2.0], "prediction": [1.0, 2.0, 3.0]},
            r"prediction has 3 rows but y_true has 2",
        ),
        (
            "binary",
            {"y_true": [0, 1, 1], "prediction": [0, 1, 1], "proba": [0.2, 0.9]},
            r"proba for a binary task must have shape \(3,\).*got shape \(2,\)",
        ),
        (
            "binary",
            {
                "y_true": [0, 1, 1],
                "prediction": [0, 1, 1],
                "proba": [[0.8, 0.2], [0.1, 0.9], [0.3, 0.7]],
            },
            r"must have shape \(3,\).*got shape \(3, 2\).*proba\[:, 1\]",
        ),
        (
            "multiclass",
            {"y_true": [0, 1, 2], "prediction": [0, 1, 2], "proba": np.full((2, 3), 1 / 3)},
            r"proba for a multiclass task must have shape \(3, K\).*got shape \(2, 3\)",
        ),
        (
            "multiclass",
            {"y_true": [0, 1, 2], "prediction": [0, 1, 2], "proba": [0.1, 0.2, 0.3]},
            r"must have shape \(3, K\).*got shape \(3,\)",
        ),
        (
            "multiclass",
            {"y_true": [0, 1, 3], "prediction": [0, 1, 2], "proba": np.full((3, 3), 1 / 3)},
            r"y_true for a multiclass task must hold class codes 0\.\.2 \(proba has 3 columns\)",
        ),
        (
            "binary",
            {"y_true": [1, 2, 2], "prediction": [1, 2, 2]},
            r"y_true for a binary task must hold 0/1",
        ),
        (
            "binary",
            {"y_true": [0, 1], "prediction": [0, 1], "proba": [0.5, 1.5]},
            r"proba must hold probabilities in \[0, 1\]; got 1\.5",
        ),
        (
            "regression",
            {"y_true": [1.0, 2.0], "prediction": [1.0, 2.0], "proba": [0.1, 0.2]},
            r"proba must be None for a regression task",
        ),
        ("regression", {"y_true": [1.0, np.nan], "prediction": [1.0, 2.0]}, r"y_true holds NaN"),
        ("binary", {"y_true": [], "prediction": []}, r"y_true is empty"),
        (
            "ranking",
            {"y_true": [0, 1], "prediction": [0, 1]},
            r"task must be one of 'binary', 'multiclass', 'regression'; got 'ranking'",
        ),
    ],
)
def test_invalid_input_raises_value_error_naming_the_argument(task, kwargs, message):
    with pytest.raises(ValueError, match=message):
        score_metrics(task, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_boot": -1}, r"n_boot must be an integer >= 0; got -1"),
        ({"confidence": 95}, r"confidence must lie strictly between 0 and 1; got 95"),
    ],
)
def test_invalid_bootstrap_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        score_metrics("regression", [1.0, 2.0], prediction=[1.0, 2.0], **kwargs)


# --- tables, docs, speed ------------------------------------------------------------------


def test_every_metric_says_whether_higher_is_better():
    names = {name for names in METRICS.values() for name in names}
    assert set(HIGHER_IS_BETTER) == names
    assert not any(HIGHER_IS_BETTER[m] for m in ("log_loss", "brier", "mae", "rmse", "mse"))
    assert all(HIGHER_IS_BETTER[m] for m in ("roc_auc", "pr_auc", "r2", "f1_macro"))


def test_docstring_example_runs():
    assert doctest.testmod(_metrics).failed == 0


def test_thousand_replicates_of_five_thousand_rows_run_in_one_pass(capsys):
    data = binary_data(5000, seed=2)
    start = time.perf_counter()
    result = score_metrics("binary", **data, n_boot=1000)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nbinary metrics, 1000 replicates x 5000 rows: {elapsed:.2f} s")
    assert all(result[m]["ci_low"] is not None for m in METRICS["binary"])
