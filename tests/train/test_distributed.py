"""``train.engine: dask`` without a cluster: the row-by-row split, the bottom-k sample read
while the pieces are read (in this process here; on workers in tests/scale), and the
settings it refuses."""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.data import Piece
from tabloop.exceptions import ConfigError, TargetError, TrainError
from tabloop.scale import InProcess
from tabloop.train import train
from tabloop.train._distributed import (
    SplitRule,
    _merge_samples,
    _sample_piece,
    every_piece_has_every_class,
    read_sample,
    split_rule,
    target_codes,
)
from tests.stops import training_stops


def _config(root, **train):
    config = config_from_dict(
        {
            "name": "stops",
            "data": {"train": "data", "target": "found"},
            "train": {"models": ["lightgbm"], "engine": "dask", **train},
        }
    )
    config._root = root
    return config


@pytest.fixture(scope="module")
def stops_folder(tmp_path_factory):
    """10,000 stops in one Parquet file of 10 row groups, and the same file whole."""
    root = tmp_path_factory.mktemp("dask-train")
    (root / "data").mkdir()
    table = training_stops(10_000, seed=3)
    table.to_parquet(root / "data" / "stops.parquet", row_group_size=1000)
    return root, table


def test_the_split_of_a_row_does_not_depend_on_the_chunk_it_is_read_in():
    frame = pd.DataFrame({"x": np.arange(20_000)})
    rule = SplitRule(test_size=0.2, seed=0)
    whole = rule.is_test(frame, "a.parquet")
    halves = np.r_[
        rule.is_test(frame.iloc[:7000], "a.parquet"), rule.is_test(frame.iloc[7000:], "a.parquet")
    ]
    np.testing.assert_array_equal(whole, halves)
    # a binomial share: 0.2 within 4.5 standard errors (0.0028 at 20,000 rows)
    assert abs(whole.mean() - 0.2) < 0.0127
    # another seed or another file decides independently
    other = rule.is_test(frame, "b.parquet")
    assert abs((whole & other).mean() - 0.04) < 0.006
    reseeded = SplitRule(test_size=0.2, seed=1).is_test(frame, "a.parquet")
    assert abs((whole & reseeded).mean() - 0.04) < 0.006
    # the sample keys are independent of the split: a quarter of the training rows
    keys = rule.sample_keys(frame, "a.parquet")
    assert abs((keys[~whole] < 0.25).mean() - 0.25) < 0.015


def test_a_group_stays_on_one_side_however_its_value_is_spelled():
    rule = SplitRule(test_size=0.3, seed=0, group="customer")
    ints = pd.DataFrame({"customer": np.repeat(np.arange(500), 4)})
    texts = pd.DataFrame(
        {"customer": ints["customer"].astype(str).to_numpy()}, index=ints.index + 9999
    )
    a, b = rule.is_test(ints, "a.csv"), rule.is_test(texts, "b.csv")
    np.testing.assert_array_equal(a, b)  # 5 in one file and "5" in another: one customer
    per_customer = pd.Series(a).groupby(ints["customer"]).nunique()
    assert (per_customer == 1).all()
    assert 0.2 < a.mean() < 0.4


def test_the_sample_is_the_rows_with_the_smallest_keys_whatever_the_pieces(stops_folder):
    root, table = stops_folder
    path = str(root / "data" / "stops.parquet")
    rule = SplitRule(test_size=0.2, seed=0)
    options = {"rule": rule, "target": "found", "train_rows": 700, "test_rows": 150}
    whole = _sample_piece(Piece(path, ".parquet", 0, 10_000, tuple(range(10))), **options)
    parts = [
        _sample_piece(Piece(path, ".parquet", 1000 * g, 1000, (g,)), **options) for g in range(10)
    ]
    forward = functools.reduce(_merge_samples, parts)
    backward = functools.reduce(_merge_samples, parts[::-1])
    # computed on the whole table at once: the 700 training rows with the smallest keys
    keys = rule.sample_keys(table, path)
    is_test = rule.is_test(table, path)
    expected_train = table.index[~is_test][np.argsort(keys[~is_test], kind="stable")[:700]]
    expected_test = table.index[is_test][np.argsort(keys[is_test], kind="stable")[:150]]
    for sample in (whole, forward, backward):
        assert list(sample.train.index) == list(expected_train)
        assert list(sample.test.index) == list(expected_test)
        assert (sample.train_rows, sample.test_rows) == (int((~is_test).sum()), int(is_test.sum()))
    pd.testing.assert_frame_equal(
        forward.train.drop(columns="__tabloop_sample_key__"),
        table.loc[expected_train],
        check_dtype=False,
    )


def test_read_sample_returns_the_split_sample_and_the_counts(stops_folder):
    root, table = stops_folder
    frame, is_test, source = read_sample(_config(root), InProcess(), train_rows=2000, test_rows=500)
    assert (len(frame), int(is_test.sum())) == (2500, 500)
    assert source.train_rows + source.test_rows == 10_000
    assert list(frame.columns) == list(table.columns)
    expected = split_rule(_config(root)).is_test(table, str(root / "data" / "stops.parquet"))
    assert source.test_rows == expected.sum()


def test_a_missing_target_on_a_worker_names_its_file_and_rows(tmp_path):
    (tmp_path / "data").mkdir()
    table = training_stops(3000, seed=1)
    table["found"] = table["found"].astype(object)
    table.loc[[17, 2500], "found"] = None
    table.to_parquet(tmp_path / "data" / "part.parquet")
    with pytest.raises(
        TargetError, match=r"missing in 2 row\(s\) of '.*part.parquet' \(rows 17, 2500\)"
    ):
        read_sample(_config(tmp_path), InProcess(), train_rows=500, test_rows=100)


def test_the_dask_engine_needs_a_cluster_and_reads_its_own_data(stops_folder):
    root, table = stops_folder
    with pytest.raises(TrainError, match="needs a cluster: set --cluster"):
        train(config=_config(root), runner=InProcess())
    with pytest.raises(TrainError, match="reads data.train on the workers"):
        train(table, config=_config(root))


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        (
            {"train": {"models": ["linear", "catboost"]}},
            "train.models ['linear', 'catboost'] has no model",
        ),
        ({"split": {"strategy": "time"}, "data": {"time": "date"}}, "split.strategy 'time'"),
        ({"train": {"imbalance": "smote"}}, "train.imbalance 'smote'"),
        ({"prepare": {"imputation": "multiple"}}, "prepare.imputation 'multiple'"),
        ({"data": {"target": None}, "task": "clustering"}, "data.target is not set"),
    ],
)
def test_settings_the_workers_cannot_follow_are_refused(section, fragment):
    raw = {
        "name": "stops",
        "data": {"train": "data", "target": "found", **section.get("data", {})},
        "train": {"models": ["lightgbm"], **section.get("train", {}), "engine": "dask"},
        **{k: v for k, v in section.items() if k not in ("data", "train")},
    }
    with pytest.raises(ConfigError, match=re.escape(f"train.engine 'dask': {fragment}")):
        config_from_dict(raw)
    # the same project asked for --cluster on the command line
    local = {**raw, "train": {**raw["train"], "engine": "local"}}
    with pytest.raises(ConfigError, match=re.escape(f"--cluster: train.engine 'dask': {fragment}")):
        config_from_dict(local).on_cluster()


def test_a_table_too_big_for_memory_is_sampled_while_read_in_one_process(stops_folder, monkeypatch):
    """The estimate (rows x columns x bytes per cell) is set against a tiny share of the
    machine's memory: training reads a uniform sample piece by piece, and the evaluation
    scores every test row from counts, as it reads them."""
    from sklearn.metrics import roc_auc_score

    from tabloop.evaluate import evaluate
    from tabloop.train import _distributed

    root, table = stops_folder
    config = _config(
        root, engine="local", sample=2000, models=["linear"], folds=3, learning_curve=False
    )
    config = config.model_copy(
        update={"features": config.features.model_copy(update={"drop": ["contraband"]})}
    )
    assert _distributed.too_big_to_load(config) is None  # 10,000 rows fit anywhere
    monkeypatch.setattr(_distributed, "MEMORY_SHARE", 1e-9)
    assert "data.train holds about 10,000 rows x 15 columns" in _distributed.too_big_to_load(config)
    result = train(config=config)
    path = str(root / "data" / "stops.parquet")
    is_test = split_rule(config).is_test(table, path)
    sampling = result.sampling
    assert (sampling["rows"], sampling["size"]) == (int((~is_test).sum()), 2000)
    assert sampling["reason"].startswith("data.train holds about 10,000 rows x 15 columns")
    assert "a uniform sample of 2,000 training rows was read" in sampling["reason"]
    evaluation = evaluate(result)
    test = table[is_test]
    assert evaluation.n_test == len(test) == result.source.test_rows
    scores = result.model.predict_scores(test)
    assert evaluation.metrics["roc_auc"]["value"] == pytest.approx(
        roc_auc_score(test["found"], scores), abs=1e-12
    )
    # what the user asked for: every row (train.sample null) is loaded whatever its size
    everything = config.model_copy(
        update={"train": config.train.model_copy(update={"sample": None})}
    )
    assert _distributed.too_big_to_load(everything) is None


def test_a_moved_project_keeps_its_split_and_sample(stops_folder, tmp_path):
    """Files are named relative to data.train's folder: the same table elsewhere gives the
    same test rows and the same sample (a retrain in another checkout must not train on
    the old test rows)."""
    import shutil

    root, _ = stops_folder
    shutil.copytree(root / "data", tmp_path / "elsewhere" / "data")
    here = read_sample(_config(root), InProcess(), train_rows=800, test_rows=200)
    there = read_sample(_config(tmp_path / "elsewhere"), InProcess(), train_rows=800, test_rows=200)
    pd.testing.assert_frame_equal(here[0], there[0])
    np.testing.assert_array_equal(here[1], there[1])


def test_a_piece_without_a_class_is_refused_before_lightgbm_fits_on_the_workers(tmp_path):
    (tmp_path / "data").mkdir()
    table = training_stops(4000, seed=4)
    table[table["found"]].to_parquet(tmp_path / "data" / "a-found.parquet")
    table[~table["found"]].to_parquet(tmp_path / "data" / "b-not-found.parquet")
    _, _, source = read_sample(_config(tmp_path), InProcess(), train_rows=500, test_rows=100)
    with pytest.raises(
        TrainError, match=r"a-found.parquet' from row 0 hold no target value False;"
    ):
        every_piece_has_every_class(source, [False, True])
    every_piece_has_every_class(source, [])  # regression: no classes to miss


def test_a_regression_target_that_is_not_a_number_names_its_row_and_file():
    values = pd.Series(["12.5", "7", "n/a?"], index=[40, 41, 42])
    with pytest.raises(TrainError, match=r"Row 42 of 'part.csv' has target value 'n/a\?'"):
        target_codes(values, [], "part.csv")
    np.testing.assert_array_equal(target_codes(values.iloc[:2], [], "part.csv"), [12.5, 7.0])


def test_a_fixed_sample_larger_than_the_table_uses_every_row_and_says_so(stops_folder, monkeypatch):
    from tabloop.train import _distributed

    root, table = stops_folder
    monkeypatch.setattr(_distributed, "MEMORY_SHARE", 1e-9)  # read in pieces, here
    config = _config(root, engine="local", sample=50_000, models=["linear"], folds=3)
    config = config.model_copy(
        update={"features": config.features.model_copy(update={"drop": ["contraband"]})}
    )
    config = config.model_copy(
        update={"train": config.train.model_copy(update={"learning_curve": False})}
    )
    sampling = train(config=config).sampling
    train_rows = sampling["rows"]
    assert sampling["size"] == train_rows < 10_000
    assert (
        f"train.sample is 50,000 but the training split holds {train_rows:,} rows: all of "
        "them are used" in sampling["reason"]
    )
