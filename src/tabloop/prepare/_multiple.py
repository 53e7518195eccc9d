"""Multiple imputation: ``m`` pipelines, each on its own posterior draw, predictions averaged.

A single imputed value pretends to know what was missing; drawing ``m`` plausible values
(MICE with ``sample_posterior``) and averaging the ``m`` models' predictions carries the
uncertainty of the imputation into the prediction (Rubin's rules, for predictions).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted


class MultipleImputation(BaseEstimator):
    """Fit ``m`` clones of ``pipeline`` whose ``preprocess`` step draws different imputations.

    Parameters
    ----------
    pipeline : a Pipeline with a ``preprocess`` step (:class:`Preprocess`) whose
        ``imputation`` is ``multiple``.
    m : number of draws (and of fitted pipelines).
    seed : the draws use seeds ``seed, seed + 1, ...``.
    """

    def __init__(self, *, pipeline: Any = None, m: int = 5, seed: int = 0) -> None:
        self.pipeline = pipeline
        self.m = m
        self.seed = seed

    def fit(self, X: Any, y: Any) -> MultipleImputation:
        self.pipelines_ = [
            clone(self.pipeline).set_params(preprocess__seed=self.seed + i).fit(X, y)
            for i in range(self.m)
        ]
        last = self.pipelines_[0]
        if hasattr(last, "classes_"):
            self.classes_ = last.classes_
        return self

    @property
    def named_steps(self) -> Any:
        """The first draw's steps (for inspection: selection, imputation report, SHAP)."""
        check_is_fitted(self, "pipelines_")
        return self.pipelines_[0].named_steps

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "pipelines_")
        return np.mean([p.predict_proba(X) for p in self.pipelines_], axis=0)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "pipelines_")
        if hasattr(self, "classes_"):
            return np.asarray(self.classes_)[self.predict_proba(X).argmax(axis=1)]
        return np.mean([p.predict(X) for p in self.pipelines_], axis=0)
