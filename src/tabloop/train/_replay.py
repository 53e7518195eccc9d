"""The zoo's fitted estimators called on a numpy :class:`~tabloop.prepare.Block`.

:func:`replay_estimator` returns ``predict(block, single_thread)``, which gives exactly
what ``predict_scores(estimator, X, task)`` gives for the prepared DataFrame ``X`` but
calls the library below the scikit-learn wrapper, through public APIs only: LightGBM's
``Booster.predict``, XGBoost's ``Booster.inplace_predict``, scikit-learn's own methods on a
float array; :class:`~tabloop.train.CatBoostModel` carries its own ``compile_replay``.
Training is untouched: the fitted objects are read, never changed (XGBoost gets a copy of
its booster for the single-threaded calls).

Threads: a batch of at most :data:`SINGLE_THREAD_ROWS` rows is predicted on one thread.
Measured on the 2-core box with two busy processes beside it (LightGBM, 200 trees):
300 rows took 1.9 ms on one thread and 8.0 ms on two; 1,000 rows 22.7 ms and 10.8 ms.
Idle, one row costs the same either way (0.02 ms). Starting threads pays only when each
has milliseconds of work, and on a shared box their start-up is what makes the tail.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from tabloop.prepare import Block, Unsupported

#: Batches up to this many rows are predicted on one thread; larger ones on every core.
SINGLE_THREAD_ROWS = 500

Predict = Callable[[Block, bool], np.ndarray]
_SKLEARN = ("sklearn.linear_model.", "sklearn.ensemble._forest", "sklearn.dummy")


def replay_estimator(estimator: Any, task: str) -> Predict:
    """``predict(block, single_thread)`` for a fitted estimator; :class:`Unsupported` when
    the estimator is not one of the zoo's (the pipeline then keeps the DataFrame path)."""
    from sklearn.utils.validation import check_is_fitted

    if hasattr(type(estimator), "compile_replay"):
        return estimator.compile_replay(task)  # type: ignore[no-any-return]
    module = type(estimator).__module__
    for prefix, compile_ in _REPLAYS:
        if module.startswith(prefix):
            check_is_fitted(estimator)
            return compile_(estimator, task)
    raise Unsupported(f"estimator {type(estimator).__name__}")


def _scores(output: Any, task: str) -> np.ndarray:
    """``predict_scores``' last step: the positive column (binary) or the whole matrix."""
    proba = np.asarray(output, dtype=float)
    return proba[:, 1] if task == "binary" else proba


def _lightgbm(estimator: Any, task: str) -> Predict:
    import lightgbm

    if not isinstance(estimator, lightgbm.LGBMModel):
        raise Unsupported(f"LightGBM estimator {type(estimator).__name__}")
    booster = estimator.booster_
    learnt = [list(c) for c in (booster.pandas_categorical or [])]
    remaps: dict[tuple[tuple[str, ...], ...], list[np.ndarray | None]] = {}

    def remap(block: Block) -> list[np.ndarray | None]:
        # a block's category codes -> the codes LightGBM learnt (the same lists in practice)
        if block.categories not in remaps:
            if len(learnt) != len(block.categories):
                raise Unsupported("categorical columns that LightGBM did not learn")
            out: list[np.ndarray | None] = []
            for ours, theirs in zip(block.categories, learnt, strict=True):
                if list(ours) == theirs:
                    out.append(None)
                else:
                    index = {v: float(i) for i, v in enumerate(theirs)}
                    out.append(np.asarray([index.get(v, np.nan) for v in ours] + [np.nan]))
            remaps[block.categories] = out
        return remaps[block.categories]

    def predict(block: Block, single: bool) -> np.ndarray:
        values = block.values
        maps = remap(block)
        if any(m is not None for m in maps):
            values = values.copy()
            for position, table in zip(block.categorical, maps, strict=True):
                if table is not None:
                    codes = values[:, position]
                    codes = np.where(np.isnan(codes), len(table) - 1, codes).astype(int)
                    values[:, position] = table[codes]
        # binary: the positive-class probability, as predict_proba's second column
        return np.asarray(booster.predict(values, num_threads=1 if single else 0), dtype=float)

    return predict


def _xgboost(estimator: Any, task: str) -> Predict:
    import xgboost

    if not isinstance(estimator, xgboost.XGBModel):
        raise Unsupported(f"XGBoost estimator {type(estimator).__name__}")
    if estimator.objective == "multi:softmax":
        raise Unsupported("XGBoost multi:softmax (no probabilities)")
    booster = estimator.get_booster()
    single_booster = booster.copy()
    single_booster.set_param({"nthread": 1})
    # the trees XGBModel.predict uses: up to the best iteration under early stopping
    try:
        iterations = (0, int(estimator.best_iteration) + 1)
    except AttributeError:
        iterations = (0, booster.num_boosted_rounds())

    def predict(block: Block, single: bool) -> np.ndarray:
        chosen = single_booster if single else booster
        raw = chosen.inplace_predict(
            block.values,
            iteration_range=iterations,
            predict_type="value",
            missing=estimator.missing,
            validate_features=False,
        )
        if task == "regression":
            return np.asarray(raw, dtype=float)
        if raw.ndim == 2 and raw.shape[1] == len(estimator.classes_):
            return _scores(raw, task)
        return _scores(np.vstack((1.0 - raw, raw)).T, task)

    return predict


def _sklearn(estimator: Any, task: str) -> Predict:
    # a shallow copy without feature names takes a plain array without a warning; one more
    # with n_jobs=1 keeps a forest's small batches off joblib's thread pool
    bare = copy.copy(estimator)
    bare.__dict__.pop("feature_names_in_", None)
    one = bare
    if getattr(estimator, "n_jobs", None) not in (None, 1):
        one = copy.copy(bare)
        one.n_jobs = 1
    classify = task != "regression" and hasattr(estimator, "predict_proba")
    if task != "regression" and not classify:
        raise Unsupported(f"{type(estimator).__name__} without predict_proba")

    def predict(block: Block, single: bool) -> np.ndarray:
        if block.categorical:
            raise Unsupported("category codes for a scikit-learn estimator")
        model = one if single else bare
        if classify:
            return _scores(model.predict_proba(block.values), task)
        return np.asarray(model.predict(block.values), dtype=float)

    return predict


_REPLAYS: tuple[tuple[str | tuple[str, ...], Callable[[Any, str], Predict]], ...] = (
    ("lightgbm.", _lightgbm),
    ("xgboost.", _xgboost),
    (_SKLEARN, _sklearn),
)
