"""Two teams' models for next month's spend, with one interface (tabloop's custom-model contract).

``TrendModel`` (team A) extrapolates each customer's own linear trend over the monthly
columns; ``SessionModel`` (team B) scales the customer's recent spend by what their recent
sessions say about purchase intent. Both declare ``tabloop_family = "native"``: ``fit`` and
``predict`` receive the raw columns as a pandas DataFrame (missing values as NaN,
categorical columns as pandas categoricals), and ``y`` as a numpy array.

This module imports only numpy and pandas: it is packaged with each registered model
(MLflow ``code_paths``) and loads wherever tabloop is installed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def monthly_columns(X: pd.DataFrame, prefix: str) -> list[str]:
    """The columns named ``<prefix>01``, ``<prefix>02``, ... in month order."""
    months = sorted(c for c in X.columns if str(c).startswith(prefix))
    if len(months) < 2:
        raise ValueError(
            f"expected at least two monthly columns named {prefix!r}01, {prefix!r}02, ...; "
            f"got {list(X.columns)}. List them under features.include."
        )
    return months


def trend_forecast(spend: np.ndarray, ahead: int = 1) -> np.ndarray:
    """Each row's least-squares line through its months, read ``ahead`` months after the
    last one; months that are NaN are left out (a row with one month gives that month)."""
    t = np.arange(1, spend.shape[1] + 1, dtype=float)
    seen = ~np.isnan(spend)
    y = np.where(seen, spend, 0.0)
    n = seen.sum(axis=1)
    st, sy = (seen * t).sum(axis=1), y.sum(axis=1)
    stt, sty = (seen * t**2).sum(axis=1), (y * t).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(n > 1, (n * sty - st * sy) / (n * stt - st**2), 0.0)
        mean = sy / n
    return mean + slope * (len(t) + ahead - st / np.maximum(n, 1))


class TrendModel:
    """Team A: a per-customer linear trend over the months, extrapolated one month ahead
    and calibrated on the training rows (``y ≈ a + b × forecast``)."""

    tabloop_family = "native"

    def __init__(self, prefix: str = "spend_m", ahead: int = 1) -> None:
        self.prefix = prefix
        self.ahead = ahead

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> TrendModel:
        self.months_ = monthly_columns(X, self.prefix)
        forecast = self._forecast(X)
        known = ~np.isnan(forecast)
        self.fallback_ = float(np.mean(y))  # a customer with no month at all
        self.coef_ = np.polyfit(forecast[known], np.asarray(y, dtype=float)[known], 1)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        out = np.polyval(self.coef_, self._forecast(X))
        return np.where(np.isnan(out), self.fallback_, out)

    def _forecast(self, X: pd.DataFrame) -> np.ndarray:
        return trend_forecast(X[self.months_].to_numpy(dtype=float), self.ahead)


class SessionModel:
    """Team B: recent spend (mean of the last ``recent`` months) times a ratio learnt by
    ridge regression from the session aggregates (sessions, events, products bought,
    discount), which carry the customer's current purchase intent."""

    tabloop_family = "native"
    sessions = ("sessions", "events", "products_bought", "avg_discount")

    def __init__(self, prefix: str = "spend_m", recent: int = 3, alpha: float = 1.0) -> None:
        self.prefix = prefix
        self.recent = recent
        self.alpha = alpha

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> SessionModel:
        from sklearn.linear_model import Ridge

        self.months_ = monthly_columns(X, self.prefix)[-self.recent :]
        base = self._recent(X)
        ratio = np.asarray(y, dtype=float) / np.maximum(base, 1.0)
        features = self._features(X)
        self.medians_ = np.nanmedian(features, axis=0)
        self.ridge_ = Ridge(alpha=self.alpha).fit(self._filled(features), ratio)
        self.fallback_ = float(np.mean(y))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        ratio = self.ridge_.predict(self._filled(self._features(X)))
        out = self._recent(X) * ratio
        return np.where(np.isnan(out), self.fallback_, out)

    def _recent(self, X: pd.DataFrame) -> np.ndarray:
        spend = X[self.months_].to_numpy(dtype=float)
        seen = (~np.isnan(spend)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(seen > 0, np.nansum(spend, axis=1) / seen, np.nan)

    def _features(self, X: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.sessions if c not in X.columns]
        if missing:
            raise ValueError(f"SessionModel needs the columns {missing}; list them in features.")
        s = X[list(self.sessions)].to_numpy(dtype=float)
        sessions, events, products, discount = s.T
        with np.errstate(invalid="ignore", divide="ignore"):
            per_session = np.where(sessions > 0, products / sessions, 0.0)
        return np.column_stack([np.log1p(sessions), np.log1p(events), per_session, discount])

    def _filled(self, features: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(features), self.medians_, features)
