"""Situation 2 over HTTP: two regression models served side by side, true values uploaded by
entity id in batches, MSE per variant per batch and in total against a constant-mean
baseline, each checked against scikit-learn."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from scipy import stats
from sklearn.metrics import mean_squared_error

from tabloop.config import config_from_dict
from tabloop.serve import create_app
from tests.cli.test_log_cli import UNKNOWN_PERIOD

TARGET = "m2_price"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, load: Any) -> dict[str, Any]:
    from tabloop.registry import register
    from tabloop.train import train

    folder = tmp_path_factory.mktemp("spend")
    df = load("apartments").rename(columns={"Unnamed: 0": "apartment"})
    df["apartment"] = "a" + df["apartment"].astype(str)
    raw = {
        "name": "prices",
        "data": {"train": "(memory)", "target": TARGET, "id": "apartment"},
        "train": {"folds": 3, "learning_curve": False, "ensemble": False},
        "registry": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"},
    }
    for models in (["linear"], ["lightgbm"]):
        config = config_from_dict({**raw, "train": {**raw["train"], "models": models}})
        register(train(df, config=config), config=config)
    serve = {
        "variants": {"A": "models:/prices@champion", "B": "models:/prices@challenger"},
        "sticky_by": "apartment",
        "store_url": f"sqlite:///{folder / 'log.db'}",
    }
    config = config_from_dict({**raw, "serve": serve})
    config._root = folder
    return {
        "config": config,
        "raw": raw,
        "folder": folder,
        "df": load("apartments_test").rename(columns={"Unnamed: 0": "apartment"}),
    }


def test_mse_per_variant_per_batch_and_total_match_sklearn(project):
    df = project["df"].head(400).copy()
    df["apartment"] = "t" + df["apartment"].astype(str)
    rows = json.loads(df.drop(columns=TARGET).to_json(orient="records"))
    truth = dict(zip(df["apartment"], df[TARGET].astype(float), strict=True))
    with TestClient(create_app(project["config"])) as http:
        answers = http.post("/predict", json={"records": rows}).json()["predictions"]
        for part in (slice(0, 150), slice(150, 350)):  # by entity id; 50 stay unlabelled
            items = [{"id": r["apartment"], "value": truth[r["apartment"]]} for r in rows[part]]
            assert http.post("/outcomes", json={"outcomes": items}).status_code == 200
        report = http.get("/report").json()
    assert report["metric"] == "mse"
    labelled = np.array([truth[r["apartment"]] for r in rows[:350]])
    mean = labelled.mean()  # the constant baseline: the mean of every labelled outcome
    for v in report["variants"]:
        mine = [i for i, a in enumerate(answers[:350]) if a["variant"] == v["name"]]
        y = [truth[rows[i]["apartment"]] for i in mine]
        pred = [answers[i]["prediction"] for i in mine]
        assert v["metrics"]["mse"]["value"] == pytest.approx(mean_squared_error(y, pred))
        assert v["baseline"]["mse"] == pytest.approx(mean_squared_error(y, [mean] * len(y)))
        first = [i for i in mine if i < 150]
        assert v["batches"][0]["metrics"]["mse"]["value"] == pytest.approx(
            mean_squared_error([truth[rows[i]["apartment"]] for i in first],
                               [answers[i]["prediction"] for i in first])
        )  # fmt: skip
        assert v["labelled"] == len(mine)
        assert v["predictions"] == sum(a["variant"] == v["name"] for a in answers)
    comparison = report["comparisons"][0]
    assert (comparison["control"], comparison["variant"]) == ("A", "B")
    assert comparison["ci_low"] <= comparison["difference"] <= comparison["ci_high"]


def test_customers_predicted_several_times_are_resampled_as_customers(project, tmp_path):
    """serve.sticky_by names a column that is neither a feature nor the id: the service logs
    it, and the report resamples customers, not rows, and says how many there are."""
    df = project["df"].head(360).copy()
    df["apartment"] = "s" + df["apartment"].astype(str)
    df["customer"] = [f"c{i % 120}" for i in range(len(df))]  # 120 customers, 3 rows each
    serve = {
        "variants": {"A": "models:/prices@champion", "B": "models:/prices@challenger"},
        "sticky_by": "customer",
        "store_url": f"sqlite:///{tmp_path / 'log.db'}",
    }
    config = config_from_dict({**project["raw"], "serve": serve})
    config._root = tmp_path
    rows = json.loads(df.drop(columns=TARGET).to_json(orient="records"))
    with TestClient(create_app(config)) as http:
        answers = http.post("/predict", json={"records": rows}).json()["predictions"]
        items = [
            {"prediction_id": a["prediction_id"], "value": float(y)}
            for a, y in zip(answers, df[TARGET], strict=True)
        ]
        assert http.post("/outcomes", json={"outcomes": items}).status_code == 200
        report = http.get("/report").json()
    frame = df.assign(
        variant=[a["variant"] for a in answers], prediction=[a["prediction"] for a in answers]
    )
    assert frame.groupby("customer")["variant"].nunique().max() == 1  # sticky
    assert report["cluster_by"] == "customer"
    parts = {}
    for v in report["variants"]:
        mine = frame[frame["variant"] == v["name"]]
        assert (v["labelled"], v["entities"]) == (len(mine), mine["customer"].nunique())
        # Welch on squared errors with each mean's cluster-robust variance, by hand
        e = (mine["prediction"] - mine[TARGET]) ** 2
        sums = (e - e.mean()).groupby(mine["customer"]).sum()
        g = len(sums)
        parts[v["name"]] = (e.mean(), g / (g - 1) * (sums**2).sum() / len(e) ** 2, g - 1)
    c = report["comparisons"][0]
    se = np.sqrt(parts["A"][1] + parts["B"][1])
    df_ = se**4 / (parts["A"][1] ** 2 / parts["A"][2] + parts["B"][1] ** 2 / parts["B"][2])
    assert c["difference"] == pytest.approx(parts["B"][0] - parts["A"][0])
    assert c["ci_high"] - c["ci_low"] == pytest.approx(2 * stats.t.ppf(0.975, df_) * se)
    # one sign convention: the JSON difference and the sentence agree (B − A)
    sign = "+" if c["difference"] > 0 else "\u2212"
    assert f"(B \u2212 A = {sign}" in c["verdict"]
    assert f"resampled by customer: B {c['variant_entities']} entities" in c["verdict"]


def test_a_period_that_does_not_exist_is_a_404_naming_the_periods(project, tmp_path):
    serve = {**project["config"].serve.model_dump(), "store_url": f"sqlite:///{tmp_path / 'l.db'}"}
    config = config_from_dict({**project["raw"], "serve": serve})
    config._root = tmp_path
    with TestClient(create_app(config)) as http:
        assert http.post("/admin/reset").status_code == 200
        answers = {
            path: http.get(path, params={"period": 9})
            for path in ("/report", "/dashboard", "/dashboard/data", "/outcomes")
        }
        existing = http.get("/report", params={"period": 1})
        beyond = http.get("/report", params={"period": "9" * 20})  # past 64-bit integers
    for path, answer in answers.items():
        assert answer.status_code == 404, path
        body = answer.json()
        assert body["error"] == "unknown_period" and body["field"] == "period"
        # word for word what `tabloop log --period 9` says on a log with the same periods
        assert body["message"] == UNKNOWN_PERIOD
    assert existing.status_code == 200 and existing.json()["period"] == 1
    assert beyond.status_code == 422 and beyond.json()["field"] == "period"
    assert (
        beyond.json()["message"]
        == f"period must be a number, 'current' or 'all'; got '{'9' * 20}'."
    )


def test_a_clustering_service_reports_segment_shares_per_variant(load, tmp_path):
    from tabloop.registry import register
    from tabloop.train import train

    df = load("apartments").drop(columns=["Unnamed: 0", TARGET])
    raw = {
        "name": "segments",
        "task": "clustering",
        "data": {"train": "(memory)"},
        "train": {"clusters": {"k_min": 2, "k_max": 4}, "learning_curve": False},
        "registry": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    }
    config = config_from_dict(raw)
    register(train(df, config=config), config=config)
    serve = {
        "variants": {"A": "models:/segments@champion", "B": "models:/segments/1"},
        "store_url": f"sqlite:///{tmp_path / 'log.db'}",
    }
    config = config_from_dict({**raw, "serve": serve})
    config._root = tmp_path
    rows = json.loads(df.head(300).to_json(orient="records"))
    with TestClient(create_app(config)) as http:
        answers = http.post("/predict", json={"records": rows}).json()["predictions"]
        report = http.get("/report")
        page = http.get("/dashboard")
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["task"] == "clustering" and body["control"] == "A"
    served = pd.DataFrame(answers)
    assert body["segments"] == sorted(served["prediction"].unique().tolist())
    for v in body["variants"]:
        mine = served.loc[served["variant"] == v["name"], "prediction"]
        assert v["predictions"] == len(mine)
        expected = mine.value_counts(normalize=True)
        assert {s["segment"]: s["share"] for s in v["segments"]} == pytest.approx(
            {s: float(expected.get(s, 0.0)) for s in body["segments"]}
        )
    assert "no variant is called better" in body["verdict"]
    assert page.status_code == 200 and "segment shares" in page.text
