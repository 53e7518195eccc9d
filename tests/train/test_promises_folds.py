"""README: cross-validation is "group/time-aware like the split". A model of our own records
the rows it is fitted on and asked about (the pipeline keeps the frame's index), so the test
sees every fold as training ran it: with ``split.group`` no group is on both sides of a fold
(nor of the test split), with a time split every validation row is later than every row its
fold was fitted on (and every test row later than every training row)."""

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
    """Predicts the training mean; remembers the row labels of every fit and predict."""

    tabloop_family = "tree"

    def fit(self, X, y):
        CALLS.append(("fit", list(X.index)))
        self.p_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)

    def predict_proba(self, X):
        CALLS.append(("predict", list(X.index)))
        return np.tile([1 - self.p_, self.p_], (len(X), 1))
'''


@pytest.fixture
def recorder(user_module):
    return user_module("fold_recorder", RECORDER).CALLS


def folds_seen(calls: list[tuple[str, list]], k: int) -> list[tuple[set, set]]:
    """(fitted rows, validated rows) of the ``k`` cross-validation folds, in call order."""
    pairs = []
    for (kind_a, rows_a), (kind_b, rows_b) in zip(calls, calls[1:], strict=False):
        if kind_a == "fit" and kind_b == "predict" and len(pairs) < k:
            pairs.append((set(rows_a), set(rows_b)))
    assert len(pairs) == k, calls
    return pairs


def frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer": [f"c{i}" for i in rng.integers(0, 60, n)],
            "when": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.permutation(n), unit="h"),
            "x": rng.normal(size=n),
            "y": rng.integers(0, 2, n),
        }
    )


def config(split: dict) -> object:
    return config_from_dict(
        {
            "name": "folds",
            "data": {"train": "(memory)", "target": "y"},
            "features": {"drop": ["customer", "when"]},
            "split": split,
            "train": {
                "models": ["fold_recorder:Recorder"],
                "folds": 4,
                "ensemble": False,
                "learning_curve": False,
            },
        }
    )


def test_group_folds_never_put_one_group_on_both_sides(recorder):
    df = frame()
    result = train(df, config=config({"strategy": "group", "group": "customer"}))
    group = df["customer"]
    assert not set(group[result.train.index]) & set(group[result.test.index])
    folds = folds_seen(recorder, 4)
    for fitted, validated in folds:
        assert not set(group[list(fitted)]) & set(group[list(validated)])
    # the folds cover the training rows: each validated once
    validated = [row for _, rows in folds for row in rows]
    assert sorted(validated) == sorted(result.train.index)


@pytest.mark.parametrize(
    "order",
    ["by_time", "shuffled"],
)
def test_time_folds_validate_only_on_rows_later_than_every_fitted_row(recorder, order):
    df = frame()
    if order == "by_time":
        df = df.sort_values("when", ignore_index=True)
    result = train(df, config=config({"strategy": "time", "time": "when"}))
    when = df["when"]
    assert when[result.train.index].max() < when[result.test.index].min()
    for fitted, validated in folds_seen(recorder, 4):
        assert when[list(fitted)].max() < when[list(validated)].min()
