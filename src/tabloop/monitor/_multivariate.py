"""Multivariate drift: can a classifier tell reference rows from current rows?

Column-by-column tests miss changes in how columns move together (the same ages and the
same incomes, but no longer paired as in training). A domain classifier sees them: label
reference rows 0 and current rows 1, train a small LightGBM model, and measure with
cross-validated ROC-AUC how well it separates them. An AUC near 0.5 means the rows are
interchangeable; the columns with the most split gain are where they differ.

The reference is the raw training sample stored with the model (``reference.parquet``,
5,000 rows), not the :class:`~tabloop.data.ReferenceProfile`: joint
structure is exactly what a per-column profile leaves out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabloop.data.frame import category_keys, column_not_found, missing_mask, numeric_array
from tabloop.data.reference import PROFILED_KINDS, present_numbers
from tabloop.exceptions import MonitorError

__all__ = ["domain_classifier"]

#: LightGBM settings: small and fast (100 shallow trees), deterministic, one thread.
LGBM_PARAMS = {
    "n_estimators": 100,
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "n_jobs": 1,
    "deterministic": True,
    "verbose": -1,
}


def domain_classifier(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: list[str],
    kinds: dict[str, str],
    max_rows: int = 5000,
    folds: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Cross-validated ROC-AUC of a classifier that tells current rows from reference rows.

    Parameters
    ----------
    reference, current : pandas.DataFrame
        Raw rows of the training sample and of the window.
    columns : list of str
        Columns the classifier may use; those of kind other than numeric, categorical or
        boolean are left out.
    kinds : dict
        Column name to kind, as in a tabloop schema.
    max_rows : int, default 5000
        Rows sampled from each side; both sides get the same number (the smaller side's).
    folds : int, default 5
        Stratified cross-validation folds.
    seed : int, default 0
        Seed of the sampling, the folds and LightGBM.

    Returns
    -------
    dict
        ``auc`` (mean over folds), ``auc_folds``, ``auc_pooled`` (on all out-of-fold
        scores), ``importance`` (``[{"column", "importance"}]``, split gain summed over the
        fold models and normalised to sum 1, largest first), ``columns``, ``n_reference``
        and ``n_current`` (rows used per side), ``folds`` and ``seed``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=600), "y": rng.normal(size=600)})
    >>> cur = pd.DataFrame({"x": rng.normal(1.0, size=600), "y": rng.normal(size=600)})
    >>> kinds = {"x": "numeric", "y": "numeric"}
    >>> result = domain_classifier(ref, cur, columns=["x", "y"], kinds=kinds)
    >>> result["auc"] > 0.65, result["importance"][0]["column"]
    (True, 'x')
    """
    used = _check(reference, current, columns, kinds, folds, max_rows)
    from lightgbm import LGBMClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    n = min(len(reference), len(current), max_rows)
    parts = [frame.iloc[np.sort(rng.permutation(len(frame))[:n])] for frame in (reference, current)]
    X = _features(parts[0], parts[1], used, kinds)
    y = np.repeat([0, 1], n)
    scores = np.zeros(len(y))
    gain = np.zeros(len(used))
    auc_folds = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splitter.split(X, y)):
        model = LGBMClassifier(**LGBM_PARAMS, random_state=seed + fold, importance_type="gain")
        model.fit(X.iloc[train], y[train])
        scores[test] = model.predict_proba(X.iloc[test])[:, 1]
        auc_folds.append(float(roc_auc_score(y[test], scores[test])))
        gain += model.booster_.feature_importance(importance_type="gain")
    share = gain / gain.sum() if gain.sum() > 0 else np.zeros(len(used))
    order = sorted(range(len(used)), key=lambda i: (-share[i], used[i]))
    return {
        "auc": float(np.mean(auc_folds)),
        "auc_folds": auc_folds,
        "auc_pooled": float(roc_auc_score(y, scores)),
        "importance": [{"column": used[i], "importance": float(share[i])} for i in order],
        "columns": used,
        "n_reference": n,
        "n_current": n,
        "folds": folds,
        "seed": seed,
    }


def _check(
    reference: Any,
    current: Any,
    columns: list[str],
    kinds: dict[str, str],
    folds: int,
    max_rows: int,
) -> list[str]:
    for role, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise MonitorError(f"{role} must be a pandas DataFrame; got {type(frame).__name__}.")
    if not isinstance(folds, int) or folds < 2:
        raise MonitorError(f"folds must be an integer >= 2; got {folds!r}.")
    if not isinstance(max_rows, int) or max_rows < folds:
        raise MonitorError(f"max_rows must be an integer >= folds ({folds}); got {max_rows!r}.")
    names = [columns] if isinstance(columns, str) else list(columns)
    for role, frame in (("reference", reference), ("current", current)):
        for name in names:
            if name not in frame.columns:
                found = column_not_found(name, [str(c) for c in frame.columns])
                raise MonitorError(f"In the {role} rows: {found}")
    used = [c for c in names if kinds.get(c) in PROFILED_KINDS]
    if not used:
        raise MonitorError(
            f"No column to compare: domain_classifier uses numeric, categorical and boolean "
            f"columns; got {', '.join(f'{c!r} ({kinds.get(c)})' for c in names) or 'none'}."
        )
    smaller = min(len(reference), len(current))
    if smaller < folds:
        raise MonitorError(
            f"domain_classifier needs at least {folds} rows on each side for {folds}-fold "
            f"cross-validation ({2 * folds} rows in all); got {len(reference)} reference and "
            f"{len(current)} current rows."
        )
    return used


def _features(
    reference: pd.DataFrame, current: pd.DataFrame, used: list[str], kinds: dict[str, str]
) -> pd.DataFrame:
    """Both sides stacked: numbers as float (NaN kept), categories as a shared category dtype."""
    out: dict[str, Any] = {}
    for name in used:
        both = pd.concat([reference[name], current[name]], ignore_index=True)
        if kinds[name] == "numeric":
            numbers, invalid = numeric_array(both, missing_mask(both))
            if invalid.any():
                present_numbers(both, role="rows")  # raises MonitorError naming the value
            out[name] = np.where(np.isfinite(numbers), numbers, np.nan)
        else:
            keys = category_keys(both).astype(object).where(both.notna().to_numpy(), None)
            levels = sorted(k for k in set(keys) if k is not None)
            out[name] = pd.Categorical(keys, categories=levels)
    return pd.DataFrame(out)
