"""Tables of counts: partitions merged give the table, and the metrics, of all the rows.

Expected values come from scikit-learn on the rows themselves; pooled scores stay within
the error bound the result states.
"""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from tabloop.evaluate import (
    MAX_CELLS,
    _cells,
    compact,
    count_cells,
    merge_cells,
    realised_from_cells,
    score_bins,
)
from tabloop.evaluate._cells import SCORE_BINS
from tabloop.exceptions import DataError

PARTS = [1, 3, 7]
COLUMNS = ["score", "y", "pred", "has_outcome", "count"]


def _binary(n: int, seed: int, *, decimals: int | None = 3) -> dict[str, np.ndarray]:
    """A scored binary split; a sixth of the rows have no outcome."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(np.int64)
    score = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    score = score if decimals is None else np.round(score, decimals)
    return {
        "y": y,
        "pred": (score >= 0.4).astype(np.int64),
        "score": score,
        "has_outcome": rng.random(n) >= 1 / 6,
        "segment": rng.choice(["a", "b", "c"], n),
    }


def _parts(rows: dict[str, np.ndarray], parts: int, **kwargs) -> list[pd.DataFrame]:
    return [
        count_cells(
            y=rows["y"][i],
            pred=rows["pred"][i],
            score=rows["score"][i],
            has_outcome=rows["has_outcome"][i],
            **kwargs,
        )
        for i in np.array_split(np.arange(len(rows["y"])), parts)
    ]


def test_a_table_has_one_row_per_distinct_key_with_its_count():
    table = count_cells(
        y=[1, 0, 1, 1, -1],
        pred=[1, 0, 1, 0, 1],
        score=[0.9, 0.1, 0.9, 0.3, 0.6],
        has_outcome=[True, True, True, False, True],
        by={"segment": np.array(["b", "a", "b", "a", "a"], dtype=object)},
    )
    assert list(table.columns) == ["segment", *COLUMNS]
    assert table.to_dict("list") == {
        "segment": ["a", "a", "a", "b"],
        "score": [0.1, 0.3, 0.6, 0.9],
        "y": [0, 1, -1, 1],
        "pred": [0, -1, 1, 1],  # without an outcome only the score is kept
        "has_outcome": [True, False, True, True],
        "count": [1, 1, 1, 2],
    }


def test_without_has_outcome_every_row_has_one_and_without_score_it_is_nan():
    table = count_cells(y=[0, 1, 1], pred=[0, 1, 1])
    assert list(table.columns) == COLUMNS
    assert table["has_outcome"].all() and table["score"].isna().all()
    assert table["count"].tolist() == [1, 2]


def test_regression_rows_without_outcome_drop_their_prediction_as_nan():
    table = count_cells(y=[1.5, np.nan], pred=[1.0, 2.0], has_outcome=[True, False])
    assert table["pred"].tolist()[0] == 1.0 and np.isnan(table["pred"].tolist()[1])


@pytest.mark.parametrize("parts", PARTS)
def test_merged_partitions_equal_the_table_of_all_rows(parts):
    rows = _binary(6000, 1)
    by = {"segment": rows["segment"]}
    whole = count_cells(
        y=rows["y"], pred=rows["pred"], score=rows["score"], has_outcome=rows["has_outcome"],
        by=by,
    )  # fmt: skip
    pieces = [
        count_cells(
            y=rows["y"][i],
            pred=rows["pred"][i],
            score=rows["score"][i],
            has_outcome=rows["has_outcome"][i],
            by={"segment": rows["segment"][i]},
        )  # fmt: skip
        for i in np.array_split(np.arange(6000), parts)
    ]
    merged = merge_cells(pieces)
    pd.testing.assert_frame_equal(merged, whole)
    if parts > 1:  # associative: merging merges gives the same table
        grouped = merge_cells([merge_cells(pieces[:1]), merge_cells(pieces[1:])])
        pd.testing.assert_frame_equal(grouped, whole)
    assert int(merged["count"].sum()) == 6000


@pytest.mark.parametrize("parts", PARTS)
def test_binary_metrics_from_merged_cells_equal_sklearn_on_the_labelled_rows(parts):
    rows = _binary(8000, 2)
    table = merge_cells(_parts(rows, parts))
    out = realised_from_cells(table, task="binary", classes=["no", "yes"], n_boot=100, seed=1)
    has = rows["has_outcome"]
    y, pred, score = rows["y"][has], rows["pred"][has], rows["score"][has]
    assert out["labelled"] == has.sum() and out["unknown_labels"] == 0
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
        "f1": skm.f1_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, score),
        "pr_auc": skm.average_precision_score(y, score),
        "brier": skm.brier_score_loss(y, score),
        "log_loss": skm.log_loss(y, score),
    }
    for name, value in expected.items():
        entry = out["metrics"][name]
        assert entry["value"] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        assert entry["ci_low"] <= value <= entry["ci_high"], name
    assert out["confusion_matrix"]["labels"] == ["no", "yes"]
    assert out["confusion_matrix"]["matrix"] == skm.confusion_matrix(y, pred).tolist()
    assert set(out["roc_curve"]) == {"fpr", "tpr"}
    whole = realised_from_cells(
        merge_cells(_parts(rows, 1)), task="binary", classes=["no", "yes"], n_boot=100, seed=1
    )
    assert out["metrics"] == whole["metrics"]  # intervals too: drawn from the merged counts


def test_regression_and_multiclass_metrics_equal_sklearn():
    rng = np.random.default_rng(4)
    y = rng.normal(size=900).round(1)
    pred = (y + rng.normal(scale=0.5, size=900)).round(1)
    table = merge_cells(
        [count_cells(y=y[:400], pred=pred[:400]), count_cells(y=y[400:], pred=pred[400:])]
    )
    out = realised_from_cells(table, task="regression", classes=[], n_boot=0)
    assert out["metrics"]["mae"]["value"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert out["metrics"]["r2"]["value"] == pytest.approx(skm.r2_score(y, pred))

    labels = rng.integers(0, 3, 900)
    guess = np.where(rng.random(900) < 0.7, labels, rng.integers(0, 3, 900))
    table = merge_cells(
        [
            count_cells(y=labels[:500], pred=guess[:500]),
            count_cells(y=labels[500:], pred=guess[500:]),
        ]
    )
    out = realised_from_cells(table, task="multiclass", classes=["a", "b", "c"], n_boot=0)
    assert out["metrics"]["accuracy"]["value"] == pytest.approx(skm.accuracy_score(labels, guess))
    assert out["metrics"]["f1_macro"]["value"] == pytest.approx(
        skm.f1_score(labels, guess, average="macro")
    )


def test_an_outcome_that_is_not_a_class_is_counted_and_left_out():
    table = count_cells(y=[1, 0, -1, -1], pred=[1, 0, 1, 0], score=[0.8, 0.2, 0.7, 0.1])
    out = realised_from_cells(table, task="binary", classes=[False, True], n_boot=0)
    assert out["labelled"] == 2 and out["unknown_labels"] == 2
    assert out["metrics"]["accuracy"]["value"] == 1.0


def test_no_labelled_row_gives_no_metrics_and_no_error():
    table = count_cells(y=[-1, -1], pred=[1, 0], score=[0.8, 0.2], has_outcome=[False, False])
    out = realised_from_cells(table, task="binary", classes=["no", "yes"], n_boot=10)
    assert out == {"labelled": 0, "unknown_labels": 0, "metrics": {}}


@pytest.mark.parametrize("parts", PARTS)
def test_many_scores_are_pooled_the_same_way_whatever_the_partitions(parts):
    rows = _binary(30_000, 3, decimals=None)
    limit = 20_000  # fewer cells than distinct scores: the merge pools them
    pieces = _parts(rows, parts, max_cells=limit)
    table = merge_cells(pieces, max_cells=limit)
    whole = merge_cells(_parts(rows, 1, max_cells=limit), max_cells=limit)
    assert score_bins(table) == score_bins(whole) == SCORE_BINS[0]
    pd.testing.assert_frame_equal(table, whole)

    out = realised_from_cells(table, task="binary", classes=["no", "yes"], n_boot=0)
    has = rows["has_outcome"]
    y, pred, score = rows["y"][has], rows["pred"][has], rows["score"][has]
    for name, exact in {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred),
        "recall": skm.recall_score(y, pred),
    }.items():  # the bins keep every score on its side of the threshold
        assert out["metrics"][name]["value"] == pytest.approx(exact, rel=1e-9)
    auc = out["metrics"]["roc_auc"]
    assert 0 < auc["error_bound"] < 1e-3
    assert abs(auc["value"] - skm.roc_auc_score(y, score)) <= auc["error_bound"]
    brier = skm.brier_score_loss(y, score)
    assert abs(out["metrics"]["brier"]["value"] - brier) <= 1 / SCORE_BINS[0]


def test_a_table_below_the_cell_limit_keeps_every_score():
    rows = _binary(5000, 5, decimals=None)
    table = merge_cells(_parts(rows, 3))
    assert len(table) < MAX_CELLS and score_bins(table) is None
    assert sorted(table["score"].unique()) == sorted(np.unique(rows["score"]))


def test_a_table_without_scores_is_never_called_pooled():
    rng = np.random.default_rng(3)
    table = count_cells(y=rng.normal(size=300), pred=rng.normal(size=300), max_cells=100)
    assert score_bins(table) is None and len(table) == 300
    assert score_bins(merge_cells([table, table], max_cells=100)) is None


def test_compact_sums_counts_over_the_keys_left_and_sorts_missing_last():
    table = pd.DataFrame(
        {
            "segment": np.array(["b", None, "a", "b"], dtype=object),
            "score": [0.5, np.nan, 0.5, np.nan],
            "count": [1, 2, 3, 4],
        }
    )
    out = compact(table)
    assert out["segment"].tolist()[:3] == ["a", "b", "b"] and pd.isna(out["segment"].iloc[3])
    assert out["score"].tolist()[:2] == [0.5, 0.5] and out["score"].iloc[2:].isna().all()
    assert out["count"].tolist() == [3, 1, 4, 2]
    by_score = compact(table, ["score"])
    assert by_score["count"].tolist() == [4, 6]


def test_arrays_of_different_lengths_are_rejected_with_their_shapes():
    with pytest.raises(DataError, match=r"one-dimensional arrays of one length; got shapes"):
        count_cells(y=[0, 1, 1], pred=[0, 1])
    with pytest.raises(ValueError, match=r"by\['chunk'\]"):
        count_cells(y=[0, 1], pred=[0, 1], by={"chunk": [1, 2, 3]})


def test_docstring_example_runs():
    assert doctest.testmod(_cells).failed == 0
