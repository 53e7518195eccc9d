"""Monitoring a regression model from a file: the apartments of ../shared/datasets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import mean_absolute_error, mean_squared_error

from tabloop.config import config_from_dict
from tabloop.monitor import monitor
from tests.projects import fast_project, register_trained


@pytest.fixture(scope="module")
def apartments(load, tmp_path_factory):
    folder = tmp_path_factory.mktemp("apartments")
    monitoring = {"requirements": ["rmse <= 10", "mae <= 100000"], "bootstrap": 100}
    config = config_from_dict(fast_project("apartments", "m2_price", folder, monitor=monitoring))
    config._root = folder
    result = register_trained(load("apartments").drop(columns=["Unnamed: 0"]), config)
    return {"config": config, "result": result, "folder": folder}


def test_regression_window_from_a_file_against_sklearn_and_scipy(apartments, load):
    model = apartments["result"].model
    later = load("apartments_test").drop(columns=["Unnamed: 0"]).head(3000)
    later = later.assign(surface=later["surface"] * 1.3)  # the flats got bigger
    scored = model.predict_frame(later.drop(columns="m2_price"), validate=False)
    scored["outcome"] = later["m2_price"].where(np.arange(len(later)) % 2 == 0)
    path = apartments["folder"] / "production.parquet"
    scored.to_parquet(path)

    report = monitor(apartments["config"], data=path)
    data = report.to_dict()
    half = scored[scored["outcome"].notna()]
    metrics = data["performance"]["metrics"]
    assert data["window"]["labelled"] == len(half) == 1500
    assert metrics["mae"]["value"] == pytest.approx(
        mean_absolute_error(half["outcome"], half["prediction"])
    )
    assert metrics["rmse"]["value"] == pytest.approx(
        mean_squared_error(half["outcome"], half["prediction"]) ** 0.5
    )
    assert data["estimated"] is None and data["fairness"] is None
    columns = {c["column"]: c for c in data["drift"]["columns"]}
    assert columns["surface"]["drifted"] and not columns["floor"]["drifted"]
    reference = apartments["result"].train["surface"]
    assert columns["surface"]["statistic"] == pytest.approx(
        ks_2samp(reference, later["surface"]).statistic
    )
    assert columns["prediction"]["kind"] == "numeric"
    status = {r["expression"]: r["status"] for r in data["requirements"]}
    assert status == {"rmse <= 10": "fail", "mae <= 100000": "pass"}
    assert not report.passed
