"""``features.lags``: per-entity lags, rolling statistics and calendar parts, past only.

Maintainer note
---------------
A row's features come only from *strictly earlier* rows of its entity (``by``), ordered by
``order``: ``<col>_lag<k>`` is the value ``k`` rows back, ``<col>_<stat><w>`` a statistic
(mean, std, min, max) of the ``w`` rows before it (the available ones among them). With
``every`` (a calendar unit of a date order, or a numeric step) lags count periods instead:
``k`` periods back, missing when the entity has no row then, and a window is lags 1 to
``w``. Rows are numbered by period, so two rows of one entity in one period are refused.

Where the earlier values come from, at every stage:

- **fit** (a training fold, or the refit): the frame itself; one row per entity and order
  value is required (two rows of customer 3 in May make "the month before" ambiguous).
  The last ``max(lags, windows)`` rows of each entity are remembered (``history_``), as
  mlforecast keeps the tail of each series.
- **transform** (a validation fold, the test split, a batch file, a request): the
  remembered rows plus the frame's own rows, merged on (entity, order); the frame's value
  wins where it has one. A row to forecast may leave the column empty (the target of next
  month is unknown): its features still come from the rows before it. So a request that
  carries only ``customer_id`` and next ``month`` is scored from the values remembered at
  training -- what "predict next month" means to a user -- and a file that also carries
  newer rows with their values is scored from those.

When the column is the target itself, the training frame carries it (``tabloop.train``
keeps it beside the features), this step reads it as history and removes it: the model
never sees a row's own target. Rows with the same entity and order value get the same
features. The step has no numpy replay: the service plans it on the DataFrame path
(``tabloop/serve/_compiled.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tabloop.config import (
    LAG_CALENDAR,
    LAG_DEFAULT_CALENDAR,
    LAG_DEFAULT_STATS,
    LAG_PERIODS,
    LAG_STATS,
)
from tabloop.data import frame as _frame
from tabloop.exceptions import DataError

#: The keys of one spec, as ``features.lags.<column>`` takes them in ``tabloop.yaml``.
_KEYS = ("by", "order", "lags", "windows", "stats", "calendar", "every")
_E, _T, _F = "__entity__", "__order__", "__from_frame__"


def lag_feature_names(source: str, spec: Mapping[str, Any]) -> list[str]:
    """The columns ``features.lags.<source>`` adds (calendar parts aside), in order."""
    names = [f"{source}_lag{k}" for k in spec.get("lags", [])]
    stats = spec.get("stats", LAG_DEFAULT_STATS)
    names += [f"{source}_{stat}{w}" for w in spec.get("windows", []) for stat in stats]
    return names


class LagFeatures(TransformerMixin, BaseEstimator):
    """Add each entity's earlier values of columns, rolling statistics and calendar parts.

    Parameters
    ----------
    lags : mapping of source column to its spec (``features.lags``): ``by`` (entity column,
        None for a single series), ``order`` (time or sequence column), ``lags`` (rows
        back), ``windows`` (rows in rolling statistics), ``stats`` (of mean, std, min,
        max; default mean and std), ``calendar`` (parts of a date ``order`` column, default
        month; ignored for a numeric one) and ``every`` (``rows``, the default, or what a
        lag counts: a period of ``tabloop.config.LAG_PERIODS`` for a date order, a
        positive step for a numeric one). The vocabulary and defaults are those of
        ``features.lags`` in ``tabloop.yaml``.
    target : the target's name. As a source its values are read from ``X`` when present
        (else from ``y`` at fit) and the column is removed from the output.

    Attributes
    ----------
    history_ : per (by, order) pair, the last rows of each entity seen at fit.
    added_ : the columns added, in output order.

    Examples
    --------
    >>> import pandas as pd
    >>> from tabloop.prepare import LagFeatures
    >>> df = pd.DataFrame({"id": [1, 1, 2, 1], "t": [1, 2, 1, 3], "v": [10.0, 20, 5, 30]})
    >>> step = LagFeatures(lags={"v": {"by": "id", "order": "t", "lags": [1]}})
    >>> step.fit_transform(df)["v_lag1"].tolist()
    [nan, 10.0, nan, 20.0]
    >>> step.transform(pd.DataFrame({"id": [1, 2], "t": [4, 2], "v": [None, None]}))[
    ...     "v_lag1"
    ... ].tolist()
    [30.0, 5.0]
    """

    def __init__(
        self, *, lags: dict[str, dict[str, Any]] | None = None, target: str | None = None
    ) -> None:
        self.lags = lags
        self.target = target

    # -- fit -------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any = None) -> LagFeatures:
        _frame.require_frame(X, name="X")
        specs = {str(k): _check_spec(str(k), v) for k, v in (self.lags or {}).items()}
        needed = {c for s in specs.values() for c in (s.get("by"), s["order"]) if c}
        needed |= {s for s in specs if s != self.target or y is None}
        _frame.require_columns(X, sorted(needed), role="features.lags column")
        self.groups_: dict[tuple[str | None, str], list[str]] = {}
        self.every_: dict[tuple[str | None, str], str | float] = {}
        for source, spec in specs.items():
            pair = (spec.get("by"), spec["order"])
            self.groups_.setdefault(pair, []).append(source)
            every = self.every_.setdefault(pair, spec.get("every", "rows"))
            if every != spec.get("every", "rows"):
                raise DataError(
                    f"features.lags.{source}.every: {spec.get('every', 'rows')!r}, but another "
                    f"column with the same by and order counts {every!r}; use one."
                )
        self.specs_ = specs
        self.dates_ = {order: not _frame.is_numeric(X[order]) for _, order in self.groups_}
        for (_, order), every in self.every_.items():
            if every != "rows" and self.dates_[order] != isinstance(every, str):
                raise DataError(
                    f"features.lags: every {every!r} needs "
                    f"{'a date' if isinstance(every, str) else 'a numeric'} order column; "
                    f"{order!r} is {'dates' if self.dates_[order] else 'numeric'}. Use "
                    f"{'one of ' + ', '.join(LAG_PERIODS) if self.dates_[order] else 'a number'}"
                    " or 'rows'."
                )
        for order, is_date in self.dates_.items():
            if is_date and _frame.time_values(X[order]).isna().all():
                raise DataError(
                    f"features.lags: order column {order!r} holds neither numbers nor dates "
                    f"(first value {_frame.python_value(X[order].iloc[0])!r})."
                )
        self.calendar_ = {
            order: sorted(
                {p for s in specs.values() if s["order"] == order for p in s.get("calendar", [])},
                key=LAG_CALENDAR.index,
            )
            for order, is_date in self.dates_.items()
            if is_date
        }
        kept = [str(c) for c in X.columns if c != self.target or self.target not in specs]
        self.added_ = [n for s, spec in specs.items() for n in lag_feature_names(s, spec)]
        self.added_ += [f"{o}_{p}" for o, parts in self.calendar_.items() for p in parts]
        clash = sorted(set(self.added_) & set(kept))
        if clash:
            raise DataError(
                f"features.lags would add column {clash[0]!r}, which the data already has; "
                "rename that column."
            )
        self.history_: dict[tuple[str | None, str], pd.DataFrame] = {}
        values = self._source_values(X, y, fitting=True)
        for (by, order), sources in self.groups_.items():
            seq = self._sequence(X, by, order, values, sources)
            _refuse_duplicates(seq, by, order, X, self.every_[(by, order)])
            keyed = seq.sort_values([_E, _T], kind="stable").set_index([_E, _T])[sources]
            depth = max(
                max([*specs[s].get("lags", []), *specs[s].get("windows", [])]) for s in sources
            )
            self.history_[(by, order)] = keyed.groupby(level=0, sort=False).tail(depth)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    # -- transform -------------------------------------------------------------------------
    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "history_")
        _frame.require_frame(X, name="X")
        needed = {c for by, order in self.groups_ for c in (by, order) if c}
        needed |= {s for s in self.specs_ if s != self.target}
        _frame.require_columns(X, sorted(needed), role="features.lags column")
        values = self._source_values(X, None, fitting=False)
        added: dict[str, np.ndarray] = {}
        for (by, order), sources in self.groups_.items():
            seq = self._sequence(X, by, order, values, sources)
            history, every = self.history_[(by, order)], self.every_[(by, order)]
            features = self._past(seq, history, sources, len(X), every)
            for name, column in features.items():
                added[name] = column
        for order, parts in self.calendar_.items():
            dates = _frame.time_values(X[order])
            for part in parts:
                added[f"{order}_{part}"] = _calendar(dates, part)
        target_read = self.target in self.specs_ and self.target in X.columns
        out = X.drop(columns=[self.target]) if target_read else X
        new = pd.DataFrame({n: added[n] for n in self.added_}, index=X.index)
        return pd.concat([out, new], axis=1)

    def without_history(self, X: pd.DataFrame) -> np.ndarray:
        """Per row of ``X``, True when every lag and rolling statistic it gets is missing:
        its entity has no earlier value within their reach (an entity unseen at training,
        or a period before its first row), so a model reads none of its past.

        >>> import pandas as pd
        >>> df = pd.DataFrame({"id": [1, 1], "t": [1, 2], "v": [10.0, 20.0]})
        >>> step = LagFeatures(lags={"v": {"by": "id", "order": "t", "lags": [1]}}).fit(df)
        >>> step.without_history(pd.DataFrame({"id": [1, 9, 1], "t": [3, 3, 0], "v": None}))
        array([False,  True,  True])
        """
        names = [n for s, spec in self.specs_.items() for n in lag_feature_names(s, spec)]
        return self.transform(X)[names].isna().all(axis=1).to_numpy()

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "history_")
        kept = [c for c in self.feature_names_in_ if c != self.target or c not in self.specs_]
        return np.asarray([*kept, *self.added_], dtype=object)

    # -- helpers ---------------------------------------------------------------------------
    def _source_values(self, X: pd.DataFrame, y: Any, *, fitting: bool) -> dict[str, pd.Series]:
        """Each source column as numbers (the target from ``y`` when ``X`` lacks it)."""
        out = {}
        for source in self.specs_:
            if source in X.columns:
                values, invalid = _frame.to_numeric(X[source])
                if invalid.any() and fitting:
                    row = invalid.idxmax()
                    raise DataError(
                        f"features.lags: column {source!r} must be numeric; got "
                        f"{_frame.python_value(X[source].loc[row])!r} in row "
                        f"{_frame.row_label(row)}."
                    )
                out[source] = values.where(~invalid)
            elif fitting and y is not None:
                out[source] = pd.Series(np.asarray(y, dtype=float), index=X.index)
            else:  # the target of the rows to forecast: unknown, only the history counts
                out[source] = pd.Series(np.nan, index=X.index)
        return out

    def _sequence(
        self,
        X: pd.DataFrame,
        by: str | None,
        order: str,
        values: Mapping[str, pd.Series],
        sources: list[str],
    ) -> pd.DataFrame:
        """The rows with an entity and an order value: entity key, order key, values;
        indexed by position in ``X``."""
        entity = _frame.category_keys(X[by]) if by else pd.Series("", index=X.index, dtype="string")
        if self.dates_[order]:
            when: pd.Series = _frame.time_values(X[order])
        else:
            when = _frame.to_numeric(X[order])[0]
        every = self.every_[(by, order)]
        if every != "rows":  # lags count periods: the period's number
            when = _period(when, every)
        seq = pd.DataFrame(
            {_E: entity.to_numpy(dtype=object), _T: when.to_numpy()},
            index=np.arange(len(X)),
        )
        for source in sources:
            seq[source] = values[source].to_numpy(dtype=float)
        return seq[seq[_E].notna() & seq[_T].notna()]

    def _past(
        self,
        seq: pd.DataFrame,
        history: pd.DataFrame,
        sources: list[str],
        n: int,
        every: str | float,
    ) -> dict[str, np.ndarray]:
        """Lags and rolling statistics of ``seq``'s rows from strictly earlier keys of the
        remembered ``history`` and ``seq`` itself (the frame's value wins on a shared key)."""
        both = pd.concat(
            [history.reset_index().assign(**{_F: 0}), seq.assign(**{_F: 1})], ignore_index=True
        )
        both = both.sort_values([_E, _T, _F], kind="stable")
        keyed = both.groupby([_E, _T], sort=True)[sources].last()  # last non-missing value
        if every != "rows":
            columns = _periods_back(keyed, sources, self.specs_)
        else:
            columns = self._rows_back(keyed, sources)
        at = pd.MultiIndex.from_arrays([seq[_E], seq[_T]])
        out = {}
        for name, series in columns.items():
            column = np.full(n, np.nan)
            column[seq.index.to_numpy()] = series.reindex(at).to_numpy(dtype=float)
            out[name] = column
        return out

    def _rows_back(self, keyed: pd.DataFrame, sources: list[str]) -> dict[str, pd.Series]:
        """Lags and rolling statistics counting rows (groupby ``shift`` and ``rolling``)."""
        by_entity = keyed.groupby(level=0, sort=False)
        columns: dict[str, pd.Series] = {}
        for source in sources:
            spec = self.specs_[source]
            for k in spec.get("lags", []):
                columns[f"{source}_lag{k}"] = by_entity[source].shift(k)
            windows = spec.get("windows", [])
            if not windows:
                continue
            before = by_entity[source].shift(1).groupby(level=0, sort=False)
            for w in windows:
                rolling = before.rolling(w, min_periods=1)
                for stat in spec["stats"]:
                    values = getattr(rolling, stat)()
                    columns[f"{source}_{stat}{w}"] = values.droplevel(0).reindex(keyed.index)
        return columns


def _periods_back(
    keyed: pd.DataFrame, sources: list[str], specs: Mapping[str, Mapping[str, Any]]
) -> dict[str, pd.Series]:
    """Lags and rolling statistics counting periods: lag ``k`` is the value ``k`` periods
    before (missing when the entity has no row then); a window of ``w`` is lags 1 to ``w``."""
    entity, period = keyed.index.get_level_values(0), keyed.index.get_level_values(1)
    columns: dict[str, pd.Series] = {}
    for source in sources:
        spec = specs[source]
        depth = max([*spec.get("lags", []), *spec.get("windows", [])])
        back = {
            k: keyed[source].reindex(pd.MultiIndex.from_arrays([entity, period - k])).to_numpy()
            for k in range(1, depth + 1)
        }
        for k in spec.get("lags", []):
            columns[f"{source}_lag{k}"] = pd.Series(back[k], index=keyed.index)
        for w in spec.get("windows", []):
            window = pd.DataFrame({k: back[k] for k in range(1, w + 1)}, index=keyed.index)
            for stat in spec["stats"]:
                columns[f"{source}_{stat}{w}"] = getattr(window, stat)(axis=1)
    return columns


def _period(when: pd.Series, every: str | float) -> pd.Series:
    """The number of the period (``every``: a calendar unit, or a numeric step) of each
    value: consecutive periods have consecutive numbers."""
    if not isinstance(every, str):
        return np.floor(when / float(every))
    if every == "year":
        return when.dt.year.astype("float64")
    if every == "quarter":
        return (when.dt.year * 4 + when.dt.quarter - 1).astype("float64")
    if every == "month":
        return (when.dt.year * 12 + when.dt.month - 1).astype("float64")
    unit = {"week": "7D", "day": "1D", "hour": "1h"}[every]
    monday = pd.Timestamp("1970-01-05")  # ISO weeks start on Monday
    return ((when - monday) // pd.Timedelta(unit)).astype("float64")


def _check_spec(source: str, spec: Any) -> dict[str, Any]:
    """One spec checked as ``features.lags`` is in ``tabloop.yaml`` (its vocabulary, its
    defaults for ``stats`` and ``calendar``), returned as a new dict with those defaults."""
    where = f"features.lags.{source}"
    if not isinstance(spec, Mapping):
        raise DataError(f"{where}: expected a mapping (by, order, lags, ...); got {spec!r}.")
    unknown = [k for k in spec if k not in _KEYS]
    if unknown:
        raise DataError(f"{where}.{unknown[0]}: unknown key. Allowed keys: {', '.join(_KEYS)}.")
    order = spec.get("order")
    if not isinstance(order, str) or not order:
        raise DataError(
            f"{where}.order: the column ordering the rows (a time or a sequence number) is "
            f"required; got {order!r}."
        )
    by = spec.get("by")
    if by is not None and (not isinstance(by, str) or not by):
        raise DataError(f"{where}.by: the entity column's name, or none; got {by!r}.")
    for key in ("lags", "windows"):
        for v in spec.get(key, []):
            low = 1 if key == "lags" else 2
            if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < low:
                raise DataError(f"{where}.{key}: each must be an integer >= {low}; got {v!r}.")
    if not spec.get("lags") and not spec.get("windows"):
        raise DataError(f"{where}: give 'lags' or 'windows'.")
    every = spec.get("every", "rows")
    number = isinstance(every, int | float | np.number) and not isinstance(every, bool)
    if not (every == "rows" or every in LAG_PERIODS or (number and every > 0)):
        raise DataError(
            f"{where}.every: 'rows', one of {', '.join(LAG_PERIODS)} or a positive number; "
            f"got {every!r}."
        )
    out = {
        **spec,
        "stats": list(spec.get("stats", LAG_DEFAULT_STATS)),
        "calendar": list(spec.get("calendar", LAG_DEFAULT_CALENDAR)),
    }
    for key, allowed in (("stats", LAG_STATS), ("calendar", LAG_CALENDAR)):
        for v in out[key]:
            if v not in allowed:
                raise DataError(f"{where}.{key}: {v!r} is not one of {', '.join(allowed)}.")
    return out


def _refuse_duplicates(
    seq: pd.DataFrame, by: str | None, order: str, X: pd.DataFrame, every: str | float
) -> None:
    twice = seq.duplicated([_E, _T], keep=False).to_numpy()
    if twice.any():
        first = seq.index[twice][0]
        same = (seq[_E] == seq.at[first, _E]) & (seq[_T] == seq.at[first, _T])
        whom = f"{by} {_frame.python_value(X[by].iloc[first])!r}" if by else "the series"
        when = _frame.python_value(X[order].iloc[first])
        at = f"at {order} {when!r}" if every == "rows" else f"in the {every} of {when!r}"
        one = f"per {by + ' and ' if by else ''}{order}" if every == "rows" else f"per {every}"
        raise DataError(
            f"features.lags: {whom} has {int(same.sum())} training rows {at}; lags need one "
            f"row {one}. Aggregate those rows first."
        )


def _calendar(dates: pd.Series, part: str) -> np.ndarray:
    if part == "week":
        values: Any = dates.dt.isocalendar().week
    else:
        values = getattr(dates.dt, part)
    return np.asarray(values.astype("float64"), dtype=float)
