"""The learning curve ends in a verdict and keeps to the time budget (counted in fits)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.train import train
from tabloop.train._curve import FRACTIONS, curve_verdict, learning_curve, plan_curve


def test_the_plan_is_the_richest_whose_estimated_fits_fit_the_time_left():
    """A fit of 1/8 of a fold costs 1/8 of a CV fold fit (2 s here)."""
    plan = plan_curve(2.0, 3.0, n_folds=5)
    # 3 folds x (1/8 + 1/4) x 2 s = 2.25 s fits; 2 folds x (1/8 + 1/4 + 1/2) x 2 s = 3.5 does not
    assert (plan.folds, plan.fractions, plan.fits) == (3, (0.125, 0.25), 6)
    assert plan.seconds == pytest.approx(2.25)
    full = plan_curve(2.0, None, n_folds=5)
    assert (full.folds, full.fractions, full.fits) == (3, FRACTIONS, 9)
    assert plan_curve(2.0, 0.2, n_folds=5) is None  # 1/8 x 2 s = 0.25 s > 0.2 s
    for left in np.linspace(0.3, 6.0, 40):
        chosen = plan_curve(2.0, left, n_folds=3)
        assert chosen.folds * sum(chosen.fractions) * 2.0 <= left


def test_the_verdict_follows_the_documented_rule_on_hand_made_scores():
    sizes = [100, 200, 400, 800]
    rising = np.array([[0.60, 0.62], [0.66, 0.67], [0.70, 0.71], [0.74, 0.76]])
    v = curve_verdict(sizes, rising, lower_is_better=False, metric="roc_auc")
    assert v["kind"] == "rising"
    assert v["per_doubling"] == pytest.approx(0.045)  # (0.04 + 0.05) / 2 over one doubling
    assert "still rising: +0.045 roc_auc per doubling" in v["message"]
    flat = np.array([[0.60, 0.62], [0.70, 0.71], [0.705, 0.70], [0.70, 0.712]])
    v = curve_verdict(sizes, flat, lower_is_better=False, metric="roc_auc")
    # gains 200->400: (+0.005, -0.01), 400->800: (-0.005, +0.012): within one se each
    assert (v["kind"], v["from_rows"]) == ("plateau", 200)
    assert "plateau from about 200 rows" in v["headline"]
    rmse = np.array([[50.0, 52.0], [40.0, 41.0], [30.0, 32.0]])
    v = curve_verdict([100, 200, 400], rmse, lower_is_better=True, metric="rmse")
    assert v["kind"] == "rising" and v["per_doubling"] == pytest.approx(-9.5)
    assert "still falling: -9.5 rmse per doubling" in v["message"]


@pytest.fixture(scope="module")
def german(load):
    config = config_from_dict(
        {
            "name": "german",
            "data": {"train": "(memory)", "target": "risk"},
            "train": {"models": ["linear"], "folds": 5, "ensemble": False},
            "evaluate": {"bootstrap": 50, "importance": False},
        }
    )
    return train(load("german_credit"), config=config)


def test_the_trained_curve_doubles_reuses_the_cv_and_states_its_verdict(german):
    curve = german.learning_curve
    best = next(r for r in german.cv if r.name == "linear")
    fold_rows = len(german.train) * 4 // 5
    assert curve["sizes"][-1] in (fold_rows, fold_rows + 1)
    assert curve["sizes"][:3] == [int(f * curve["sizes"][-1]) for f in FRACTIONS]
    assert curve["fits"] == curve["planned_fits"] == 9  # 3 folds x 3 sizes, the whole fold free
    assert curve["val_folds"][-1] == pytest.approx(best.fold_scores[:3])
    # the verdict, recomputed by hand from the per-fold scores
    scores = np.array(curve["val_folds"])
    gains = scores[1:] - scores[:-1]
    se = gains.std(axis=1, ddof=1) / np.sqrt(3)
    noise = ~(gains.mean(axis=1) > se)
    verdict = curve["verdict"]
    if noise[-1]:
        start = len(noise)
        while start > 0 and noise[start - 1]:
            start -= 1
        assert verdict["kind"] == "plateau"
        assert verdict["from_rows"] == curve["sizes"][start]
    else:
        assert verdict["kind"] == "rising"
        assert verdict["per_doubling"] == pytest.approx(gains[-1].mean())
    assert verdict["headline"].startswith("learning curve: ")


def test_no_time_left_fits_nothing_and_says_so(german):
    best = next(r for r in german.cv if r.name == "linear")
    X = german.train.drop(columns=["risk"])
    folds = [(np.arange(100, 800), np.arange(100))] * 3
    out = learning_curve(
        german.config,
        best,
        "binary",
        "roc_auc",
        X,
        german.y_train,
        folds,
        deadline=time.monotonic() - 1,
    )
    assert out.curve is None and out.skipped.startswith("learning curve: skipped, its smallest")


def test_the_sampled_curve_of_a_large_table_gets_the_same_kind_of_verdict():
    """train.sample: auto cross-validates 20,000, 80,000, ... rows: one score per size,
    each with its standard error; a step of x4 is two doublings."""
    from tabloop.train._curve import sampled_curve_verdict

    curve = {"metric": "roc_auc", "sizes": [20_000, 80_000, 320_000]}
    steps = [{"se": 0.002}, {"se": 0.002}, {"se": 0.001}]
    rising = sampled_curve_verdict({**curve, "val_mean": [0.80, 0.83, 0.85]}, steps)
    assert rising["kind"] == "rising"
    assert rising["per_doubling"] == pytest.approx(0.01)  # +0.02 over two doublings
    flat = sampled_curve_verdict({**curve, "val_mean": [0.80, 0.83, 0.831]}, steps)
    # +0.001 < hypot(0.002, 0.001): noise, so the plateau starts at 80,000 rows
    assert (flat["kind"], flat["from_rows"]) == ("plateau", 80_000)


def test_with_lags_the_small_sizes_fit_the_latest_rows_of_each_fold_not_random_ones():
    """A lag reads "k rows back" in the rows fitted on: a random 1/8 of a fold would thin
    the history. Each small point equals the model fitted by hand on the fold's latest
    rows (by the lags' order column) and scored on the fold's validation rows."""
    from sklearn.metrics import root_mean_squared_error

    from tabloop.data import split
    from tabloop.train._cv import fold_indices, make_pipeline

    rng = np.random.default_rng(0)
    v = np.zeros(400)
    for t in range(1, 400):
        v[t] = 0.8 * v[t - 1] + rng.normal()
    df = pd.DataFrame({"day": np.arange(400), "v": v, "noise": rng.normal(size=400)})
    df = df.sample(frac=1, random_state=3).reset_index(drop=True)
    config = config_from_dict(
        {
            "name": "series",
            "data": {"train": "(memory)", "target": "v", "time": "day"},
            "features": {"lags": {"v": {"order": "day", "lags": [1, 2]}}},
            "train": {"models": ["linear"], "folds": 3, "ensemble": False},
            "evaluate": {"bootstrap": 50, "importance": False},
        }
    )
    curve = train(df, config=config).learning_curve
    assert curve["subsample"] == "latest by day"
    part = split(df, target="v", strategy="time", test_size=0.2, time="day").train
    y = part["v"].to_numpy(float)
    folds = fold_indices(config, part, y, "regression")
    for size, scores in zip(curve["sizes"][:-1], curve["val_folds"], strict=False):
        for (fit, val), score in zip(folds, scores, strict=False):
            latest = fit[np.argsort(-part["day"].to_numpy()[fit])][:size]
            model = make_pipeline(config, "linear", "regression")
            model.fit(part.iloc[latest], y[latest])
            expected = root_mean_squared_error(y[val], model.predict(part.iloc[val]))
            assert score == pytest.approx(expected, rel=1e-9)


def test_a_skipped_curve_is_said_on_the_terminal_not_only_in_the_json(load, monkeypatch, tmp_path):
    """--time-budget 30 left no time for the curve: the note sat in evaluation.json alone.
    The planner is made to find no room (what a spent budget makes it do)."""
    from tabloop.train import _curve
    from tabloop.workflows import summary_sections, train_and_register

    monkeypatch.setattr(_curve, "plan_curve", lambda *args, **kwargs: None)
    config = config_from_dict(
        {
            "name": "german",
            "data": {"train": "(memory)", "target": "risk"},
            "train": {"models": ["linear"], "folds": 3, "ensemble": False},
            "evaluate": {"bootstrap": 20, "importance": False},
        }
    )
    run = train_and_register(config, df=load("german_credit"), out_dir=tmp_path, register=False)
    note = run.result.learning_curve_skipped
    assert note.startswith("learning curve: skipped, its smallest fit needs about")
    assert note in run.result.notes
    said = summary_sections(run)["diagnostics"]
    assert " ".join(line.strip() for line in said).startswith(note)
    assert all(len(line) <= 80 for line in said)
