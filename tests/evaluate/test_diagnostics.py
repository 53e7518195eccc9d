"""Diagnostics that do not mislead: importance verdicts, the small-test-set warning, a
hidden MAPE in the report (the metric itself: test_metrics.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from tabloop.config import config_from_dict
from tabloop.evaluate import evaluate
from tabloop.train import train


def _config(name: str, target: str, **evaluate_section) -> object:
    return config_from_dict(
        {
            "name": name,
            "data": {"train": "(memory)", "target": target},
            "train": {"models": ["linear"], "folds": 3, "learning_curve": False},
            "evaluate": {"bootstrap": 200, **evaluate_section},
        }
    )


@pytest.fixture(scope="module")
def german(load):
    result = train(load("german_credit"), config=_config("german", "risk"))
    return result, evaluate(result)


def test_a_wide_importance_interval_is_undetermined_not_irrelevant(german):
    """200 test rows: intervals like -0.01 to +0.10 AUC allow no effect and a large one.
    Only an interval inside ±5% of the model's AUC gain over the dummy (0.5) may say the
    model does not rely on a column."""
    result, ev = german
    y = result.encode(result.test["risk"])
    auc = skm.roc_auc_score(y, result.model.predict_scores(result.test))
    material = 0.05 * (auc - 0.5)
    rows = {r["column"]: r for r in ev.charts["importance"]}
    verdicts = {d["column"]: d["kind"] for d in ev.diagnostics if "column" in d}
    undetermined = 0
    for column, row in rows.items():
        assert row["material"] == pytest.approx(material)
        inside = -material < row["ci_low"] and row["ci_high"] < material
        if inside:
            expected = "irrelevant"
        elif row["ci_low"] > 0:
            expected = "relevant"
        else:
            expected = "undetermined"
        assert row["verdict"] == expected, column
        if expected == "relevant":
            assert column not in verdicts
        else:
            assert verdicts[column] == f"{expected}_feature", column
        undetermined += expected == "undetermined"
    assert undetermined >= 3  # most German-credit columns cannot be judged on 200 rows
    for d in ev.diagnostics:
        if d["kind"] == "undetermined_feature":
            assert "does not rely" not in d["message"]
            assert "200 test rows" in d["message"]


def test_a_pure_noise_column_on_many_rows_is_irrelevant(load):
    df = load("arrests").assign(noise=np.random.default_rng(0).normal(size=5226))
    ev = evaluate(train(df, config=_config("arrests", "released", bootstrap=100)))
    row = next(r for r in ev.charts["importance"] if r["column"] == "noise")
    # each repeat compares the shuffled half with the same half unshuffled (sklearn's
    # max_samples compared one fixed half with all rows: +0.027 AUC for pure noise)
    assert row["ci_low"] < 0 < row["ci_high"]
    assert row["verdict"] == "irrelevant"
    assert -row["material"] < row["ci_low"] and row["ci_high"] < row["material"]


@pytest.fixture(scope="module")
def apartments(load):
    df = load("apartments").drop(columns=["Unnamed: 0"])
    config = _config("apartments", "m2_price", importance=False)
    result = train(df, config=config)
    return result, evaluate(result)


def test_the_small_test_set_warning_is_relative_to_the_target_scale(apartments):
    """RMSE in zloty per m² has an interval far wider than 0.1 on any test set; the
    warning compares the width with the target's standard deviation instead."""
    result, ev = apartments
    y = result.test["m2_price"].to_numpy(float)
    rmse = ev.metrics["rmse"]
    width = rmse["ci_high"] - rmse["ci_low"]
    assert width > 0.1  # the absolute rule fired here
    expected = width > 0.1 * np.std(y)
    fired = [d for d in ev.diagnostics if d["kind"] == "small_test_set"]
    assert bool(fired) == bool(expected)
    assert not fired  # 200 rows pin RMSE to a few % of the target's spread


def test_the_small_test_set_warning_fires_on_a_tiny_regression_test_set(load):
    df = load("apartments").drop(columns=["Unnamed: 0"]).head(120)
    config = config_from_dict(
        {
            "name": "tiny",
            "data": {"train": "(memory)", "target": "m2_price"},
            "split": {"test_size": 0.2},
            "train": {"models": ["linear"], "folds": 3, "learning_curve": False},
            "evaluate": {"bootstrap": 300, "importance": False},
        }
    )
    result = train(df, config=config)
    ev = evaluate(result)
    y = result.test["m2_price"].to_numpy(float)
    rmse = ev.metrics["rmse"]
    width = rmse["ci_high"] - rmse["ci_low"]
    fired = [d for d in ev.diagnostics if d["kind"] == "small_test_set"]
    assert bool(fired) == bool(width > 0.1 * np.std(y))
    assert fired  # 24 test rows
    if fired:
        assert f"{width / np.std(y):.0%} of the target's standard deviation" in fired[0]["message"]


def test_hidden_mape_reads_as_its_reason_in_the_report_and_terminal(apartments, tmp_path):
    from tabloop.workflows import TrainRun, summary_lines

    result, _ = apartments
    original = result.test
    zeroed = result.test.copy()
    zeroed.iloc[:3, zeroed.columns.get_loc("m2_price")] = 0.0
    result.test = zeroed
    try:
        ev = evaluate(result)
    finally:
        result.test = original
    assert ev.metrics["mape"]["value"] is None
    html = ev.to_html()
    assert "3 target value(s) are 0" in html
    run = TrainRun(result, ev, {}, None)
    line = next(x for x in summary_lines(run) if x.strip().startswith("mape"))
    assert "3 target value(s) are 0" in line and len(line) <= 80


@pytest.fixture(scope="module")
def german_cost(load):
    """Statlog's cost matrix: calling a bad risk good (a false positive, 1 = good) costs 5,
    refusing a good one costs 1."""
    config = config_from_dict(
        {
            "name": "german",
            "data": {"train": "(memory)", "target": "risk"},
            "train": {
                "models": ["linear"],
                "folds": 3,
                "learning_curve": False,
                "threshold": "cost",
                "costs": {"fp": 5, "fn": 1},
            },
            "evaluate": {"bootstrap": 500, "importance": False},
        }
    )
    result = train(load("german_credit"), config=config)
    return result, evaluate(result)


def test_a_cost_threshold_reports_its_test_cost_beside_the_trivial_policies(german_cost):
    result, ev = german_cost
    y = result.encode(result.test["risk"])
    proba = result.model.predict_scores(result.test)
    pred = (proba >= result.model.threshold).astype(int)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    n = len(y)
    test = ev.to_dict()["threshold"]["test"]
    assert test["n_test"] == n == 200
    assert test["threshold"]["value"] == pytest.approx((5 * fp + fn) / n)
    assert test["all_positive"]["value"] == pytest.approx(5 * np.sum(y == 0) / n)
    assert test["all_negative"]["value"] == pytest.approx(np.sum(y == 1) / n)
    cheaper = min(test["all_positive"]["value"], test["all_negative"]["value"])
    assert test["saving"]["value"] == pytest.approx(cheaper - test["threshold"]["value"])
    # percentile intervals about as wide as the normal approximation of a mean cost
    row_cost = np.where(pred == 1, np.where(y == 1, 0, 5), np.where(y == 1, 1, 0))
    normal_width = 2 * 1.96 * row_cost.std(ddof=1) / np.sqrt(n)
    entry = test["threshold"]
    assert entry["ci_low"] < entry["value"] < entry["ci_high"]
    assert 0.75 * normal_width < entry["ci_high"] - entry["ci_low"] < 1.25 * normal_width


def test_the_test_cost_is_in_the_terminal_summary_and_the_report(german_cost):
    from tabloop.workflows import TrainRun, summary_lines

    result, ev = german_cost
    test = ev.threshold["test"]
    lines = summary_lines(TrainRun(result, ev, {}, None))
    text = "\n".join(lines)
    assert f"test cost per row {test['threshold']['value']:.4f}" in text
    assert f"all positive {test['all_positive']['value']:.4f}" in text
    assert f"all negative {test['all_negative']['value']:.4f}" in text
    assert all(len(line) <= 80 for line in lines)
    html = ev.to_html()
    assert "cost per test row" in html and "all positive" in html and "all negative" in html


def test_the_report_lists_each_columns_verdict(german):
    _, ev = german
    html = ev.to_html()
    assert "undetermined = too few test rows to tell" in html
    for row in ev.charts["importance"]:
        assert row["verdict"] in html
