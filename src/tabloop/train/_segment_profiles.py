"""What each segment looks like, in the original, human-readable columns.

:func:`segment_profiles` gives one row per segment: its size, each numeric column's mean,
each other column's most common value, and the few columns that set the segment apart
(standardised mean differences against the rest of the rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tabloop.data.frame import is_datetime, is_numeric, python_value, require_frame
from tabloop.exceptions import TrainError

#: Columns :func:`segment_profiles` lists as most distinguishing, per segment.
N_DISTINGUISHING = 3
#: Most levels per categorical column considered as distinguishing (the most frequent).
MAX_LEVELS = 20


def segment_profiles(
    df: pd.DataFrame, labels: Any, *, distinguishing: int = N_DISTINGUISHING
) -> pd.DataFrame:
    """One row per segment, in the original columns, for people to read.

    Columns: ``count`` and ``share`` of rows; ``<col> mean`` for each numeric column;
    ``<col> top`` (the most common value) and ``<col> top share`` (its share of the
    segment's rows, missing values included) for each other column; and
    ``distinguishing``: the ``distinguishing`` columns whose segment mean differs most
    from the rest of the rows, in standard deviations of the whole column (for a category,
    of its 0/1 indicator; the ``MAX_LEVELS`` most frequent levels are considered).

    Examples
    --------
    >>> df = pd.DataFrame({"age": [20, 22, 60, 64], "city": ["a", "a", "b", "b"]})
    >>> profile = segment_profiles(df, [0, 0, 1, 1])
    >>> profile["age mean"].tolist(), profile["city top"].tolist()
    ([21.0, 62.0], ['a', 'b'])
    >>> profile.loc[1, "distinguishing"]
    'city=b 100% vs 0%, age +2.0 sd'
    """
    require_frame(df)
    seg = np.asarray(labels)
    if seg.ndim != 1 or len(seg) != len(df):
        raise TrainError(
            f"labels must hold one segment per row of df: df has {len(df)} rows, labels has "
            f"shape {seg.shape}."
        )
    if len(df) == 0:
        raise TrainError("df has no rows; there is no segment to describe.")
    if pd.isna(seg).any():
        raise TrainError(
            f"labels has {int(pd.isna(seg).sum())} missing value(s); every row needs a segment."
        )
    key = pd.Index(seg, name="segment")
    frame = df.set_axis(key, axis=0)
    groups = frame.groupby(level=0, sort=True)
    sizes = groups.size()
    out = pd.DataFrame({"count": sizes, "share": sizes / len(df)})
    smd: dict[str, pd.Series] = {}
    labels_text: dict[str, Any] = {}
    for col in df.columns:
        values = frame[col]
        if is_numeric(values):
            x = values.astype(float)
            out[f"{col} mean"] = x.groupby(level=0).mean()
            smd[str(col)] = _smd(x, sizes)
            labels_text[str(col)] = None
        elif is_datetime(values):
            out[f"{col} mean"] = values.groupby(level=0).mean()
        else:
            top = values.groupby(level=0).agg(_mode)
            out[f"{col} top"] = top.map(lambda t: t[0])
            out[f"{col} top share"] = top.map(lambda t: t[1]) / sizes
            levels = pd.DataFrame(
                {
                    lv: _smd((values == lv).astype(float), sizes)
                    for lv in values.value_counts().index[:MAX_LEVELS]
                },
                index=sizes.index,
            ).dropna(axis=1, how="all")
            if levels.shape[1]:  # per segment, the level that differs most (ties: one it has)
                best = (levels.abs() + 1e-9 * (levels > 0)).fillna(-1.0).idxmax(axis=1)
                smd[str(col)] = pd.Series(
                    levels.to_numpy()[
                        np.arange(len(levels)), levels.columns.get_indexer(pd.Index(best))
                    ],
                    index=sizes.index,
                )
                labels_text[str(col)] = (col, best)
    smd_table = pd.DataFrame(smd, index=sizes.index)
    out["distinguishing"] = _distinguishing(smd_table, frame, labels_text, distinguishing)
    return out


def _mode(values: pd.Series) -> tuple[Any, int]:
    counts = values.value_counts()
    if counts.empty:
        return None, 0
    return python_value(counts.index[0]), int(counts.iloc[0])


def _smd(x: pd.Series, sizes: pd.Series) -> pd.Series:
    """(segment mean - mean of the other rows) / standard deviation of the whole column."""
    present = x.notna()
    total, count = x.sum(), present.sum()
    seg_sum = x.groupby(level=0).sum()
    seg_count = present.groupby(level=0).sum()
    rest_count = count - seg_count
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = seg_sum / seg_count - (total - seg_sum) / rest_count
    sd = float(x.std(ddof=0))
    if not sd > 0:
        return pd.Series(np.nan, index=sizes.index)
    return (diff / sd).where((seg_count > 0) & (rest_count > 0)).reindex(sizes.index)


def _distinguishing(
    smd: pd.DataFrame, frame: pd.DataFrame, names: dict[str, Any], top: int
) -> pd.Series:
    """Per segment, the ``top`` largest |SMD| as text: ``income +1.9 sd, city=b 80% vs 10%``.

    ``names`` maps a numeric column to ``None`` and a categorical one to ``(column, level
    per segment)``, the level whose indicator differs most in that segment.
    """
    out = {}
    for segment, row in smd.iterrows():
        row = row.dropna()
        parts = []
        for name in row.abs().sort_values(ascending=False, kind="stable").index[:top]:
            if names[name] is None:
                parts.append(f"{name} {row[name]:+.1f} sd")
            else:
                col, level = names[name][0], names[name][1][segment]
                inside = frame.loc[[segment], col] == level
                rest = frame.loc[frame.index != segment, col] == level
                parts.append(f"{col}={level} {inside.mean():.0%} vs {rest.mean():.0%}")
        out[segment] = ", ".join(parts)
    return pd.Series(out, dtype=object).reindex(smd.index)
