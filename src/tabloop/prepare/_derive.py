"""Transformers for ``features.derive`` (formulas) and ``features.log`` (log transforms).

Both work on DataFrames (columns are named in the config), keep every input column and are
fitted inside each cross-validation fold like the rest of the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tabloop.data import frame as _frame
from tabloop.exceptions import DataError, FormulaError
from tabloop.prepare._formula import Formula
from tabloop.prepare._replay import StepReplay, Unclean, View, signature
from tabloop.prepare._replay_formula import compile_formula


class DeriveFeatures(TransformerMixin, BaseEstimator):
    """Add columns computed from formulas, in order (a formula may use earlier ones).

    Parameters
    ----------
    formulas : mapping of new column name to formula (see :class:`Formula`).

    Examples
    --------
    >>> import pandas as pd
    >>> from tabloop.prepare import DeriveFeatures
    >>> df = pd.DataFrame({"a": [1, 2], "b": [10, 20]})
    >>> DeriveFeatures(formulas={"ratio": "b / a"}).fit_transform(df)["ratio"].tolist()
    [10.0, 10.0]
    """

    def __init__(self, *, formulas: dict[str, str] | None = None) -> None:
        self.formulas = formulas

    def fit(self, X: pd.DataFrame, y: Any = None) -> DeriveFeatures:
        _frame.require_frame(X, name="X")
        available = [str(c) for c in X.columns]
        self.formulas_: dict[str, Formula] = {}
        for name, text in (self.formulas or {}).items():
            if name in available:
                raise FormulaError(
                    f"features.derive.{name}: a column {name!r} already exists; "
                    "choose another name."
                )
            formula = Formula(text, name=f"features.derive.{name}")
            formula.check_columns(available)
            self.formulas_[name] = formula
            available.append(name)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "formulas_")
        _frame.require_frame(X, name="X")
        out = X.copy()
        for name, formula in self.formulas_.items():
            out[name] = formula.evaluate(out)
        return out

    def compile_replay(self, kinds: Mapping[str, str]) -> StepReplay:
        """:meth:`transform` on numpy columns (see :mod:`tabloop.prepare._replay`)."""
        check_is_fitted(self, "formulas_")
        kinds = dict(kinds)
        raw = dict(kinds)
        replays = []
        for name, formula in self.formulas_.items():
            replay = compile_formula(formula, kinds)
            kinds[name] = replay.kind
            replays.append((name, replay))
        step = signature("derive", [(name, f.text) for name, f in self.formulas_.items()])

        def run(view: View) -> None:
            trail = view.step(step)
            for name, replay in replays:
                key = (trail, name)
                values, hollow = view.cols.memo(key, partial(_derive, view, raw, replay))
                view.local[name] = values
                if hollow:
                    view.empty.add(name)

        return StepReplay(run, kinds)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "formulas_")
        return np.asarray([*self.feature_names_in_, *self.formulas_], dtype=object)


class LogTransform(TransformerMixin, BaseEstimator):
    """Replace the named columns by ``log1p`` of their values.

    Training values must be non-negative (the error names the column and its minimum); at
    prediction time a negative value becomes missing, which the imputer then handles, rather
    than an exception in the middle of a batch.
    """

    def __init__(self, *, columns: list[str] | None = None) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: Any = None) -> LogTransform:
        _frame.require_frame(X, name="X")
        columns = list(self.columns or [])
        _frame.require_columns(X, columns, role="features.log column")
        for column in columns:
            values, invalid = _frame.to_numeric(X[column])
            if invalid.any():
                raise DataError(f"features.log: column {column!r} is not numeric.")
            low = values.min()
            if low < 0:
                raise DataError(
                    f"features.log: column {column!r} has negative values (minimum {low:g}); "
                    "log is undefined there. Remove it from features.log or shift it first "
                    "with a derived feature."
                )
        self.columns_ = columns
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "columns_")
        out = X.copy()
        for column in self.columns_:
            values = _frame.to_numeric(out[column])[0]
            out[column] = np.log1p(values.where(values >= 0))
        return out

    def compile_replay(self, kinds: Mapping[str, str]) -> StepReplay:
        """:meth:`transform` on numpy columns (see :mod:`tabloop.prepare._replay`)."""
        check_is_fitted(self, "columns_")
        columns = list(self.columns_)
        step = signature("log", columns)

        def run(view: View) -> None:
            trail = view.step(step)
            for column in columns:
                values = view.num(column)
                view.local[column] = view.cols.memo((trail, column), partial(_log1p, values))

        return StepReplay(run, {**kinds, **dict.fromkeys(columns, "num")})

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "columns_")
        return self.feature_names_in_.copy()


def _log1p(values: np.ndarray) -> np.ndarray:
    """``log1p`` where ``values >= 0``, NaN elsewhere (as :meth:`LogTransform.transform`)."""
    with np.errstate(invalid="ignore"):
        return np.log1p(np.where(values >= 0, values, np.nan))


def _derive(view: View, raw: Mapping[str, str], replay: Any) -> tuple[np.ndarray, bool]:
    """One formula's values on ``view``, and whether it read a numeric column with no
    value (pandas then computes on an object column of nulls: see ``FormulaReplay``)."""
    hollow = False

    def get(name: str) -> np.ndarray:
        nonlocal hollow
        if name in view.local:
            values, nothing = view.local[name], name in view.empty
        elif raw.get(name) == "num":
            values, nothing = view.cols.formula_num(name)
        else:
            return view.cols.text(name)
        if nothing and replay.fragile:
            raise Unclean
        hollow = hollow or nothing
        return values

    return replay.fn(get, view.n), hollow
