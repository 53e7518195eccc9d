"""Situation 5, forecasting: a time split on an event log in any row order, per-customer
lags declared in ``features.lags`` (kept by the leakage filter), and next month's spend
scored from the values remembered at training -- in process, in a batch and over HTTP."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import root_mean_squared_error

from tabloop.config import config_from_dict
from tabloop.examples import customer_events
from tabloop.train import train

LAGS = {"by": "customer_id", "order": "month", "lags": [1, 2, 3], "windows": [3, 6]}


def raw_config(*, lags: bool, **extra: Any) -> dict[str, Any]:
    features: dict[str, Any] = {"drop": ["customer_id"]}
    if lags:
        features["lags"] = {"spend": LAGS}
    return {
        "name": "spend",
        "data": {"train": "(memory)", "target": "spend", "time": "month"},
        "features": features,
        "train": {"models": ["linear"], "folds": 3, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 0, "importance": False},
        # the lags explain most of the spend alone: above this cut-off, flagged as leakage
        "profile": {"leakage_cutoff": 0.6},
        **extra,
    }


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return customer_events(150, months=18, seed=1)


@pytest.fixture(scope="module")
def shuffled(log: pd.DataFrame) -> pd.DataFrame:
    return log.sample(frac=1, random_state=4)


@pytest.fixture(scope="module")
def trained(shuffled: pd.DataFrame) -> Any:
    return train(shuffled, config=config_from_dict(raw_config(lags=True)))


def _keyed(result: Any, frame: pd.DataFrame) -> pd.Series:
    keys = pd.MultiIndex.from_frame(frame[["customer_id", "month"]])
    return pd.Series(result.model.predict_scores(frame), index=keys).sort_index()


def test_a_time_split_on_shuffled_rows_gives_the_sorted_files_results(log, shuffled, trained):
    on_sorted = train(log, config=config_from_dict(raw_config(lags=True)))
    assert set(trained.test.index) == set(on_sorted.test.index)
    assert trained.test["month"].min() > trained.train["month"].max()
    for mine, theirs in zip(trained.cv, on_sorted.cv, strict=True):
        np.testing.assert_allclose(mine.fold_scores, theirs.fold_scores, rtol=1e-9)
    pd.testing.assert_series_equal(
        _keyed(trained, trained.test), _keyed(on_sorted, on_sorted.test), rtol=1e-7
    )
    # by hand: 14 training months of 150 rows; TimeSeriesSplit(3) validates rows 525-1049,
    # 1050-1574 and 1575-2099; each cut moves back to its month's first row (450, 1050,
    # 1500), so the folds validate months 4-7, 8-10 and 11-14 and fit on all months before
    months = sorted(trained.train["month"].unique())
    assert len(months) == 14 and (trained.train["month"].value_counts() == 150).all()
    y = trained.train.set_index("month")["spend"]
    expected = []
    for first, last in ((3, 7), (7, 10), (10, 14)):
        fit, val = y.loc[months[:first]], y.loc[months[first:last]]
        expected.append(-root_mean_squared_error(val, np.full(len(val), fit.mean())))
    np.testing.assert_allclose(trained.cv[0].fold_scores, expected, rtol=1e-9)


def test_declared_lags_take_the_error_far_below_a_model_without_them(shuffled, trained):
    plain = train(shuffled, config=config_from_dict(raw_config(lags=False)))
    truth = trained.test["spend"].to_numpy()
    with_lags = root_mean_squared_error(truth, trained.model.predict_scores(trained.test))
    without = root_mean_squared_error(truth, plain.model.predict_scores(plain.test))
    assert with_lags < 0.45 * without
    # the leakage filter saw lags that alone explain most of the spend, and kept them
    select = trained.model.members[0].pipelines[0].named_steps["select"]
    flagged = {c for c, r in select.scores_.items() if r >= trained.config.profile.leakage_cutoff}
    assert flagged == {"spend_lag1", "spend_lag2", "spend_lag3", "spend_mean3", "spend_mean6"}
    assert flagged <= set(select.selected_)
    assert "spend" not in trained.model.inputs  # the target is history, not an input
    assert set(trained.model.inputs) == {"customer_id", "month", "segment", "promo"}


def test_next_month_is_scored_from_remembered_values_as_from_the_whole_log(shuffled, trained):
    request = pd.DataFrame(
        {"customer_id": [3, 7], "month": ["2025-07-01"] * 2, "segment": ["plus"] * 2, "promo": 0}
    )
    alone = trained.model.predict_scores(request)
    # the same rows after the whole training log, its spend carried in the frame
    whole = pd.concat([trained.train, request.assign(spend=np.nan)], ignore_index=True)
    np.testing.assert_allclose(alone, trained.model.predict_scores(whole)[-2:], rtol=1e-12)
    later = request.assign(month="2025-08-01")  # a month further: lag 1 is unknown
    far = trained.model.predict_scores(pd.concat([request, later], ignore_index=True))
    np.testing.assert_allclose(far[:2], alone, rtol=1e-12)
    assert not np.allclose(far[2:], alone)


def test_the_service_forecasts_next_month_from_customer_and_month_alone(tmp_path, trained):
    from tabloop.registry import register
    from tabloop.serve import create_app

    raw = raw_config(lags=True, registry={"tracking_uri": f"sqlite:///{tmp_path / 'ml.db'}"})
    config = config_from_dict(raw)
    register(trained, config=config)
    serving = config_from_dict({**raw, "serve": {"store_url": f"sqlite:///{tmp_path / 'l.db'}"}})
    serving._root = tmp_path
    rows = [
        {"customer_id": c, "month": "2025-07-01", "segment": s, "promo": 0}
        for c, s in ((3, "plus"), (11, "basic"), (40, "premium"))
    ]
    with TestClient(create_app(serving)) as http:
        answer = http.post("/predict", json={"records": rows})
    assert answer.status_code == 200, answer.text
    served = [p["prediction"] for p in answer.json()["predictions"]]
    expected = trained.model.predict_scores(pd.DataFrame(json.loads(json.dumps(rows))))
    np.testing.assert_allclose(served, expected, rtol=1e-9)
    history = trained.train[trained.train["customer_id"] == 3].sort_values("month")
    assert abs(served[0] - history["spend"].iloc[-1]) < abs(served[0] - trained.y_train.mean())
    # the lag step has no numpy replay: its pipeline takes the DataFrame path for preparation
    from tabloop.serve._compiled import compile_model

    (_, (plan,)), *_ = compile_model(trained.model).members
    assert plan.kind == "frame" and "LagFeatures" in plan.reason


def test_permutation_importance_of_a_lag_model_reads_the_target_history(trained):
    from tabloop.evaluate._importance import permutation_importance_table

    y = trained.test["spend"].to_numpy()
    table = {
        r["column"]: r
        for r in permutation_importance_table(trained.model, trained.test, y, metric="rmse")
    }
    # shuffling the customers hands each row another customer's past: the error more
    # than doubles (the drop in -RMSE exceeds the model's own cross-validated RMSE)
    assert table["customer_id"]["ci_low"] > -trained.cv[1].mean
    assert table["promo"]["ci_low"] > 0  # a 20% effect by construction
    # no column makes the model better when shuffled (a frame without its history did)
    assert all(r["ci_high"] > 0 for r in table.values())


def test_a_later_months_spend_never_moves_an_earlier_forecast(trained):
    test = trained.test
    cut = sorted(test["month"].unique())[1]
    later = test["month"] >= cut
    altered = test.assign(spend=test["spend"].where(~later, 0.0))
    before = trained.model.predict_scores(test)
    after = trained.model.predict_scores(altered)
    np.testing.assert_array_equal(before[~later.to_numpy()], after[~later.to_numpy()])
    first_later = (test["month"] == cut).to_numpy()
    np.testing.assert_array_equal(before[first_later], after[first_later])  # its own value
    assert not np.allclose(
        before[later.to_numpy() & ~first_later], after[later.to_numpy() & ~first_later]
    )


def test_rows_without_history_are_said_in_batch_scoring_and_in_the_service(tmp_path, trained):
    """An unknown customer, or a month before a customer's first, gets every lag missing:
    `tabloop predict` warns with their count, the service answers history: false."""
    from tabloop.registry import predict_file, register
    from tabloop.serve import create_app
    from tests.cli.test_cli import run

    rows = [
        {"customer_id": 3, "month": "2025-07-01", "segment": "plus", "promo": 0},
        {"customer_id": 9999, "month": "2025-07-01", "segment": "plus", "promo": 0},
        {"customer_id": 3, "month": "2023-01-01", "segment": "plus", "promo": 0},
    ]
    train_rows = trained.train
    # by hand: a row has history when its customer has a training row before its month
    expected = [
        bool(
            (
                (train_rows["customer_id"] == r["customer_id"]) & (train_rows["month"] < r["month"])
            ).any()
        )
        for r in rows
    ]
    assert expected == [True, False, False]
    assert trained.model.without_history(pd.DataFrame(rows)).tolist() == [False, True, True]

    raw = raw_config(lags=True, registry={"tracking_uri": f"sqlite:///{tmp_path / 'ml.db'}"})
    config = config_from_dict(raw)
    register(trained, config=config)

    # batch: a file that also carries an earlier month of customer 9999, with its spend
    batch = pd.DataFrame(
        [*rows, {"customer_id": 9999, "month": "2025-08-01", "segment": "plus", "promo": 0}]
    ).assign(spend=[np.nan, 50.0, np.nan, np.nan])
    batch.to_csv(tmp_path / "new.csv", index=False)
    done = predict_file(tmp_path / "new.csv", tmp_path / "out.csv", config=config)
    assert done["without_history"] == 2  # 9999 in July and 3 in 2023; 9999's August reads July
    (tmp_path / "tabloop.yaml").write_text(json.dumps(raw))
    cli = run("predict", "new.csv", "-o", "again.csv", cwd=tmp_path, columns=80)
    assert cli.returncode == 0, cli.stderr
    assert "warning: 2 of 4 rows have no history for features.lags" in " ".join(cli.stderr.split())
    no_lags = train(trained.train, config=config_from_dict(raw_config(lags=False)))
    assert no_lags.model.without_history(pd.DataFrame(rows)) is None

    serving = config_from_dict({**raw, "serve": {"store_url": f"sqlite:///{tmp_path / 'l.db'}"}})
    serving._root = tmp_path
    with TestClient(create_app(serving)) as http:
        answer = http.post("/predict", json={"records": rows})
    assert answer.status_code == 200, answer.text
    assert [p["history"] for p in answer.json()["predictions"]] == expected
