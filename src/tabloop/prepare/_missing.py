"""``prepare.missing_values``: codes that mean "missing" become missing, before imputation.

Data often spells a missing value as a value: ``not_known``, ``?``, ``-1``, ``999``. Taken as
values, they become a category of their own or a number far from the rest (an age of 999
pulls a linear model's slope). :class:`MissingValues` turns the declared codes into NaN as
the first step of every model's pipeline, so the same rule holds in training folds, in
batch scoring and in the service, and the imputation that follows sees real gaps.

Matching. A code applies to a column by what both are: a number (``-1``, ``999``; also the
text ``"999"``) matches equal numbers in a numeric column; a text matches equal values of a
text or categorical column, and a number matches its spelling there too (``-1`` matches
``"-1"``). Codes listed under a column name apply to that column, and every listed column
must exist and be able to hold its codes (a text code on a numeric column is an error: it
could never match). Codes under ``"*"`` apply to every column they can match.

The service's numpy replay (:meth:`MissingValues.compile_replay`) covers number codes on
numeric columns; a text code on a request's text column has no numpy form in the replay's
vocabulary yet, so such a model keeps the DataFrame path (same answers, slower).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tabloop.data import frame as _frame
from tabloop.exceptions import ConfigError
from tabloop.prepare._replay import StepReplay, Unsupported, View, signature

#: The key whose codes apply to every column.
ALL_COLUMNS = "*"

Code = str | int | float


def _number(code: Code) -> float | None:
    """The code as a number, or ``None`` when it is text that is not one."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int | float):
        return float(code)
    try:
        value = float(str(code).strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _spellings(code: Code) -> set[str]:
    """How a code can be written in a text column (``999`` as ``"999"`` and ``"999.0"``)."""
    if isinstance(code, str):
        return {code}
    value = float(code)
    out = {str(code), repr(value)}
    if value.is_integer():
        out.add(str(int(value)))
    return out


class MissingValues(TransformerMixin, BaseEstimator):
    """Replace declared missing-value codes by NaN (see the module's note).

    Parameters
    ----------
    codes : ``{column: [code, ...]}``; the key ``"*"`` lists codes for every column.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"job": ["clerk", "not_known"], "age": [31, 999]})
    >>> MissingValues(codes={"job": ["not_known"], "age": [999]}).fit_transform(X)
         job  age
    0  clerk  31.0
    1    NaN   NaN
    """

    def __init__(self, *, codes: Mapping[str, list[Code]] | None = None) -> None:
        self.codes = codes

    def fit(self, X: pd.DataFrame, y: Any = None) -> MissingValues:
        _frame.require_frame(X, name="X")
        codes = dict(self.codes or {})
        everywhere = list(codes.pop(ALL_COLUMNS, []))
        absent = [c for c in codes if c not in X.columns]
        if absent:
            raise ConfigError(
                f"prepare.missing_values names column(s) {absent} that the data does not "
                f"have; columns: {list(X.columns)[:20]}. Fix the name or remove the entry."
            )
        numbers: dict[str, list[float]] = {}
        texts: dict[str, list[str]] = {}
        for column in X.columns:
            own = list(codes.get(column, []))
            if _frame.is_numeric(X[column]):
                bad = [c for c in own if _number(c) is None]
                if bad:
                    raise ConfigError(
                        f"prepare.missing_values.{column}: {bad[0]!r} is text, but column "
                        f"{column!r} holds numbers, so it can never match. List numbers "
                        "for it (e.g. [-1, 999]), or declare the column categorical."
                    )
                found = {n for c in [*own, *everywhere] if (n := _number(c)) is not None}
                if found:
                    numbers[str(column)] = sorted(found)
            elif not _frame.is_bool(X[column]):
                found_text = set().union(*[_spellings(c) for c in [*own, *everywhere]])
                if found_text:
                    texts[str(column)] = sorted(found_text)
        self.numbers_, self.texts_ = numbers, texts
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "numbers_")
        _frame.require_frame(X, name="X")
        X = X.copy()
        for column, values in self.numbers_.items():
            if column in X.columns:
                numeric = _frame.to_numeric(X[column])[0]
                X[column] = X[column].mask(numeric.isin(values))
        for column, spelled in self.texts_.items():
            if column in X.columns:
                series = X[column]
                hit = series.astype("string").isin(spelled).fillna(False).to_numpy(bool)
                if isinstance(series.dtype, pd.CategoricalDtype):
                    X[column] = series.mask(hit).cat.remove_categories(
                        [c for c in series.cat.categories if str(c) in spelled]
                    )
                else:
                    X[column] = series.mask(hit)
        return X

    def compile_replay(self, kinds: Mapping[str, str]) -> StepReplay:
        """:meth:`transform` on numpy columns (see :mod:`tabloop.prepare._replay`);
        :class:`Unsupported` when a text column has codes."""
        check_is_fitted(self, "numbers_")
        if any(column in kinds for column in self.texts_):
            raise Unsupported("missing-value codes on a text column")
        codes = {c: np.asarray(v, dtype="float64") for c, v in self.numbers_.items() if c in kinds}
        step = signature("missing", sorted((c, tuple(v)) for c, v in self.numbers_.items()))

        def run(view: View) -> None:
            view.step(step)
            for column, values in codes.items():
                numbers = view.num(column)
                view.local[column] = np.where(np.isin(numbers, values), np.nan, numbers)

        return StepReplay(run, {**kinds, **dict.fromkeys(codes, "num")})

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "numbers_")
        return self.feature_names_in_.copy()
