"""One reading of time behind the time split, the time folds, the time sample and
``features.lags``: a table whose dates pandas could read two ways (a first value with day 13
in day/month order, texts with different UTC offsets) is ordered alike by all of them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.data import split
from tabloop.prepare import LagFeatures
from tabloop.train import _sample
from tabloop.train._cv import fold_indices

HOURS = 40


def _offsets() -> pd.DataFrame:
    """One row an hour; each time written with a UTC offset of 0, +2 or -5 hours, so the
    text order is not the time order; rows shuffled."""
    rng = np.random.default_rng(0)
    utc = pd.date_range("2024-03-01", periods=HOURS, freq="h")
    shift = rng.choice([0, 2, -5], HOURS)
    texts = [
        (t + pd.Timedelta(hours=int(h))).strftime("%Y-%m-%dT%H:%M:%S") + f"{int(h):+03d}:00"
        for t, h in zip(utc, shift, strict=True)
    ]
    df = pd.DataFrame({"when": texts, "x": rng.normal(size=HOURS), "utc": utc})
    df["y"] = df["x"] + rng.normal(size=HOURS)
    return df.sample(frac=1, random_state=1).reset_index(drop=True)


def _config(time: str = "when"):
    return config_from_dict(
        {
            "name": "t",
            "data": {"train": "t.csv", "target": "y", "time": time},
            "split": {"test_size": 0.25},
            "train": {"folds": 3},
        }
    )


def test_texts_with_several_utc_offsets_are_split_folded_and_sampled_in_utc_order():
    df = _offsets()
    parts = split(df, target="y", strategy="time", test_size=0.25, time="when")
    latest = df["utc"].sort_values().iloc[-10:]
    assert sorted(parts.test["utc"]) == sorted(latest)  # the 10 latest hours in UTC
    train = parts.train.reset_index(drop=True)
    folds = fold_indices(_config(), train, train["y"].to_numpy(), "regression")
    for fit, val in folds:
        assert train["utc"].iloc[fit].max() < train["utc"].iloc[val].min()
    order = _sample.sample_order(_config(), train, train["y"].to_numpy(), "regression")
    assert train["utc"].iloc[order].tolist() == sorted(train["utc"], reverse=True)


def test_lags_of_offset_times_count_back_in_utc():
    df = _offsets()
    spec = {"x": {"order": "when", "lags": [1], "calendar": []}}
    out = LagFeatures(lags=spec).fit_transform(df)
    by_time = df.assign(lag=out["x_lag1"]).sort_values("utc")
    np.testing.assert_array_equal(by_time["lag"].to_numpy()[1:], by_time["x"].to_numpy()[:-1])
    assert np.isnan(by_time["lag"].iloc[0])


def test_the_time_sample_reads_ambiguous_dates_as_the_time_split_does():
    # day/month texts; the first has day 13, from which pandas alone would infer %d/%m
    days = pd.date_range("2024-01-01", periods=24, freq="D")
    texts = ["13/01/2024", *(d.strftime("%d/%m/%Y") for d in days if d.day != 13)]
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"when": texts, "x": rng.normal(size=len(texts))})
    df["y"] = df["x"]
    config = _config()
    parts = split(df, target="y", strategy="time", test_size=0.25, time="when")
    order = _sample.sample_order(config, df, df["y"].to_numpy(), "regression")
    newest = set(df.index[order[: len(parts.test)]])
    assert newest == set(parts.test.index)


@pytest.mark.parametrize("seed", [0, 1])
def test_numeric_times_keep_their_order(seed):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"step": rng.permutation(30), "x": rng.normal(size=30)})
    df["y"] = df["x"]
    order = _sample.sample_order(_config("step"), df, df["y"].to_numpy(), "regression")
    assert df["step"].iloc[order].tolist() == list(range(29, -1, -1))
