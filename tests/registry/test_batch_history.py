"""A lag model scores a batch file from the newer rows it carries, wherever in the file
they stand: chunking a file must not cut a customer's history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.examples import customer_events
from tabloop.registry import predict_file, register
from tabloop.train import train


@pytest.mark.slow
def test_newer_rows_early_in_a_file_are_the_history_of_forecasts_late_in_it(tmp_path):
    log = customer_events(60, months=12, seed=3)
    raw = {
        "name": "spend",
        "data": {"train": "(memory)", "target": "spend", "time": "month"},
        "features": {
            "drop": ["customer_id"],
            "lags": {"spend": {"by": "customer_id", "order": "month", "lags": [1, 2]}},
        },
        "train": {"models": ["linear"], "folds": 3, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 0, "importance": False},
        "profile": {"leakage_cutoff": 0.9},
        "registry": {"tracking_uri": f"sqlite:///{tmp_path / 'ml.db'}"},
    }
    config = config_from_dict(raw)
    trained = train(log, config=config)
    register(trained, config=config)

    # the month after training, with its spend (newer rows), first; the forecasts of the
    # month after that, spend unknown, last: they lie in other chunks of 25 rows
    last = pd.to_datetime(log["month"]).max()
    customers = log[["customer_id", "segment", "promo"]].drop_duplicates("customer_id")
    newer = customers.assign(month=(last + pd.DateOffset(months=1)).strftime("%Y-%m-%d"))
    newer = newer.assign(spend=np.arange(len(newer)) * 10.0)
    ahead = customers.assign(month=(last + pd.DateOffset(months=2)).strftime("%Y-%m-%d"))
    batch = pd.concat([newer, ahead.assign(spend=np.nan)], ignore_index=True)
    batch[log.columns.drop([c for c in log.columns if c not in batch])].to_csv(
        tmp_path / "new.csv", index=False
    )

    predict_file(tmp_path / "new.csv", tmp_path / "out.csv", config=config, chunk_rows=25)
    scored = pd.read_csv(tmp_path / "out.csv")
    whole = trained.model.predict_scores(pd.read_csv(tmp_path / "new.csv"))
    np.testing.assert_allclose(scored["prediction"], whole, rtol=1e-9)
    # and the newer rows matter: without them the forecasts read the training months
    alone = trained.model.predict_scores(ahead.reset_index(drop=True))
    assert not np.allclose(whole[len(newer) :], alone)
