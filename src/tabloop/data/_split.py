"""Hold out a test set: stratified, random, group-aware (no entity on both sides) or by time."""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from tabloop.data import _frame
from tabloop.exceptions import SplitError, TargetError

SplitStrategy = Literal["stratified", "random", "group", "time"]
SPLIT_STRATEGIES: tuple[str, ...] = ("stratified", "random", "group", "time")
#: A numeric target with more distinct values than this is stratified by quantile bins.
_MAX_CLASSES = 20
_REGRESSION_BINS = 10


class TrainTest(NamedTuple):
    """The two sides of a split; unpacks as ``train, test = split(...)``."""

    train: pd.DataFrame
    test: pd.DataFrame


def split(
    df: pd.DataFrame,
    *,
    target: str | None = None,
    strategy: SplitStrategy = "stratified",
    test_size: float = 0.2,
    group: str | None = None,
    time: str | None = None,
    seed: int = 0,
) -> TrainTest:
    """Split ``df`` into train and test.

    Parameters
    ----------
    strategy : ``stratified`` keeps the target's class shares (quantile bins for a numeric
        target) on both sides; ``random`` shuffles; ``group`` keeps all rows of one value of
        ``group`` on the same side; ``time`` puts every test row strictly after every train
        row of column ``time`` (ties at the cut go to test, so no look-ahead).
    test_size : share of rows (of groups, for ``group``) held out, in (0, 1).

    Raises
    ------
    TargetError : the target has missing values (their rows are listed) or a single value.
    SplitError : the strategy cannot be applied (e.g. a class with a single row).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabloop.data import split
    >>> df = pd.DataFrame({"x": range(10), "y": [0, 1] * 5})
    >>> train, test = split(df, target="y", test_size=0.2)
    >>> len(train), len(test), sorted(test["y"])
    (8, 2, [0, 1])
    """
    _frame.require_frame(df)
    if strategy not in SPLIT_STRATEGIES:
        raise SplitError(f"split.strategy must be one of {SPLIT_STRATEGIES}; got {strategy!r}.")
    if not 0 < test_size < 1:
        raise SplitError(f"split.test_size must be between 0 and 1 (exclusive); got {test_size!r}.")
    if len(df) < 2:
        raise SplitError(f"Cannot split {len(df)} row(s); need at least 2.")
    if target is not None:
        _frame.require_columns(df, [target], role="target column")
        check_target(df, target)

    if strategy == "time":
        return _split_by_time(df, time, test_size)
    if strategy == "group":
        return _split_by_group(df, group, test_size, seed)

    from sklearn.model_selection import train_test_split

    stratify = None
    if strategy == "stratified":
        if target is None:
            raise SplitError("split.strategy 'stratified' needs a target column; use 'random'.")
        stratify = _strata(df[target])
        counts = stratify.value_counts()
        if counts.min() < 2:
            raise SplitError(
                f"Cannot stratify on {target!r}: class {counts.idxmin()!r} has only "
                f"{counts.min()} row. Use split.strategy 'random' or add rows of that class."
            )
    try:
        train, test = train_test_split(
            df, test_size=test_size, random_state=seed, stratify=stratify
        )
    except ValueError as exc:
        raise SplitError(f"Cannot split {len(df)} rows with test_size={test_size}: {exc}") from exc
    return TrainTest(train, test)


def check_target(df: pd.DataFrame, target: str) -> None:
    """Raise :class:`TargetError` listing the rows where the target is missing, or naming
    its value when it has a single one (a model needs at least two)."""
    missing = df[target].isna()
    if missing.any():
        rows = [_frame.row_label(r) for r in df.index[missing]]
        shown = ", ".join(str(r) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
        raise TargetError(
            f"Target {target!r} is missing in {len(rows)} row(s): {shown}. Fill or drop "
            "those rows before training; tabloop does not drop them silently.",
            column=target,
            rows=rows,
        )
    values = df[target].drop_duplicates()
    if len(values) == 1:
        raise TargetError(
            f"Target {target!r} has 1 distinct value, {_frame.python_value(values.iloc[0])!r}, "
            f"in all {len(df):,} rows; a model needs at least 2. Check data.target, or add "
            "rows with another value.",
            column=target,
        )


def _strata(y: pd.Series) -> pd.Series:
    if _frame.is_numeric(y) and y.nunique() > _MAX_CLASSES:
        return pd.qcut(y, q=_REGRESSION_BINS, labels=False, duplicates="drop")
    return _frame.category_keys(y)


def _split_by_group(df: pd.DataFrame, group: str | None, test_size: float, seed: int) -> TrainTest:
    from sklearn.model_selection import GroupShuffleSplit

    if group is None:
        raise SplitError("split.strategy 'group' needs split.group: the column naming the entity.")
    _frame.require_columns(df, [group], role="group column")
    if df[group].isna().any():
        row = df[group].isna().idxmax()
        raise SplitError(f"Group column {group!r} is missing in row {_frame.row_label(row)}.")
    if df[group].nunique() < 2:
        raise SplitError(f"Group column {group!r} has a single value; need at least 2 groups.")
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_idx, test_idx = next(splitter.split(df, groups=df[group]))
    return TrainTest(df.iloc[train_idx], df.iloc[test_idx])


def _split_by_time(df: pd.DataFrame, time: str | None, test_size: float) -> TrainTest:
    if time is None:
        raise SplitError("split.strategy 'time' needs a time column (data.time or split.time).")
    _frame.require_columns(df, [time], role="time column")
    column = df[time]
    values = _frame.time_values(column)  # as the time folds, sample and lags read it
    bad = values.isna()
    if bad.any():
        row = bad.idxmax()
        raise SplitError(
            f"Time column {time!r} has a missing or unparseable value {column[row]!r} in row "
            f"{_frame.row_label(row)}."
        )
    distinct = np.sort(values.unique())
    if len(distinct) < 2:
        raise SplitError(f"Time column {time!r} has a single value; cannot split by time.")
    # Rows at or after each distinct time; choose the cut whose test share is closest to
    # test_size while leaving at least one time in train.
    counts = values.value_counts().reindex(distinct).to_numpy()
    at_or_after = np.cumsum(counts[::-1])[::-1] / len(values)
    best = 1 + int(np.argmin(np.abs(at_or_after[1:] - test_size)))
    cut = distinct[best]
    is_test = (values >= cut).to_numpy()
    return TrainTest(df[~is_test], df[is_test])
