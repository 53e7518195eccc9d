"""Choose the features a model sees, and say why each other column was left out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tabloop.data import frame as _frame
from tabloop.data import infer_schema, infer_task, single_feature_power
from tabloop.exceptions import DataError
from tabloop.prepare._replay import StepReplay, View

_TARGET = "__tabloop_target__"


class SelectFeatures(TransformerMixin, BaseEstimator):
    """Drop configured, id-like, constant and leaking columns, and one of each correlated pair.

    Parameters
    ----------
    drop : columns never used (``features.drop``).
    include : when given, only these columns are candidates (``features.include``), and no
        automatic check (id-like, constant, text, leakage, correlation) drops one of them.
    keep : columns kept whatever the checks say (an explicit decision in ``tabloop.yaml``).
    correlation_threshold : of two numeric columns whose |Spearman| reaches this, the one less
        related to the target (by single-column score) is dropped; ``None`` disables it.
    leakage_cutoff : a column whose single-column ROC-AUC (R² for regression) reaches this is
        dropped as leakage, as the profiler flags it; ``None`` disables it.
    task : ``binary``/``multiclass``/``regression``; inferred from ``y`` when omitted.
    lagged : columns computed from strictly earlier rows (``features.lags``): a declared
        view of the past, never dropped as leakage or as one of a correlated pair.
    text : columns read as free text whatever their inferred kind (``features.text``);
        each must be a column of ``X``.
    encode_text : keep free-text columns for :class:`~tabloop.prepare.EncodeText`
        (``prepare.text.encode``, true by default); when False they are dropped, saying so.

    Attributes
    ----------
    selected_ : the columns passed on, in input order.
    dropped_ : column -> reason, for the evaluation report.
    scores_ : column -> single-column score (ROC-AUC or R²).
    """

    def __init__(
        self,
        *,
        drop: list[str] | None = None,
        include: list[str] | None = None,
        keep: list[str] | None = None,
        correlation_threshold: float | None = 0.95,
        leakage_cutoff: float | None = 0.9,
        task: str | None = None,
        seed: int = 0,
        lagged: list[str] | None = None,
        text: list[str] | None = None,
        encode_text: bool = True,
    ) -> None:
        self.drop = drop
        self.include = include
        self.keep = keep
        self.correlation_threshold = correlation_threshold
        self.leakage_cutoff = leakage_cutoff
        self.task = task
        self.seed = seed
        self.lagged = lagged
        self.text = text
        self.encode_text = encode_text

    def fit(self, X: pd.DataFrame, y: Any) -> SelectFeatures:
        _frame.require_frame(X, name="X")
        _frame.require_columns(
            X, [*(self.drop or []), *(self.include or []), *(self.keep or [])], role="column"
        )
        _frame.require_columns(X, list(self.text or []), role="features.text column")
        # a column the user listed by name is an explicit decision, as prepare.keep is
        keep = {*(self.keep or []), *(self.include or [])}
        dropped: dict[str, str] = {c: "listed in features.drop" for c in self.drop or []}
        if self.include is not None:
            for c in X.columns:
                if c not in self.include and c not in keep:
                    dropped.setdefault(str(c), "not in features.include")
        schema = infer_schema(X, strict=False, text=list(self.text or []))
        for col in schema:
            if col.name in dropped or col.name in keep:
                continue
            if col.kind == "id":
                dropped[col.name] = "id-like (unique per row)"
            elif col.n_unique <= 1:
                dropped[col.name] = "constant"
            elif col.kind == "text" and not self.encode_text:
                dropped[col.name] = "free text, not encoded (prepare.text.encode is false)"

        past = set(self.lagged or [])  # declared lags: the past, known at prediction time
        target = pd.Series(np.asarray(y), index=X.index, name=_TARGET)
        task = self.task or infer_task(target)
        candidates = [str(c) for c in X.columns if c not in dropped]
        scored = single_feature_power(
            X[candidates].assign(**{_TARGET: target}), candidates, _TARGET, task, seed=self.seed
        )
        self.scores_ = {r["column"]: r["score"] for r in scored}
        metric = "ROC-AUC" if task in ("binary", "multiclass") else "R²"
        if self.leakage_cutoff is not None:
            for column, score in self.scores_.items():
                if score >= self.leakage_cutoff and column not in keep | past:
                    dropped[column] = (
                        f"possible leakage: {metric} {score:.3f} alone (cut-off "
                        f"{self.leakage_cutoff}); list it under prepare.keep to use it"
                    )
        if self.correlation_threshold is not None:
            dropped.update(self._correlated(X, schema, dropped, keep | past))

        self.selected_ = [str(c) for c in X.columns if c not in dropped]
        if not self.selected_:
            reasons = "; ".join(f"{c}: {r}" for c, r in dropped.items())
            raise DataError(f"Feature selection dropped every column ({reasons}).")
        self.dropped_ = dropped
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def _correlated(
        self, X: pd.DataFrame, schema: Any, dropped: dict[str, str], keep: set[str]
    ) -> dict[str, str]:
        numeric = [c.name for c in schema if c.kind == "numeric" and c.name not in dropped]
        if len(numeric) < 2:
            return {}
        corr = X[numeric].astype("float64").corr(method="spearman").abs()
        pairs = [
            (corr.iat[i, j], numeric[i], numeric[j])
            for i in range(len(numeric))
            for j in range(i + 1, len(numeric))
            if corr.iat[i, j] >= self.correlation_threshold
        ]
        out: dict[str, str] = {}
        for value, a, b in sorted(pairs, reverse=True):
            if a in out or b in out:
                continue
            weaker, stronger = sorted((a, b), key=lambda c: self.scores_.get(c, 0.0))
            if weaker in keep:
                weaker, stronger = stronger, weaker
            if weaker in keep:
                continue
            out[weaker] = (
                f"correlated with {stronger!r} (|Spearman| {value:.2f}); "
                f"{stronger!r} is more related to the target"
            )
        return out

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "selected_")
        _frame.require_columns(X, self.selected_, role="feature column")
        return X[self.selected_]

    def compile_replay(self, kinds: Mapping[str, str]) -> StepReplay:
        """:meth:`transform` on numpy columns: the later steps read only ``selected_``."""
        check_is_fitted(self, "selected_")

        def run(view: View) -> None:
            return None

        return StepReplay(run, {c: kinds.get(c, "unknown") for c in self.selected_})

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "selected_")
        return np.asarray(self.selected_, dtype=object)
