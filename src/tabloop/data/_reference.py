"""The reference profile: the training data summarised once, so drift never re-reads it.

Maintainer note
---------------
*What is kept.* Per numeric column: row and missing counts, mean and standard deviation
(``ddof=0``, computed on every present value), a weighted empirical distribution, the
reference shares of the PSI decile bins and of a small chart histogram (both computed on
every present value, so they are exact whatever the distribution's size). Per categorical or
boolean column: row and missing counts and the count of each category key. That is all
:func:`tabloop.monitor.drift_report` needs, and the registry stores it in the model
package as ``reference_profile.json``.

*The distribution.* With at most ``max_points`` distinct present values it is lossless: the
distinct values and their counts, so KS and Wasserstein-1 against a window equal scipy's on
the raw data. Beyond that it is a quantile sketch: the ``max_points`` values at the
probabilities ``(i + 0.5) / max_points`` (inverted CDF, i.e. observed values), each with
weight ``1 / max_points``. Its CDF is within ``0.5 / max_points`` of the data's everywhere,
so a KS statistic computed against it is within that of the exact one.

*Encoding.* Arrays of more than :data:`INLINE` numbers are stored exactly as base64 of
their zlib-compressed, byte-shuffled little-endian bytes (float64; counts in the smallest
unsigned type): about 7.8 characters per continuous value, 1-3 for rounded ones, against
~19 as decimal text. A 1M-row table with 12 continuous columns takes about 2 MB. Shorter
arrays stay JSON lists. ``counts`` is null when every value has weight 1.

*Missing values.* NaN, None, NA and ±inf count as missing in numeric columns; NaN, None and
NA in categorical ones. Booleans use the keys ``"true"``/``"false"`` of
``_frame.category_keys`` (``1``/``0`` and their spellings are mapped to those).
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabloop.data._frame import (
    BOOL_STRINGS,
    category_keys,
    missing_mask,
    numeric_array,
    row_label,
)
from tabloop.exceptions import MonitorError

__all__ = ["ReferenceProfile"]

FORMAT = "tabloop.reference_profile/1"
#: Column kinds a profile summarises; the other schema kinds are skipped.
PROFILED_KINDS = ("numeric", "categorical", "boolean")
SKIPPED_KINDS = ("datetime", "text", "id")
#: PSI bins: the reference deciles.
PSI_BINS = 10
#: Bars of the chart histogram (one per value for columns with at most this many values).
HIST_BINS = 20
#: The chart histogram spans these reference quantiles; values beyond fall in the end bars.
HIST_RANGE = (0.005, 0.995)
#: Categories kept per column; rarer ones are pooled into ``other``.
MAX_CATEGORIES = 10_000
#: Arrays up to this length are written as JSON lists, longer ones as base64.
INLINE = 64
ENCODING = "byteshuffle+zlib+base64"


@dataclass(frozen=True, eq=False)
class NumericSummary:
    """One numeric column of the reference (see the module note)."""

    n: int  # rows
    missing: int
    mean: float
    std: float  # ddof=0
    values: np.ndarray  # sorted; distinct when exact, the sketch's points otherwise
    counts: np.ndarray | None  # weight of each value; None = all equal (sketch, or no ties)
    exact: bool
    psi_edges: np.ndarray  # interior decile cut points; bins are (e[i-1], e[i]]
    psi_shares: np.ndarray
    hist_edges: np.ndarray  # bars are [e[i], e[i+1]); values beyond the ends are clipped in
    hist_shares: np.ndarray
    kind: str = "numeric"

    @property
    def present(self) -> int:
        return self.n - self.missing

    def cumulative(self) -> np.ndarray:
        """Cumulative weights with a leading 0: ``F(t) = c[searchsorted(values, t, 'right')]``."""
        weights = np.ones(len(self.values)) if self.counts is None else self.counts
        return np.concatenate(([0.0], np.cumsum(weights, dtype="float64")))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n": self.n,
            "missing": self.missing,
            "mean": _float(self.mean),
            "std": _float(self.std),
            "exact": self.exact,
            "values": _encode(self.values),
            "counts": None if self.counts is None else _encode(self.counts),
            "psi_edges": _encode(self.psi_edges),
            "psi_shares": _encode(self.psi_shares),
            "hist_edges": _encode(self.hist_edges),
            "hist_shares": _encode(self.hist_shares),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericSummary:
        return cls(
            n=int(data["n"]),
            missing=int(data["missing"]),
            mean=_nan(data["mean"]),
            std=_nan(data["std"]),
            values=_decode(data["values"], "float64"),
            counts=None if data["counts"] is None else _decode(data["counts"], "int64"),
            exact=bool(data["exact"]),
            psi_edges=_decode(data["psi_edges"], "float64"),
            psi_shares=_decode(data["psi_shares"], "float64"),
            hist_edges=_decode(data["hist_edges"], "float64"),
            hist_shares=_decode(data["hist_shares"], "float64"),
        )


@dataclass(frozen=True, eq=False)
class CategoricalSummary:
    """One categorical (or boolean) column: counts per category key, most frequent first."""

    n: int
    missing: int
    categories: tuple[str, ...]
    counts: np.ndarray
    other: int = 0  # present values of the categories beyond MAX_CATEGORIES
    kind: str = "categorical"

    @property
    def present(self) -> int:
        return self.n - self.missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n": self.n,
            "missing": self.missing,
            "categories": list(self.categories),
            "counts": [int(c) for c in self.counts],
            "other": self.other,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalSummary:
        return cls(
            n=int(data["n"]),
            missing=int(data["missing"]),
            categories=tuple(str(c) for c in data["categories"]),
            counts=np.asarray(data["counts"], dtype="int64"),
            other=int(data.get("other", 0)),
            kind=str(data["kind"]),
        )


Summary = NumericSummary | CategoricalSummary


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """The reference (training) data of a model, summarised per column for drift checks.

    Build it once with :meth:`from_frame`, store it with :meth:`save`, and pass it to
    ``drift_report`` for every monitoring window.

    Attributes
    ----------
    n_rows : int
        Rows of the reference frame.
    max_points : int
        Size of the numeric quantile sketch (distributions with more distinct values).
    summaries : dict
        Column name to its summary, in the frame's column order.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [31, 45, 27, 45], "plan": ["a", "b", "a", None]})
    >>> profile = ReferenceProfile.from_frame(df, kinds={"age": "numeric", "plan": "categorical"})
    >>> profile.columns, profile.kind("plan")
    (['age', 'plan'], 'categorical')
    """

    n_rows: int
    max_points: int
    summaries: dict[str, Summary]

    @property
    def columns(self) -> list[str]:
        return list(self.summaries)

    def kind(self, name: str) -> str:
        """``"numeric"``, ``"categorical"`` or ``"boolean"``."""
        return self[name].kind

    def __getitem__(self, name: str) -> Summary:
        try:
            return self.summaries[name]
        except KeyError:
            raise MonitorError(
                f"Column {name!r} is not in the reference profile; it holds "
                f"{_names(self.columns)}. Only numeric, categorical and boolean columns are "
                "profiled."
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.summaries

    @classmethod
    def from_frame(
        cls, df: pd.DataFrame, *, kinds: dict[str, str], max_points: int = 20_000
    ) -> ReferenceProfile:
        """Summarise ``df``'s columns of kind numeric, categorical or boolean.

        Parameters
        ----------
        df : pandas.DataFrame
            The reference (training) rows.
        kinds : dict
            Column name to kind, as in a tabloop schema. Columns of kind datetime, text or
            id are skipped; columns of ``df`` absent from ``kinds`` too.
        max_points : int, default 20,000
            Numeric columns with more distinct values are kept as a quantile sketch of this
            many points (KS error at most ``0.5 / max_points``).
        """
        if not isinstance(df, pd.DataFrame):
            raise MonitorError(
                f"The reference must be a pandas DataFrame; got {type(df).__name__}."
            )
        if len(df) == 0:
            raise MonitorError("The reference frame has no rows; a profile needs at least one.")
        if not isinstance(max_points, int | np.integer) or max_points < 2:
            raise MonitorError(f"max_points must be an integer >= 2; got {max_points!r}.")
        summaries: dict[str, Summary] = {}
        for name, kind in kinds.items():
            if kind in SKIPPED_KINDS:
                continue
            if kind not in PROFILED_KINDS:
                raise MonitorError(
                    f"Column {name!r} has kind {kind!r}; expected one of "
                    f"{PROFILED_KINDS + SKIPPED_KINDS} (the last three are skipped)."
                )
            if name not in df.columns:
                raise MonitorError(
                    f"Column {name!r} is in kinds but not in the reference frame, whose "
                    f"columns are {_names([str(c) for c in df.columns])}."
                )
            series = df[name]
            if kind == "numeric":
                summaries[name] = _numeric_summary(series, int(max_points))
            else:
                summaries[name] = _categorical_summary(series, kind)
        return cls(n_rows=len(df), max_points=int(max_points), summaries=summaries)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe data; :meth:`from_dict` rebuilds an identical profile."""
        return {
            "format": FORMAT,
            "n_rows": self.n_rows,
            "max_points": self.max_points,
            "columns": [{"name": name, **s.to_dict()} for name, s in self.summaries.items()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise MonitorError(
                f"Not a tabloop reference profile (format {FORMAT!r}); got format {found!r}."
            )
        summaries: dict[str, Summary] = {}
        for column in data["columns"]:
            summary_type = NumericSummary if column["kind"] == "numeric" else CategoricalSummary
            summaries[column["name"]] = summary_type.from_dict(column)
        return cls(
            n_rows=int(data["n_rows"]), max_points=int(data["max_points"]), summaries=summaries
        )

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON (the registry's ``reference_profile.json``)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise MonitorError(f"Cannot read the reference profile {str(path)!r}: {exc}") from exc
        return cls.from_dict(data)


# -- numeric ------------------------------------------------------------------------------------
def present_numbers(series: pd.Series, *, role: str) -> np.ndarray:
    """The finite values of a numeric column, sorted; MonitorError on a non-numeric value."""
    missing = missing_mask(series)
    numbers, invalid = numeric_array(series, missing)
    if invalid.any():
        first = int(np.argmax(invalid))
        raise MonitorError(
            f"Column {series.name!r} of the {role} must be numeric; got "
            f"{series.iloc[first]!r} in row {row_label(series.index[first])!r} "
            f"({int(invalid.sum())} such value(s)). Fix the values, or declare "
            f"{series.name!r} as categorical and rebuild the reference profile."
        )
    x = numbers[np.isfinite(numbers)]
    x.sort()
    return x


def quantile_points(x: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Inverted-CDF quantiles of the sorted ``x``: the smallest value with ``F >= p``."""
    index = np.ceil(probabilities * len(x)).astype("int64") - 1
    return x[np.clip(index, 0, len(x) - 1)]


def bin_shares(x: np.ndarray, edges: np.ndarray, *, right: bool) -> np.ndarray:
    """Shares of the sorted ``x`` in the bins cut at ``edges`` (the outer bins are open).

    ``right=True``: bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``; ``right=False``: bins
    ``(-inf, e1), [e1, e2), ..., [e_last-1, inf)`` over the interior ``edges[1:-1]``.
    """
    cuts = edges if right else edges[1:-1]
    below = np.searchsorted(x, cuts, side="right" if right else "left")
    counts = np.diff(np.concatenate(([0], below, [len(x)])))
    return counts / len(x) if len(x) else np.full(len(counts), np.nan)


def _numeric_summary(series: pd.Series, max_points: int) -> NumericSummary:
    x = present_numbers(series, role="reference")
    n, present = len(series), len(x)
    if present == 0:
        empty = np.zeros(0)
        return NumericSummary(
            n, n, np.nan, np.nan, empty, None, True, empty, np.zeros(1), empty, np.zeros(0)
        )
    last = np.flatnonzero(np.concatenate((x[1:] != x[:-1], [True])))  # end of each run
    distinct = x[last]
    if len(distinct) <= max_points:
        values, counts, exact = distinct, np.diff(np.concatenate(([-1], last))), True
        if counts.max() == 1:
            counts = None  # every value once: unit weights, stored as for the sketch
    else:
        values = quantile_points(x, (np.arange(max_points) + 0.5) / max_points)
        counts, exact = None, False
    psi_edges = np.unique(quantile_points(x, np.arange(1, PSI_BINS) / PSI_BINS))
    hist_edges = _hist_edges(x, distinct)
    return NumericSummary(
        n=n,
        missing=n - present,
        mean=float(x.mean()),
        std=float(x.std()),
        values=values,
        counts=counts,
        exact=exact,
        psi_edges=psi_edges,
        psi_shares=bin_shares(x, psi_edges, right=True),
        hist_edges=hist_edges,
        hist_shares=bin_shares(x, hist_edges, right=False),
    )


def _hist_edges(x: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    """One bar per value for few distinct values, else equal bars over the central 99%."""
    if len(distinct) <= HIST_BINS:
        if len(distinct) == 1:
            return np.array([distinct[0] - 0.5, distinct[0] + 0.5])
        middles = (distinct[1:] + distinct[:-1]) / 2
        return np.concatenate(
            ([distinct[0] - (middles[0] - distinct[0])], middles, [2 * distinct[-1] - middles[-1]])
        )
    low, high = quantile_points(x, np.asarray(HIST_RANGE))
    if low == high:
        low, high = x[0], x[-1]
    return np.linspace(low, high, HIST_BINS + 1)


# -- categorical --------------------------------------------------------------------------------
def count_keys(series: pd.Series, kind: str) -> tuple[pd.Series, int]:
    """Count per category key (most frequent first, ties by key) and the number missing.

    One ``factorize`` and one ``bincount`` over the rows; keys are computed on the distinct
    values only, so a million rows of 50 categories cost one hashing pass.
    """
    codes, uniques = pd.factorize(series)
    counts = np.bincount(codes + 1, minlength=len(uniques) + 1)
    keys = category_keys(pd.Series(uniques))
    if kind == "boolean":
        lowered = keys.str.strip().str.lower()
        keys = lowered.map(lambda k: str(BOOL_STRINGS[k]).lower() if k in BOOL_STRINGS else k)
    by_key = pd.Series(counts[1:], index=pd.Index(keys.to_numpy(dtype=object), dtype=object))
    by_key = by_key.groupby(level=0, sort=False).sum()
    order = np.lexsort((by_key.index.to_numpy(dtype=str), -by_key.to_numpy()))
    return by_key.iloc[order], int(counts[0])


def _categorical_summary(series: pd.Series, kind: str) -> CategoricalSummary:
    by_key, missing = count_keys(series, kind)
    kept = by_key.iloc[:MAX_CATEGORIES]
    return CategoricalSummary(
        n=len(series),
        missing=missing,
        categories=tuple(str(k) for k in kept.index),
        counts=kept.to_numpy(dtype="int64"),
        other=int(by_key.iloc[MAX_CATEGORIES:].sum()),
        kind=kind,
    )


# -- encoding -----------------------------------------------------------------------------------
def _encode(array: np.ndarray) -> list[Any] | dict[str, str]:
    """A JSON list, or for long arrays base64 of the zlib-compressed, byte-shuffled bytes.

    Shuffling (byte 0 of every number, then byte 1, ...) puts the nearly constant sign and
    exponent bytes of sorted values side by side, where zlib removes them: about 7.8
    characters a continuous float64, 1-3 for rounded values, against 10.7 for plain base64.
    """
    if len(array) <= INLINE:
        return array.tolist()
    if array.dtype.kind in "iu":
        dtype = next(t for t in ("<u1", "<u2", "<u4", "<i8") if array.max() <= np.iinfo(t).max)
    else:
        dtype = "<f8"
    raw = np.ascontiguousarray(array, dtype=dtype).view(np.uint8)
    shuffled = raw.reshape(len(array), -1).T.tobytes()
    return {
        "dtype": dtype,
        "encoding": ENCODING,
        "data": base64.b64encode(zlib.compress(shuffled, 6)).decode(),
    }


def _decode(data: list[Any] | dict[str, str], dtype: str) -> np.ndarray:
    if not isinstance(data, dict):
        return np.asarray(data, dtype=dtype)
    if data.get("encoding") != ENCODING:
        raise MonitorError(
            f"Unknown array encoding {data.get('encoding')!r}; expected {ENCODING!r}."
        )
    shuffled = np.frombuffer(zlib.decompress(base64.b64decode(data["data"])), dtype=np.uint8)
    width = np.dtype(data["dtype"]).itemsize
    raw = shuffled.reshape(width, -1).T.copy()
    return raw.view(data["dtype"]).ravel().astype(dtype)


def _float(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _nan(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:20])
    return (shown + (", ..." if len(names) > 20 else "")) or "no columns"
