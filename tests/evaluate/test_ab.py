"""The live A/B report against independent references: sklearn, scipy, hand arithmetic."""

from __future__ import annotations

import doctest
import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from tabloop.config import HIGHER_IS_BETTER
from tabloop.evaluate import _ab
from tabloop.evaluate._ab import AB_METRICS, ab_report
from tabloop.evaluate._ab_segments import segment_shares
from tabloop.evaluate._ab_stats import rows_needed, variant_seed
from tabloop.evaluate._metrics import METRICS, score_metrics
from tabloop.exceptions import DataError

TOL = 1e-9


# --- logs ---------------------------------------------------------------------------------


def make_log(variant, outcome, prediction, *, score=None, probabilities=None, batch=None):
    """A prediction log as the service stores it; None/NaN outcome = not labelled yet."""
    n = len(variant)
    outcome = pd.Series(outcome)  # numbers: float with NaN; labels: object with None
    if batch is None:
        batch = [1 if pd.notna(o) else None for o in outcome]
    return pd.DataFrame(
        {
            "prediction_id": [f"p{i}" for i in range(n)],
            "variant": list(variant),
            "created_at": pd.Timestamp("2024-05-01") + pd.to_timedelta(np.arange(n), "s"),
            "prediction": list(prediction),
            "score": [None] * n if score is None else list(score),
            "probabilities": [None] * n if probabilities is None else list(probabilities),
            "outcome": outcome,
            "outcome_batch": pd.array(batch, dtype="Int64"),
        }
    )


def regression_log(n=300, sd=(5.0, 5.0), seed=0, unlabelled=0.25):
    """Variants A and B with error standard deviations ``sd``; some rows unlabelled."""
    rng = np.random.default_rng(seed)
    variant = np.repeat(["A", "B"], n)
    y = rng.normal(50, 10, 2 * n)
    pred = y + rng.normal(0, 1, 2 * n) * np.repeat(sd, n)
    labelled = rng.random(2 * n) >= unlabelled
    batch = np.where(labelled, rng.integers(1, 4, 2 * n), None)
    return make_log(variant, np.where(labelled, y, np.nan), pred, score=pred, batch=batch)


def binary_scores(n, shift, rng, share=0.4):
    """Positives score ~ N(shift, 1), negatives N(0, 1), squashed into (0, 1)."""
    y = (rng.random(n) < share).astype(int)
    score = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + shift * y - 0.5)))
    return y, np.round(score, 3)  # rounding makes ties, which both sides must count alike


def binary_log(n=300, shifts=(1.0, 1.0), seed=0, labels=("no", "yes")):
    rng = np.random.default_rng(seed)
    parts = []
    for name, shift in zip(["A", "B"], shifts, strict=True):
        y, score = binary_scores(n, shift, rng)
        labelled = rng.random(n) >= 0.2
        batch = np.where(labelled, rng.integers(1, 3, n), None)
        parts.append(
            make_log(
                [name] * n,
                np.where(labelled, np.asarray(labels, dtype=object)[y], None),
                np.asarray(labels, dtype=object)[(score >= 0.5).astype(int)],
                score=score,
                batch=batch,
            )
        )
    return pd.concat(parts, ignore_index=True)


def labelled_rows(log, name):
    return log[(log["variant"] == name) & log["outcome"].notna()]


# --- per-variant metrics, counts and baseline --------------------------------------------


def test_regression_counts_metrics_batches_and_baseline_equal_sklearn():
    log = regression_log(n=120, sd=(4.0, 6.0))
    report = ab_report(log, task="regression", n_boot=50)
    everything = log[log["outcome"].notna()]["outcome"].astype(float)
    assert [v.name for v in report.variants] == ["A", "B"]
    for stats_ in report.variants:
        mine = log[log["variant"] == stats_.name]
        rows = labelled_rows(log, stats_.name)
        y, pred = rows["outcome"].astype(float), rows["prediction"]
        assert stats_.predictions == len(mine) == 120
        assert stats_.labelled == len(rows)
        assert stats_.coverage == pytest.approx(len(rows) / 120)
        expected = {
            "mse": skm.mean_squared_error(y, pred),
            "rmse": math.sqrt(skm.mean_squared_error(y, pred)),
            "mae": skm.mean_absolute_error(y, pred),
            "r2": skm.r2_score(y, pred),
        }
        assert list(stats_.metrics) == ["mse", "rmse", "mae", "r2"]
        for name, value in expected.items():
            assert stats_.metrics[name]["value"] == pytest.approx(value, rel=TOL)
            assert stats_.metrics[name]["ci_low"] <= value <= stats_.metrics[name]["ci_high"]
        assert [b["batch"] for b in stats_.batches] == [1, 2, 3]
        for batch in stats_.batches:
            part = rows[rows["outcome_batch"] == batch["batch"]]
            y_b = part["outcome"].astype(float)
            assert batch["labelled"] == len(part)
            assert batch["entities"] is None  # not resampled by entity
            for name, scorer in (("mse", skm.mean_squared_error), ("mae", skm.mean_absolute_error)):
                value = scorer(y_b, part["prediction"])
                figure = batch["metrics"][name]
                assert figure["value"] == pytest.approx(value, rel=TOL)
                assert figure["ci_low"] < value < figure["ci_high"]
                # the baseline per batch: the log-wide constant on this batch's rows
                constant = np.full(len(y_b), everything.mean())
                assert batch["baseline"][name] == pytest.approx(scorer(y_b, constant), rel=TOL)
        constant = np.full(len(y), everything.mean())  # the mean of every variant's outcomes
        assert stats_.baseline["mse"] == pytest.approx(skm.mean_squared_error(y, constant))
        assert stats_.baseline["mae"] == pytest.approx(skm.mean_absolute_error(y, constant))
        assert stats_.baseline["r2"] == pytest.approx(skm.r2_score(y, constant), abs=1e-12)
    assert report.baseline["kind"] == "mean"
    assert report.baseline["prediction"] == pytest.approx(everything.mean())
    assert report.baseline["labelled"] == len(everything)
    assert "best constant in hindsight" in report.baseline["description"]

    # the log's index and row order do not matter to point values and counts
    shuffled = ab_report(log.sample(frac=1, random_state=0), task="regression", n_boot=50)
    assert shuffled.by_variant.to_numpy() == pytest.approx(report.by_variant.to_numpy())
    for after, before in zip(shuffled.variants, report.variants, strict=True):
        assert [(b["batch"], b["labelled"]) for b in after.batches] == [
            (b["batch"], b["labelled"]) for b in before.batches
        ]
        for b_after, b_before in zip(after.batches, before.batches, strict=True):
            values = {m: f["value"] for m, f in b_before["metrics"].items()}
            assert {m: f["value"] for m, f in b_after["metrics"].items()} == pytest.approx(
                values, rel=1e-9
            )


def test_binary_metrics_and_majority_baseline_equal_sklearn():
    log = binary_log(n=250, shifts=(1.0, 1.6))
    report = ab_report(log, task="binary", classes=["no", "yes"], n_boot=50)
    everything = log["outcome"].dropna()
    majority = everything.value_counts().idxmax()
    assert report.baseline["prediction"] == majority == "no"
    assert report.baseline["probability"] == pytest.approx((everything == majority).mean())
    for stats_ in report.variants:
        rows = labelled_rows(log, stats_.name)
        y = (rows["outcome"] == "yes").astype(int)
        pred = (rows["prediction"] == "yes").astype(int)
        score = rows["score"].astype(float)
        expected = {
            "roc_auc": skm.roc_auc_score(y, score),
            "accuracy": skm.accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred, zero_division=0),
            "recall": skm.recall_score(y, pred, zero_division=0),
            "f1": skm.f1_score(y, pred, zero_division=0),
        }
        assert list(stats_.metrics) == list(expected)
        for name, value in expected.items():
            assert stats_.metrics[name]["value"] == pytest.approx(value, rel=TOL)
        for batch in stats_.batches:
            part = rows[rows["outcome_batch"] == batch["batch"]]
            y_b = (part["outcome"] == "yes").astype(int)
            assert batch["metrics"]["roc_auc"]["value"] == pytest.approx(
                skm.roc_auc_score(y_b, part["score"].astype(float)), rel=TOL
            )
            assert batch["baseline"]["roc_auc"] == 0.5
            assert batch["metrics"]["recall"]["value"] == pytest.approx(
                skm.recall_score(y_b, (part["prediction"] == "yes").astype(int)), rel=TOL
            )
        constant = np.zeros(len(y), dtype=int)  # "no" is the majority: never positive
        share = np.full(len(y), 1 - report.baseline["probability"])  # P("yes") of the constant
        assert stats_.baseline["accuracy"] == pytest.approx(skm.accuracy_score(y, constant))
        assert stats_.baseline["precision"] == skm.precision_score(y, constant, zero_division=0)
        assert stats_.baseline["recall"] == skm.recall_score(y, constant, zero_division=0)
        assert stats_.baseline["roc_auc"] == pytest.approx(skm.roc_auc_score(y, share)) == 0.5


def test_multiclass_metrics_from_probability_dicts_equal_sklearn():
    rng = np.random.default_rng(3)
    classes = ["cat", "dog", "fox"]
    n = 400
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 1.3 * np.eye(3)[y]
    proba = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 3)
    proba[:, 2] = 1 - proba[:, :2].sum(axis=1)  # rows sum to 1, as sklearn requires
    dicts = [dict(zip(classes, row.tolist(), strict=True)) for row in proba]
    variant = np.where(np.arange(n) % 2 == 0, "A", "B")
    labels = np.asarray(classes, dtype=object)
    log = make_log(variant, labels[y], labels[proba.argmax(axis=1)], probabilities=dicts)
    report = ab_report(log, task="multiclass", classes=classes, n_boot=50)
    assert report.metric == "accuracy"
    for stats_ in report.variants:
        at = variant == stats_.name
        y_v, pred_v, proba_v = y[at], proba[at].argmax(axis=1), proba[at]
        expected = {
            "roc_auc": skm.roc_auc_score(y_v, proba_v, multi_class="ovr", labels=[0, 1, 2]),
            "accuracy": skm.accuracy_score(y_v, pred_v),
            "precision_macro": skm.precision_score(y_v, pred_v, average="macro"),
            "recall_macro": skm.recall_score(y_v, pred_v, average="macro"),
            "f1_macro": skm.f1_score(y_v, pred_v, average="macro"),
        }
        for name, value in expected.items():
            assert stats_.metrics[name]["value"] == pytest.approx(value, rel=1e-6), name
        majority = np.bincount(y).argmax()  # every row is labelled
        assert stats_.baseline["accuracy"] == pytest.approx(np.mean(y_v == majority))
        assert stats_.baseline["roc_auc"] == pytest.approx(0.5)

    # dicts that went through JSON have string keys; integer labels still find them
    int_log = make_log(variant, y, proba.argmax(axis=1), probabilities=json.loads(json.dumps(
        [{str(k): p for k, p in enumerate(row.tolist())} for row in proba]
    )))  # fmt: skip
    again = ab_report(int_log, task="multiclass", classes=[0, 1, 2], n_boot=50)
    assert again.variants[0].metrics["roc_auc"]["value"] == pytest.approx(
        report.variants[0].metrics["roc_auc"]["value"]
    )


def test_intervals_are_score_metrics_bootstrap_of_each_variant():
    log = regression_log(n=80)
    report = ab_report(log, task="regression", n_boot=200, seed=7)
    for stats_ in report.variants:
        rows = labelled_rows(log, stats_.name)
        expected = score_metrics(
            "regression",
            rows["outcome"].astype(float),
            prediction=rows["prediction"],
            n_boot=200,
            seed=variant_seed(7, stats_.name),
        )
        for name in AB_METRICS["regression"]:
            assert stats_.metrics[name] == pytest.approx(expected[name], rel=TOL)


def test_metric_names_are_those_of_the_evaluation():
    for task, names in AB_METRICS.items():
        assert set(names) <= set(METRICS[task])
        assert all(name in HIGHER_IS_BETTER for name in names)
    assert {"mse", "mae", "accuracy"} >= _ab.PER_ROW_METRICS


# --- variant vs control ------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["mse", "mae"])
def test_welch_difference_p_value_and_interval_equal_scipy(metric):
    log = regression_log(n=150, sd=(5.0, 4.0), seed=2)
    report = ab_report(log, task="regression", metric=metric, confidence=0.9, n_boot=20)
    (comparison,) = report.comparisons

    def per_row(name):
        rows = labelled_rows(log, name)
        error = rows["prediction"] - rows["outcome"].astype(float)
        return (error**2 if metric == "mse" else error.abs()).to_numpy()

    result = stats.ttest_ind(per_row("B"), per_row("A"), equal_var=False)
    interval = result.confidence_interval(0.9)
    assert comparison.method == "welch"
    assert comparison.difference == pytest.approx(per_row("B").mean() - per_row("A").mean())
    assert comparison.difference == pytest.approx(
        comparison.variant_value - comparison.control_value
    )
    assert comparison.p_value == pytest.approx(result.pvalue, rel=1e-9)
    assert comparison.ci_low == pytest.approx(interval.low, rel=1e-9)
    assert comparison.ci_high == pytest.approx(interval.high, rel=1e-9)


def test_welch_accuracy_with_a_variant_right_on_every_row_does_not_warn():
    n = 60
    y = np.tile([0, 1], n)
    pred = np.where(np.arange(2 * n) < n, y, np.where(np.arange(2 * n) % 3 == 0, 1 - y, y))
    variant = np.repeat(["A", "B"], n)
    log = make_log(variant, y, pred, score=np.where(pred == 1, 0.8, 0.2))
    report = ab_report(log, task="binary", classes=[0, 1], metric="accuracy", n_boot=20)
    (comparison,) = report.comparisons
    hits = {name: (pred == y)[variant == name].astype(float) for name in "AB"}
    with warnings.catch_warnings():  # scipy warns of a constant group; the report must not
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(hits["B"], hits["A"], equal_var=False)
    assert comparison.control_value == 1.0
    assert comparison.p_value == pytest.approx(result.pvalue, rel=1e-9)
    assert comparison.ci_low == pytest.approx(result.confidence_interval().low, rel=1e-9)
    assert comparison.better == "A"
    assert comparison.verdict.startswith(
        "A better: accuracy B 0.667 vs A 1.000 (B \u2212 A = \u22120.333, 95% CI "
    )


def test_clearly_better_variant_is_named_with_numbers_in_the_verdict():
    log = regression_log(n=2000, sd=(math.sqrt(30), math.sqrt(15)), seed=4, unlabelled=0)
    report = ab_report(log, task="regression", n_boot=200)
    (comparison,) = report.comparisons
    assert comparison.better == "B"
    assert comparison.rows_needed is None
    assert comparison.difference < 0 and comparison.ci_high < 0
    assert comparison.verdict.startswith("B better: mse ")
    assert "95% CI −" in comparison.verdict and "p < 0.0001" in comparison.verdict
    assert report.verdict == comparison.verdict
    assert report.difference()["B"] == comparison.difference
    assert report.by_variant.loc["B", "mse"] == comparison.variant_value


def test_better_control_keeps_variant_minus_control_in_json_and_sentence():
    log = regression_log(n=1500, sd=(3.0, 6.0), seed=5, unlabelled=0)
    report = ab_report(log, task="regression", n_boot=50)
    (comparison,) = report.comparisons
    assert comparison.better == "A"
    assert comparison.difference > 0  # mse of B - mse of A
    # one convention everywhere: the sentence reads B then A and shows B − A, sign included
    found = re.match(
        r"A better: mse B ([\d.]+) vs A ([\d.]+) \(B − A = \+([\d.]+), 95% CI ([\d.]+) to ",
        comparison.verdict,
    )
    assert found, comparison.verdict
    b, a, diff, low = map(float, found.groups())
    assert (b, a, diff, low) == pytest.approx(
        (
            comparison.variant_value,
            comparison.control_value,
            comparison.difference,
            comparison.ci_low,
        ),
        abs=0.01,
    )
    assert report.to_dict()["comparisons"][0]["difference"] == comparison.difference > 0


def test_identical_variants_give_no_winner_and_rows_needed():
    log = regression_log(n=400, sd=(5.0, 5.0), seed=6)
    (comparison,) = ab_report(log, task="regression", n_boot=50).comparisons
    assert comparison.better is None
    assert comparison.ci_low < 0 < comparison.ci_high
    assert isinstance(comparison.rows_needed, int) and comparison.rows_needed > 0
    assert comparison.verdict.startswith(
        f"no difference yet — about {comparison.rows_needed:,} more labelled rows per variant"
    )


def test_rows_needed_is_the_normal_approximation_by_hand():
    log = regression_log(n=300, sd=(5.0, 5.4), seed=8, unlabelled=0.4)
    (comparison,) = ab_report(log, task="regression", n_boot=20).comparisons
    assert comparison.better is None
    a = (labelled_rows(log, "A")["prediction"] - labelled_rows(log, "A")["outcome"]) ** 2
    b = (labelled_rows(log, "B")["prediction"] - labelled_rows(log, "B")["outcome"]) ** 2
    a, b = a.astype(float).to_numpy(), b.astype(float).to_numpy()
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    n = 2 / (1 / len(a) + 1 / len(b))
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    expected = math.ceil(n * (z * se / abs(b.mean() - a.mean())) ** 2 - n)
    assert comparison.rows_needed == expected


def test_rows_needed_reaches_the_asked_power_in_simulation():
    # the formula's promise: at n + rows_needed rows, a true difference d is found with
    # probability `power` (here d = 0.2 sd; 400 simulated experiments, all vectorised)
    rng = np.random.default_rng(9)
    n, d = 100, 0.2
    more = rows_needed(d, math.sqrt(2 / n), n_control=n, n_variant=n, confidence=0.95, power=0.8)
    size = n + more
    a, b = rng.normal(0, 1, (400, size)), rng.normal(d, 1, (400, size))
    found = stats.ttest_ind(b, a, axis=1, equal_var=False).pvalue < 0.05
    assert 0.72 <= found.mean() <= 0.88


def test_rows_needed_is_none_for_zero_difference():
    assert rows_needed(0.0, 0.1, n_control=50, n_variant=50, confidence=0.95, power=0.8) is None


def test_roc_auc_uses_independent_bootstrap_and_is_deterministic():
    log = binary_log(n=400, shifts=(0.6, 2.0), seed=1)
    report = ab_report(log, task="binary", classes=["no", "yes"], n_boot=300, seed=3)
    (comparison,) = report.comparisons
    assert comparison.method == "bootstrap"
    assert comparison.better == "B"
    assert comparison.p_value == pytest.approx(1 / 300)  # floored, never 0
    assert "p ≤ 0.0033" in comparison.verdict
    assert comparison.ci_low <= comparison.difference <= comparison.ci_high
    again = ab_report(log, task="binary", classes=["no", "yes"], n_boot=300, seed=3)
    assert again.to_dict() == report.to_dict()
    other = ab_report(log, task="binary", classes=["no", "yes"], n_boot=300, seed=4)
    assert other.comparisons[0].ci_low != comparison.ci_low


def test_roc_auc_difference_interval_covers_the_true_difference():
    # AUC with N(shift, 1) positives and N(0, 1) negatives is Phi(shift / sqrt(2)); the
    # squashing and rounding in binary_scores barely move it. 50 repetitions, 95% intervals.
    truth = stats.norm.cdf(1.0 / math.sqrt(2)) - stats.norm.cdf(0.5 / math.sqrt(2))
    covered = 0
    for seed in range(50):
        rng = np.random.default_rng(100 + seed)
        (y_a, s_a), (y_b, s_b) = binary_scores(300, 0.5, rng), binary_scores(300, 1.0, rng)
        log = make_log(np.repeat(["A", "B"], 300), np.r_[y_a, y_b], np.r_[s_a, s_b] >= 0.5,
                       score=np.r_[s_a, s_b])  # fmt: skip
        (c,) = ab_report(log, task="binary", classes=[0, 1], n_boot=200, seed=seed).comparisons
        covered += c.ci_low <= truth <= c.ci_high
    assert covered >= 43


def test_several_variants_are_each_compared_with_control():
    log = regression_log(n=200, seed=10)
    third = regression_log(n=200, seed=11).replace({"variant": {"A": "C", "B": "C"}})
    report = ab_report(pd.concat([third, log], ignore_index=True), task="regression", n_boot=20)
    assert report.control == "A"
    assert [v.name for v in report.variants] == ["A", "B", "C"]
    assert [(c.control, c.variant) for c in report.comparisons] == [("A", "B"), ("A", "C")]
    assert report.verdict.startswith("control A: ")
    assert "mse B " in report.verdict and "(C \u2212 A = " in report.verdict
    chosen = ab_report(log, task="regression", control="B", n_boot=20)
    assert [v.name for v in chosen.variants] == ["B", "A"]
    assert chosen.comparisons[0].variant == "A"


def test_default_control_is_first_in_sorted_order_without_an_a():
    log = regression_log(n=50).replace({"variant": {"A": "zeta", "B": "beta"}})
    assert ab_report(log, task="regression", n_boot=10).control == "beta"


# --- edge cases ---------------------------------------------------------------------------


@pytest.mark.parametrize("columns", [True, False])
def test_empty_log_gives_a_valid_report(columns):
    log = regression_log(n=5).iloc[:0] if columns else pd.DataFrame()
    report = ab_report(log, task="regression")
    assert report.variants == [] and report.comparisons == []
    assert report.control is None
    assert report.verdict == "no labelled predictions yet"
    json.dumps(report.to_dict(), allow_nan=False)


def test_configured_variants_without_rows_have_zero_counts():
    report = ab_report(pd.DataFrame(), task="binary", variants=["B", "A"])
    assert [(v.name, v.predictions, v.labelled, v.coverage) for v in report.variants] == [
        ("A", 0, 0, None),
        ("B", 0, 0, None),
    ]
    assert report.variants[0].metrics["roc_auc"] == {"value": None, "ci_low": None, "ci_high": None}
    assert report.comparisons[0].verdict == (
        "not enough labelled rows yet (0 and 0; at least 10 per variant needed)"
    )
    assert report.verdict == "no labelled predictions yet (0 predictions logged)"


def test_one_variant_has_no_comparison():
    log = regression_log(n=60)
    report = ab_report(log[log["variant"] == "A"], task="regression", n_boot=20)
    assert report.comparisons == []
    assert report.verdict.startswith("only one variant (A) (mse ")
    assert report.verdict.endswith("; nothing to compare")


def test_variant_without_outcomes_counts_predictions_only():
    log = regression_log(n=50)
    log.loc[log["variant"] == "B", ["outcome", "outcome_batch"]] = None
    report = ab_report(log, task="regression", n_boot=20)
    b = report.variants[1]
    assert (b.predictions, b.labelled, b.coverage, b.batches) == (50, 0, 0.0, [])
    assert b.metrics["mse"]["value"] is None and b.baseline["mse"] is None
    labelled_a = report.variants[0].labelled
    assert report.comparisons[0].verdict == (
        f"not enough labelled rows yet ({labelled_a} and 0; at least 10 per variant needed)"
    )
    assert report.comparisons[0].better is None and report.comparisons[0].rows_needed is None


def test_single_outcome_class_leaves_roc_auc_undefined_without_crashing():
    n = 40
    rng = np.random.default_rng(0)
    log = make_log(np.repeat(["A", "B"], n), ["yes"] * (2 * n), rng.choice(["no", "yes"], 2 * n),
                   score=rng.random(2 * n))  # fmt: skip
    report = ab_report(log, task="binary", classes=["no", "yes"], n_boot=20)
    for stats_ in report.variants:
        assert stats_.metrics["roc_auc"]["value"] is None
        assert stats_.baseline["roc_auc"] is None
        assert stats_.metrics["recall"]["value"] == pytest.approx(
            np.mean(log[log["variant"] == stats_.name]["prediction"] == "yes")
        )
    assert report.comparisons[0].verdict.startswith("roc_auc is undefined for A and B so far")
    accuracy = ab_report(log, task="binary", classes=["no", "yes"], metric="accuracy", n_boot=20)
    assert accuracy.comparisons[0].method == "welch"


def test_missing_scores_leave_roc_auc_undefined():
    log = binary_log(n=50)
    log.loc[labelled_rows(log, "A").index[0], "score"] = None
    report = ab_report(log, task="binary", classes=["no", "yes"], n_boot=20)
    assert report.variants[0].metrics["roc_auc"]["value"] is None
    assert report.variants[1].metrics["roc_auc"]["value"] is not None


def test_unknown_metric_names_the_allowed_ones():
    with pytest.raises(ValueError, match="choose one of roc_auc, accuracy, precision, recall, f1"):
        ab_report(binary_log(n=20), task="binary", metric="mse")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "ranking"}, "task must be one of"),
        ({"task": "regression", "control": "Z"}, r"control='Z' is not a variant.*\['A', 'B'\]"),
        ({"task": "regression", "confidence": 95}, "confidence must be a number in"),
        ({"task": "regression", "n_boot": 0}, "n_boot must be an integer >= 1"),
    ],
)
def test_bad_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ab_report(regression_log(n=20), **kwargs)


def test_segment_shares_refuse_a_control_that_is_no_variant_like_the_report():
    log = pd.DataFrame({"variant": ["A", "A", "B"], "prediction": [0, 1, 0]})
    with pytest.raises(ValueError, match=r"control='Z' is not a variant.*\['A', 'B', 'C'\]"):
        segment_shares(log, control="Z", variants=["C"])
    # a configured variant without rows yet may be the control, listed first with no share
    shares = segment_shares(log, control="C", variants=["C"])
    assert [v["name"] for v in shares.variants] == ["C", "A", "B"]
    assert [s["share"] for s in shares.variants[0]["segments"]] == [None, None]


@pytest.mark.parametrize("report", [segment_shares, lambda log: ab_report(log, task="binary")])
def test_a_log_that_is_no_dataframe_is_a_data_error_naming_its_type(report):
    rows = [{"variant": "A", "prediction": 0, "outcome": 0}]
    with pytest.raises(DataError, match="log must be a pandas DataFrame; got list"):
        report(rows)


def test_label_outside_the_classes_is_a_data_error():
    with pytest.raises(DataError, match="label 'maybe', which is not one of the classes"):
        ab_report(binary_log(n=20, labels=("no", "maybe")), task="binary", classes=["no", "yes"])


def test_binary_classes_default_to_the_sorted_labels():
    log = binary_log(n=100)
    inferred = ab_report(log, task="binary", n_boot=20)
    given = ab_report(log, task="binary", classes=["no", "yes"], n_boot=20)
    assert inferred.to_dict() == given.to_dict()


def test_to_dict_is_plain_json():
    report = ab_report(binary_log(n=100), task="binary", n_boot=20)
    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert set(data) == {
        "task", "metric", "higher_is_better", "confidence", "power", "n_boot", "control",
        "cluster_by", "resampling", "variants", "comparisons", "baseline", "verdict",
    }  # fmt: skip
    assert set(data["comparisons"][0]) >= {"difference", "ci_low", "p_value", "rows_needed"}
    batch = data["variants"][0]["batches"][0]
    assert type(batch["batch"]) is int and type(batch["labelled"]) is int


def test_docstring_examples_run():
    result = doctest.testmod(_ab, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# --- entities predicted several times (serve.sticky_by): the cluster bootstrap ------------


def entity_log(entities=150, seed=0):
    """Each customer predicted 1 to 6 times; a customer's errors share a large part (a model
    that is off for that customer), so its rows are far from independent."""
    rng = np.random.default_rng(seed)
    parts = []
    for name, scale in (("A", 4.0), ("B", 5.0)):
        times = rng.integers(1, 7, entities)
        customer = np.repeat([f"{name}{i}" for i in range(entities)], times)
        shared = np.repeat(rng.normal(0, scale, entities), times)
        y = rng.normal(100, 10, len(customer))
        pred = y + shared + rng.normal(0, 1, len(customer))
        part = make_log([name] * len(customer), y, pred)
        parts.append(part.assign(customer=customer))
    return pd.concat(parts, ignore_index=True)


def cluster_bootstrap_mse(rows, *, n_boot, seed):
    """An independent cluster bootstrap of the MSE: draw customers with replacement, each
    with all its rows (their summed squared errors and row count, from pandas)."""
    per = squared_errors(rows).groupby(rows["customer"]).agg(["sum", "count"])
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(per), size=(n_boot, len(per)), replace=True)
    return per["sum"].to_numpy()[drawn].sum(1) / per["count"].to_numpy()[drawn].sum(1)


def squared_errors(rows):
    return (rows["prediction"] - rows["outcome"].astype(float)) ** 2


def test_entities_predicted_several_times_are_resampled_whole():
    log = entity_log()
    clustered = ab_report(log, task="regression", cluster_by="customer", n_boot=2000)
    naive = ab_report(log, task="regression", n_boot=2000)
    assert clustered.cluster_by == "customer" and naive.cluster_by is None
    for stats_ in clustered.variants:
        rows = labelled_rows(log, stats_.name)
        assert stats_.labelled == len(rows) and stats_.entities == rows["customer"].nunique()
        # RMSE's interval: the percentile interval of a cluster bootstrap written with pandas
        rmse = np.sqrt(cluster_bootstrap_mse(rows, n_boot=4000, seed=1))
        low, high = np.quantile(rmse, [0.025, 0.975])
        figure = stats_.metrics["rmse"]
        assert figure["ci_high"] - figure["ci_low"] == pytest.approx(high - low, rel=0.12)
        assert figure["ci_low"] == pytest.approx(low, rel=0.03)
        assert figure["ci_high"] == pytest.approx(high, rel=0.03)
        # correlated rows: resampling rows alone makes the interval far too narrow
        row_figure = next(v for v in naive.variants if v.name == stats_.name).metrics["rmse"]
        assert figure["ci_high"] - figure["ci_low"] > 1.5 * (
            row_figure["ci_high"] - row_figure["ci_low"]
        )
        batch = stats_.batches[0]
        assert batch["labelled"] == len(rows) and batch["entities"] == stats_.entities
    (comparison,) = clustered.comparisons
    (row_comparison,) = naive.comparisons
    # MSE difference: Welch with each mean's cluster-robust variance, by hand with pandas
    parts = {}
    for name in "AB":
        rows = labelled_rows(log, name)
        e = squared_errors(rows)
        sums = (e - e.mean()).groupby(rows["customer"]).sum()
        g = len(sums)
        parts[name] = (e.mean(), g / (g - 1) * (sums**2).sum() / len(e) ** 2, g - 1)
    se = math.sqrt(parts["A"][1] + parts["B"][1])
    df = se**4 / (parts["A"][1] ** 2 / parts["A"][2] + parts["B"][1] ** 2 / parts["B"][2])
    half = stats.t.ppf(0.975, df) * se
    assert comparison.method == "welch"
    assert comparison.difference == pytest.approx(parts["B"][0] - parts["A"][0], rel=1e-9)
    assert comparison.ci_high - comparison.ci_low == pytest.approx(2 * half, rel=1e-9)
    assert comparison.p_value == pytest.approx(
        2 * stats.t.sf(abs(comparison.difference) / se, df), rel=1e-9
    )
    # ... which an independent cluster bootstrap of the difference agrees with
    diffs = cluster_bootstrap_mse(
        labelled_rows(log, "B"), n_boot=4000, seed=2
    ) - cluster_bootstrap_mse(labelled_rows(log, "A"), n_boot=4000, seed=3)
    assert 2 * half == pytest.approx(np.subtract(*np.quantile(diffs, [0.975, 0.025])), rel=0.15)
    assert comparison.ci_high - comparison.ci_low > 1.5 * (
        row_comparison.ci_high - row_comparison.ci_low
    )
    # the figures say what they rest on
    assert (comparison.variant_entities, comparison.control_entities) == (150, 150)
    assert comparison.variant_labelled == len(labelled_rows(log, "B"))
    assert (
        f"resampled by customer: B 150 entities ({comparison.variant_labelled:,} rows), "
        f"A 150 ({comparison.control_labelled:,})" in comparison.verdict
    )
    assert clustered.resampling.startswith(f"entities (customer): 300 entities with {len(log):,}")


def test_one_row_per_entity_gives_the_row_tests():
    log = regression_log(n=200, sd=(4.0, 5.0), seed=3, unlabelled=0)
    log["customer"] = [f"c{i}" for i in range(len(log))]
    by_entity = ab_report(log, task="regression", cluster_by="customer", n_boot=20)
    by_row = ab_report(log, task="regression", n_boot=20)
    (a,), (b,) = by_entity.comparisons, by_row.comparisons
    assert (a.ci_low, a.ci_high, a.p_value) == pytest.approx((b.ci_low, b.ci_high, b.p_value))


def test_rows_without_an_entity_key_count_as_entities_of_their_own():
    log = entity_log(entities=20)
    log.loc[log.index[:5], "customer"] = None
    report = ab_report(log, task="regression", cluster_by="customer", n_boot=20)
    rows = labelled_rows(log, "A")
    assert report.variants[0].entities == rows["customer"].nunique() + 5


def test_a_missing_entity_column_is_named():
    with pytest.raises(DataError, match="customer"):
        ab_report(regression_log(n=20), task="regression", cluster_by="customer")
