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
from tabloop.evaluate import MAX_CELLS, count_cells, realised_from_cells
from tabloop.monitor._production import OUTCOME, PREDICTION, SCORE

#: Metrics shown per segment and per chunk (the full set is on the whole window).
SHORT_METRICS = {
    "binary": ("precision", "recall", "f1", "accuracy", "roc_auc"),
    "multiclass": ("accuracy", "f1_macro", "balanced_accuracy"),
    "regression": ("mae", "rmse", "r2"),
}
#: Segments shown at most (the largest by labelled rows).
MAX_SEGMENTS = 30
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
    """The rows of the prediction log reduced to a table of counts, mergeable across
    partitions (:func:`tabloop.evaluate.merge_cells` with the same ``max_cells``).

    The frame's outcome and prediction are decoded to class codes (-1 where missing or not
    a class; numbers for regression) and its score is kept for binary tasks; the table is
    :func:`tabloop.evaluate.count_cells`'s, a row with an outcome being one whose outcome
    was logged. Every realised metric, segment figure and estimate is a function of these
    counts.
    """
    has_outcome = frame[OUTCOME].notna().to_numpy()
    if task == "regression":
        y = pd.to_numeric(frame[OUTCOME], errors="coerce").to_numpy(dtype=float)
        pred = pd.to_numeric(frame[PREDICTION], errors="coerce").to_numpy(dtype=float)
    else:
        y = encode_labels(frame[OUTCOME], classes)
        pred = encode_labels(frame[PREDICTION], classes)
    score = None
    if task == "binary" and SCORE in frame.columns:
        score = pd.to_numeric(frame[SCORE], errors="coerce").to_numpy(dtype=float)
    return count_cells(
        y=y, pred=pred, score=score, has_outcome=has_outcome, by=by, max_cells=max_cells
    )


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
