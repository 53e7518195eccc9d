"""Tables of counts ("cell tables"): metrics with intervals on rows read in partitions.

Maintainer note
---------------
A cell table is a set of rows reduced to one row per distinct (``by`` keys, ``score``,
``y``, ``pred``, ``has_outcome``) with its ``count``: ``y`` and ``pred`` are class codes
(-1 where missing or not a class) or, for regression, numbers; ``score`` is the
positive-class probability (binary) or NaN. Every metric here is a function of those counts
alone: confusion counts sum them, ROC-AUC and the other ranking metrics weigh each distinct
score by its count, and the Poisson bootstrap draws a weight per cell
(``score_metrics(weights=...)``).

So a table is *mergeable*: the table of a union of partitions is their tables put together
with equal keys summed (:func:`merge_cells`, canonical by :func:`compact`), whatever the
partitioning and the order of the merges. A worker reduces its partition with
:func:`count_cells`, the driver merges the tables it gets back and scores the merge with
:func:`realised_from_cells`: the values equal those on all the rows at once, and so do the
bootstrap intervals (drawn from the merged counts, not per partition).

A table is bounded: beyond ``max_cells`` (:data:`MAX_CELLS`) cells its scores are pooled
into the finest of :data:`SCORE_BINS` equal-width bins at which it fits. Pooling keeps the
order of scores in different bins, so confusion-count metrics stay exact and ROC-AUC moves
only by the pairs within one bin (the ``error_bound`` it then reports); the merge pools at
the coarsest level of its parts, so the result still does not depend on the partitions.

The monitor builds its tables from the prediction log (``tabloop.monitor``'s ``cells``);
evaluation builds them from a test split read in partitions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from tabloop.config import METRICS
from tabloop.evaluate._metrics import score_metrics
from tabloop.exceptions import DataError

#: Score bins of the bootstrap replicates when there are many more distinct scores.
BOOT_BINS = 128
#: A table of counts keeps every distinct score up to this many cells; beyond, its scores
#: are pooled into the finest of :data:`SCORE_BINS` equal-width bins at which it fits
#: (:func:`merge_cells`), so the process that merges a window holds a bounded table.
MAX_CELLS = 500_000
#: The same for the monitor's table per chunk, whose short metrics and estimates are many
#: and small.
CHUNK_CELLS = 100_000
#: The pooling levels, finest first; each bin of a level is a union of bins of the finer
#: ones, so pooling a pooled table again is pooling it once at the coarser level.
SCORE_BINS = (4096, 256, 32)


def count_cells(
    *,
    y: ArrayLike,
    pred: ArrayLike,
    score: ArrayLike | None = None,
    has_outcome: ArrayLike | None = None,
    by: dict[str, ArrayLike] | None = None,
    max_cells: int = MAX_CELLS,
) -> pd.DataFrame:
    """Rows reduced to a table of counts, mergeable across partitions.

    Parameters
    ----------
    y : array-like of shape (n,)
        Outcomes: class codes (integers, -1 where missing or not a class) or, for
        regression, numbers (NaN where missing).
    pred : array-like of shape (n,)
        Predictions, coded as ``y``.
    score : array-like of shape (n,), default=None
        The positive-class probability (binary); None or NaN where there is none
        (multiclass, regression).
    has_outcome : array-like of bool of shape (n,), default=None
        Whether each row has an outcome (a row with an outcome that is not a class counts as
        an unknown label). None: every row has one, as in a test split. A row without an
        outcome keeps only its score: its prediction is not needed.
    by : dict of str to array-like of shape (n,), default=None
        Key columns counted apart (segments, chunks), first in the table.
    max_cells : int, default=MAX_CELLS
        Beyond this many cells the scores are pooled into bins (see the module's note).
        Tables merged together should use the same value (:func:`merge_cells`).

    Returns
    -------
    DataFrame
        Columns ``*by``, ``score``, ``y``, ``pred``, ``has_outcome``, ``count``: one row per
        distinct key, sorted by the keys (:func:`compact`).

    Examples
    --------
    >>> from tabloop.evaluate import count_cells, merge_cells, realised_from_cells
    >>> parts = [
    ...     count_cells(y=[0, 1, 1], pred=[0, 1, 0], score=[0.2, 0.9, 0.4]),
    ...     count_cells(y=[0, 1], pred=[0, 1], score=[0.2, 0.7]),
    ... ]
    >>> table = merge_cells(parts)
    >>> int(table["count"].sum()), len(table)
    (5, 4)
    >>> out = realised_from_cells(table, task="binary", classes=["no", "yes"], n_boot=0)
    >>> out["labelled"], out["metrics"]["accuracy"]["value"]
    (5, 0.8)
    """
    outcome, predicted = np.asarray(y), np.asarray(pred)
    n = outcome.shape[0] if outcome.ndim else 0
    scores = np.full(n, np.nan) if score is None else np.asarray(score, dtype=float)
    has = np.ones(n, dtype=bool) if has_outcome is None else np.asarray(has_outcome, dtype=bool)
    keys = {name: np.asarray(values) for name, values in (by or {}).items()}
    shapes = {
        "y": outcome.shape,
        "pred": predicted.shape,
        "score": scores.shape,
        "has_outcome": has.shape,
        **{f"by[{name!r}]": values.shape for name, values in keys.items()},
    }
    if any(shape != (n,) for shape in shapes.values()):
        raise DataError(
            f"count_cells needs one-dimensional arrays of one length; got shapes {shapes}. "
            "Pass one value per row in each."
        )
    # a row without an outcome keeps only its score (its prediction is not needed)
    predicted = np.where(has, predicted, np.nan if predicted.dtype.kind == "f" else -1)
    table = pd.DataFrame(
        {**keys, "score": scores, "y": outcome, "pred": predicted, "has_outcome": has}
    )
    counted = table.assign(count=np.ones(len(table), dtype=np.int64))
    return _bounded(counted, bins=None, max_cells=max_cells)


def merge_cells(tables: list[pd.DataFrame], max_cells: int = MAX_CELLS) -> pd.DataFrame:
    """The merge of tables of counts (:func:`count_cells`, or any with a ``count`` column,
    such as the monitor's fairness tables): their rows together, equal keys summed
    (:func:`compact`). Associative, and the result does not depend on how the rows
    were partitioned: the scores end at the finest level of :data:`SCORE_BINS` at which the
    table of all the rows fits in ``max_cells`` (a part pooled at a level does not fit
    at the finer ones, nor does the whole, which holds at least its cells)."""
    tables = [t for t in tables if t is not None]
    if len(tables) == 1:
        return tables[0]
    levels = [score_bins(t) for t in tables]
    merged = pd.concat(tables, ignore_index=True)
    merged.attrs = {}  # concat keeps equal attrs: the rows together are not compact any more
    pooled = min((b for b in levels if b), default=None)
    return _bounded(merged, bins=pooled, max_cells=max_cells)


def score_bins(table: pd.DataFrame) -> int | None:
    """The number of equal-width bins ``table``'s scores are pooled into (None: not pooled)."""
    return table.attrs.get("score_bins")


def _bounded(table: pd.DataFrame, *, bins: int | None, max_cells: int) -> pd.DataFrame:
    """``table`` compacted; its scores pooled at ``bins`` or coarser when it is pooled
    already or holds more than ``max_cells`` cells. Pooling keeps order (a lower score
    never lands in a higher bin), so confusion counts stay exact and ROC-AUC moves only by
    the pairs that share a bin (its ``error_bound``, :func:`realised_from_cells`)."""
    table = compact(table)
    if "score" not in table.columns or (bins is None and len(table) <= max_cells):
        return table
    if not np.isfinite(table["score"].to_numpy(dtype=float)).any():
        return table  # no score to pool (regression, multiclass): its cells are its rows
    for level in [b for b in SCORE_BINS if bins is None or b <= bins]:
        score = table["score"].to_numpy(dtype=float)
        bin_of = np.clip(np.floor(score * level), 0, level - 1)
        table = table.assign(score=(bin_of + 0.5) / level)  # the bin's centre; NaN stays NaN
        table.attrs = {}
        table = compact(table)
        table.attrs["score_bins"] = level
        if len(table) <= max_cells:
            break
    return table


def compact(table: pd.DataFrame, keys: list[str] | None = None) -> pd.DataFrame:
    """One row per distinct ``keys`` (default: every column but ``count``), counts summed,
    sorted by the keys: the canonical form of a table, whatever the partitions it came from.

    Object keys (segments) sort as text, missing last; NaN scores are one key.
    """
    keys = keys if keys is not None else [c for c in table.columns if c != "count"]
    if table.attrs.get("compact") == keys and list(table.columns) == [*keys, "count"]:
        return table  # compacted already (attrs survive pandas' copies and slices)
    counts = table["count"].to_numpy(dtype=np.int64)
    if len(table) == 0:
        return table[[*keys, "count"]].reset_index(drop=True)
    columns = {name: table[name].to_numpy() for name in keys}
    key = np.zeros(len(table), dtype=np.int64)
    span = 1
    for values in columns.values():  # one int64 key per row, in the keys' sort order
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
        levels = len(uniques) + 1
        if span * levels >= 2**62:  # too many combinations for one int64: rank the keys
            key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
            span = int(key.max()) + 1
        key = key * levels + np.where(codes < 0, len(uniques), codes)  # missing last
        span *= levels
    order = np.argsort(key, kind="stable")
    ranked = key[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    first = order[starts]
    out = pd.DataFrame({name: values[first] for name, values in columns.items()})
    out["count"] = np.add.reduceat(counts[order], starts)
    out.attrs["compact"] = list(keys)
    if score_bins(table):
        out.attrs["score_bins"] = score_bins(table)
    return out


def realised_from_cells(
    table: pd.DataFrame,
    *,
    task: str,
    classes: list[Any],
    n_boot: int,
    seed: int = 0,
    names: tuple[str, ...] | None = None,
    curve: bool = True,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Metrics with ``confidence`` bootstrap intervals on the labelled rows a table of
    counts holds (:func:`count_cells`, :func:`merge_cells`).

    Returns ``{"labelled", "unknown_labels", "metrics": {...}}``, with the
    ``confusion_matrix`` (classification, labels from ``classes``) and the ``roc_curve``
    (binary with scores; ``curve=False`` leaves it out: chunks and segments do not draw it).
    ``metrics`` holds ``names`` (default: the task's :data:`~tabloop.config.METRICS`) and is
    empty when no row is labelled (the caller reports it, it is not an error).

    Values equal those on the rows the table counts. Intervals are the Poisson bootstrap
    over the table's cells (``score_metrics(weights=...)``), drawn from the counts summed
    per (score, outcome, prediction) (:func:`compact`), so they do not depend on how the
    rows were partitioned. Above ``2 x`` :data:`BOOT_BINS`
    labelled cells (binary, with scores) the replicates are drawn on the scores pooled into
    :data:`BOOT_BINS` bins of equal labelled rows within each outcome and prediction, and
    the interval is shifted by the metric's exact value minus its pooled value: the
    confusion-count metrics' replicates keep their distribution (the shift is 0); the
    ranking and probability ones (ROC-AUC, PR-AUC, log loss, Brier) see a bin's scores as
    one, whose bias the shift removes to first order. The cost is ``O(n_boot x BOOT_BINS)``
    whatever the rows.
    """
    table = compact(table, ["score", "y", "pred", "has_outcome"])
    has = table["has_outcome"].to_numpy(dtype=bool)
    y, pred = table["y"].to_numpy(), table["pred"].to_numpy()
    if task == "regression":
        ok = has & np.isfinite(y) & np.isfinite(pred)
    else:
        ok = has & (y >= 0) & (pred >= 0)
    counts = table["count"].to_numpy(dtype=np.int64)
    n = int(counts[ok].sum())
    out: dict[str, Any] = {
        "labelled": n,
        "unknown_labels": int(counts[has & ~ok].sum()),
        "metrics": {},
    }
    if n == 0:
        return out
    y, pred = y[ok], pred[ok]
    if task != "regression":
        y, pred = y.astype(np.int64), pred.astype(np.int64)
    score = table["score"].to_numpy(dtype=float)[ok]
    proba = score if task == "binary" and np.isfinite(score).all() else None
    weights = counts[ok]
    coarse = n_boot > 0 and len(y) > 2 * BOOT_BINS and proba is not None
    metrics = score_metrics(
        task,
        y,
        prediction=pred,
        proba=proba,
        n_boot=0 if coarse else n_boot,
        confidence=confidence,
        seed=seed,
        weights=weights,
    )
    if coarse:
        pooled = _pooled(y, pred, score, weights)
        intervals = score_metrics(
            task, pooled[0], prediction=pooled[1], proba=pooled[2], n_boot=n_boot, seed=seed,
            weights=pooled[3], confidence=confidence,
        )  # fmt: skip
        for name, entry in metrics.items():
            pooled_entry = intervals.get(name) or {}
            if name == "confusion_matrix" or entry.get("value") is None:
                continue
            if pooled_entry.get("value") is None or pooled_entry.get("ci_low") is None:
                continue
            shift = entry["value"] - pooled_entry["value"]
            entry["ci_low"] = pooled_entry["ci_low"] + shift
            entry["ci_high"] = pooled_entry["ci_high"] + shift
    if "confusion_matrix" in metrics:
        matrix = metrics.pop("confusion_matrix")
        matrix["labels"] = [classes[i] for i in matrix["labels"]]
        out["confusion_matrix"] = matrix
    keep = names or METRICS[task]
    out["metrics"] = {k: v for k, v in metrics.items() if k in keep}
    if score_bins(table) and proba is not None and "roc_auc" in out["metrics"]:
        out["metrics"]["roc_auc"]["error_bound"] = _auc_bound(y, score, weights)
    if curve and task == "binary" and proba is not None and len(np.unique(y)) == 2:
        out["roc_curve"] = _roc_curve(y, proba, weights)
    return out


def _auc_bound(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> float:
    """The most ROC-AUC on pooled scores can differ from ROC-AUC on the scores before pooling.

    Pooling keeps the order of scores in different bins, so only the (positive, negative)
    pairs within one bin can change: they count one half, before anything from 0 to 1.
    """
    keys, inverse = np.unique(score, return_inverse=True)
    positives = np.bincount(inverse.reshape(-1), weights=weights * (y == 1), minlength=len(keys))
    negatives = np.bincount(inverse.reshape(-1), weights=weights * (y == 0), minlength=len(keys))
    pairs = positives.sum() * negatives.sum()
    return float(0.5 * (positives * negatives).sum() / pairs) if pairs else 0.0


def _pooled(
    y: np.ndarray, pred: np.ndarray, score: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Cells pooled for the bootstrap: scores into :data:`BOOT_BINS` bins of equal labelled
    rows, per (bin, outcome, prediction) the rows and their mean score."""
    order = np.lexsort((y, score))
    before = np.cumsum(weights[order]) - weights[order]
    which = np.empty(len(y), dtype=np.int64)
    which[order] = np.floor(before / weights.sum() * BOOT_BINS).astype(np.int64)
    key = (which * 2 + y) * 2 + pred
    keys, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(-1)
    rows = np.bincount(inverse, weights=weights)
    mass = np.bincount(inverse, weights=weights * score)
    return (
        (keys // 2) % 2,
        keys % 2,
        np.clip(mass / rows, 0.0, 1.0),
        np.rint(rows).astype(np.int64),
    )


def _roc_curve(
    y: np.ndarray, score: np.ndarray, weights: np.ndarray, points: int = 200
) -> dict[str, list[float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score, sample_weight=weights)
    if len(fpr) > points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr]}
