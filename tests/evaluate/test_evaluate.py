"""The evaluation report a reviewer reads: test metrics vs sklearn, baseline, fairness, checks."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from tabloop.config import config_from_dict
from tabloop.evaluate import evaluate
from tabloop.train import train
from tests.report.test_html import chart_specs


@pytest.fixture(scope="module")
def arrests(load):
    config = config_from_dict(
        {
            "name": "arrests",
            "data": {"train": "(memory)", "target": "released"},
            "features": {"drop": ["colour", "sex"]},
            "train": {"models": ["linear"], "folds": 3, "learning_curve": False},
            "evaluate": {
                "bootstrap": 300,
                "requirements": ["roc_auc >= 0.6", "precision >= 0.99", "fairness.max_gap <= 0.05"],
                "fairness": {
                    "protected": ["colour", "sex"],
                    "metric": "precision",
                    "min_group_size": 30,
                    "max_gap": 0.05,
                    "mitigate": "demographic_parity",
                },
            },
        }
    )
    result = train(load("arrests"), config=config)
    return result, evaluate(result)


def test_json_has_the_documented_keys(arrests):
    _, ev = arrests
    data = json.loads(ev.to_json())
    for key in (
        "task",
        "metrics",
        "baseline",
        "threshold",
        "requirements",
        "fairness",
        "diagnostics",
    ):
        assert key in data
    for name in ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "precision", "recall", "f1"):
        assert set(data["metrics"][name]) == {"value", "ci_low", "ci_high"}
        assert data["metrics"][name]["ci_low"] <= data["metrics"][name]["value"]
        assert data["metrics"][name]["value"] <= data["metrics"][name]["ci_high"]


def test_test_metrics_equal_sklearn_on_the_model_predictions(arrests):
    result, ev = arrests
    y = (result.test["released"] == "Yes").to_numpy().astype(int)
    assert result.model.classes == ["No", "Yes"]
    scores = result.model.predict_scores(result.test)
    pred = (scores >= result.model.threshold).astype(int)
    m = ev.metrics
    assert m["roc_auc"]["value"] == pytest.approx(skm.roc_auc_score(y, scores))
    assert m["pr_auc"]["value"] == pytest.approx(skm.average_precision_score(y, scores))
    assert m["log_loss"]["value"] == pytest.approx(skm.log_loss(y, scores))
    assert m["precision"]["value"] == pytest.approx(skm.precision_score(y, pred))
    assert m["recall"]["value"] == pytest.approx(skm.recall_score(y, pred))
    assert m["f1"]["value"] == pytest.approx(skm.f1_score(y, pred))
    assert m["confusion_matrix"]["matrix"] == skm.confusion_matrix(y, pred).tolist()


def test_baseline_is_the_majority_class_dummy(arrests):
    result, ev = arrests
    y = (result.test["released"] == "Yes").to_numpy().astype(int)
    assert ev.baseline["roc_auc"]["value"] == pytest.approx(0.5)
    share = (result.train["released"] == "Yes").mean()
    assert ev.baseline["brier"]["value"] == pytest.approx(np.mean((share - y) ** 2))


def test_requirements_are_checked_and_a_failure_is_reported(arrests):
    _, ev = arrests
    by_expr = {r["expression"]: r for r in ev.requirements}
    assert by_expr["roc_auc >= 0.6"]["passed"] is True
    assert by_expr["precision >= 0.99"]["passed"] is False
    assert ev.passed is False


def test_fairness_per_group_equals_a_hand_computation(arrests):
    result, ev = arrests
    test = result.test
    pred = result.model.predict_frame(test)["prediction"] == "Yes"
    truth = test["released"] == "Yes"
    frame = pd.DataFrame({"colour": test["colour"], "tp": pred & truth, "pp": pred})
    expected = frame.groupby("colour").sum()
    expected = (expected["tp"] / expected["pp"]).to_dict()
    rows = [
        r for r in ev.fairness["by_group"] if r["grouping"] == "colour" and r["segment"] == "(all)"
    ]
    assert {r["group"]: r["value"] for r in rows} == pytest.approx(expected)
    assert ev.fairness["verdict"] in ("pass", "violation", "inconclusive")
    mitigation = ev.fairness["mitigation"]  # fitted on out-of-fold rows, applied to test rows
    assert mitigation["constraint"] == "demographic_parity"
    assert mitigation["n_fit"] == len(result.train) and mitigation["n_eval"] == len(test)
    assert sum(g["n"] for g in mitigation["after"]["by_group"].values()) == len(test)


def test_report_is_self_contained_html_with_charts(arrests, tmp_path):
    _, ev = arrests
    paths = ev.save(tmp_path)
    html = paths["html"].read_text()
    assert len(html.encode()) <= 1_000_000  # plotly.js embedded gzipped (tests/report)
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)
    html += json.dumps(chart_specs(html))  # the chart specs travel gzipped too
    for title in (
        "ROC (test)",
        "Precision-recall (test)",
        "Calibration",
        "Confusion matrix",
        "Fairness",
    ):
        assert title in html
    assert json.loads(paths["json"].read_text())["task"] == "binary"


def test_irrelevant_feature_is_diagnosed(load):
    df = load("titanic").assign(noise=np.random.default_rng(0).normal(size=2207))
    config = config_from_dict(
        {
            "name": "t",
            "data": {"train": "(memory)", "target": "survived"},
            "train": {"models": ["linear"], "folds": 3, "learning_curve": False},
            "evaluate": {"bootstrap": 100},
        }
    )
    ev = evaluate(train(df, config=config))
    irrelevant = {d["column"] for d in ev.diagnostics if d["kind"] == "irrelevant_feature"}
    assert "noise" in irrelevant
    assert "gender" not in irrelevant


def test_a_large_binary_test_split_is_scored_from_counts_with_the_same_values(arrests, monkeypatch):
    """Above COUNTED_ROWS test rows the metrics come from a table of counts (the row
    bootstrap of ROC-AUC costs replicates x rows): the values are those of every row, the
    intervals those of the Poisson bootstrap over the same rows, and the dummy's too."""
    from tabloop.evaluate import _counted

    result, rows_ev = arrests
    monkeypatch.setattr(_counted, "COUNTED_ROWS", 10)
    counted_ev = evaluate(result)
    y = result.encode(result.test[result.model.target])
    scores = result.model.predict_scores(result.test)
    pred = (scores >= result.model.threshold).astype(int)
    expected = {
        "roc_auc": skm.roc_auc_score(y, scores),
        "pr_auc": skm.average_precision_score(y, scores),
        "log_loss": skm.log_loss(y, scores),
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0),
        "recall": skm.recall_score(y, pred),
    }
    for name, value in expected.items():
        entry = counted_ev.metrics[name]
        assert entry["value"] == pytest.approx(value, abs=1e-12), name
        assert entry["value"] == pytest.approx(rows_ev.metrics[name]["value"], abs=1e-12)
        # a different resampling of the same rows: intervals of about the same width
        width = entry["ci_high"] - entry["ci_low"]
        rows_width = rows_ev.metrics[name]["ci_high"] - rows_ev.metrics[name]["ci_low"]
        assert 0.6 * rows_width < width < 1.6 * rows_width, name
    assert counted_ev.metrics["confusion_matrix"] == rows_ev.metrics["confusion_matrix"]
    for name in ("roc_auc", "accuracy", "brier"):
        assert counted_ev.baseline[name]["value"] == pytest.approx(
            rows_ev.baseline[name]["value"], abs=1e-12
        )
    assert counted_ev.n_test == rows_ev.n_test == len(result.test)


def test_a_date_column_does_not_break_the_imputation_chart():
    """A date's parts (date_year, ...) are numbers the preprocessing derives itself; the
    chart of imputed values shows the table's own columns (it raised KeyError)."""
    from tests.stops import training_stops

    table = training_stops(1500, seed=3)
    table.loc[::7, "vehicle_age"] = np.nan
    config = config_from_dict(
        {
            "name": "stops",
            "data": {"train": "(memory)", "target": "found"},
            "features": {"drop": ["contraband"]},
            "train": {"models": ["linear"], "folds": 3, "learning_curve": False},
            "evaluate": {"bootstrap": 50, "importance": False},
        }
    )
    evaluation = evaluate(train(table, config=config))
    charted = [c["column"] for c in evaluation.charts["imputation"]]
    assert "vehicle_age" in charted and "date_year" not in charted
