"""Situation 2 over HTTP: two regression models served side by side, true values uploaded by
entity id in batches, MSE per variant per batch and in total against a constant-mean
baseline, each checked against scikit-learn."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import mean_squared_error

from tabloop.config import config_from_dict
from tabloop.serve import create_app

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
