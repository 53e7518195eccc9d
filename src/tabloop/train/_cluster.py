"""Clustering as a first-class task: segments, how many, and what each one looks like.

:func:`fit_segments` clusters a prepared matrix (numeric, imputed, scaled) with k-means or
a Gaussian mixture. When ``k`` is not given it is chosen by the silhouette over
``k_range`` (ties go to the smaller k). Speed: silhouette costs O(n²), so the k search
runs on a seeded subsample of at most ``sample`` rows (the models of the search are fitted
on that subsample too); the chosen k is then refitted on all rows. The reported
``silhouette`` is computed on that same subsample (all rows when there are no more than
``sample``; ``silhouette_rows`` says how many), ``davies_bouldin`` on all rows.

Segments are numbered by size, 0 the largest, here and in :meth:`Segments.predict`.
:func:`~tabloop.train._segment_profiles.segment_profiles` describes them in the original,
human-readable columns; :func:`~tabloop.train._cluster_structure.cluster_structure` says
how strong the structure the silhouettes show is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from tabloop.exceptions import TrainError
from tabloop.train._cluster_structure import cluster_structure

METHODS = ("kmeans", "gmm")


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
