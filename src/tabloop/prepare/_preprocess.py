"""Imputation and encoding for one model family, decided from the data at fit time.

Model families want different inputs: gradient-boosting libraries take NaN and pandas
categoricals natively; scikit-learn trees need numbers but no scaling; linear models need
imputed, scaled numbers and one-hot (or target-encoded) categories. ``Preprocess`` builds the
matching ``ColumnTransformer`` from the column kinds it sees in ``fit`` (so it works after
derived features and selection) and returns a DataFrame with stable column names.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tabloop.data import _frame
from tabloop.data._schema import infer_schema
from tabloop.exceptions import DataError, SchemaError

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
            raise DataError(
                f"Columns {kinds} cannot be used as model input; derive numbers from them "
                "(features.derive) or list them under features.drop."
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

    def _strategy(self) -> str:
        if self.imputation == "auto":
            return "median" if self.family == "linear" else "none"
        return self.imputation

    def _categorical_keys(self, X: pd.DataFrame, *, fitting: bool = False) -> pd.DataFrame:
        """Categories as strings with an explicit missing level; unseen ones per policy."""
        out = X[[*self.numeric_, *self.categorical_]].copy()
        for c in self.numeric_:
            out[c] = _frame.to_numeric(out[c])[0]
        for c in self.categorical_:
            keys = _frame.category_keys(out[c])
            known = self.categories_[c]
            unseen = keys.notna() & ~keys.isin(known)
            if unseen.any() and not fitting:
                if self.unseen == "error":
                    values = ", ".join(repr(v) for v in keys[unseen].unique()[:5])
                    raise SchemaError(
                        f"Column {c!r} has value(s) never seen in training: {values}; "
                        "set prepare.unseen_categories to 'ignore' to treat them as missing."
                    )
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
        from sklearn.impute import KNNImputer, SimpleImputer

        strategy = self.strategy_
        if strategy == "none":
            return None
        indicators = self.missing_indicators and bool(X[self.numeric_].isna().any().any())
        if strategy in ("median", "most_frequent"):
            return SimpleImputer(
                strategy=strategy, add_indicator=indicators, keep_empty_features=True
            )
        if strategy == "knn":
            return KNNImputer(
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
