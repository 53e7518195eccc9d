"""Infer the learning task from the target column, and which class counts as positive."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from tabloop.data import _frame
from tabloop.exceptions import TargetError

Task = Literal["binary", "multiclass", "regression", "clustering"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression", "clustering")
#: An integer target with at most this many distinct values is read as classes.
MAX_INTEGER_CLASSES = 10
_POSITIVE_WORDS = {"1", "true", "yes", "y", "positive"}


def infer_task(target: pd.Series | None) -> Task:
    """``clustering`` without a target; ``binary`` for two values; ``regression`` for
    non-integral numbers or integers with more than 10 distinct values; else ``multiclass``.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabloop.data import infer_task
    >>> infer_task(pd.Series([0, 1, 1])), infer_task(pd.Series([1.5, 2.25, 3.0]))
    ('binary', 'regression')
    """
    if target is None:
        return "clustering"
    present = target.dropna()
    n_unique = present.nunique()
    if n_unique < 2:
        raise TargetError(
            f"Target {target.name!r} has {n_unique} distinct value(s); a model needs at least 2.",
            column=str(target.name),
        )
    if n_unique == 2:
        return "binary"
    if _frame.is_numeric(present):
        values = present.astype("float64")
        integral = bool((values == np.round(values)).all())
        if not integral or n_unique > MAX_INTEGER_CLASSES:
            return "regression"
    return "multiclass"


def positive_label(target: pd.Series) -> Any:
    """The class reported as positive for a binary target.

    ``1``/``True``/``"yes"``-like values win; otherwise the minority class (the one a
    team usually wants to find).
    """
    keys = _frame.category_keys(target.dropna())
    counts = keys.value_counts()
    for value in counts.index:
        if str(value).strip().lower() in _POSITIVE_WORDS:
            return value
    return counts.index[-1]
