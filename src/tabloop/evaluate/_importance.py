"""Which inputs matter: permutation importance on the raw input columns, and TreeSHAP.

Permutation importance shuffles one *input* column at a time (before preparation), so
it speaks the user's column names and credits derived features to the columns they are
made from. SHAP values come from each boosting library's own TreeSHAP (``pred_contrib``
in LightGBM, ``pred_contribs`` in XGBoost, ``ShapValues`` in CatBoost): exact for trees
and free of the ``shap`` package's numba dependency.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from tabloop.train import score


class _Scored(BaseEstimator):
    """A fitted :class:`TabloopModel` seen as an estimator by ``permutation_importance``
    (which insists on an object with ``fit``; it never calls it)."""

    def __init__(self, model: Any = None) -> None:
        self.model = model

    def fit(self, X: Any, y: Any = None) -> _Scored:  # pragma: no cover - never called
        return self


def permutation_importance_table(
    model: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    metric: str,
    n_repeats: int = 10,
    seed: int = 0,
    max_rows: int = 5000,
) -> list[dict[str, Any]]:
    """Drop in ``metric`` when each input column is shuffled, with a 95% interval.

    Each repeat shuffles the column within a random half of the test rows (drawn without
    replacement). The spread of half-sample estimates around the full-sample one is about
    the standard error of the full-sample estimate, so mean ± 1.96·sd covers both the
    shuffling and the test-set sampling noise. A spread over shuffles of one fixed set
    would not: a model that leans on a pure-noise column by a hair would look "relevant".
    "Contains 0" is the irrelevant-feature diagnostic.
    """
    from sklearn.inspection import permutation_importance

    if len(X) > max_rows:
        rows = np.random.default_rng(seed).choice(len(X), max_rows, replace=False)
        X, y = X.iloc[rows], y[rows]
    task = model.task

    def scorer(est: _Scored, data: pd.DataFrame, target: np.ndarray) -> float:
        return score(task, metric, target, est.model.predict_scores(data))

    found = permutation_importance(
        _Scored(model),
        X[model.inputs],
        y,
        scoring=scorer,
        n_repeats=n_repeats,
        random_state=seed,
        max_samples=0.5,
    )
    half = 1.96 * found.importances_std
    rows_out = [
        {"column": c, "mean": float(m), "ci_low": float(m - h), "ci_high": float(m + h)}
        for c, m, h in zip(model.inputs, found.importances_mean, half, strict=True)
    ]
    return sorted(rows_out, key=lambda r: -r["mean"])


def shap_table(model: Any, X: pd.DataFrame, *, max_rows: int = 2000) -> dict[str, Any] | None:
    """Mean |SHAP| per prepared feature of the heaviest boosted-tree member, or ``None``."""
    members = sorted(model.members, key=lambda m: -m.weight)
    for member in members:
        if member.name not in ("lightgbm", "xgboost", "catboost"):
            continue
        pipe = member.pipelines[0]
        pipe = getattr(pipe, "pipelines_", [pipe])[0]  # first draw of multiple imputation
        prepared = prepared_until(pipe, "preprocess", inclusive=True).transform(
            X[model.inputs].iloc[:max_rows]
        )
        contrib = _contributions(member.name, pipe[-1], prepared)
        if contrib is None:
            return None
        if contrib.ndim == 3:  # multiclass: (rows, classes, features + 1) → mean over classes
            contrib = np.abs(contrib).mean(axis=1)
        values = np.abs(contrib[:, :-1]).mean(axis=0)
        order = np.argsort(-values)
        return {
            "model": member.name,
            "features": [str(prepared.columns[i]) for i in order],
            "mean_abs_shap": [float(values[i]) for i in order],
        }
    return None


def _contributions(name: str, est: Any, X: pd.DataFrame) -> np.ndarray | None:
    if name == "lightgbm":
        out = np.asarray(est.predict(X, pred_contrib=True))
        n_features = X.shape[1] + 1
        if out.shape[1] > n_features:  # multiclass: classes stacked side by side
            out = out.reshape(len(X), -1, n_features)
        return out
    if name == "xgboost":
        import xgboost

        matrix = xgboost.DMatrix(X, enable_categorical=True)
        return np.asarray(est.get_booster().predict(matrix, pred_contribs=True))
    if name == "catboost":
        import catboost

        frame = est._frame(X)
        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        pool = catboost.Pool(frame, cat_features=cats)
        return np.asarray(est.model_.get_feature_importance(pool, type="ShapValues"))
    return None


def prepared_until(pipe: Any, step: str, *, inclusive: bool = False) -> Any:
    """The pipeline's steps before ``step`` (or through it, with ``inclusive``); of the
    first draw for a multiple-imputation member."""
    pipe = getattr(pipe, "pipelines_", [pipe])[0]
    index = list(pipe.named_steps).index(step)
    return pipe[: index + int(inclusive)]
