"""README: "Preparation (... imputation, encoding ...) is part of each model's pipeline, so it
is fitted inside every training fold." A model of our own records the frames training hands
it: in every fold, a missing value is filled with the median of that fold's fitting rows
only, on the fitting rows and on the validation rows alike (never with a statistic that saw
the validation rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.train import train

RECORDER = '''
import numpy as np

CALLS = []


class Recorder:
    """Predicts the training mean; keeps a copy of every frame it is fitted on or asked."""

    tabloop_family = "tree"

    def fit(self, X, y):
        CALLS.append(("fit", X.copy()))
        self.p_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)

    def predict_proba(self, X):
        CALLS.append(("predict", X.copy()))
        return np.tile([1 - self.p_, self.p_], (len(X), 1))
'''

K = 4


@pytest.fixture
def recorder(user_module):
    return user_module("prep_recorder", RECORDER).CALLS


def test_median_imputation_is_fitted_on_each_folds_fitting_rows_only(recorder):
    rng = np.random.default_rng(1)
    n = 800
    x = rng.lognormal(size=n)
    x[rng.random(n) < 0.25] = np.nan
    df = pd.DataFrame({"x": x, "z": rng.normal(size=n), "y": rng.integers(0, 2, n)})
    config = config_from_dict(
        {
            "name": "prep",
            "data": {"train": "(memory)", "target": "y"},
            "prepare": {"imputation": "median", "missing_indicators": False},
            "train": {
                "models": ["prep_recorder:Recorder"],
                "folds": K,
                "ensemble": False,
                "learning_curve": False,
            },
        }
    )
    result = train(df, config=config)
    pairs = [
        (fitted, asked)
        for (kind_a, fitted), (kind_b, asked) in zip(recorder, recorder[1:], strict=False)
        if kind_a == "fit" and kind_b == "predict"
    ][:K]
    assert len(pairs) == K
    all_rows_median = np.nanmedian(df.loc[result.train.index, "x"])
    for fitted, asked in pairs:
        raw_fit, raw_val = df.loc[fitted.index, "x"], df.loc[asked.index, "x"]
        median = np.nanmedian(raw_fit)  # the fold's fitting rows only
        assert median != all_rows_median  # so the check can tell them apart
        assert not fitted["x"].isna().any() and not asked["x"].isna().any()
        # observed values pass unchanged; gaps get the fitting rows' median, on both sides
        np.testing.assert_array_equal(fitted["x"][raw_fit.notna()], raw_fit.dropna())
        assert (fitted["x"][raw_fit.isna()] == median).all()
        assert raw_val.isna().sum() > 0
        assert (asked["x"][raw_val.isna()] == median).all()
