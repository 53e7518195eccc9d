"""Imputation and encoding for one model family, decided from the data at fit time.

Model families want different inputs: gradient-boosting libraries take NaN and pandas
categoricals natively; scikit-learn trees need numbers but no scaling; linear models need
imputed, scaled numbers and one-hot (or target-encoded) categories. ``Preprocess`` builds the
matching ``ColumnTransformer`` from the column kinds it sees in ``fit`` (so it works after
derived features and selection) and returns a DataFrame with stable column names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tabloop.data import frame as _frame
from tabloop.data import infer_schema
from tabloop.exceptions import DataError, SchemaError
from tabloop.prepare._replay import Block, StepReplay, Unsupported, View

Family = Literal["native", "tree", "linear"]
Imputation = Literal["auto", "none", "median", "most_frequent", "knn", "iterative", "multiple"]
FAMILIES: tuple[str, ...] = ("native", "tree", "linear")
IMPUTATIONS: tuple[str, ...] = (
    "auto",
    "none",
    "median",
    "most_frequent",
    "knn",
    "iterative",
    "multiple",
)
MISSING = "(missing)"
#: A categorical column with more levels than this is target-encoded for linear models.
MAX_ONE_HOT_LEVELS = 30


class Preprocess(TransformerMixin, BaseEstimator):
    """Impute and encode a frame for a model family.

    Parameters
    ----------
    family : ``native`` (CatBoost, LightGBM, XGBoost: NaN and categories passed through),
        ``tree`` (scikit-learn forests: ordinal codes) or ``linear`` (scaled, one-hot).
    imputation : ``auto`` (nothing for ``native``/``tree``, which handle NaN; median for
        ``linear``), ``none``, ``median``, ``most_frequent``, ``knn``, ``iterative`` (MICE),
        ``multiple`` (one MICE draw from the posterior, seeded by ``seed``; the trainer
        fits ``prepare.imputations`` such pipelines and averages their predictions).
        Categorical columns always get an explicit ``(missing)`` level.
    knn_k : neighbours for ``knn``.
    missing_indicators : add a 0/1 column per numeric column that had missing values in
        training, whenever values are imputed.
    unseen : ``ignore`` (an unseen category is treated like a missing one) or ``error``
        (a :class:`SchemaError` naming the column and values).
    """

    def __init__(
        self,
        *,
        family: Family = "native",
        imputation: Imputation = "auto",
        knn_k: int = 5,
        missing_indicators: bool = True,
        unseen: Literal["ignore", "error"] = "ignore",
        seed: int = 0,
    ) -> None:
        self.family = family
        self.imputation = imputation
        self.knn_k = knn_k
        self.missing_indicators = missing_indicators
        self.unseen = unseen
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: Any = None) -> Preprocess:
        self._check_params()
        _frame.require_frame(X, name="X")
        self.datetime_ = [c.name for c in infer_schema(X, strict=False) if c.kind == "datetime"]
        parts = [c for c in self._date_parts(X.head(0)).columns if c not in X.columns]
        X = self._date_parts(X)
        schema = infer_schema(X, strict=False, numeric=parts)
        self.numeric_ = [c.name for c in schema if c.kind == "numeric"]
        self.categorical_ = [c.name for c in schema if c.kind in ("categorical", "boolean")]
        other = [c.name for c in schema if c.name not in {*self.numeric_, *self.categorical_}]
        if other:
            kinds = ", ".join(f"{c} ({schema[c].kind})" for c in other)
            free = any(schema[c].kind == "text" for c in other)
            text = " (free text: set prepare.text.encode to true)" if free else ""
            raise DataError(
                f"Columns {kinds} cannot be used as model input{text}; derive numbers from "
                "them (features.derive) or list them under features.drop."
            )
        self.categories_ = {
            c: sorted(_frame.category_keys(X[c]).dropna().unique().tolist())
            for c in self.categorical_
        }
        self.strategy_ = self._strategy()
        self.transformer_ = self._build(X, y)
        self.transformer_.fit(self._categorical_keys(X, fitting=True), y)
        self._sample_posterior(False)  # draws only for the training rows, in fit_transform
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def fit_transform(self, X: pd.DataFrame, y: Any = None, **fit_params: Any) -> pd.DataFrame:
        """Fit, then transform ``X``; under ``multiple`` the training rows get this pipeline's
        own posterior draw, while every later ``transform`` uses the conditional mean.

        Why: a draw at prediction time would make a row's prediction change from call to
        call (and with the batch around it); the ``m`` pipelines already differ in the
        models they learnt from their draws, and their average carries that uncertainty.
        """
        self.fit(X, y)
        self._sample_posterior(True)
        try:
            return self.transform(X)
        finally:
            self._sample_posterior(False)

    def _sample_posterior(self, on: bool) -> None:
        if self.strategy_ != "multiple":
            return
        numeric = self.transformer_.named_transformers_.get("numeric")
        for _, step in getattr(numeric, "steps", [(None, numeric)]):
            if hasattr(step, "sample_posterior"):
                step.sample_posterior = on

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "transformer_")
        _frame.require_frame(X, name="X")
        X = self._date_parts(X)
        _frame.require_columns(X, [*self.numeric_, *self.categorical_], role="feature column")
        out = self.transformer_.transform(self._categorical_keys(X))
        if self.family == "native":
            for c in self.categorical_:
                out[c] = pd.Categorical(out[c], categories=[*self.categories_[c], MISSING])
        return out

    def compile_replay(self, kinds: Mapping[str, str]) -> StepReplay:
        """:meth:`transform` on numpy columns, giving the estimator's :class:`Block`;
        :class:`Unsupported` for what has no exact numpy form (datetime parts, KNN or
        iterative imputation, target encoding)."""
        check_is_fitted(self, "transformer_")
        if self.datetime_:
            raise Unsupported("datetime columns")
        outputs = [
            _compile_output(self, name, transformer, list(columns))
            for name, transformer, columns in self.transformer_.transformers_
            if name != "remainder" and len(columns)
        ]
        if sum(o.width for o in outputs) != len(self.get_feature_names_out()):
            raise Unsupported("an output layout that differs from the fitted transformer")
        return StepReplay(lambda view: _block(outputs, view), {})

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "transformer_")
        return self.transformer_.get_feature_names_out()

    # -- helpers ------------------------------------------------------------------------------
    def _date_parts(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each datetime column becomes numbers a model can use: year, month, day of week,
        day of year, hour (for columns with times of day) and days since 1970 (the trend)."""
        if not self.datetime_:
            return X
        out = X.drop(columns=[c for c in self.datetime_ if c in X])
        for c in self.datetime_:
            _frame.require_columns(X, [c], role="feature column")
            when = _frame.to_datetime(X[c])[0]
            if getattr(when.dt, "tz", None) is not None:
                when = when.dt.tz_convert("UTC").dt.tz_localize(None)
            parts = {
                "year": when.dt.year, "month": when.dt.month, "day_of_week": when.dt.day_of_week,
                "day_of_year": when.dt.day_of_year, "hour": when.dt.hour,
                "days": (when - pd.Timestamp("1970-01-01")).dt.days,
            }  # fmt: skip
            for part, values in parts.items():
                out[f"{c}_{part}"] = values.astype("float64")
        return out

    def _check_params(self) -> None:
        for name, value, allowed in (
            ("family", self.family, FAMILIES),
            ("imputation", self.imputation, IMPUTATIONS),
            ("unseen", self.unseen, ("ignore", "error")),
        ):
            if value not in allowed:
                raise DataError(f"prepare.{name} must be one of {allowed}; got {value!r}.")
        if not isinstance(self.knn_k, int) or self.knn_k < 1:
            raise DataError(f"prepare.knn_k must be a positive integer; got {self.knn_k!r}.")

    def _requires_finite(self) -> bool:
        """Whether numeric columns pass a scaler or an imputer (scikit-learn's refuse ±inf)."""
        return self.family == "linear" or self.strategy_ != "none"

    def _refuse_unscalable(self, values: np.ndarray) -> None:
        """The replay's refusal of a number that overflows once scaled, before scikit-learn's
        scaler turns it into inf (and its imputer refuses that anonymously)."""
        from sklearn.preprocessing import StandardScaler

        numeric = self.transformer_.named_transformers_.get("numeric")
        for _, step in getattr(numeric, "steps", []):
            if type(step) is StandardScaler:
                mean = step.mean_ if step.with_mean else None
                _scaled(self.numeric_, values, mean, step.scale_ if step.with_std else None)

    def _strategy(self) -> str:
        if self.imputation == "auto":
            return "median" if self.family == "linear" else "none"
        return self.imputation

    def _categorical_keys(self, X: pd.DataFrame, *, fitting: bool = False) -> pd.DataFrame:
        """Categories as strings with an explicit missing level; unseen ones per policy."""
        out = X[[*self.numeric_, *self.categorical_]].copy()
        for c in self.numeric_:
            out[c] = _frame.to_numeric(out[c])[0]
        if self.numeric_ and self._requires_finite():  # no numeric column: nothing fitted
            values = out[self.numeric_].to_numpy(dtype="float64")
            _refuse_infinite(self.numeric_, values)
            if not fitting:
                self._refuse_unscalable(values)
        for c in self.categorical_:
            keys = _frame.category_keys(out[c])
            known = self.categories_[c]
            unseen = keys.notna() & ~keys.isin(known)
            if unseen.any() and not fitting:
                if self.unseen == "error":
                    raise unseen_error(c, keys[unseen].unique()[:5])
                keys = keys.mask(unseen)
            out[c] = keys.fillna(MISSING).astype(object)
        return out

    def _build(self, X: pd.DataFrame, y: Any) -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import (
            OneHotEncoder,
            OrdinalEncoder,
            StandardScaler,
            TargetEncoder,
        )

        numeric_steps = []
        if self.family == "linear":
            numeric_steps.append(StandardScaler())  # before KNN too: distances need one scale
        imputer = self._imputer(X)
        if imputer is not None:
            numeric_steps.append(imputer)
        numeric = make_pipeline(*numeric_steps) if numeric_steps else "passthrough"

        if self.family == "native":
            categorical: Any = "passthrough"
            encoders = [("categorical", categorical, self.categorical_)]
        elif self.family == "tree":
            ordinal = OrdinalEncoder(
                categories=[[*self.categories_[c], MISSING] for c in self.categorical_],
                handle_unknown="use_encoded_value",
                unknown_value=-1,
            )
            encoders = [("categorical", ordinal, self.categorical_)]
        else:
            small = [c for c in self.categorical_ if len(self.categories_[c]) <= MAX_ONE_HOT_LEVELS]
            large = [c for c in self.categorical_ if c not in small]
            onehot = OneHotEncoder(
                categories=[[*self.categories_[c], MISSING] for c in small],
                handle_unknown="ignore",
                sparse_output=False,
                drop=None,
            )
            encoders = [("onehot", onehot, small)]
            if large:
                target = make_pipeline(TargetEncoder(random_state=self.seed), StandardScaler())
                encoders.append(("target", target, large))
        transformer = ColumnTransformer(
            [("numeric", numeric, self.numeric_), *encoders],
            remainder="drop",
            verbose_feature_names_out=False,
        )
        return transformer.set_output(transform="pandas")

    def _imputer(self, X: pd.DataFrame) -> Any:
        from sklearn.impute import SimpleImputer

        from tabloop.prepare._knn import FastKNNImputer

        strategy = self.strategy_
        if strategy == "none":
            return None
        indicators = self.missing_indicators and bool(X[self.numeric_].isna().any().any())
        if strategy in ("median", "most_frequent"):
            return SimpleImputer(
                strategy=strategy, add_indicator=indicators, keep_empty_features=True
            )
        if strategy == "knn":
            return FastKNNImputer(
                n_neighbors=self.knn_k, add_indicator=indicators, keep_empty_features=True
            )
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401
        from sklearn.impute import IterativeImputer

        # keep_empty_features=True trips a read-only-array bug in IterativeImputer under
        # pandas copy-on-write (scikit-learn 1.9); all-missing columns are caught by validation.
        return IterativeImputer(
            random_state=self.seed,
            add_indicator=indicators,
            max_iter=10,
            sample_posterior=strategy == "multiple",
        )


def unseen_error(column: str, values: Any) -> SchemaError:
    """The error for categories never seen in training under ``unseen: error``."""
    return SchemaError(
        f"{_frame.unseen_message(column, values)}; "
        "set prepare.unseen_categories to 'ignore' to treat them as missing."
    )


def _refuse_infinite(columns: list[str], X: np.ndarray) -> None:
    """A :class:`DataError` naming the first of ``columns`` (of matrix ``X``) that holds
    ±inf: the one message of :meth:`Preprocess.transform` and of its replay, instead of
    scikit-learn's anonymous one. One vectorised check: it runs on every request."""
    infinite = np.isinf(X)
    if not infinite.any():
        return
    j = int(np.flatnonzero(infinite.any(axis=0))[0])
    raise DataError(
        f"Column {columns[j]!r} must be a finite number; got {float(X[infinite[:, j], j][0])!r} "
        f"in {int(infinite[:, j].sum())} row(s). Imputation and scaling cannot use an infinite "
        "value: replace it with a finite number or a missing one."
    )


def _scaled(
    columns: list[str], X: np.ndarray, mean: np.ndarray | None, scale: np.ndarray | None
) -> np.ndarray:
    """``(X - mean) / scale`` as ``StandardScaler`` computes it; a :class:`DataError`
    naming the first column whose finite value overflows there (1e308 over a scale
    below 1), in both paths, rather than an infinite feature."""
    with np.errstate(over="ignore", invalid="ignore"):
        Z = X - mean if mean is not None else X
        Z = Z / scale if scale is not None else Z
    if not np.isinf(Z).any():  # one check on every request; the rest only on a refusal
        return Z
    overflow = np.isinf(Z) & np.isfinite(X)
    if overflow.any():
        j = int(np.flatnonzero(overflow.any(axis=0))[0])
        raise DataError(
            f"Column {columns[j]!r} holds {float(X[overflow[:, j], j][0])!r}, too large to "
            "scale: it overflows a 64-bit float once centred and scaled. Send a smaller "
            "number or a missing one."
        )
    return Z


# -- the numpy replay of the fitted ColumnTransformer ---------------------------------------
@dataclass(frozen=True)
class _Categorical:
    name: str
    codes: dict[str, float]  # key of a known category -> output code
    other: float  # code of a missing value, or of an unseen one under "ignore"
    refuse_unseen: bool
    categories: tuple[str, ...]  # the encoder's list (one-hot width, native categories)


@dataclass(frozen=True)
class _Output:
    kind: str  # numeric | native | ordinal | onehot
    width: int
    numeric: tuple[str, ...] = ()
    steps: tuple[tuple[str, Any], ...] = ()  # numeric: ("scale" | "impute", parameters)
    categorical: tuple[_Categorical, ...] = ()


def _passthrough(transformer: Any) -> bool:
    """``passthrough`` as given, or as a fitted ColumnTransformer holds it."""
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(transformer, str):
        return transformer == "passthrough"
    return type(transformer) is FunctionTransformer and transformer.func is None


def _numeric_output(transformer: Any, columns: list[str]) -> _Output:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if not isinstance(transformer, Pipeline) and not _passthrough(transformer):
        raise Unsupported(f"numeric transformer {type(transformer).__name__}")
    steps: list[tuple[str, Any]] = []
    width = len(columns)
    for _, step in transformer.steps if isinstance(transformer, Pipeline) else []:
        if type(step) is StandardScaler:
            mean = step.mean_ if step.with_mean else None
            scale = step.scale_ if step.with_std else None
            steps.append(("scale", (mean, scale)))
        elif (
            type(step) is SimpleImputer
            and isinstance(step.missing_values, float)
            and math.isnan(step.missing_values)
        ):
            features = step.indicator_.features_ if step.add_indicator else None
            steps.append(("impute", (np.asarray(step.statistics_, dtype="float64"), features)))
            width += 0 if features is None else len(features)
        else:
            raise Unsupported(f"numeric step {type(step).__name__}")
    return _Output("numeric", width, numeric=tuple(columns), steps=tuple(steps))


def _compile_output(pre: Preprocess, name: str, transformer: Any, columns: list[str]) -> _Output:
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    if name == "numeric":
        return _numeric_output(transformer, columns)
    known = [list(pre.categories_[c]) for c in columns]
    unknown = math.nan
    if name == "categorical" and _passthrough(transformer):
        lists, kind = [(*k, MISSING) for k in known], "native"
    elif name == "categorical" and type(transformer) is OrdinalEncoder:
        if transformer.handle_unknown != "use_encoded_value":
            raise Unsupported("an OrdinalEncoder that raises on unknown values")
        lists, kind = [tuple(c) for c in transformer.categories_], "ordinal"
        unknown = float(transformer.unknown_value)
    elif name == "onehot" and type(transformer) is OneHotEncoder:
        infrequent = transformer.min_frequency is not None or transformer.max_categories
        if transformer.drop_idx_ is not None or infrequent:
            raise Unsupported("one-hot encoding with drop or infrequent categories")
        lists, kind = [tuple(c) for c in transformer.categories_], "onehot"
    else:
        raise Unsupported(f"categorical transformer {name!r}")
    specs = []
    for column, cats, allowed in zip(columns, lists, known, strict=True):
        position = {str(v): float(i) for i, v in enumerate(cats)}
        codes = {k: position.get(k, unknown) for k in allowed}
        other = position.get(MISSING, unknown)
        specs.append(_Categorical(column, codes, other, pre.unseen == "error", tuple(cats)))
    width = sum(len(c) for c in lists) if kind == "onehot" else len(columns)
    return _Output(kind, width, categorical=tuple(specs))


def _block(outputs: list[_Output], view: View) -> Block:
    parts: list[np.ndarray] = []
    categorical: list[int] = []
    categories: list[tuple[str, ...]] = []
    position = 0
    for output in outputs:
        if output.kind == "numeric":
            parts.append(_numeric(output, view))
            position += output.width
            continue
        for spec in output.categorical:
            codes = _codes(spec, view)
            if output.kind == "onehot":
                parts.append(codes[:, None] == np.arange(len(spec.categories))[None, :])
                position += len(spec.categories)
                continue
            if output.kind == "native":
                categorical.append(position)
                categories.append(spec.categories)
            parts.append(codes[:, None])
            position += 1
    values = np.hstack(parts).astype("float64") if parts else np.empty((view.n, 0))
    return Block(values, tuple(categorical), tuple(categories))


def _numeric(output: _Output, view: View) -> np.ndarray:
    X = np.empty((view.n, len(output.numeric)))
    for j, name in enumerate(output.numeric):
        X[:, j] = view.num(name)
    if output.steps:
        _refuse_infinite(list(output.numeric), X)
    indicator = None
    for kind, params in output.steps:
        if kind == "scale":
            X = _scaled(list(output.numeric), X, *params)
        else:
            stats, features = params
            missing = np.isnan(X)
            X = np.where(missing, stats, X)
            if features is not None:
                indicator = missing[:, features]
    return X if indicator is None else np.hstack([X, indicator])


def _codes(spec: _Categorical, view: View) -> np.ndarray:
    keys = view.keys(spec.name)
    codes, other = spec.codes, spec.other
    if spec.refuse_unseen:
        unseen = [k for k in keys if k is not None and k not in codes]
        if unseen:
            raise unseen_error(spec.name, list(dict.fromkeys(unseen))[:5])
    return np.fromiter((codes.get(k, other) for k in keys), "float64", view.n)  # type: ignore[arg-type]
