"""Realised performance in production: the evaluation's metrics on the labelled rows.

Production labels arrive as the values the client sent (``true``, ``"yes"``, ``1``);
they are matched to the model's classes by the same category keys the schema uses, so
``1``, ``1.0`` and ``"1"`` are one label. A label that is not a class is counted and
left out, never guessed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabloop.data.frame import category_key, category_keys
from tabloop.evaluate import METRICS, score_metrics
from tabloop.monitor._production import OUTCOME, PREDICTION, SCORE

#: Metrics shown per segment and per chunk (the full set is on the whole window).
SHORT_METRICS = {
    "binary": ("precision", "recall", "f1", "accuracy", "roc_auc"),
    "multiclass": ("accuracy", "f1_macro", "balanced_accuracy"),
    "regression": ("mae", "rmse", "r2"),
}
#: Segments shown at most (the largest by labelled rows).
MAX_SEGMENTS = 30
#: Score bins of the bootstrap replicates when there are many more distinct scores.
BOOT_BINS = 128
#: A table of counts keeps every distinct score up to this many cells; beyond, its scores
#: are pooled into the finest of :data:`SCORE_BINS` equal-width bins at which it fits
#: (:func:`merge_cells`), so the process that merges a window holds a bounded table.
MAX_CELLS = 500_000
#: The same for the table per chunk, whose short metrics and estimates are many and small.
CHUNK_CELLS = 100_000
#: The pooling levels, finest first; each bin of a level is a union of bins of the finer
#: ones, so pooling a pooled table again is pooling it once at the coarser level.
SCORE_BINS = (4096, 256, 32)
MISSING = "(missing)"


def encode_labels(values: pd.Series, classes: list[Any]) -> np.ndarray:
    """Class codes of ``values`` (-1 where missing or not a class)."""
    codes, uniques = pd.factorize(values.reset_index(drop=True))
    keys = category_keys(pd.Series(uniques, dtype=object if not len(uniques) else None))
    lookup = {category_key(c): i for i, c in enumerate(classes)}
    per_unique = keys.map(lookup).fillna(-1).to_numpy(dtype=int)
    return np.append(per_unique, -1)[codes]  # the missing code -1 picks the last entry


def outcome_codes(values: pd.Series, classes: list[Any]) -> np.ndarray:
    """Class codes of outcomes as floats, NaN where not labelled (or not a class)."""
    codes = encode_labels(values, classes).astype(float)
    codes[codes < 0] = np.nan
    return codes


def cells(
    frame: pd.DataFrame,
    *,
    task: str,
    classes: list[Any],
    by: dict[str, Any] | None = None,
    max_cells: int = MAX_CELLS,
) -> pd.DataFrame:
    """The rows reduced to a table of counts, mergeable across partitions (:func:`merge_cells`
    with the same ``max_cells``).

    One row per distinct (``by`` keys, ``score``, ``y``, ``pred``, ``has_outcome``) with its
    ``count``: ``y`` and ``pred`` are class codes (-1 where missing or not a class) or, for
    regression, numbers; ``score`` is the positive-class probability (binary) or NaN. A row
    without an outcome keeps only its score (the prediction is not needed for it). Every
    realised metric, segment figure and estimate is a function of these counts.
    """
    has_outcome = frame[OUTCOME].notna().to_numpy()
    if task == "regression":
        y = pd.to_numeric(frame[OUTCOME], errors="coerce").to_numpy(dtype=float)
        pred = pd.to_numeric(frame[PREDICTION], errors="coerce").to_numpy(dtype=float)
        pred = np.where(has_outcome, pred, np.nan)
    else:
        y = encode_labels(frame[OUTCOME], classes)
        pred = np.where(has_outcome, encode_labels(frame[PREDICTION], classes), -1)
    score = np.full(len(frame), np.nan)
    if task == "binary" and SCORE in frame.columns:
        score = pd.to_numeric(frame[SCORE], errors="coerce").to_numpy(dtype=float)
    table = pd.DataFrame(
        {
            **{k: np.asarray(v) for k, v in (by or {}).items()},
            "score": score,
            "y": y,
            "pred": pred,
            "has_outcome": has_outcome,
        }
    )
    counted = table.assign(count=np.ones(len(table), dtype=np.int64))
    return _bounded(counted, bins=None, max_cells=max_cells)


def merge_cells(tables: list[pd.DataFrame], max_cells: int = MAX_CELLS) -> pd.DataFrame:
    """The merge of :func:`cells` (or fairness) tables: their rows together, equal keys
    summed (:func:`compact`). Associative, and the result does not depend on how the rows
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


def realised(
    frame: pd.DataFrame,
    *,
    task: str,
    classes: list[Any],
    n_boot: int,
    seed: int = 0,
    names: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Metrics with bootstrap intervals on the labelled rows of ``frame``.

    Returns ``{"labelled", "unknown_labels", "metrics": {...}}``; ``metrics`` is empty when
    no row is labelled (the caller reports "no outcomes yet", it is not an error).
    """
    table = cells(frame, task=task, classes=classes)
    return realised_from_cells(
        table, task=task, classes=classes, n_boot=n_boot, seed=seed, names=names
    )


def realised_from_cells(
    table: pd.DataFrame,
    *,
    task: str,
    classes: list[Any],
    n_boot: int,
    seed: int = 0,
    names: tuple[str, ...] | None = None,
    curve: bool = True,
) -> dict[str, Any]:
    """:func:`realised` from a table of counts (:func:`cells`); ``curve=False`` leaves out
    the ROC curve (chunks and segments do not draw it).

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
        seed=seed,
        weights=weights,
    )
    if coarse:
        pooled = _pooled(y, pred, score, weights)
        intervals = score_metrics(
            task, pooled[0], prediction=pooled[1], proba=pooled[2], n_boot=n_boot, seed=seed,
            weights=pooled[3],
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


def compare_with_test(production: dict[str, Any], test: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per metric: test value and interval beside production's, and the change."""
    rows = []
    for name, entry in production.items():
        before = test.get(name) or {}
        value, was = entry.get("value"), before.get("value")
        rows.append(
            {
                "metric": name,
                "test": was,
                "test_ci_low": before.get("ci_low"),
                "test_ci_high": before.get("ci_high"),
                "production": value,
                "ci_low": entry.get("ci_low"),
                "ci_high": entry.get("ci_high"),
                "change": None if value is None or was is None else value - was,
            }
        )
    return rows


def by_segment(
    frame: pd.DataFrame,
    column: str,
    *,
    task: str,
    classes: list[Any],
    n_boot: int,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Realised metrics within each value of ``column`` (the largest :data:`MAX_SEGMENTS`),
    with the number of predictions and of labelled rows per value."""
    table = cells(frame, task=task, classes=classes, by={"segment": segment_keys(frame[column])})
    return by_segment_from_cells(table, task=task, classes=classes, n_boot=n_boot, seed=seed)


def segment_keys(values: pd.Series) -> np.ndarray:
    """The segment of each row: its category key, ``(missing)`` where missing."""
    return category_keys(values.reset_index(drop=True)).fillna(MISSING).to_numpy(dtype=object)


def by_segment_from_cells(
    table: pd.DataFrame, *, task: str, classes: list[Any], n_boot: int, seed: int = 0
) -> list[dict[str, Any]]:
    """:func:`by_segment` from a table of counts with a ``segment`` key."""
    counts = table["count"].to_numpy(dtype=np.int64)
    labelled = np.where(table["has_outcome"].to_numpy(dtype=bool), counts, 0)
    sums = pd.DataFrame({"key": table["segment"], "rows": counts, "labelled": labelled})
    per = sums.groupby("key")[["rows", "labelled"]].sum()
    per = per.sort_values(["labelled", "rows"], ascending=False).head(MAX_SEGMENTS)
    rows = []
    for key, stats in per.iterrows():
        part = table[(table["segment"] == key).to_numpy()]
        result = realised_from_cells(
            part,
            task=task,
            classes=classes,
            n_boot=n_boot,
            seed=seed,
            names=SHORT_METRICS[task],
            curve=False,
        )
        rows.append(
            {
                "segment": str(key),
                "rows": int(stats["rows"]),
                "labelled": result["labelled"],
                "metrics": result["metrics"],
            }
        )
    return rows


def _roc_curve(
    y: np.ndarray, score: np.ndarray, weights: np.ndarray, points: int = 200
) -> dict[str, list[float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score, sample_weight=weights)
    if len(fpr) > points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr]}
