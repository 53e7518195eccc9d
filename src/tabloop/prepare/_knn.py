"""KNN imputation whose ``transform`` scales to millions of rows.

Maintainer note
---------------
scikit-learn's ``KNNImputer.transform`` computes ``nan_euclidean`` distances from every row
with a missing value to every training row, chunk by chunk, then loops in Python over the
columns of each chunk, copying the distance matrix twice per column (fancy indexing),
``argpartition``-ing all of it and averaging with ``numpy.ma``. On 2M rows of the demo's data
that was 97% of the batch-scoring time (about 300 s per ensemble member).

:class:`FastKNNImputer` keeps scikit-learn's fitted state (``fit`` is inherited, so a fitted
one pickles and unpickles like the parent) and replaces ``transform`` for the default
``metric="nan_euclidean"``, ``weights="uniform"`` with NaN as the missing value (anything
else falls back to the parent). The result is the same:

- rows are grouped by missing-value pattern; within a group every row observes the same
  columns ``O``, so a donor's number of shared columns (``nan_euclidean``'s rescaling
  ``n_features / present``) is a per-donor constant and donors sharing none of ``O`` (NaN
  distance) are dropped up front;
- one BLAS product per chunk of a group gives every squared distance (the squared-norm
  trick, ``x²·m − 2x·y + y²``, on columns centred on the training mean, with the rescaling
  folded into the donor side);
- per missing column the donors are the training rows where it is observed; the ``k``-th
  smallest approximate distance plus twice a rounding bound of the trick selects the
  candidates, whose distances are then recomputed exactly by direct subtraction, so the
  cancellation of the trick never changes which donors are chosen;
- the value is the mean of the ``min(k, donors)`` nearest donors' values; rows with no
  donor at a finite distance (no observed column shared) get the column's training mean,
  and columns never observed in training are dropped or zero-filled
  (``keep_empty_features``) — all as in scikit-learn.

Ties. scikit-learn breaks a tie at the ``k``-th distance by whatever ``argpartition`` and
the rounding of its own squared-norm trick pick, and that rounding depends on which rows
are transformed together (BLAS blocks), so its value for a tied row can change with the
batch. Here a row whose ``k``-th and ``(k+1)``-th donors are closer than a bound on
scikit-learn's rounding is imputed by scikit-learn's own computation on that row alone:
the value is scikit-learn's for the row, and a row's value never depends on the rows
scored with it (chunked batch scoring equals scoring the whole frame at once, bit for
bit). Such rows are rare outside duplicated, integer-valued data.

Private state. As a subclass it reads the parent's fitted donors (``_fit_X``,
``_mask_fit_X``, ``_valid_mask``) and reuses its indicator and per-row helpers:
scikit-learn exposes no public attribute for the fitted donors, and keeping a second copy
would double the model's size. ``tests/prepare/test_knn.py`` compares every path with the
parent on each scikit-learn release we install, so a change of that state fails there.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from sklearn.impute import KNNImputer
from sklearn.utils.validation import check_is_fitted, validate_data

from tabloop._settings import batch_threads

#: Approximate distances computed per BLAS block (elements): bounds the transient memory.
BLOCK_ELEMENTS = 4_000_000
#: Receivers sharing a missing-value pattern searched with k-d trees from this many on
#: (fewer: brute force), over at most this many observed columns (k-d trees degrade beyond).
TREE_MIN_ROWS = 32
TREE_MAX_COLUMNS = 16
#: Receivers per k-d tree query block.
TREE_BLOCK_ROWS = 32_768
#: Cached sets of k-d trees (one per column and pattern) an imputer keeps at most.
TREE_CACHE_SIZE = 1_024
_TREES: weakref.WeakKeyDictionary[Any, dict[tuple[int, tuple[int, ...]], Any]] = (
    weakref.WeakKeyDictionary()
)


class FastKNNImputer(KNNImputer):
    """scikit-learn's :class:`~sklearn.impute.KNNImputer` with a vectorised ``transform``.

    Same parameters, same fitted attributes and same output (see the module's note for the
    method and how ties are broken); ``transform`` is grouped by missing-value pattern and
    done with one BLAS product per block instead of per-column Python loops.

    Examples
    --------
    >>> import numpy as np
    >>> from tabloop.prepare._knn import FastKNNImputer
    >>> X = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0], [2.0, 3.0]])
    >>> FastKNNImputer(n_neighbors=2).fit_transform(X)[1]
    array([3. , 4.5])
    """

    def fit(self, X: Any, y: Any = None) -> FastKNNImputer:
        _TREES.pop(self, None)  # trees of an earlier fit
        super().fit(X, y)
        return self

    def transform(self, X: Any) -> Any:
        check_is_fitted(self)
        fast = (
            self.metric == "nan_euclidean"
            and self.weights == "uniform"
            and isinstance(self.missing_values, float)
            and np.isnan(self.missing_values)
        )
        if not fast:
            return super().transform(X)
        X = validate_data(
            self,
            X,
            accept_sparse=False,
            dtype=[np.float64, np.float32, np.float16],
            force_writeable=True,
            ensure_all_finite="allow-nan",
            copy=self.copy,
            reset=False,
        )
        mask = np.isnan(X)  # the fast path's missing value is NaN
        X_indicator = self._transform_indicator(mask)
        valid = self._valid_mask
        if mask[:, valid].any():
            self._impute(X, mask)
        if self.keep_empty_features:
            Xc = X
            Xc[:, ~valid] = 0
        else:
            Xc = X[:, valid]
        return self._concatenate_indicator(Xc, X_indicator)

    # -- the method -------------------------------------------------------------------------
    def _impute(self, X: np.ndarray, mask: np.ndarray) -> None:
        """Fill the missing cells of ``X`` (valid columns) in place, column by column."""
        valid_cols = np.flatnonzero(self._valid_mask)
        fit = np.asarray(self._fit_X, dtype=np.float64)[:, valid_cols]
        fit_obs = ~np.asarray(self._mask_fit_X, dtype=bool)[:, valid_cols]
        # the training mean: scikit-learn's fallback value and a centre against cancellation
        means = np.array([fit[fit_obs[:, j], j].mean() for j in range(len(valid_cols))])
        y = np.where(fit_obs, fit - means, 0.0)
        my = fit_obs.astype(np.float64)
        y2 = (y * y).sum(axis=1)
        # d² = n/present · (Σ mx·my·x² − 2 Σ x·y + Σ mx·my·y²): one product for the sum
        donor_side = np.hstack([my, -2.0 * y, y * y])

        sub_mask = mask[:, valid_cols]
        receivers = np.flatnonzero(sub_mask.any(axis=1))
        original = X[receivers]
        x_raw = original[:, valid_cols]
        x_obs = ~sub_mask[receivers]
        x = np.where(x_obs, x_raw - means, 0.0)
        mx = x_obs.astype(np.float64)
        x2 = (x * x).sum(axis=1)
        receiver_side = np.hstack([x * x, x, mx])
        n_features = X.shape[1]
        # rounding of the trick: |error| ≤ γ·(n/present)·Σ|terms| ≤ 2γ·n·(Σx² + Σy²)
        eps = np.finfo(np.float64).eps
        gamma = 4.0 * (donor_side.shape[1] + 2) * eps
        # scikit-learn's own trick runs on raw values: within this of the k-th distance
        # its rounding may order donors differently, so such rows are imputed its way
        x2_raw = np.where(x_obs, x_raw * x_raw, 0.0).sum(axis=1)
        y2_raw = np.where(fit_obs, fit * fit, 0.0).sum(axis=1)
        rounding = 64.0 * (len(valid_cols) + 2) * eps * n_features
        for t in np.flatnonzero(sub_mask[receivers].any(axis=0)):
            rows = np.flatnonzero(~x_obs[:, t])
            donors = np.flatnonzero(fit_obs[:, t])
            values = np.empty(len(rows))
            brute = np.ones(len(rows), dtype=bool)
            tie = rounding * (x2_raw[rows] + float(y2_raw[donors].max()))
            for members, observed in _large_patterns(x_obs[rows]):
                got, sure = self._tree_group(
                    x_raw[np.ix_(rows[members], observed)],
                    self._trees(int(t), observed, fit[np.ix_(donors, observed)], n_features),
                    fit[donors, t],
                    tie=tie[members],
                    mean=means[t],
                    n_features=n_features,
                )
                values[members[sure]] = got[sure]
                brute[members[sure]] = False
            if brute.any():
                values[brute], tied = self._column(
                    rows[brute],
                    donors,
                    receiver_side=receiver_side,
                    donor_side=donor_side[donors].T.copy(),
                    mx=mx,
                    my=my[donors].T.copy(),
                    x_raw=x_raw,
                    fit=fit[donors],
                    slack_donor=2.0 * gamma * n_features * float(y2[donors].max()),
                    slack_receiver=2.0 * gamma * n_features * x2,
                    donor_values=fit[donors, t],
                    tie=tie[brute],
                    mean=means[t],
                    n_features=n_features,
                )
                tied_rows = np.flatnonzero(brute)[tied]
                if tied_rows.size:
                    col = int(valid_cols[t])
                    values[tied_rows] = self._as_sklearn(original[rows[tied_rows]], col)
            X[receivers[rows], valid_cols[t]] = values

    def _as_sklearn(self, rows: np.ndarray, col: int) -> np.ndarray:
        """Column ``col`` imputed for each of ``rows`` exactly as scikit-learn's
        ``transform`` does for that row alone (same distance computation, same
        ``argpartition``): for near-ties, whose outcome in scikit-learn depends on the
        rounding of its BLAS products, and so on the rows transformed together."""
        from sklearn.metrics.pairwise import nan_euclidean_distances

        donors = np.flatnonzero(~self._mask_fit_X[:, col])
        mean = np.ma.array(self._fit_X[:, col], mask=self._mask_fit_X[:, col]).mean()
        out = np.full(len(rows), mean)
        for i, row in enumerate(rows):
            dist = nan_euclidean_distances(
                row[None, :], self._fit_X, missing_values=self.missing_values
            )[:, donors]
            if not np.isnan(dist).all():
                out[i] = self._calc_impute(
                    dist,
                    min(self.n_neighbors, len(donors)),
                    self._fit_X[donors, col],
                    self._mask_fit_X[donors, col],
                )[0]
        return out

    def _trees(
        self, target: int, observed: np.ndarray, donor_x: np.ndarray, n_features: int
    ) -> list[tuple[Any, np.ndarray, np.ndarray, float]]:
        """k-d trees over the donors of column ``target`` seen from receivers observing
        ``observed``: one per set of those columns a donor observes, scaled so that the
        Euclidean distance is ``nan_euclidean``'s. Built once per fitted imputer and
        pattern (scoring a file chunk by chunk meets the same patterns again), kept beside
        the imputer, not in it: not pickled, not copied, gone with it."""
        from scipy.spatial import cKDTree

        cache = _TREES.setdefault(self, {})
        key = (target, tuple(observed.tolist()))
        if key not in cache:
            if len(cache) >= TREE_CACHE_SIZE:
                cache.clear()
            seen = ~np.isnan(donor_x)
            codes = seen @ (1 << np.arange(seen.shape[1]))
            trees = []
            for code in np.unique(codes[codes > 0]):
                members = np.flatnonzero(codes == code)
                cols = np.flatnonzero(seen[members[0]])
                scale = float(np.sqrt(n_features / len(cols)))
                tree = cKDTree(donor_x[np.ix_(members, cols)] * scale)
                trees.append((tree, members, cols, scale))
            cache[key] = trees
        return list(cache[key])

    def _tree_group(
        self,
        xq: np.ndarray,
        trees: list[tuple[Any, np.ndarray, np.ndarray, float]],
        donor_values: np.ndarray,
        *,
        tie: np.ndarray,
        mean: float,
        n_features: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Values for receivers that all observe the columns of ``xq`` (no NaN in it), by
        k-d trees over the donors, one tree per set of those columns a donor observes; and
        whether each value is certain (no donor the trees did not return could tie)."""
        k = self.n_neighbors
        values = np.full(len(xq), mean)
        sure = np.ones(len(xq), dtype=bool)
        if not trees:  # no donor shares a column: scikit-learn's all-NaN distances
            return values, sure
        for start in range(0, len(xq), TREE_BLOCK_ROWS):
            block = slice(start, start + TREE_BLOCK_ROWS)
            q = xq[block]
            threads = batch_threads() if len(q) >= 4_096 else 1
            found, squared, tails = [], [], []
            for tree, members, cols, scale in trees:
                kq = min(k + 1, len(members))
                dist, idx = tree.query(q[:, cols] * scale, k=kq, workers=threads)
                d2 = np.asarray(dist).reshape(len(q), kq) ** 2
                found.append(members[np.asarray(idx).reshape(len(q), kq)])
                squared.append(d2)
                if len(members) > kq:  # the tree holds donors it did not return
                    tails.append(d2[:, -1])
            idx, d2 = np.hstack(found), np.hstack(squared)
            kk = min(k, idx.shape[1])
            if idx.shape[1] > kk:
                part = np.argpartition(d2, kk, axis=1)
                tails.append(np.take_along_axis(d2, part[:, kk : kk + 1], axis=1)[:, 0])
                part = part[:, :kk]
            else:
                part = np.broadcast_to(np.arange(kk), idx.shape)
            kth = np.take_along_axis(d2, part, axis=1).max(axis=1)
            chosen = np.sort(np.take_along_axis(idx, part, axis=1), axis=1)
            values[block] = _mean_in_order(donor_values, chosen)
            if tails:
                sure[block] &= np.min(tails, axis=0) > kth + tie[block]
        return values, sure

    def _column(
        self,
        rows: np.ndarray,
        donors: np.ndarray,
        *,
        receiver_side: np.ndarray,
        donor_side: np.ndarray,
        mx: np.ndarray,
        my: np.ndarray,
        x_raw: np.ndarray,
        fit: np.ndarray,
        slack_donor: float,
        slack_receiver: np.ndarray,
        donor_values: np.ndarray,
        tie: np.ndarray,
        mean: float,
        n_features: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Imputed values of one column for the receivers ``rows`` from ``donors`` by brute
        force, and whether a donor lies within ``tie`` of each row's k-th distance."""
        out = np.empty(len(rows))
        tied = np.zeros(len(rows), dtype=bool)
        k = min(self.n_neighbors, len(donors))
        step = max(1, BLOCK_ELEMENTS // len(donors))
        for start in range(0, len(rows), step):
            block = rows[start : start + step]
            present = mx[block] @ my
            with np.errstate(divide="ignore", invalid="ignore"):
                approx = receiver_side[block] @ donor_side
                approx *= n_features / present
            approx[present == 0] = np.inf  # no shared column: NaN distance in scikit-learn
            kth = np.partition(approx, k - 1, axis=1)[:, k - 1]
            near = tie[start : start + step]
            bound = kth + 2.0 * (slack_receiver[block] + slack_donor) + near
            bound[~np.isfinite(kth)] = np.finfo(np.float64).max  # fewer than k reachable
            r, c = np.nonzero(approx <= bound[:, None])
            exact = self._exact(x_raw[block[r]], fit[c], n_features)
            # nearest first, ties to the earlier training row; keep k per receiver
            pick = np.lexsort((c, exact, r))
            r, c = r[pick], c[pick]
            rank = np.arange(len(r)) - np.searchsorted(r, r, side="left")
            keep = rank < k
            kth_exact = np.zeros(len(block))
            kth_exact[r[rank == k - 1]] = exact[pick][rank == k - 1]
            after = rank == k
            tied[start : start + step][r[after]] = (
                exact[pick][after] <= kth_exact[r[after]] + near[r[after]]
            )
            # the same sum, in the same (training-row) order, as the k-d tree path
            rk, ck = r[keep], c[keep]
            in_order = np.lexsort((ck, rk))
            rk, ck = rk[in_order], ck[in_order]
            total = np.bincount(rk, weights=donor_values[ck], minlength=len(block))
            count = np.bincount(rk, minlength=len(block))
            with np.errstate(divide="ignore", invalid="ignore"):
                out[start : start + step] = np.where(count > 0, total / count, mean)
        return out, tied

    @staticmethod
    def _exact(x: np.ndarray, y: np.ndarray, n_features: int) -> np.ndarray:
        """``nan_euclidean`` squared distances of paired rows by direct subtraction."""
        diff = x - y
        present = ~np.isnan(diff)
        sq = np.where(present, diff * diff, 0.0).sum(axis=-1)
        return sq / present.sum(axis=-1) * n_features


def _large_patterns(observed: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(rows, observed columns)`` of each missing-value pattern of ``observed`` (a boolean
    matrix) shared by at least :data:`TREE_MIN_ROWS` rows over at most
    :data:`TREE_MAX_COLUMNS` observed columns."""
    if observed.shape[1] > 62 or len(observed) < TREE_MIN_ROWS:
        return []
    keys = observed @ (1 << np.arange(observed.shape[1], dtype=np.int64))
    uniques, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    out = []
    for g, key in enumerate(uniques):
        columns = np.flatnonzero((int(key) >> np.arange(observed.shape[1])) & 1)
        if counts[g] >= TREE_MIN_ROWS and 0 < len(columns) <= TREE_MAX_COLUMNS:
            out.append((order[bounds[g] : bounds[g + 1]], columns))
    return out


def _mean_in_order(values: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Mean of ``values[chosen]`` per row, summed left to right (as ``np.bincount`` does),
    so both search paths give bit-identical results whatever rows are scored together."""
    total = np.zeros(len(chosen))
    for j in range(chosen.shape[1]):
        total += values[chosen[:, j]]
    return total / chosen.shape[1]
