"""Cross-validation: folds that follow the split strategy, out-of-fold predictions per model.

Preparation (derive, select, impute, encode, resample) is part of each candidate's
pipeline, so it is fitted inside every training fold and never sees the rows it is scored
on. Out-of-fold predictions feed model comparison, ensembling and the decision threshold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from tabloop._extras import require
from tabloop._settings import batch_threads
from tabloop.exceptions import TrainError
from tabloop.train._zoo import build_model, model_spec

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig

#: Selection metric per task when ``train.metric`` is not set.
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
LOWER_IS_BETTER = {"log_loss", "rmse", "mae", "mse", "brier"}


def make_pipeline(
    config: ProjectConfig,
    name: str,
    task: str,
    *,
    params: dict[str, Any] | None = None,
    imputation: str | None = None,
) -> Any:
    """The unfitted pipeline of one candidate: preparation for its family, then the model."""
    from tabloop.prepare import prepare_pipeline

    spec = model_spec(name)
    imbalance = config.train.imbalance if task in ("binary", "multiclass") else "none"
    prep = prepare_pipeline(config, family=spec.family, task=task)  # type: ignore[arg-type]
    if imputation is not None:
        prep.set_params(preprocess__imputation=imputation)
    merged = {**config.train.params.get(name, {}), **(params or {})}
    model = build_model(
        name, task, params=merged, seed=config.split.seed, balanced=imbalance == "class_weight"
    )
    steps = [*prep.steps]
    if imbalance == "smote" and name != "dummy":
        ImbPipeline = require("imbalanced", "train.imbalance: smote", "imblearn.pipeline").Pipeline

        if steps[-1][1].imputation in ("auto", "none"):
            # SMOTE interpolates between neighbours: it needs complete rows.
            steps[-1][1].set_params(imputation="median")
        pipe: Any = ImbPipeline(
            [*steps, ("smote", _Smote(seed=config.split.seed)), ("model", model)]
        )
    else:
        from sklearn.pipeline import Pipeline

        pipe = Pipeline([*steps, ("model", model)])
    if steps[-1][1].imputation == "multiple" and name != "dummy":
        from tabloop.prepare import MultipleImputation

        return MultipleImputation(
            pipeline=pipe, m=config.prepare.imputations, seed=config.split.seed
        )
    return pipe


class _Smote:
    """SMOTE, or SMOTENC when categorical columns remain, chosen at fit time from dtypes."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"seed": self.seed}

    def set_params(self, **params: Any) -> _Smote:
        self.seed = params.get("seed", self.seed)
        return self

    def fit_resample(self, X: pd.DataFrame, y: Any) -> tuple[Any, Any]:
        sampling = require("imbalanced", "train.imbalance: smote", "imblearn.over_sampling")
        SMOTE, SMOTENC = sampling.SMOTE, sampling.SMOTENC

        cats = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        k = int(min(5, max(1, np.bincount(np.asarray(y)).min() - 1)))
        sampler = (
            SMOTENC(categorical_features=cats, random_state=self.seed, k_neighbors=k)
            if cats
            else SMOTE(random_state=self.seed, k_neighbors=k)
        )
        X_res, y_res = sampler.fit_resample(X, y)
        for c in cats:  # keep the category dtype the model expects
            X_res[c] = pd.Categorical(X_res[c], categories=X[c].cat.categories)
        return X_res, y_res


def fold_indices(
    config: ProjectConfig, train: pd.DataFrame, y: np.ndarray, task: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fold (train, validation) positions matching the split strategy of the project."""
    from sklearn.model_selection import (
        GroupKFold,
        KFold,
        StratifiedGroupKFold,
        StratifiedKFold,
    )

    k = config.train.folds
    n = len(train)
    if n < 2 * k:
        raise TrainError(
            f"train.folds is {k} but the training split has only {n} rows; each fold needs at "
            f"least 2 rows. Lower train.folds or add data."
        )
    strategy, seed = config.split_strategy, config.split.seed
    classification = task in ("binary", "multiclass")
    if classification:
        smallest = int(np.bincount(y).min())
        if smallest < k:
            raise TrainError(
                f"train.folds is {k} but the rarest class of the target has only {smallest} "
                f"training rows; every fold needs one. Lower train.folds to {max(2, smallest)} "
                "or add data."
            )
    if strategy == "time":
        return _time_folds(train, config.split.time or config.data.time, k)
    if strategy == "group":
        groups = train[config.split.group].to_numpy()
        splitter: Any = (
            StratifiedGroupKFold(k, shuffle=True, random_state=seed)
            if classification
            else GroupKFold(k)
        )
        return list(splitter.split(train, y, groups))
    if classification and strategy == "stratified":
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(train, y))
    return list(KFold(k, shuffle=True, random_state=seed).split(train))


def _time_folds(
    train: pd.DataFrame, column: str | None, k: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``TimeSeriesSplit`` over the rows in time order, each cut moved back to the first row
    of its time, so rows of one time (a month of a panel) never sit on both sides of a fold,
    as in the test split. Positions, not index labels; rows of one time are ordered by
    their content, so the folds do not depend on the order of the file's rows."""
    from sklearn.model_selection import TimeSeriesSplit

    from tabloop.data.frame import time_values

    values = time_values(train[column])  # as the test split reads it
    order = np.lexsort((content_keys(train), values.to_numpy()))
    ordered = values.to_numpy()[order]
    n, folds = len(order), []
    for _, val in TimeSeriesSplit(n_splits=k).split(order):
        start = int(np.searchsorted(ordered, ordered[val[0]], side="left"))
        end = val[-1] + 1
        end = n if end == n else int(np.searchsorted(ordered, ordered[end], side="left"))
        if start == 0 or end <= start:
            raise TrainError(
                f"train.folds is {k} but the training split has only "
                f"{len(np.unique(ordered))} distinct times in {column!r}; a time fold needs "
                "earlier times to fit on and later ones to validate. Lower train.folds."
            )
        folds.append((order[:start], order[start:end]))
    return folds


def content_keys(frame: pd.DataFrame) -> np.ndarray:
    """A hash of each row's values: orders rows that tie on time by what they hold, not by
    where they sit in the file (zeros for values pandas cannot hash, such as lists)."""
    try:
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:
        return np.zeros(len(frame), dtype="uint64")


def predict_scores(model: Any, X: pd.DataFrame, task: str) -> np.ndarray:
    """Positive-class probability (binary), class probabilities (multiclass) or values."""
    limit = _thread_limit(model)
    if task == "regression":
        return np.asarray(model.predict(X, **limit), dtype=float)
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(X, **limit), dtype=float)
    else:  # a user model without probabilities: its labels as 0/1 scores
        labels = np.asarray(model.predict(X)).astype(int)
        proba = np.eye(int(labels.max()) + 2)[labels][:, :2]
    return proba[:, 1] if task == "binary" else proba


def _thread_limit(model: Any) -> dict[str, int]:
    """LightGBM's predict keyword for :func:`batch_threads` when OMP_NUM_THREADS is set:
    LightGBM predicts on every core whatever that variable says (measured: a one-thread
    Dask worker ran its predictions on two threads), and keeps to ``num_threads`` if given
    (a Pipeline passes it to its final step)."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    threads = batch_threads()
    if threads > 0 and type(final).__module__.startswith("lightgbm."):
        return {"num_threads": threads}
    return {}


def score(task: str, metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The selection metric, oriented so that higher is better."""
    from sklearn import metrics as m

    if metric == "roc_auc":
        value = (
            m.roc_auc_score(y, pred)
            if task == "binary"
            else m.roc_auc_score(y, pred, multi_class="ovr", labels=np.arange(pred.shape[1]))
        )
    elif metric == "pr_auc":
        value = m.average_precision_score(y, pred)
    elif metric == "log_loss":
        labels = [0, 1] if task == "binary" else np.arange(pred.shape[1])
        proba = np.clip(np.asarray(pred, dtype=np.float64), 1e-15, 1 - 1e-15)
        if task != "binary":  # float32 models (XGBoost) sum to 1 only within ~1e-7
            proba = proba / proba.sum(axis=1, keepdims=True)
        value = m.log_loss(y, proba, labels=labels)
    elif metric == "brier":
        value = m.brier_score_loss(y, pred)
    elif metric == "accuracy":
        labels = (pred >= 0.5).astype(int) if task == "binary" else pred.argmax(axis=1)
        value = m.accuracy_score(y, labels)
    elif metric in ("rmse", "mse", "mae", "r2"):
        fn = {
            "rmse": m.root_mean_squared_error,
            "mse": m.mean_squared_error,
            "mae": m.mean_absolute_error,
            "r2": m.r2_score,
        }[metric]
        value = fn(y, pred)
    else:
        raise TrainError(
            f"train.metric {metric!r} is not a selection metric; use one of roc_auc, pr_auc, "
            "log_loss, brier, accuracy (classification) or rmse, mse, mae, r2 (regression)."
        )
    return -float(value) if metric in LOWER_IS_BETTER else float(value)


class OutOfTime(TimeoutError):
    """A candidate's cross-validation stopped at the deadline after ``folds_done`` folds
    that took ``seconds`` (what the message naming the smallest budget is computed from)."""

    def __init__(self, name: str, folds_done: int, seconds: float) -> None:
        super().__init__(name)
        self.name, self.folds_done, self.seconds = name, folds_done, seconds


@dataclass
class CVResult:
    """One candidate's cross-validation: out-of-fold predictions and per-fold scores."""

    name: str
    params: dict[str, Any]
    oof: np.ndarray
    fold_scores: list[float]
    seconds: float
    fold_models: list[Any] = field(default_factory=list, repr=False)

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_scores, ddof=1)) if len(self.fold_scores) > 1 else 0.0


def cross_validate(
    pipeline: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    task: str,
    metric: str,
    name: str,
    params: dict[str, Any] | None = None,
    n_classes: int = 2,
    keep_models: bool = True,
    deadline: float | None = None,
    on_fold: Callable[[], None] | None = None,
) -> CVResult:
    """Fit ``pipeline`` on each training fold and predict its validation fold.

    Rows never in a validation fold (the first block of a time split) keep NaN.
    Raises :class:`OutOfTime` when ``deadline`` (a ``time.monotonic`` value) passes.
    """
    start = time.monotonic()
    shape = (len(X),) if task != "multiclass" else (len(X), n_classes)
    oof = np.full(shape, np.nan)
    scores, models = [], []
    for fit_rows, val_rows in folds:
        if deadline is not None and time.monotonic() > deadline:
            raise OutOfTime(name, len(scores), time.monotonic() - start)
        model = clone(pipeline).fit(X.iloc[fit_rows], y[fit_rows])
        pred = predict_scores(model, X.iloc[val_rows], task)
        if task == "multiclass":
            pred = align_classes(model, pred, n_classes)
        oof[val_rows] = pred
        scores.append(score(task, metric, y[val_rows], pred))
        if keep_models:
            models.append(model)
        if on_fold is not None:
            on_fold()
    return CVResult(name, dict(params or {}), oof, scores, time.monotonic() - start, models)


def align_classes(model: Any, proba: np.ndarray, n_classes: int) -> np.ndarray:
    """Place a fold model's probability columns at their class codes (a fold may lack a class)."""
    classes = np.asarray(getattr(model, "classes_", np.arange(proba.shape[1])), dtype=int)
    out = np.zeros((len(proba), n_classes))
    out[:, classes] = proba
    return out


def covered(oof: np.ndarray) -> np.ndarray:
    """Rows that have an out-of-fold prediction."""
    return ~np.isnan(oof) if oof.ndim == 1 else ~np.isnan(oof).any(axis=1)
