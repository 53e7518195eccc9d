"""README "Training on large tables": `train.sample` — a learning curve on growing nested
samples that stops when a step gains less than its standard error, a fixed sample size, or
every row; the chosen models refitted on every row the budget allows; the test split whole."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from tabloop.config import config_from_dict
from tabloop.exceptions import ConfigError
from tabloop.train import _sample, train
from tabloop.train._cv import make_pipeline

FEATURES = {"drop": ["date", "department", "race", "ethnicity", "sex", "searched",
                     "search_authorization", "contraband"]}  # fmt: skip


def stops(n: int, seed: int = 0) -> pd.DataFrame:
    from tabloop.examples import traffic_stops

    table = traffic_stops(n, seed=seed)
    table["found"] = table["contraband"].fillna(False).astype(bool)
    return table


def project(sample, models=("linear",), **split):
    return config_from_dict(
        {
            "name": "s",
            "data": {"train": "(memory)", "target": "found", "id": "stop_id"},
            "features": FEATURES,
            "split": {"strategy": "stratified", **split},
            "train": {"models": list(models), "sample": sample, "learning_curve": False},
        }
    )


# -- which sizes ----------------------------------------------------------------------------
def test_auto_uses_every_row_up_to_the_limit_and_grows_by_four_beyond():
    assert _sample.sizes_to_try("auto", 100_000) == ([100_000], None)
    assert _sample.sizes_to_try("auto", 2_000_000) == (
        [20_000, 80_000, 320_000, 1_280_000, 2_000_000],
        None,
    )
    assert _sample.sizes_to_try(None, 2_000_000) == ([2_000_000], None)
    assert _sample.sizes_to_try(5_000, 2_000_000) == ([5_000], None)


def test_a_sample_larger_than_the_data_uses_every_row_and_says_so():
    sizes, note = _sample.sizes_to_try(5_000, 1_600)
    assert sizes == [1_600]
    assert note == (
        "train.sample is 5,000 but the training split holds 1,600 rows: all of them are used"
    )
    result = train(stops(2_000), config=project(5_000))
    assert result.sampling["size"] == result.sampling["refit_size"] == 1_600
    assert f"sample: {note}" in result.notes


@pytest.mark.parametrize("bad", [5, True, "lots", -1000])
def test_a_bad_sample_setting_names_the_field(bad):
    with pytest.raises(ConfigError, match=r"train\.sample"):
        project(bad)


# -- which rows -----------------------------------------------------------------------------
def test_every_prefix_of_the_stratified_order_keeps_each_class_share():
    table = stops(20_000)
    y = table["found"].to_numpy().astype(int)
    order = _sample.sample_order(project(1_000), table, y, "binary")
    assert sorted(order) == list(range(len(table)))  # a permutation: samples nest
    share = y.mean()
    for n in (100, 1_000, 5_000, 12_345):
        assert abs(y[order[:n]].sum() - n * share) <= 2


def test_a_group_split_samples_whole_groups_and_a_time_split_the_latest_rows():
    table = stops(3_000)
    y = table["found"].to_numpy().astype(int)
    grouped = project(500, strategy="group", group="department")
    order = _sample.sample_order(grouped, table, y, "binary")
    place = np.empty(len(order), dtype=int)
    place[order] = np.arange(len(order))
    for _, rows in table.groupby("department").indices.items():
        spots = np.sort(place[rows])  # a group's rows are consecutive: a sample cuts one at most
        assert spots[-1] - spots[0] + 1 == len(spots)
    timed = project(500, strategy="time")
    timed.data.time = "date"
    order = _sample.sample_order(timed, table, y, "binary")
    dates = pd.to_datetime(table["date"]).to_numpy()
    assert dates[order[:500]].min() >= dates[order[500:]].max()


# -- what training does with them -----------------------------------------------------------
def test_a_fixed_sample_is_cross_validated_and_the_model_refitted_on_every_training_row():
    table = stops(4_000)
    config = project(1_000)
    result = train(table, config=config)
    assert result.sampling["size"] == 1_000 and result.sampling["refit_size"] == 3_200
    assert len(result.oof) == len(result.y_train) == len(result.train) == 1_000
    assert len(result.test) == 800  # the test split is never sampled
    # refitted on every training row: equal to the pipeline fitted on all 3,200 rows
    from tabloop.data import split

    train_rows, test_rows = split(table, target="found", seed=0)
    y = train_rows["found"].astype(int).to_numpy()
    X = train_rows.drop(columns=["found"])
    whole = clone(make_pipeline(config, "linear", "binary")).fit(X, y)
    sampled = clone(make_pipeline(config, "linear", "binary")).fit(
        X.loc[result.train.index], result.y_train
    )
    from tabloop.evaluate import evaluate

    report = evaluate(result).to_dict()
    assert report["model"]["sampling"] == result.sampling
    line = (
        "sample: cross-validated on 1,000 of 3,200 training rows and refitted on 3,200: "
        "train.sample is 1,000 rows"
    )
    assert {"kind": "budget", "severity": "info", "message": line} in report["diagnostics"]
    ours = result.model.predict_scores(test_rows)
    assert np.allclose(ours, whole.predict_proba(test_rows.drop(columns=["found"]))[:, 1])
    assert not np.allclose(ours, sampled.predict_proba(test_rows.drop(columns=["found"]))[:, 1])


@pytest.mark.parametrize("noise_from", [1, None])
def test_auto_stops_when_a_step_gains_less_than_its_standard_error(monkeypatch, noise_from):
    """The real rule on a real curve, with the verdict forced (a curve on 8,000 rows could
    go either way): noise at the second step stops the curve there, no noise runs it to
    every row; either way the reason quotes the measured gain and its error."""
    from tabloop.train import _sampled_cv

    monkeypatch.setattr(_sample, "AUTO_MIN_ROWS", 500)
    monkeypatch.setattr(_sample, "FIRST_SIZE", 400)
    compared = []

    def forced(previous, current):
        _, gain, error = _sample.gain_is_noise(previous, current)
        compared.append((gain, error))
        return noise_from is not None and len(compared) >= noise_from, gain, error

    monkeypatch.setattr(_sampled_cv, "gain_is_noise", forced)
    result = train(stops(8_000), config=project("auto", models=("linear",)))
    sampling = result.sampling
    curve = sampling["curve"]
    sizes = [400, 1_600] if noise_from == 1 else [400, 1_600, 6_400]
    assert [c["size"] for c in curve] == sizes
    for step in curve:
        assert step["se"] == pytest.approx(step["std"] / math.sqrt(5))
    for (gain, error), (a, b) in zip(compared, zip(curve, curve[1:], strict=False), strict=True):
        assert gain == pytest.approx(b["mean"] - a["mean"])
        assert error == pytest.approx(math.hypot(a["se"], b["se"]))
    if noise_from == 1:
        gain, error = compared[0]
        assert sampling["reason"] == (
            f"from 400 to 1,600 rows the best score gained {gain:+.4f}, less than its "
            f"standard error {error:.4f}"
        )
    else:
        assert sampling["reason"] == (
            "every step gained more than its standard error, up to all 6,400 rows"
        )
    assert sampling["size"] == curve[-1]["size"] == len(result.oof)
    assert result.learning_curve["sizes"] == [c["size"] for c in curve]
    if sampling["size"] < 6_400:
        assert any(note.startswith(f"sample: cross-validated on {sampling['size']:,} of 6,400")
                   for note in result.notes)  # fmt: skip


def test_auto_stops_before_a_step_the_budget_cannot_pay_for(monkeypatch):
    from tabloop.train import _sampled_cv

    monkeypatch.setattr(_sample, "AUTO_MIN_ROWS", 500)
    monkeypatch.setattr(_sample, "FIRST_SIZE", 400)
    asked = []

    def too_costly(seconds, size, next_size, left):
        asked.append((size, next_size))
        return f"the next step ({next_size:,} rows) would overrun"

    monkeypatch.setattr(_sampled_cv, "next_step_too_costly", too_costly)
    result = train(stops(8_000), config=project("auto"), time_budget=600)
    assert asked == [(400, 1_600)]
    assert [c["size"] for c in result.sampling["curve"]] == [400]
    assert result.sampling["reason"] == "the next step (1,600 rows) would overrun"
    assert result.sampling["size"] == 400


def test_the_next_step_is_not_taken_when_the_budget_left_cannot_pay_for_it():
    # 80,000 rows took 10 s: 320,000 are estimated at 10 * 4 * 1.1 = 44 s
    assert _sample.next_step_too_costly(10.0, 80_000, 320_000, left=44.5) is None
    assert _sample.next_step_too_costly(10.0, 80_000, 320_000, left=43.0) == (
        "the next step (320,000 rows) would take about 44 s, more than the 43 s left for "
        "cross-validation"
    )


def test_the_refit_grows_to_what_the_budget_left_allows():
    per_row = 2.0**-16  # 8 s (80% of the 10 s left) buys 8 * 2**16 = 524,288 rows
    grow = {"cv_size": 80_000, "rows": 2_000_000, "seconds_per_row": per_row}
    assert _sample.refit_rows(**grow, seconds_left=10.0) == 524_288
    assert _sample.refit_rows(**grow, seconds_left=None) == 2_000_000
    assert _sample.refit_rows(**grow, seconds_left=0.5) == 80_000  # never below the CV sample


def test_the_terminal_says_how_many_rows_the_models_saw_and_a_bad_setting_is_one_line(tmp_path):
    import yaml

    from tests.cli.test_cli import assert_one_line_error, run

    (tmp_path / "data").mkdir()
    stops(2_500).to_csv(tmp_path / "data" / "stops.csv", index=False)
    raw = {
        "name": "s",
        "data": {"train": "data/stops.csv", "target": "found", "id": "stop_id"},
        "features": FEATURES,
        "train": {"models": ["linear"], "sample": 600, "learning_curve": False},
    }
    (tmp_path / "tabloop.yaml").write_text(yaml.safe_dump(raw))
    result = run("train", "--no-register", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr  # 1: a requirement or the dummy verdict
    first = result.stdout.splitlines()[0]
    assert first == (
        "sample: cross-validated on 600 of 2,000 training rows and refitted on 2,000: "
        "train.sample is 600 rows"
    )
    raw["train"]["sample"] = "lots"
    (tmp_path / "tabloop.yaml").write_text(yaml.safe_dump(raw))
    assert_one_line_error(run("train", "--no-register", cwd=tmp_path), "train.sample")


def test_a_time_split_samples_the_latest_rows_of_a_zoned_column_and_missing_times_last():
    table = stops(1_000)
    table["date"] = pd.to_datetime(table["date"]).dt.tz_localize("Europe/Paris")
    table.loc[table.index[:10], "date"] = pd.NaT
    timed = project(500, strategy="time")
    timed.data.time = "date"
    y = table["found"].to_numpy().astype(int)
    order = _sample.sample_order(timed, table, y, "binary")
    dates = table["date"].iloc[order]
    assert dates.iloc[-10:].isna().all()  # missing times come last
    present = dates.iloc[:-10]
    assert present.is_monotonic_decreasing  # the latest first


def test_a_step_too_small_for_a_rare_class_is_skipped(monkeypatch):
    monkeypatch.setattr(_sample, "AUTO_MIN_ROWS", 500)
    monkeypatch.setattr(_sample, "FIRST_SIZE", 20)  # 20 rows hold about one positive
    table = stops(4_000)
    result = train(table, config=project("auto"))
    assert result.sampling["curve"][0]["size"] >= 80  # the 20-row step could not make 5 folds
