"""Pairwise associations between columns: Pearson, Spearman and Cramér's V."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from tabloop.data import _frame

#: Categories beyond the most frequent ones are pooled for Cramér's V (keeps tables small).
_MAX_LEVELS = 50


def correlations(
    df: pd.DataFrame, numeric: list[str], categorical: list[str], *, threshold: float
) -> dict[str, Any]:
    """Correlation matrices and the pairs whose absolute association reaches ``threshold``.

    Pearson and Spearman use pairwise-complete rows (pandas); Cramér's V is the
    uncorrected statistic of scipy on the crosstab of each pair of categorical columns,
    with missing values as their own level.
    """
    out: dict[str, Any] = {"threshold": threshold, "high_pairs": []}
    if len(numeric) >= 2:
        values = df[numeric].astype("float64")
        for method in ("pearson", "spearman"):
            matrix = values.corr(method=method)
            out[method] = _matrix(matrix)
            out["high_pairs"] += _high_pairs(matrix, method, threshold)
    if len(categorical) >= 2:
        matrix = cramers_v_matrix(df, categorical)
        out["cramers_v"] = _matrix(matrix)
        out["high_pairs"] += _high_pairs(matrix, "cramers_v", threshold)
    out["high_pairs"].sort(key=lambda p: -abs(p["value"]))
    return out


def cramers_v_matrix(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    from scipy.stats.contingency import association

    codes = {c: _codes(df[c]) for c in columns}
    matrix = pd.DataFrame(np.eye(len(columns)), index=columns, columns=columns)
    for a, b in combinations(columns, 2):
        table = pd.crosstab(codes[a], codes[b]).to_numpy()
        if table.shape[0] < 2 or table.shape[1] < 2:
            value = np.nan
        else:
            value = float(association(table, method="cramer"))
        matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix


def _codes(series: pd.Series) -> pd.Series:
    keys = _frame.category_keys(series).fillna("(missing)")
    top = keys.value_counts().index[:_MAX_LEVELS]
    return keys.where(keys.isin(top), "(other)")


def _matrix(matrix: pd.DataFrame) -> dict[str, Any]:
    return {
        "columns": [str(c) for c in matrix.columns],
        "values": [[_round(v) for v in row] for row in matrix.to_numpy()],
    }


def _high_pairs(matrix: pd.DataFrame, method: str, threshold: float) -> list[dict[str, Any]]:
    pairs = []
    names = list(matrix.columns)
    for i, j in combinations(range(len(names)), 2):
        value = matrix.iat[i, j]
        if pd.notna(value) and abs(value) >= threshold:
            pairs.append({"a": names[i], "b": names[j], "method": method, "value": _round(value)})
    return pairs


def _round(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 4)
