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


def encode_labels(values: pd.Series, classes: list[Any]) -> np.ndarray:
    """Class codes of ``values`` (-1 where missing or not a class)."""
    keys = category_keys(values.reset_index(drop=True))
    lookup = {category_key(c): i for i, c in enumerate(classes)}
    return keys.map(lookup).fillna(-1).to_numpy(dtype=int)


def outcome_codes(values: pd.Series, classes: list[Any]) -> np.ndarray:
    """Class codes of outcomes as floats, NaN where not labelled (or not a class)."""
    codes = encode_labels(values, classes).astype(float)
    codes[codes < 0] = np.nan
    return codes


def labelled_arrays(frame: pd.DataFrame, *, task: str, classes: list[Any]) -> dict[str, Any]:
    """``y``, ``pred`` (codes or values), ``proba`` and the row mask they come from.

    ``unknown`` counts labelled rows whose outcome (or prediction) is not a class of the
    model; they are left out of every metric.
    """
    has_outcome = frame[OUTCOME].notna().to_numpy()
    if task == "regression":
        y = pd.to_numeric(frame[OUTCOME], errors="coerce").to_numpy(dtype=float)
        pred = pd.to_numeric(frame[PREDICTION], errors="coerce").to_numpy(dtype=float)
        ok = has_outcome & np.isfinite(y) & np.isfinite(pred)
        return {
            "y": y[ok],
            "pred": pred[ok],
            "proba": None,
            "mask": ok,
            "unknown": int((has_outcome & ~ok).sum()),
        }
    y = encode_labels(frame[OUTCOME], classes)
    pred = encode_labels(frame[PREDICTION], classes)
    ok = has_outcome & (y >= 0) & (pred >= 0)
    proba = None
    if task == "binary" and SCORE in frame.columns:
        score = pd.to_numeric(frame[SCORE], errors="coerce").to_numpy(dtype=float)
        if np.isfinite(score[ok]).all():
            proba = score[ok]
    return {
        "y": y[ok],
        "pred": pred[ok],
        "proba": proba,
        "mask": ok,
        "unknown": int((has_outcome & ~ok).sum()),
    }


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
    arrays = labelled_arrays(frame, task=task, classes=classes)
    n = len(arrays["y"])
    out: dict[str, Any] = {"labelled": n, "unknown_labels": arrays["unknown"], "metrics": {}}
    if n == 0:
        return out
    metrics = score_metrics(
        task,
        arrays["y"],
        prediction=arrays["pred"],
        proba=arrays["proba"],
        n_boot=n_boot,
        seed=seed,
    )
    if "confusion_matrix" in metrics:
        matrix = metrics.pop("confusion_matrix")
        matrix["labels"] = [classes[i] for i in matrix["labels"]]
        out["confusion_matrix"] = matrix
    keep = names or METRICS[task]
    out["metrics"] = {k: v for k, v in metrics.items() if k in keep}
    if task == "binary" and arrays["proba"] is not None and len(np.unique(arrays["y"])) == 2:
        out["roc_curve"] = _roc_curve(arrays["y"], arrays["proba"])
    return out


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
    keys = category_keys(frame[column].reset_index(drop=True)).fillna("(missing)")
    labelled_rows = frame[OUTCOME].notna().to_numpy()
    counts = pd.DataFrame({"key": keys, "labelled": labelled_rows}).groupby("key")["labelled"]
    table = pd.DataFrame({"rows": counts.size(), "labelled": counts.sum()})
    table = table.sort_values(["labelled", "rows"], ascending=False).head(MAX_SEGMENTS)
    rows = []
    for key, stats in table.iterrows():
        part = frame[(keys == key).to_numpy()]
        result = realised(
            part,
            task=task,
            classes=classes,
            n_boot=n_boot,
            seed=seed,
            names=SHORT_METRICS[task],
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


def _roc_curve(y: np.ndarray, score: np.ndarray, points: int = 200) -> dict[str, list[float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score)
    if len(fpr) > points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr]}
