"""The test split of a ``train.engine: dask`` run, scored where it lies.

Each worker scores the test rows of its pieces and returns a table of counts
(:func:`~tabloop.evaluate.count_cells`: outcome, prediction and positive-class score per
cell); the tables merge two at a time and the metrics with their intervals come from the
merged table (:func:`~tabloop.evaluate.realised_from_cells`, a Poisson bootstrap over the
cells), so no process holds the test rows. The dummy's metrics come from the same table
with the dummy's constant prediction in every cell.

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


def test_split_metrics(
    result: TrainResult,
    runner: Runner | None,
    *,
    dummy_scores: np.ndarray,
    n_boot: int,
    seed: int,
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The metrics of ``result.model`` and of the dummy (whose scores on a row are
    ``dummy_scores``, the same on every row) on every test row of ``result.source``, and
    the number of test rows. ``runner`` None opens the cluster the run trained on."""
    from contextlib import ExitStack

    from tabloop.scale import open_runner, parse_cluster_address

    source, model, task = result.source, result.model, result.task
    assert source is not None
    step = None
    if task == "regression":
        step = REGRESSION_STEP * float(np.std(result.y_train)) or REGRESSION_STEP
    with ExitStack() as stack:
        if runner is None:
            address = parse_cluster_address(source.address) if source.address else None
            runner = stack.enter_context(open_runner(address))
        table = runner.map_reduce(
            _piece_cells,
            source.pieces,
            _merge,
            description="scoring the test split",
            model=runner.share(model),
            rule=source.rule,
            step=step,
        )
    codes = list(range(len(model.classes)))
    realised = realised_from_cells(table, task=task, classes=codes, n_boot=n_boot, seed=seed)
    dummy = _dummy_cells(table, task, dummy_scores, step)
    base = realised_from_cells(dummy, task=task, classes=codes, n_boot=n_boot, seed=seed)
    return _metrics(realised), _metrics(base), int(realised["labelled"])


def _piece_cells(piece: Any, *, model: Any, rule: Any, step: float | None) -> pd.DataFrame:
    from tabloop.train import target_codes, test_pieces

    tables = []
    for chunk in test_pieces(piece, rule=rule):
        if not len(chunk):
            continue
        scores = model.predict_scores(chunk)
        y = target_codes(chunk[model.target], model.classes, piece.path)
        if model.task == "regression":
            y, pred, score = _grid(y, step), _grid(scores, step), None
        elif model.task == "binary":
            threshold = 0.5 if model.threshold is None else model.threshold
            pred, score = (scores >= threshold).astype(np.int64), scores
        else:
            pred, score = np.argmax(scores, axis=1), None
        tables.append(count_cells(y=y, pred=pred, score=score))
    if not tables:
        return count_cells(y=np.empty(0), pred=np.empty(0))
    return merge_cells(tables)


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
