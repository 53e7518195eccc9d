"""What :func:`~tabloop.train.train` returns: :class:`TrainResult`, and the data hash that
ties a model to its training table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabloop.train._baseline import BaselineCheck
from tabloop.train._cv import CVResult
from tabloop.train._model import TabloopModel
from tabloop.train._split import _encode

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.train._distributed import DistributedSource
    from tabloop.train._threshold import ThresholdChoice


@dataclass
class TrainResult:
    """Everything training produced: the model, the split, and the evidence for the report.

    ``baseline_check`` says whether the chosen model beats the dummy on the cross-validation
    folds (see :mod:`tabloop.train._baseline`); ``beats_dummy`` is its verdict. A model that
    does not is returned all the same (so it can be evaluated and inspected), with the
    verdict in ``warnings``; :func:`tabloop.registry.register` then gives it no alias.
    ``warnings`` also names every candidate the time budget skipped and every default model
    left out because its extra is not installed (those also in ``missing_extras``, with the
    ``pip install`` command); ``notes`` holds the rest of what the budget changed (refit by
    fold models, no learning curve).
    """

    config: ProjectConfig
    task: str
    model: TabloopModel
    train: pd.DataFrame = field(repr=False)
    test: pd.DataFrame = field(repr=False)
    metric: str
    cv: list[CVResult] = field(repr=False)
    weights: dict[str, float]
    oof: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    threshold: ThresholdChoice | None = None
    learning_curve: dict[str, Any] | None = None
    learning_curve_skipped: str | None = None  # why there is no curve (also in notes)
    dropped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    data_hash: str = ""
    imputation_comparison: dict[str, Any] | None = None
    baseline_check: BaselineCheck | None = None
    warnings: list[str] = field(default_factory=list)
    missing_extras: list[str] = field(default_factory=list)  # also in warnings
    sampling: dict[str, Any] | None = None  # rows cross-validated and refitted, and why
    # train.engine dask: the table on the workers, for the test split's counts
    source: DistributedSource | None = field(default=None, repr=False)

    @property
    def beats_dummy(self) -> bool:
        """False when the chosen model is not better than the dummy beyond noise (or is the
        dummy); True for clustering, which has no dummy."""
        return self.baseline_check is None or self.baseline_check.beats_dummy

    def encode(self, y: pd.Series) -> np.ndarray:
        """Target values as the class codes the model's probabilities are ordered by."""
        return _encode(y, self.model.classes)

    def cv_table(self) -> list[dict[str, Any]]:
        return [
            {
                "model": r.name,
                "mean": r.mean,
                "std": r.std,
                "folds": r.fold_scores,
                "seconds": round(r.seconds, 2),
                "params": r.params,
                "weight": self.weights.get(r.name, 0.0),
            }
            for r in self.cv
        ]


def data_hash(df: pd.DataFrame) -> str:
    """A content hash of a frame (values and column names), to tie a model to its data."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    digest.update("\x1f".join(map(str, df.columns)).encode())
    return digest.hexdigest()[:16]
