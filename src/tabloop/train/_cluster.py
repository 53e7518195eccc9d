"""Clustering as a first-class task: segments, how many, and what each one looks like.

:func:`fit_segments` clusters a prepared matrix (numeric, imputed, scaled) with k-means or
a Gaussian mixture. When ``k`` is not given it is chosen by the silhouette over
``k_range`` (ties go to the smaller k). Speed: silhouette costs O(n²), so the k search
runs on a seeded subsample of at most ``sample`` rows (the models of the search are fitted
on that subsample too); the chosen k is then refitted on all rows. The reported
``silhouette`` is computed on that same subsample (all rows when there are no more than
``sample``; ``silhouette_rows`` says how many), ``davies_bouldin`` on all rows.

Segments are numbered by size, 0 the largest, here and in :meth:`Segments.predict`.
:func:`segment_profiles` describes them in the original, human-readable columns.

How strong the structure is (:func:`cluster_structure`) follows Kaufman and Rousseeuw's
reading of the average silhouette (*Finding Groups in Data*, 1990): at most 0.25, no
substantial structure; up to 0.50, weak (possibly artificial); up to 0.70, reasonable;
above, strong. And when the silhouette moves by less than :data:`FLAT_SPREAD` over three
or more k, no number of segments is better supported than another: the segments then cut
a continuum rather than find groups, whatever k was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from tabloop.data.frame import is_datetime, is_numeric, python_value, require_frame
from tabloop.exceptions import TrainError

METHODS = ("kmeans", "gmm")
#: Columns :func:`segment_profiles` lists as most distinguishing, per segment.
N_DISTINGUISHING = 3
#: Most levels per categorical column considered as distinguishing (the most frequent).
MAX_LEVELS = 20
#: Silhouette bounds of Kaufman and Rousseeuw: (upper bound, strength), checked in order.
STRENGTHS = ((0.25, "none"), (0.50, "weak"), (0.70, "reasonable"), (1.0, "strong"))
#: Silhouettes over three or more k within this spread are flat: k is not determined.
FLAT_SPREAD = 0.02


@dataclass
class Segments:
    """A fitted segmentation.

    Attributes
    ----------
    method : ``kmeans`` or ``gmm``.
    k : the number of segments.
    labels_ : the segment of each training row, 0 the largest segment.
    model_ : the fitted scikit-learn ``KMeans`` or ``GaussianMixture``.
    silhouette_by_k : silhouette of each k tried (only the given k when ``k`` was fixed).
    silhouette : silhouette of the final labels, on ``silhouette_rows`` rows.
    davies_bouldin : Davies-Bouldin index of the final labels, on all rows (lower is better).
    sizes : rows per segment.
    notes : how the numbers were computed (subsampling, a narrowed k range).
    """

    method: str
    k: int
    labels_: np.ndarray = field(repr=False)
    model_: Any = field(repr=False)
    silhouette_by_k: dict[int, float]
    silhouette: float
    davies_bouldin: float
    sizes: dict[int, int]
    silhouette_rows: int
    notes: list[str] = field(default_factory=list)
    columns: list[Any] | None = field(default=None, repr=False)
    relabel_: np.ndarray = field(default_factory=lambda: np.arange(0), repr=False)

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The segment of each row of ``X`` (prepared like the training matrix)."""
        names = self.columns
        if isinstance(X, pd.DataFrame) and names is not None and list(X.columns) != names:
            missing = [c for c in names if c not in X.columns]
            extra = [c for c in X.columns if c not in names]
            raise TrainError(
                f"X must have the columns the segments were fitted on, in order; "
                f"missing {missing}, unexpected {extra}."
            )
        values = _check_matrix(X)
        if values.shape[1] != self.model_.n_features_in_:
            raise TrainError(
                f"X has {values.shape[1]} columns; the segments were fitted on "
                f"{self.model_.n_features_in_}."
            )
        return self.relabel_[self.model_.predict(values)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe data (no labels, no model); undefined scores become ``None``."""
        return {
            "method": self.method,
            "k": self.k,
            "silhouette": _number(self.silhouette),
            "davies_bouldin": _number(self.davies_bouldin),
            "silhouette_rows": self.silhouette_rows,
            "silhouette_by_k": {int(k): _number(v) for k, v in self.silhouette_by_k.items()},
            "sizes": {int(k): int(v) for k, v in self.sizes.items()},
            "notes": list(self.notes),
            "structure": cluster_structure(self.silhouette_by_k, self.silhouette),
        }


def cluster_structure(silhouette_by_k: dict[int, float], silhouette: float) -> dict[str, Any]:
    """How much cluster structure the silhouettes show, as plain data.

    ``strength`` is ``none``/``weak``/``reasonable``/``strong`` by the bounds of
    :data:`STRENGTHS` on ``silhouette``; ``flat`` is True when three or more k were tried
    and their silhouettes lie within :data:`FLAT_SPREAD`; ``warn`` is True for ``none``,
    ``weak`` (Kaufman and Rousseeuw: "could be artificial"; one Gaussian cloud in two
    dimensions scores about 0.34) or ``flat``; ``message`` says it in one sentence of
    clauses joined by ``"; "`` (the terminal prints one clause a line).

    Examples
    --------
    >>> found = cluster_structure({2: 0.177, 3: 0.183, 4: 0.18}, 0.183)
    >>> found["strength"], found["flat"], found["warn"]
    ('none', True, True)
    """
    scored = {int(k): float(v) for k, v in silhouette_by_k.items() if np.isfinite(v)}
    if not np.isfinite(silhouette):
        return {
            "strength": None,
            "flat": False,
            "warn": True,
            "message": "no silhouette could be computed (fewer than two occupied segments)",
        }
    strength = next(name for bound, name in STRENGTHS if silhouette <= bound)
    low, high = (min(scored.values()), max(scored.values())) if scored else (0.0, 0.0)
    flat = len(scored) >= 3 and high - low < FLAT_SPREAD
    span = f"{low:.3f}–{high:.3f} for k = {min(scored)}..{max(scored)}" if scored else ""
    readings = {
        "none": f"no substantial structure (silhouette {silhouette:.3f} <= 0.25)",
        "weak": f"weak structure, possibly artificial (silhouette {silhouette:.3f} <= 0.50)",
        "reasonable": f"reasonable structure (silhouette {silhouette:.3f})",
        "strong": f"strong structure (silhouette {silhouette:.3f})",
    }
    clauses = [readings[strength]]
    if flat:
        clauses += [
            f"flat across k ({span}): no k fits better than another",
            "the segments cut a continuum rather than find groups",
        ]
    return {
        "strength": strength,
        "flat": bool(flat),
        "warn": strength in ("none", "weak") or bool(flat),
        "message": "; ".join(clauses),
    }


def fit_segments(
    X: pd.DataFrame | np.ndarray,
    *,
    method: Literal["kmeans", "gmm"] = "kmeans",
    k: int | None = None,
    k_range: tuple[int, int] = (2, 8),
    seed: int = 0,
    sample: int = 5000,
) -> Segments:
    """Cluster the rows of a prepared matrix into segments.

    Parameters
    ----------
    X : numeric, imputed and scaled features (no NaN), one row per case.
    method : ``"kmeans"`` (``KMeans(n_init=10)``) or ``"gmm"`` (``GaussianMixture``).
    k : the number of segments; default: the best silhouette over ``k_range``.
    k_range : smallest and largest k tried, inclusive; narrowed to ``rows - 1``.
    seed : random state of the subsample and the models.
    sample : most rows the silhouette is computed on (a seeded subsample).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=300, centers=3, random_state=0)
    >>> segments = fit_segments(pd.DataFrame(X), k_range=(2, 5))
    >>> segments.k, sum(segments.sizes.values())
    (3, 300)
    """
    columns = list(X.columns) if isinstance(X, pd.DataFrame) else None
    values = _check_matrix(X)
    n = len(values)
    if method not in METHODS:
        raise TrainError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    if isinstance(sample, bool) or not isinstance(sample, int | np.integer) or sample < 3:
        raise TrainError(f"sample must be an integer of at least 3 rows; got {sample!r}.")
    ks, notes = _candidate_ks(k, k_range, n)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=sample, replace=False)) if n > sample else np.arange(n)
    sub = values[rows]
    if n > sample:
        search = "; the k search fitted its models on it" if len(ks) > 1 else ""
        notes.append(
            f"silhouette computed on a seeded subsample of {sample:,} of {n:,} rows (for speed)"
            f"{search}; the final model is fitted on all rows"
        )
    if len(ks) == 1:
        best = ks[0]
        model, labels = _fit(method, best, values, seed)
        silhouette = _silhouette(sub, labels[rows])
        silhouettes = {best: silhouette}
    else:
        best, silhouettes, fitted = _search(method, ks, sub, seed, sample)
        if n > sample:
            model, labels = _fit(method, best, values, seed)
            silhouette = _silhouette(sub, labels[rows])
        else:
            model, labels = fitted
            silhouette = silhouettes[best]

    counts = np.bincount(labels, minlength=best)
    relabel = np.empty(best, dtype=int)
    relabel[np.argsort(-counts, kind="stable")] = np.arange(best)
    labels = relabel[labels]
    from sklearn.metrics import davies_bouldin_score

    used = len(np.unique(labels))
    davies_bouldin = (
        float(davies_bouldin_score(values, labels)) if 2 <= used <= n - 1 else float("nan")
    )
    return Segments(
        method=method,
        k=best,
        labels_=labels,
        model_=model,
        silhouette_by_k=silhouettes,
        silhouette=silhouette,
        davies_bouldin=davies_bouldin,
        sizes={int(s): int(c) for s, c in enumerate(np.bincount(labels, minlength=best))},
        silhouette_rows=len(sub),
        notes=notes,
        columns=columns,
        relabel_=relabel,
    )


def segment_profiles(
    df: pd.DataFrame, labels: Any, *, distinguishing: int = N_DISTINGUISHING
) -> pd.DataFrame:
    """One row per segment, in the original columns, for people to read.

    Columns: ``count`` and ``share`` of rows; ``<col> mean`` for each numeric column;
    ``<col> top`` (the most common value) and ``<col> top share`` (its share of the
    segment's rows, missing values included) for each other column; and
    ``distinguishing``: the ``distinguishing`` columns whose segment mean differs most
    from the rest of the rows, in standard deviations of the whole column (for a category,
    of its 0/1 indicator; the ``MAX_LEVELS`` most frequent levels are considered).

    Examples
    --------
    >>> df = pd.DataFrame({"age": [20, 22, 60, 64], "city": ["a", "a", "b", "b"]})
    >>> profile = segment_profiles(df, [0, 0, 1, 1])
    >>> profile["age mean"].tolist(), profile["city top"].tolist()
    ([21.0, 62.0], ['a', 'b'])
    >>> profile.loc[1, "distinguishing"]
    'city=b 100% vs 0%, age +2.0 sd'
    """
    require_frame(df)
    seg = np.asarray(labels)
    if seg.ndim != 1 or len(seg) != len(df):
        raise TrainError(
            f"labels must hold one segment per row of df: df has {len(df)} rows, labels has "
            f"shape {seg.shape}."
        )
    if len(df) == 0:
        raise TrainError("df has no rows; there is no segment to describe.")
    if pd.isna(seg).any():
        raise TrainError(
            f"labels has {int(pd.isna(seg).sum())} missing value(s); every row needs a segment."
        )
    key = pd.Index(seg, name="segment")
    frame = df.set_axis(key, axis=0)
    groups = frame.groupby(level=0, sort=True)
    sizes = groups.size()
    out = pd.DataFrame({"count": sizes, "share": sizes / len(df)})
    smd: dict[str, pd.Series] = {}
    labels_text: dict[str, Any] = {}
    for col in df.columns:
        values = frame[col]
        if is_numeric(values):
            x = values.astype(float)
            out[f"{col} mean"] = x.groupby(level=0).mean()
            smd[str(col)] = _smd(x, sizes)
            labels_text[str(col)] = None
        elif is_datetime(values):
            out[f"{col} mean"] = values.groupby(level=0).mean()
        else:
            top = values.groupby(level=0).agg(_mode)
            out[f"{col} top"] = top.map(lambda t: t[0])
            out[f"{col} top share"] = top.map(lambda t: t[1]) / sizes
            levels = pd.DataFrame(
                {
                    lv: _smd((values == lv).astype(float), sizes)
                    for lv in values.value_counts().index[:MAX_LEVELS]
                },
                index=sizes.index,
            ).dropna(axis=1, how="all")
            if levels.shape[1]:  # per segment, the level that differs most (ties: one it has)
                best = (levels.abs() + 1e-9 * (levels > 0)).fillna(-1.0).idxmax(axis=1)
                smd[str(col)] = pd.Series(
                    levels.to_numpy()[
                        np.arange(len(levels)), levels.columns.get_indexer(pd.Index(best))
                    ],
                    index=sizes.index,
                )
                labels_text[str(col)] = (col, best)
    smd_table = pd.DataFrame(smd, index=sizes.index)
    out["distinguishing"] = _distinguishing(smd_table, frame, labels_text, distinguishing)
    return out


def _check_matrix(X: Any) -> np.ndarray:
    """X as a 2-D float array; TrainError naming non-numeric columns or missing values."""
    if isinstance(X, pd.DataFrame):
        bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c].dtype)]
        if bad:
            raise TrainError(
                f"X must be numeric (prepared: encoded, imputed, scaled); column(s) {bad} are "
                f"not. Run the preparation pipeline first."
            )
        values = X.to_numpy(dtype=float)
        names: list[Any] = list(X.columns)
    else:
        arr = np.asarray(X)
        if arr.dtype.kind not in "biuf":
            raise TrainError(f"X must be a numeric matrix; got dtype {arr.dtype}.")
        values = arr.astype(float)
        names = list(range(values.shape[1])) if values.ndim == 2 else []
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
        raise TrainError(f"X must be a 2-D matrix with rows and columns; got shape {values.shape}.")
    finite = np.isfinite(values)
    if not finite.all():
        bad_cols = [names[j] for j in np.flatnonzero(~finite.all(axis=0))]
        raise TrainError(
            f"X has {int((~finite).sum())} missing or infinite value(s), in column(s) "
            f"{bad_cols}; impute them before clustering."
        )
    return values


def _candidate_ks(k: int | None, k_range: Any, n: int) -> tuple[list[int], list[str]]:
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
            raise TrainError(f"k must be an integer of at least 2; got {k!r}.")
        if n <= k:
            raise TrainError(
                f"X has {n} rows, fewer than k + 1 = {k + 1}; a segmentation into {k} segments "
                f"needs more rows than segments. Lower k or add rows."
            )
        return [int(k)], []
    ok = (
        isinstance(k_range, tuple | list)
        and len(k_range) == 2
        and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in k_range)
    )
    if not ok or not 2 <= k_range[0] <= k_range[1]:
        raise TrainError(
            f"k_range must be two integers (smallest, largest k) with 2 <= smallest <= "
            f"largest; got {k_range!r}."
        )
    low, high = int(k_range[0]), int(k_range[1])
    if n <= low:
        raise TrainError(
            f"X has {n} rows, fewer than the smallest k in k_range + 1 = {low + 1}; add rows "
            f"or lower k_range."
        )
    notes = []
    if high > n - 1:
        notes.append(f"k_range narrowed to ({low}, {n - 1}): X has only {n} rows")
        high = n - 1
    return list(range(low, high + 1)), notes


def _search(
    method: str, ks: list[int], sub: np.ndarray, seed: int, sample: int
) -> tuple[int, dict[int, float], tuple[Any, np.ndarray]]:
    """The k with the best silhouette on ``sub`` (ties: the smaller k), all silhouettes,
    and the model and labels of the best k."""
    usable = [c for c in ks if c < len(sub)]
    if not usable:
        raise TrainError(f"sample={sample} rows is too small to compare k in {ks}; raise sample.")
    silhouettes: dict[int, float] = {}
    fitted: dict[int, tuple[Any, np.ndarray]] = {}
    for candidate in usable:
        model, labels = _fit(method, candidate, sub, seed)
        silhouettes[candidate] = _silhouette(sub, labels)
        fitted[candidate] = (model, labels)
    scored = {c: s for c, s in silhouettes.items() if np.isfinite(s)}
    if not scored:
        raise TrainError(
            f"No k in {usable} gave two or more non-empty segments; check that X varies "
            f"across rows, or try method='kmeans'."
        )
    best = max(scored, key=lambda c: (scored[c], -c))
    return best, silhouettes, fitted[best]


def _fit(method: str, k: int, X: np.ndarray, seed: int) -> tuple[Any, np.ndarray]:
    if method == "kmeans":
        from sklearn.cluster import KMeans

        model: Any = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(X)
        return model, np.asarray(model.labels_, dtype=int)
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(n_components=k, random_state=seed).fit(X)
    return model, np.asarray(model.predict(X), dtype=int)


def _silhouette(X: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette, NaN when fewer than two segments (or one per row) are occupied."""
    from sklearn.metrics import silhouette_score

    used = len(np.unique(labels))
    if not 2 <= used <= len(X) - 1:
        return float("nan")
    return float(silhouette_score(X, labels))


def _mode(values: pd.Series) -> tuple[Any, int]:
    counts = values.value_counts()
    if counts.empty:
        return None, 0
    return python_value(counts.index[0]), int(counts.iloc[0])


def _smd(x: pd.Series, sizes: pd.Series) -> pd.Series:
    """(segment mean - mean of the other rows) / standard deviation of the whole column."""
    present = x.notna()
    total, count = x.sum(), present.sum()
    seg_sum = x.groupby(level=0).sum()
    seg_count = present.groupby(level=0).sum()
    rest_count = count - seg_count
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = seg_sum / seg_count - (total - seg_sum) / rest_count
    sd = float(x.std(ddof=0))
    if not sd > 0:
        return pd.Series(np.nan, index=sizes.index)
    return (diff / sd).where((seg_count > 0) & (rest_count > 0)).reindex(sizes.index)


def _distinguishing(
    smd: pd.DataFrame, frame: pd.DataFrame, names: dict[str, Any], top: int
) -> pd.Series:
    """Per segment, the ``top`` largest |SMD| as text: ``income +1.9 sd, city=b 80% vs 10%``.

    ``names`` maps a numeric column to ``None`` and a categorical one to ``(column, level
    per segment)``, the level whose indicator differs most in that segment.
    """
    out = {}
    for segment, row in smd.iterrows():
        row = row.dropna()
        parts = []
        for name in row.abs().sort_values(ascending=False, kind="stable").index[:top]:
            if names[name] is None:
                parts.append(f"{name} {row[name]:+.1f} sd")
            else:
                col, level = names[name][0], names[name][1][segment]
                inside = frame.loc[[segment], col] == level
                rest = frame.loc[frame.index != segment, col] == level
                parts.append(f"{col}={level} {inside.mean():.0%} vs {rest.mean():.0%}")
        out[segment] = ", ".join(parts)
    return pd.Series(out, dtype=object).reindex(smd.index)


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


class Segmenter(BaseEstimator):
    """:func:`fit_segments` as the last step of a Pipeline (``predict`` gives segment numbers)."""

    def __init__(
        self,
        *,
        method: str = "kmeans",
        k: int | None = None,
        k_range: tuple[int, int] = (2, 8),
        seed: int = 0,
    ) -> None:
        self.method = method
        self.k = k
        self.k_range = k_range
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: Any = None) -> Segmenter:
        self.segments_ = fit_segments(
            X, method=self.method, k=self.k, k_range=self.k_range, seed=self.seed
        )
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.segments_.predict(X)
