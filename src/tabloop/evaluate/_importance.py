"""Which inputs matter: permutation importance on the raw input columns, and TreeSHAP.

Permutation importance shuffles one *input* column at a time (before preparation), so
it speaks the user's column names and credits derived features to the columns they are
made from. SHAP values come from each boosting library's own TreeSHAP (``pred_contrib``
in LightGBM, ``pred_contribs`` in XGBoost, ``ShapValues`` in CatBoost): exact for trees
and free of the ``shap`` package's numba dependency.

Maintainer note: what an interval lets us say. "The interval contains 0" does not mean
"the model does not use the column": on 200 test rows an interval of -0.03 to +0.11 AUC
is compatible with no effect and with a large one. So each column gets one of three
verdicts (:func:`importance_verdict`), against a *material* effect: :data:`MATERIAL_SHARE`
of the model's gain over the dummy baseline on the same test rows (AUC 0.78 vs 0.50: a
drop of 0.014 is material), since what a column can be worth is bounded by what the
model learned at all. ``irrelevant``: the interval lies inside ``(-material, +material)``,
so it excludes any material effect. ``relevant``: otherwise, an interval above 0.
``undetermined``: anything else (too few test rows to tell).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabloop.train import score

#: A column's importance is material from this share of the model's gain over the dummy.
MATERIAL_SHARE = 0.05
#: Without a gain over the dummy to compare with: this share of the model's own score.
MATERIAL_SHARE_OF_SCORE = 0.01


def permutation_importance_table(
    model: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    metric: str,
    n_repeats: int = 10,
    seed: int = 0,
    max_rows: int = 5000,
    material: float | None = None,
) -> list[dict[str, Any]]:
    """Drop in ``metric`` when each input column is shuffled, with a 95% interval.

    Each repeat draws a random half of the test rows (without replacement), scores the
    model on it, shuffles one column within it and scores again: the drop is that
    repeat's estimate. The spread of half-sample estimates is about the standard error of
    the full-sample one, so mean ± t·sd (t of ``n_repeats - 1`` degrees of freedom) covers
    both the shuffling and the test-set sampling noise. scikit-learn's
    ``permutation_importance(max_samples=0.5)`` does not do this: it draws *one* half for
    every repeat and every column and compares it with the score on all rows, so every
    column carried the same offset (+0.02 AUC on the arrests data, a pure-noise column
    included) with an interval that left out the sampling noise.

    With ``material`` (see :func:`material_effect`) each row also gets a ``verdict``
    (:func:`importance_verdict`) and the ``material`` it was judged against.
    """
    from scipy.stats import t as student_t

    rng = np.random.default_rng(seed)
    if len(X) > max_rows:
        rows = rng.choice(len(X), max_rows, replace=False)
        X, y = X.iloc[rows], y[rows]
    task, inputs = model.task, list(model.inputs)
    # features.lags read the target of earlier rows (as the evaluation did) and the other
    # rows of the frame: such a model is scored on the whole frame, shuffled in the half
    history = [c for c in model.info.get("history", []) if c in X.columns]
    X = X[[*inputs, *history]]
    full = np.asarray(model.predict_scores(X))
    half = max(2, len(X) // 2)
    drops = np.empty((len(inputs), n_repeats))
    for r in range(n_repeats):
        rows = np.sort(rng.choice(len(X), half, replace=False))
        sub, target = X.iloc[rows].copy(), y[rows]
        base = score(task, metric, target, full[rows])
        if history:
            for j, column in enumerate(inputs):
                whole = X.copy()
                at = whole.columns.get_loc(column)
                whole.iloc[rows, at] = whole.iloc[rows[rng.permutation(half)], at].to_numpy()
                drops[j, r] = base - score(task, metric, target, model.predict_scores(whole)[rows])
            continue
        for j, column in enumerate(inputs):
            kept = sub[column]
            sub[column] = kept.iloc[rng.permutation(half)].set_axis(sub.index)
            drops[j, r] = base - score(task, metric, target, model.predict_scores(sub))
            sub[column] = kept
    mean = drops.mean(axis=1)
    spread = drops.std(axis=1, ddof=1) if n_repeats > 1 else np.zeros(len(inputs))
    width = float(student_t.ppf(0.975, max(1, n_repeats - 1))) * spread
    rows_out = [
        {"column": c, "mean": float(m), "ci_low": float(m - h), "ci_high": float(m + h)}
        for c, m, h in zip(inputs, mean, width, strict=True)
    ]
    if material is not None:
        for row in rows_out:
            row["material"] = material
            row["verdict"] = importance_verdict(row["ci_low"], row["ci_high"], material)
    return sorted(rows_out, key=lambda r: -r["mean"])


def material_effect(model_value: float | None, dummy_value: float | None) -> float | None:
    """The smallest drop in the metric that counts as material: :data:`MATERIAL_SHARE` of
    the model's gain over the dummy, or :data:`MATERIAL_SHARE_OF_SCORE` of the model's
    score when there is no gain to measure; ``None`` without a model value.

    >>> round(material_effect(0.78, 0.5), 4)
    0.014
    """
    if model_value is None:
        return None
    gain = 0.0 if dummy_value is None else abs(model_value - dummy_value)
    if gain > 0:
        return MATERIAL_SHARE * gain
    return MATERIAL_SHARE_OF_SCORE * abs(model_value) or None


def importance_verdict(ci_low: float, ci_high: float, material: float) -> str:
    """``irrelevant`` (interval strictly inside ``±material``: even a real effect would be
    immaterial), ``relevant`` (otherwise, interval above 0) or ``undetermined``.

    >>> importance_verdict(-0.029, 0.108, 0.014), importance_verdict(-0.002, 0.003, 0.014)
    ('undetermined', 'irrelevant')
    """
    if -material < ci_low and ci_high < material:
        return "irrelevant"
    if ci_low > 0:
        return "relevant"
    return "undetermined"


def shap_table(model: Any, X: pd.DataFrame, *, max_rows: int = 2000) -> dict[str, Any] | None:
    """Mean |SHAP| per prepared feature of the heaviest boosted-tree member, or ``None``."""
    members = sorted(model.members, key=lambda m: -m.weight)
    for member in members:
        if member.name not in ("lightgbm", "xgboost", "catboost"):
            continue
        pipe = member.pipelines[0]
        pipe = getattr(pipe, "pipelines_", [pipe])[0]  # first draw of multiple imputation
        history = [c for c in model.info.get("history", []) if c in X.columns]  # lags' target
        prepared = prepared_until(pipe, "preprocess", inclusive=True).transform(
            X[[*model.inputs, *history]].iloc[:max_rows]
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
