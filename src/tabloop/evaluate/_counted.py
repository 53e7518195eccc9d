"""Test metrics from tables of counts: the test split of a ``train.engine: dask`` run
where it lies, and a large test split here.

On a cluster each worker scores the test rows of its pieces and returns a table of counts
(:func:`~tabloop.evaluate.count_cells`: outcome, prediction and positive-class score per
cell); the tables merge two at a time, so no process holds the test rows. A binary test
split of more than :data:`COUNTED_ROWS` rows in this process is counted the same way. The
metrics and their intervals come from the merged table
(:func:`~tabloop.evaluate.realised_from_cells`: exact values; a Poisson bootstrap over the
cells, its scores pooled into bins, so the intervals cost the same at any size), and the
dummy's from the same table with the dummy's constant prediction in every cell.

Binary metrics are exact up to the pooling of scores beyond ``MAX_CELLS`` distinct cells
(ROC-AUC then carries its ``error_bound``). Regression outcomes and predictions are rounded
to 1/10,000 of the outcome's spread before counting, which moves RMSE and MAE by less than
that. Multiclass tables hold labels only: their probability metrics (log loss, ROC-AUC)
come from the test sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabloop.evaluate._cells import compact, count_cells, merge_cells, realised_from_cells

if TYPE_CHECKING:
    from tabloop.scale import Runner
    from tabloop.train import TrainResult

#: Regression values are counted on a grid this fine relative to the outcome's spread.
REGRESSION_STEP = 1e-4
#: A binary test split larger than this is scored from counts in this process too: the
#: row bootstrap of ranking metrics costs O(replicates x rows) (100 s at 500,000 rows).
COUNTED_ROWS = 100_000


def counted_test_metrics(
    result: TrainResult,
    y: np.ndarray,
    scores: np.ndarray,
    *,
    dummy_scores: np.ndarray,
    runner: Runner | None,
    n_boot: int,
    confidence: float,
    seed: int,
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The metrics of ``result.model`` and of the dummy (whose scores ``dummy_scores`` are
    the same on every row) in :func:`score_metrics`'s shape, and the number of test rows:
    on every test row of ``result.source`` (on ``runner``; None: the cluster the run
    trained on), else on ``y`` and ``scores``, the test split here."""
    model, task = result.model, result.task
    step = None
    if task == "regression":
        step = REGRESSION_STEP * float(np.std(result.y_train)) or REGRESSION_STEP
    if result.source is None:
        table = _cells(task, y, scores, model.threshold, step)
    else:
        table = _on_workers(result, runner, step)
    codes = list(range(len(model.classes)))
    options = {"task": task, "classes": codes, "n_boot": n_boot, "seed": seed}
    realised = realised_from_cells(table, confidence=confidence, **options)
    dummy = _dummy_cells(table, task, dummy_scores, step)
    base = realised_from_cells(dummy, confidence=confidence, **options)
    return _metrics(realised), _metrics(base), int(realised["labelled"])


def _on_workers(result: TrainResult, runner: Runner | None, step: float | None) -> pd.DataFrame:
    from contextlib import ExitStack

    from tabloop.scale import open_runner, parse_cluster_address

    source = result.source
    assert source is not None
    with ExitStack() as stack:
        if runner is None:
            address = parse_cluster_address(source.address) if source.address else None
            runner = stack.enter_context(open_runner(address))
        return runner.map_reduce(
            _piece_cells,
            source.pieces,
            _merge,
            description="scoring the test split",
            model=runner.share(result.model),
            rule=source.rule,
            step=step,
        )


def _piece_cells(piece: Any, *, model: Any, rule: Any, step: float | None) -> pd.DataFrame:
    from tabloop.train import target_codes, test_pieces

    tables = [
        _cells(
            model.task,
            target_codes(chunk[model.target], model.classes, piece.path),
            model.predict_scores(chunk),
            model.threshold,
            step,
        )
        for chunk in test_pieces(piece, rule=rule)
        if len(chunk)
    ]
    return merge_cells(tables) if tables else count_cells(y=np.empty(0), pred=np.empty(0))


def _cells(
    task: str, y: np.ndarray, scores: np.ndarray, threshold: float | None, step: float | None
) -> pd.DataFrame:
    """The table of counts of test rows with outcomes ``y`` (class codes or numbers) and
    the model's ``scores``, decided as :func:`tabloop.evaluate.evaluate` decides."""
    if task == "regression":
        return count_cells(y=_grid(y, step), pred=_grid(scores, step))
    score = scores if task == "binary" else None
    return count_cells(y=y, pred=decide(task, scores, threshold), score=score)


def decide(task: str, scores: np.ndarray, threshold: float | None) -> np.ndarray:
    """Predictions from scores: the positive class at ``threshold`` (default 0.5), the most
    probable class, or the value itself."""
    if task == "binary":
        return (scores >= (0.5 if threshold is None else threshold)).astype(int)
    if task == "multiclass":
        return scores.argmax(axis=1)
    return scores


def _merge(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    return merge_cells([a, b])


def _grid(values: np.ndarray, step: float | None) -> np.ndarray:
    assert step is not None
    return np.round(np.asarray(values, dtype=float) / step) * step


def _dummy_cells(
    table: pd.DataFrame, task: str, scores: np.ndarray, step: float | None
) -> pd.DataFrame:
    """``table`` with the dummy's constant prediction (and score) in every cell; a binary
    dummy decides at 0.5, as in one process."""
    if task == "regression":
        pred, score = _grid(np.asarray([scores[0]]), step)[0], np.nan
    elif task == "binary":
        score = float(scores[0])
        pred = int(score >= 0.5)
    else:
        pred, score = int(np.argmax(scores[0])), np.nan
    dummy = table.assign(pred=pred, score=score)
    dummy.attrs = {}
    return compact(dummy)


def _metrics(realised: dict[str, Any]) -> dict[str, Any]:
    """:func:`realised_from_cells`'s answer in :func:`score_metrics`'s shape."""
    out = dict(realised["metrics"])
    if "confusion_matrix" in realised:
        out["confusion_matrix"] = realised["confusion_matrix"]
    return out
