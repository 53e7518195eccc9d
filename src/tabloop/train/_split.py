"""Step 1 of :func:`~tabloop.train.train`: hold out the test split and encode the target.

Also the target's classes and their codes, which :class:`~tabloop.train.TrainResult` and
the refit steps share: a class is a plain Python value, ordered negative then positive for
a binary target, sorted otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabloop.exceptions import TrainError
from tabloop.train._cv import DEFAULT_METRIC, fold_indices

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig


@dataclass
class SplitData:
    """Step 1: the held-out test split, and the training rows encoded for cross-validation."""

    task: str
    target: str
    classes: list[Any]
    train: pd.DataFrame = field(repr=False)
    test: pd.DataFrame = field(repr=False)
    X: pd.DataFrame = field(repr=False)
    y: np.ndarray = field(repr=False)
    folds: list[tuple[np.ndarray, np.ndarray]] = field(repr=False)
    metric: str


def split_and_encode(
    df: pd.DataFrame, config: ProjectConfig, *, is_test: np.ndarray | None = None
) -> SplitData:
    """Check the target, hold out the test split (the rows ``is_test`` marks, when given),
    encode the target, make the CV folds."""
    from tabloop.data import check_target, infer_task, split
    from tabloop.data.frame import require_columns

    target = config.data.target
    assert target is not None  # train() sends a project without a target to clustering
    require_columns(df, [target], role="target column")
    check_target(df, target)
    task = config.task or infer_task(df[target])
    classes = _classes(df[target], task)
    if is_test is not None:
        train_df, test_df = df[~is_test], df[is_test]
    else:
        train_df, test_df = split(
            df,
            target=target,
            strategy=config.split_strategy,
            test_size=config.split.test_size,
            group=config.split.group,
            time=config.split.time or config.data.time,
            seed=config.split.seed,
        )
    # a target with features.lags rides along as history: the lags step reads the values of
    # earlier rows and removes the column (a row never sees its own target)
    X = train_df if target in config.features.lags else train_df.drop(columns=[target])
    y = (
        _encode(train_df[target], classes)
        if task != "regression"
        else train_df[target].to_numpy(float)
    )
    if task != "regression" and len(np.unique(y)) < 2:
        raise TrainError(f"The training split has a single class of {target!r}; need two.")
    return SplitData(
        task=task,
        target=target,
        classes=classes,
        train=train_df,
        test=test_df,
        X=X,
        y=y,
        folds=fold_indices(config, train_df, y, task),
        metric=config.train.metric or DEFAULT_METRIC[task],
    )


def _classes(y: pd.Series, task: str) -> list[Any]:
    from tabloop.data import positive_label

    if task == "regression":
        return []
    values = pd.unique(y.dropna())
    if task == "binary":
        positive = positive_label(y)
        from tabloop.data.frame import category_keys

        keys = category_keys(pd.Series(values))
        pos = values[list(keys).index(positive)] if positive in list(keys) else values[-1]
        neg = next(v for v in values if v != pos)
        return [_python(neg), _python(pos)]
    try:
        return [_python(v) for v in sorted(values)]
    except TypeError:
        return [_python(v) for v in sorted(values, key=str)]


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _encode(y: pd.Series, classes: list[Any]) -> np.ndarray:
    codes = pd.Categorical(y.map(_python), categories=classes).codes
    if (codes < 0).any():
        unknown = pd.Series(y)[codes < 0].iloc[0]
        raise TrainError(f"Target value {unknown!r} is not one of the classes {classes}.")
    return np.asarray(codes, dtype=int)
