"""README "Scaling out" / training: `tabloop train --cluster` on a real scheduler and
worker processes on 127.0.0.1. The workers read the Parquet folder, the models are
cross-validated on a sample, LightGBM is fitted on every training row across the workers,
the test metrics are those of every test row, and the registered model is an ordinary one
that scores anywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import accuracy_score, roc_auc_score

from tabloop.config import load_config
from tabloop.registry import predict
from tabloop.train._distributed import split_rule
from tabloop.workflows import train_and_register
from tests.cli.test_cli import assert_one_line_error, run
from tests.stops import DROP, training_stops

pytestmark = pytest.mark.slow

ROWS, FILES = 12_000, 3


def _project(folder, table, **train):
    (folder / "data").mkdir()
    size = len(table) // FILES
    for i in range(FILES):
        part = table.iloc[i * size : (i + 1) * size]
        part.to_parquet(folder / "data" / f"part-{i}.parquet", row_group_size=2000, index=False)
    project = {
        "name": "stops",
        "data": {"train": "data", "target": "found", "id": "stop_id"},
        "features": {"drop": DROP},
        "train": {"models": ["linear", "lightgbm"], "folds": 3, "sample": 3000, **train},
        "evaluate": {"bootstrap": 200, "importance": False},
        "registry": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"},
    }
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(project))
    return folder


@pytest.fixture(scope="module")
def trained(dask_cluster, tmp_path_factory):
    folder = _project(tmp_path_factory.mktemp("train-cluster"), training_stops(ROWS, seed=5))
    config = load_config(folder / "tabloop.yaml")
    run_ = train_and_register(config, cluster=dask_cluster.address)
    parts = [pd.read_parquet(p) for p in sorted((folder / "data").glob("*.parquet"))]
    rule = split_rule(config)
    test = pd.concat(
        [
            p[rule.is_test(p, str(path))]
            for p, path in zip(parts, sorted((folder / "data").glob("*.parquet")), strict=True)
        ]
    )
    return {"run": run_, "config": config, "folder": folder, "test": test}


def test_lightgbm_is_fitted_on_every_training_row_across_the_workers(trained):
    run_, test = trained["run"], trained["test"]
    n_train = ROWS - len(test)
    sampling = run_.result.sampling
    assert (sampling["rows"], sampling["size"], sampling["refit_size"]) == (n_train, 3000, n_train)
    assert "3,000 rows, read on the workers" in sampling["reason"]
    estimator = run_.result.model.members[0].pipelines[0].steps[-1][1]
    assert type(estimator).__module__ == "lightgbm.sklearn"  # the ordinary estimator
    trees = estimator.booster_.trees_to_dataframe()
    root = trees[(trees["tree_index"] == 0) & (trees["node_depth"] == 1)]["count"].item()
    # bagging draws 0.8 of the rows each tree: far more than the 3,000 cross-validated
    assert 0.75 * n_train < root < 0.85 * n_train
    assert (
        "linear: left out, train.engine dask fits lightgbm on the workers" in run_.result.warnings
    )


def test_the_test_metrics_are_those_of_every_test_row(trained):
    run_, test, config = trained["run"], trained["test"], trained["config"]
    evaluation = run_.evaluation
    assert evaluation.n_test == len(test)
    assert run_.version is not None and "champion" in run_.version.aliases
    scored = predict(test.drop(columns=["found"]), config=config)  # the registered model
    y = test["found"].to_numpy()
    metrics = evaluation.metrics
    assert metrics["roc_auc"]["value"] == pytest.approx(
        roc_auc_score(y, scored["probability"]), abs=1e-12
    )
    assert metrics["accuracy"]["value"] == pytest.approx(
        accuracy_score(y, scored["prediction"].astype(bool)), abs=1e-12
    )
    low, high = metrics["roc_auc"]["ci_low"], metrics["roc_auc"]["ci_high"]
    assert low < metrics["roc_auc"]["value"] < high
    # the dummy predicts the prior everywhere: chance ranking, the majority's accuracy
    assert evaluation.baseline["roc_auc"]["value"] == pytest.approx(0.5)
    assert evaluation.baseline["accuracy"]["value"] == pytest.approx(1 - y.mean())


def test_the_registered_model_scores_in_a_process_without_the_cluster(trained, tmp_path):
    folder, test = trained["folder"], trained["test"]
    rows = test.drop(columns=["found"]).head(500)
    rows.to_csv(tmp_path / "new.csv", index=False)
    done = run("predict", tmp_path / "new.csv", "-o", tmp_path / "out.csv", cwd=folder)
    assert done.returncode == 0, done.stderr
    expected = predict(rows, config=trained["config"])
    out = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_allclose(out["probability"], expected["probability"], rtol=1e-12)


def test_a_missing_target_in_a_workers_file_stops_the_run_naming_it(dask_cluster, tmp_path):
    table = training_stops(3000, seed=2)
    table["found"] = table["found"].astype(object)
    table.loc[2900, "found"] = None  # in the last of three files
    folder = _project(tmp_path, table)
    done = run("train", "--cluster", dask_cluster.address, cwd=folder)
    # row 900 of the third file (rows count from 0 after the header, as everywhere)
    assert_one_line_error(done, "part-2.parquet", "rows 900)", "'found' is missing")
    assert not (folder / "reports").exists()


@pytest.mark.parametrize(
    ("name", "target", "model"),
    [("hr", "status", "xgboost"), ("apartments", "m2_price", "lightgbm")],
)
def test_multiclass_and_regression_train_on_the_cluster(
    dask_cluster, tmp_path, load, name, target, model
):
    """HR (3 classes) through xgboost.dask, apartments (prices) through lightgbm.dask: the
    registered model is the ordinary estimator, and the counted test metrics are those of
    every test row (exact for labels; prices within the counting grid)."""
    from sklearn.metrics import accuracy_score, mean_absolute_error, root_mean_squared_error

    table = load(name).drop(columns=["Unnamed: 0"])
    (tmp_path / "data").mkdir()
    half = len(table) // 2
    paths = [tmp_path / "data" / f"part-{i}.parquet" for i in range(2)]
    table.iloc[:half].to_parquet(paths[0], index=False)
    table.iloc[half:].to_parquet(paths[1], index=False)
    project = {
        "name": name,
        "data": {"train": "data", "target": target},
        "train": {"models": [model], "folds": 3, "engine": "dask", "learning_curve": False},
        "split": {"strategy": "random"},
        "prepare": {"imputation": "median"},  # an imputer refuses a frame without rows
        "evaluate": {"bootstrap": 100, "importance": False},
        "registry": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    }
    (tmp_path / "tabloop.yaml").write_text(yaml.safe_dump(project))
    config = load_config(tmp_path / "tabloop.yaml")
    run_ = train_and_register(config, cluster=dask_cluster.address, register=False)
    estimator = run_.result.model.members[0].pipelines[0].steps[-1][1]
    assert type(estimator).__module__ == f"{model}.sklearn"
    rule = split_rule(config)
    test = pd.concat(
        [p[rule.is_test(p, str(path))] for p, path in zip(
            [table.iloc[:half].reset_index(drop=True), table.iloc[half:].reset_index(drop=True)],
            paths, strict=True,
        )]
    )  # fmt: skip
    assert run_.evaluation.n_test == len(test)
    frame = run_.result.model.predict_frame(test.drop(columns=[target]))
    metrics = run_.evaluation.metrics
    if model == "xgboost":
        expected = accuracy_score(test[target].astype(str), frame["prediction"].astype(str))
        assert metrics["accuracy"]["value"] == pytest.approx(expected, abs=1e-12)
        assert "log_loss" in metrics  # from the test sample (every test row here)
    else:
        spread = 1e-4 * run_.result.y_train.std()  # the counting grid
        rmse = root_mean_squared_error(test[target], frame["prediction"])
        mae = mean_absolute_error(test[target], frame["prediction"])
        assert metrics["rmse"]["value"] == pytest.approx(rmse, abs=spread)
        assert metrics["mae"]["value"] == pytest.approx(mae, abs=spread)


def test_when_the_budget_allows_less_a_uniform_share_of_the_rows_is_fitted(trained, dask_cluster):
    """README: the workers fit 'a uniform share of them when the rest of the budget allows
    no more' — a quarter here: LightGBM's first tree sees about 0.8 x a quarter of the
    training rows (bagging draws 0.8)."""
    from tabloop.scale import open_runner, parse_cluster_address
    from tabloop.train import make_pipeline
    from tabloop.train._distributed import fit_distributed

    result = trained["run"].result
    config = trained["config"]
    X = result.train.drop(columns=["found"])
    with open_runner(parse_cluster_address(dask_cluster.address)) as runner:
        pipe = fit_distributed(
            "lightgbm",
            make_pipeline(config, "lightgbm", "binary"),
            X,
            result.y_train,
            source=result.source,
            runner=runner,
            target="found",
            classes=result.model.classes,
            fraction=0.25,
        )
    trees = pipe.steps[-1][1].booster_.trees_to_dataframe()
    root = trees[(trees["tree_index"] == 0) & (trees["node_depth"] == 1)]["count"].item()
    quarter = 0.25 * result.source.train_rows
    assert 0.7 * quarter < root < 0.9 * quarter
