"""fairness_audit and compare_threshold_optimizer, checked against fairlearn and hand counts.

Run this file as a script for the timings we quote (1M rows x 250 groups vs fairlearn's
MetricFrame on 100k rows); the test suite itself never times anything.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from tabloop.evaluate._fairness import (
    FAIRNESS_METRICS,
    FairnessAudit,
    compare_threshold_optimizer,
    fairness_audit,
)


def precision_or_0(y_true, y_pred):
    """precision_score with zero_division=0, named (MetricFrame warns about a bare partial)."""
    return precision_score(y_true, y_pred, zero_division=0)


REFERENCE = {
    "precision": precision_or_0,
    "recall": recall_score,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "selection_rate": selection_rate,
    "accuracy": accuracy_score,
    "f1": f1_score,
}


@pytest.fixture(scope="module")
def arrests(load) -> pd.DataFrame:
    """Real outcomes (released) and a quick logistic model's predictions."""
    df = load("arrests")
    df["y"] = (df["released"] == "Yes").astype(int)
    features = pd.DataFrame(
        {
            "age": df["age"] / 10,
            "checks": df["checks"],
            "employed": (df["employed"] == "Yes").astype(int),
            "citizen": (df["citizen"] == "Yes").astype(int),
        }
    )
    model = LogisticRegression().fit(features, df["y"])
    df["pred"] = (model.predict_proba(features)[:, 1] >= 0.8).astype(int)
    return df


def rows_from_counts(counts: dict[str, tuple[int, int, int, int]]) -> pd.DataFrame:
    """Rows for per-group confusion counts written as (tn, fp, fn, tp)."""
    parts = []
    for group, (tn, fp, fn, tp) in counts.items():
        y = [0] * tn + [0] * fp + [1] * fn + [1] * tp
        pred = [0] * tn + [1] * fp + [0] * fn + [1] * tp
        parts.append(pd.DataFrame({"group": group, "y": y, "pred": pred}))
    return pd.concat(parts, ignore_index=True)


def synthetic(rates: list[float], n: int, seed: int) -> pd.DataFrame:
    """Groups g0, g1, ... of ``n`` rows, predicting positive with the given rates."""
    rng = np.random.default_rng(seed)
    group = np.repeat([f"g{k}" for k in range(len(rates))], n)
    pred = (rng.random(len(group)) < np.repeat(rates, n)).astype(int)
    return pd.DataFrame({"group": group, "y": rng.integers(0, 2, len(group)), "pred": pred})


def our_values(audit: FairnessAudit, grouping: str, segment: str = "(all)") -> pd.Series:
    rows = audit.by_group
    rows = rows[(rows["grouping"] == grouping) & (rows["segment"] == segment)]
    return rows.set_index("group")["value"]


@pytest.mark.parametrize("metric", FAIRNESS_METRICS)
def test_group_values_match_fairlearn_metricframe_on_arrests(arrests, metric):
    audit = fairness_audit(
        arrests["y"],
        arrests["pred"],
        sensitive=arrests[["colour", "sex"]],
        metric=metric,
        min_group_size=0,
        n_boot=50,
    )
    for columns, grouping in [
        (["colour"], "colour"),
        (["sex"], "sex"),
        (["colour", "sex"], "colour × sex"),
    ]:
        frame = MetricFrame(
            metrics=REFERENCE[metric],
            y_true=arrests["y"],
            y_pred=arrests["pred"],
            sensitive_features=arrests[columns],
        )
        expected = frame.by_group
        expected.index = [
            " & ".join(f"{c}={v}" for c, v in zip(columns, key, strict=True))
            if len(columns) > 1
            else key
            for key in expected.index
        ]
        ours = our_values(audit, grouping)
        assert sorted(ours.index) == sorted(expected.index)
        np.testing.assert_allclose(ours.fillna(0.0), expected[ours.index].astype(float))
        assert audit.overall == pytest.approx(frame.overall)


def test_hand_counted_gap_worst_best_and_small_group_exclusion():
    # precision: A 400/500 = 0.8, B 300/500 = 0.6, C 5/10 = 0.5 but only 10 predicted positives
    data = rows_from_counts(
        {"A": (900, 100, 50, 400), "B": (800, 200, 60, 300), "C": (990, 5, 1, 5)}
    )
    audit = fairness_audit(data["y"], data["pred"], sensitive=data[["group"]], n_boot=500)
    table = audit.by_group.set_index("group")
    assert table["n"].to_dict() == {"A": 1450, "B": 1360, "C": 1001}
    assert table["denominator"].to_dict() == {"A": 500, "B": 500, "C": 10}
    assert table["value"].to_dict() == pytest.approx({"A": 0.8, "B": 0.6, "C": 0.5})
    assert table["counted"].to_dict() == {"A": True, "B": True, "C": False}
    assert table.loc["C", "reason"] == "10 predicted positives < min_group_size=30"
    assert table[["reason"]].loc[["A", "B"]].isna().all().all()
    gap = audit.gaps.iloc[0]
    assert gap["gap"] == pytest.approx(0.2)  # C's 0.5 would make it 0.3 if it were counted
    assert (gap["worst_group"], gap["best_group"]) == ("B", "A")
    # se of the difference: sqrt(.8*.2/500 + .6*.4/500) = 0.028, so the CI is about 0.2 +- 0.055
    assert 0.12 < gap["ci_low"] < 0.2 < gap["ci_high"] < 0.28
    assert gap["verdict"] == "violation" and gap["rows_needed"] == 0
    assert audit.verdict == "violation"
    assert audit.overall == pytest.approx(705 / 1010)


def test_min_group_size_counts_denominator_rows_not_rows():
    data = rows_from_counts({"A": (900, 100, 50, 400), "C": (990, 5, 1, 5)})
    small = fairness_audit(data["y"], data["pred"], sensitive=data[["group"]], min_group_size=10)
    large = fairness_audit(data["y"], data["pred"], sensitive=data[["group"]], min_group_size=11)
    assert small.by_group["counted"].tolist() == [True, True]
    assert large.by_group["counted"].tolist() == [True, False]  # C has 1001 rows, 10 in denominator
    assert large.gaps["verdict"].tolist() == ["not enough groups"]
    assert large.verdict == "not enough groups"
    recall = fairness_audit(
        data["y"], data["pred"], sensitive=data[["group"]], metric="recall", min_group_size=7
    )
    assert recall.by_group.set_index("group")["denominator"].to_dict() == {"A": 450, "C": 6}
    assert recall.by_group["counted"].tolist() == [True, False]


def test_group_without_denominator_rows_is_listed_with_undefined_value():
    data = rows_from_counts({"A": (900, 100, 50, 400), "D": (50, 0, 10, 0)})
    audit = fairness_audit(data["y"], data["pred"], sensitive=data[["group"]], min_group_size=0)
    d = audit.by_group.set_index("group").loc["D"]
    assert (d["n"], d["denominator"], d["counted"]) == (60, 0, False)
    assert np.isnan(d["value"]) and d["reason"] == "no predicted positives"
    assert audit.gaps["verdict"].tolist() == ["not enough groups"]
    assert audit.to_dict()["by_group"][1]["value"] is None


def test_within_segment_values_match_per_segment_metricframe(arrests):
    audit = fairness_audit(
        arrests["y"],
        arrests["pred"],
        sensitive=arrests[["colour"]],
        segment=arrests["year"],
        metric="recall",
        min_group_size=0,
        n_boot=50,
    )
    segments = audit.gaps["segment"].tolist()
    assert segments == ["(all)", *[str(y) for y in sorted(arrests["year"].unique())]]
    for year, part in arrests.groupby("year"):
        frame = MetricFrame(
            metrics=recall_score,
            y_true=part["y"],
            y_pred=part["pred"],
            sensitive_features=part["colour"],
        )
        ours = our_values(audit, "colour", str(year))
        pd.testing.assert_series_equal(
            ours.sort_index(), frame.by_group.sort_index(), check_names=False, check_index=False
        )
        assert ours.index.tolist() == frame.by_group.index.tolist()
    whole = MetricFrame(
        metrics=recall_score,
        y_true=arrests["y"],
        y_pred=arrests["pred"],
        sensitive_features=arrests["colour"],
    )
    np.testing.assert_allclose(our_values(audit, "colour"), whole.by_group)


def test_intersections_are_labelled_by_column_and_value():
    people = pd.DataFrame(
        {"race": ["a", "b", "a", "b"] * 25, "sex": ["f", "f", "m", "m"] * 25, "age": ["x"] * 100}
    )
    audit = fairness_audit(
        [1, 0] * 50,
        [1, 1] * 50,
        sensitive=people,
        metric="selection_rate",
        min_group_size=1,
        n_boot=20,
    )
    groupings = audit.gaps["grouping"].tolist()
    assert groupings == [
        "race",
        "sex",
        "age",
        "race × sex",
        "race × age",
        "sex × age",
        "race × sex × age",
    ]
    pairs = audit.by_group[audit.by_group["grouping"] == "race × sex"]["group"].tolist()
    assert pairs == ["race=a & sex=f", "race=a & sex=m", "race=b & sex=f", "race=b & sex=m"]
    triple = audit.by_group[audit.by_group["grouping"] == "race × sex × age"]["group"]
    assert triple.iloc[0] == "race=a & sex=f & age=x"
    single = fairness_audit(
        [1, 0] * 50, [1, 1] * 50, sensitive=people, intersections=False, min_group_size=1, n_boot=20
    )
    assert single.gaps["grouping"].tolist() == ["race", "sex", "age"]


def test_missing_sensitive_values_form_their_own_group():
    people = pd.DataFrame({"sex": ["f", None, "m", np.nan] * 25})
    audit = fairness_audit(
        [1] * 100, [1, 0] * 50, sensitive=people, metric="recall", min_group_size=1, n_boot=20
    )
    assert audit.by_group["group"].tolist() == ["f", "m", "(missing)"]
    assert audit.by_group["n"].tolist() == [25, 25, 50]


def test_large_true_gap_is_a_violation():
    data = synthetic([0.2, 0.4, 0.3], n=2000, seed=1)
    audit = fairness_audit(
        data["y"], data["pred"], sensitive=data[["group"]], metric="selection_rate", n_boot=500
    )
    gap = audit.gaps.iloc[0]
    assert gap["verdict"] == "violation" and gap["ci_low"] > 0.05
    assert (gap["worst_group"], gap["best_group"]) == ("g0", "g1")


def test_identical_groups_with_huge_n_pass():
    data = synthetic([0.3] * 5, n=40_000, seed=2)
    audit = fairness_audit(
        data["y"], data["pred"], sensitive=data[["group"]], metric="selection_rate", n_boot=500
    )
    assert audit.gaps["verdict"].tolist() == ["pass"]
    assert audit.gaps["ci_high"].iloc[0] <= 0.05 and audit.verdict == "pass"


def test_tiny_groups_are_inconclusive_with_rows_needed():
    data = synthetic([0.3, 0.3], n=50, seed=3)  # gaps are multiples of 0.02, never 0.05
    audit = fairness_audit(
        data["y"], data["pred"], sensitive=data[["group"]], metric="selection_rate", n_boot=500
    )
    gap = audit.gaps.iloc[0]
    assert gap["verdict"] == "inconclusive" and audit.verdict == "inconclusive"
    assert gap["ci_low"] <= 0.05 < gap["ci_high"]
    assert gap["rows_needed"] > 0


def test_many_identical_noisy_groups_are_not_a_violation():
    # the raw max - min of 40 groups of 100 rows is ~0.3 here; a percentile interval of it
    # would call this a violation every time
    data = synthetic([0.3] * 40, n=100, seed=4)
    audit = fairness_audit(
        data["y"], data["pred"], sensitive=data[["group"]], metric="selection_rate", n_boot=500
    )
    gap = audit.gaps.iloc[0]
    assert gap["gap"] > 0.15
    assert gap["verdict"] == "inconclusive" and gap["ci_low"] <= 0.05


@pytest.mark.parametrize("rates", [[0.3, 0.45], [0.3, 0.45, 0.35, 0.4]])
def test_interval_covers_the_true_gap_in_most_draws(rates):
    covered = 0
    for draw in range(40):
        data = synthetic(rates, n=300, seed=100 + draw)
        audit = fairness_audit(
            data["y"],
            data["pred"],
            sensitive=data[["group"]],
            metric="selection_rate",
            n_boot=300,
            seed=draw,
        )
        gap = audit.gaps.iloc[0]
        covered += gap["ci_low"] <= 0.15 <= gap["ci_high"]
    assert covered >= 34


def test_unlabelled_rows_are_ignored():
    data = synthetic([0.3, 0.5], n=200, seed=5)
    y = data["y"].astype(float)
    y.iloc[::7] = np.nan
    audit = fairness_audit(y, data["pred"], sensitive=data[["group"]], n_boot=100)
    kept = data[y.notna()]
    reference = fairness_audit(kept["y"], kept["pred"], sensitive=kept[["group"]], n_boot=100)
    pd.testing.assert_frame_equal(audit.by_group, reference.by_group)
    pd.testing.assert_frame_equal(audit.gaps, reference.gaps)


def test_lower_is_better_metrics_name_the_highest_value_worst():
    data = rows_from_counts({"A": (90, 10, 0, 50), "B": (60, 40, 0, 50)})  # fpr 0.1 vs 0.4
    audit = fairness_audit(
        data["y"], data["pred"], sensitive=data[["group"]], metric="fpr", n_boot=200
    )
    assert (audit.gaps["worst_group"].iloc[0], audit.gaps["best_group"].iloc[0]) == ("B", "A")


def test_difference_ratio_histogram_and_json(arrests):
    audit = fairness_audit(
        arrests["y"],
        arrests["pred"],
        sensitive=arrests[["colour", "sex"]],
        segment=arrests["year"],
        n_boot=100,
    )
    difference = audit.difference()
    assert difference.index.tolist() == ["colour", "sex", "colour × sex"]
    for grouping, value in difference.items():
        assert value == audit.gaps[audit.gaps["grouping"] == grouping]["gap"].max()
    ratio = audit.ratio()
    assert len(ratio) == len(audit.gaps)
    white = our_values(audit, "colour")
    assert ratio[("colour", "(all)")] == pytest.approx(white.min() / white.max())
    histogram = audit.histogram(grouping="colour", bins=5)
    segment_gaps = audit.gaps[
        (audit.gaps["grouping"] == "colour") & (audit.gaps["segment"] != "(all)")
    ]["gap"]
    assert sum(histogram["counts"]) == segment_gaps.notna().sum()
    assert len(histogram["edges"]) == 6 and histogram["edges"][0] == 0.0
    plain = audit.to_dict()
    text = json.dumps(plain, allow_nan=False)
    assert json.loads(text)["verdict"] == audit.verdict
    assert all(
        row["rows_needed"] is None or isinstance(row["rows_needed"], int) for row in plain["gaps"]
    )


def test_threshold_optimizer_reduces_selection_rate_gap():
    rng = np.random.default_rng(0)
    n = 6000
    group = rng.choice(["a", "b"], n, p=[0.6, 0.4])
    y = (rng.random(n) < np.where(group == "a", 0.5, 0.3)).astype(int)
    scores = np.clip(0.35 * y + 0.25 * (group == "a") + rng.uniform(0, 0.5, n), 0, 1)
    sensitive = pd.DataFrame({"group": group})
    half = n // 2
    data = (y[:half], scores[:half], sensitive.iloc[:half],
            y[half:], scores[half:], sensitive.iloc[half:])  # fmt: skip
    result = compare_threshold_optimizer(
        *data,
        constraint="demographic_parity",
    )
    before, after = result["before"], result["after"]
    for part in (before, after):
        assert set(part) >= {
            "accuracy",
            "precision",
            "recall",
            "selection_rate_gap",
            "precision_gap",
            "by_group",
        }
        assert set(part["by_group"]) == {"a", "b"}
    expected = accuracy_score(y[half:], (scores[half:] >= 0.5).astype(int))
    assert before["accuracy"] == pytest.approx(expected)
    assert before["selection_rate_gap"] > 0.2
    assert after["selection_rate_gap"] < before["selection_rate_gap"] / 2
    json.dumps(result, allow_nan=False)
    again = compare_threshold_optimizer(
        *data,
        constraint="demographic_parity",
    )
    assert again == result  # randomised thresholds, fixed random_state
    odds = compare_threshold_optimizer(
        *data,
    )
    assert odds["constraint"] == "equalized_odds" and 0 < odds["after"]["recall"] <= 1


def test_lengths_that_differ_are_named():
    with pytest.raises(ValueError, match="y_pred has 3 rows but y_true has 4"):
        fairness_audit([0, 1, 0, 1], [0, 1, 0], sensitive=pd.DataFrame({"s": list("abab")}))
    with pytest.raises(ValueError, match="segment has 2 rows but y_true has 4"):
        fairness_audit(
            [0, 1, 0, 1],
            [0, 1, 0, 1],
            sensitive=pd.DataFrame({"s": list("abab")}),
            segment=pd.Series([1, 2]),
        )


def test_unknown_metric_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="'auc' is not one of precision, recall, fpr"):
        fairness_audit([0, 1], [0, 1], sensitive=pd.DataFrame({"s": ["a", "b"]}), metric="auc")


def test_sensitive_without_columns_is_rejected():
    with pytest.raises(ValueError, match="at least one protected column"):
        fairness_audit([0, 1], [0, 1], sensitive=pd.DataFrame(index=[0, 1]))


def test_non_binary_predictions_name_the_bad_value():
    with pytest.raises(ValueError, match="y_pred must hold 0 or 1.*got 2 at position 1"):
        fairness_audit([0, 1, 1], [0, 2, 1], sensitive=pd.DataFrame({"s": list("aab")}))
    with pytest.raises(ValueError, match="y_pred must hold 0 or 1.*got 'Yes' at position 0"):
        fairness_audit([0, 1], ["Yes", "No"], sensitive=pd.DataFrame({"s": list("ab")}))
    with pytest.raises(
        ValueError, match="y_pred must hold 0 or 1.*got a missing value at position 0"
    ):
        fairness_audit([0, 1], [np.nan, 1], sensitive=pd.DataFrame({"s": list("ab")}))


def _print_timings() -> None:  # pragma: no cover - run by hand: python tests/evaluate/...
    rng = np.random.default_rng(0)
    n = 1_000_000
    y = rng.integers(0, 2, n).astype(float)
    pred = rng.integers(0, 2, n)
    one = pd.DataFrame({"group": rng.integers(0, 250, n).astype(str)})
    five = pd.DataFrame({"race": rng.choice(list("abcde"), n)})
    department = pd.Series(rng.integers(0, 50, n), name="department")
    cases = {
        "1 column x 250 values": {"sensitive": one},
        "5 values x 50 segments": {"sensitive": five, "segment": department},
    }
    for label, kwargs in cases.items():
        start = time.perf_counter()
        fairness_audit(y, pred, **kwargs, metric="precision", n_boot=1000)
        print(f"fairness_audit, 1M rows, {label}: {time.perf_counter() - start:.2f} s")
    m = 100_000
    for label, kwargs in {
        "1 column x 250 values": {"sensitive_features": one.iloc[:m]},
        "5 values x 50 segments": {
            "sensitive_features": five.iloc[:m],
            "control_features": department.iloc[:m],
        },
    }.items():
        start = time.perf_counter()
        MetricFrame(metrics=REFERENCE["precision"], y_true=y[:m], y_pred=pred[:m], **kwargs)
        print(f"fairlearn MetricFrame, 100k rows, {label}: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    _print_timings()
