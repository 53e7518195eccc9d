"""Fairness audit: a metric per protected group, the gap between groups, and a verdict.

Maintainer note
---------------
*Counts, not rows.* Each row falls in one confusion cell (0 = TN, 1 = FP, 2 = FN, 3 = TP).
One ``np.bincount`` per grouping gives a ``(segments, groups, 4)`` count array; every metric,
gap and bootstrap replicate is computed from those counts, so cost is one pass over the rows
per grouping plus ``O(n_boot x groups)`` per segment, whatever the number of rows.

*Bootstrap.* Resampling rows within each group (the stratified bootstrap) draws the group's
four cells from a multinomial with the group's own ``n``. A metric only depends on two
numbers: its support (the denominator rows, e.g. predicted positives for precision) and its
numerator (e.g. true positives). Under that multinomial, ``support ~ Binomial(n, support/n)``
and ``numerator | support ~ Binomial(support, numerator/support)``, so two vectorised
binomial draws of shape ``(n_boot, groups)`` are exactly the row bootstrap, at half the cost
of a four-cell multinomial.

*Why not the percentile interval of max - min.* The raw gap is biased upward by noise (the
range of many noisy equal values is not 0), and its bootstrap replicates add the noise a
second time: with 20 identical groups of 300 rows, the percentile interval excludes 0 in
every simulated draw, i.e. it reports a violation that does not exist. The interval used
here is valid instead: bootstrap the studentised errors of all pairwise differences (up to
:data:`MAX_PAIRWISE` groups; of the group values beyond that), take the ``confidence``
quantile ``c`` of their maximum, so all pairs are covered at once, and bound the gap by
``max |d_ij| -/+ c se_ij``. It contains the raw gap, keeps false violations below
``(1 - confidence) / 2`` however many groups there are, and widens with the number of groups,
which is the honest price of comparing many of them.
"""

from __future__ import annotations

import itertools
import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from tabloop._extras import require
from tabloop.config import FAIRNESS_METRICS
from tabloop.data.frame import category_keys, missing_mask, numeric_array, python_value
from tabloop.exceptions import DataError

__all__ = ["FAIRNESS_METRICS", "FairnessAudit", "compare_threshold_optimizer", "fairness_audit"]

#: Label of the segment that holds all rows.
ALL = "(all)"
#: Label of a missing sensitive or segment value (a group of its own).
MISSING = "(missing)"
#: Up to this many groups the interval covers all pairwise differences; beyond, all values.
MAX_PAIRWISE = 30
#: Beyond this, ``rows_needed`` is reported as None (the gap sits on the threshold).
MAX_ROWS_NEEDED = 10**9


@dataclass(frozen=True)
class _Metric:
    numerator: tuple[int, ...]  # confusion cells counted in the numerator
    support: tuple[int, ...]  # cells of the denominator rows (min_group_size counts these)
    support_name: str
    higher_is_better: bool
    f1: bool = False  # value = 2 tp / (tp + support) instead of numerator / support


_METRICS = {
    "precision": _Metric((3,), (1, 3), "predicted positives", True),
    "recall": _Metric((3,), (2, 3), "actual positives", True),
    "fpr": _Metric((1,), (0, 1), "actual negatives", False),
    "fnr": _Metric((2,), (2, 3), "actual positives", False),
    "selection_rate": _Metric((1, 3), (0, 1, 2, 3), "labelled rows", True),
    "accuracy": _Metric((0, 3), (0, 1, 2, 3), "labelled rows", True),
    "f1": _Metric((3,), (1, 2, 3), "predicted or actual positives", True, f1=True),
}


@dataclass(frozen=True, eq=False)
class FairnessAudit:
    """The result of :func:`fairness_audit`, shaped like fairlearn's ``MetricFrame``.

    Attributes
    ----------
    metric, max_gap, min_group_size, confidence, n_boot : the settings of the audit.
    overall : float
        The metric on all labelled rows (NaN when its denominator is empty).
    by_group : pandas.DataFrame
        One row per (grouping, segment, group): ``n`` labelled rows, ``denominator`` rows,
        ``value``, ``counted`` and, for groups left out, the ``reason``.
    gaps : pandas.DataFrame
        One row per (grouping, segment): ``gap`` (max - min over counted groups),
        ``ci_low``/``ci_high``, ``verdict``, ``rows_needed``, ``worst_group``, ``best_group``.
    """

    metric: str
    max_gap: float
    min_group_size: int
    overall: float
    by_group: pd.DataFrame
    gaps: pd.DataFrame
    confidence: float = 0.95
    n_boot: int = 1000

    @property
    def verdict(self) -> str:
        """``"violation"`` if any, else ``"inconclusive"`` if any, else ``"pass"``.

        ``"not enough groups"`` rows are ignored, unless every row is one.
        """
        found = set(self.gaps["verdict"])
        for verdict in ("violation", "inconclusive", "pass"):
            if verdict in found:
                return verdict
        return "not enough groups"

    def difference(self) -> pd.Series:
        """The largest gap of each grouping over its segments (NaN if none is defined)."""
        return self.gaps.groupby("grouping", sort=False)["gap"].max()

    def ratio(self) -> pd.Series:
        """Smallest over largest counted value per (grouping, segment); NaN below 2 groups."""
        counted = self.by_group[self.by_group["counted"]]
        stats = counted.groupby(["grouping", "segment"], sort=False)["value"].agg(
            ["min", "max", "size"]
        )
        ok = (stats["size"] >= 2) & (stats["max"] > 0)
        ratio = (stats["min"] / stats["max"].where(ok)).rename("ratio")
        keys = pd.MultiIndex.from_frame(self.gaps[["grouping", "segment"]])
        return ratio.reindex(keys)

    def histogram(self, *, grouping: str | None = None, bins: int = 10) -> dict[str, Any]:
        """Bin edges and counts of the gaps across segments (``(all)`` left out when segmented).

        ``grouping=None`` pools every grouping. The range starts at 0 and reaches past both
        the largest gap and ``max_gap``, so a renderer can draw the threshold on the axis.
        """
        rows = self.gaps if grouping is None else self.gaps[self.gaps["grouping"] == grouping]
        if (rows["segment"] != ALL).any():
            rows = rows[rows["segment"] != ALL]
        values = rows["gap"].dropna().to_numpy(dtype=float)
        top = max(float(values.max()) if values.size else 0.0, self.max_gap) or 1.0
        counts, edges = np.histogram(values, bins=bins, range=(0.0, top))
        return {
            "grouping": grouping,
            "max_gap": self.max_gap,
            "edges": [float(e) for e in edges],
            "counts": [int(c) for c in counts],
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable plain data: Python scalars only, NaN as ``None``."""

        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: python_value(v) for k, v in row.items()} for row in df.to_dict("records")]

        return {
            "metric": self.metric,
            "max_gap": float(self.max_gap),
            "min_group_size": int(self.min_group_size),
            "confidence": float(self.confidence),
            "n_boot": int(self.n_boot),
            "overall": python_value(self.overall),
            "verdict": self.verdict,
            "by_group": records(self.by_group),
            "gaps": records(self.gaps),
        }


def fairness_audit(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive: pd.DataFrame,
    segment: pd.Series | None = None,
    metric: str = "precision",
    min_group_size: int = 30,
    max_gap: float = 0.05,
    intersections: bool = True,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> FairnessAudit:
    """Compare ``metric`` across protected groups and say whether the gap exceeds ``max_gap``.

    Parameters
    ----------
    y_true : array-like of 0/1, NaN allowed
        Outcomes (1 = positive); NaN marks rows not labelled yet, which are ignored.
    y_pred : array-like of 0/1
        Predictions, one per row.
    sensitive : pandas.DataFrame
        Protected columns, aligned with ``y_true`` by position. Each column is a grouping;
        with ``intersections`` and two or more columns, so is every combination of two or
        more columns (grouping ``"race × sex"``, group ``"race=black & sex=female"``).
        Missing values form a group ``"(missing)"``.
    segment : pandas.Series, optional
        Audit within each of its values too; segment ``"(all)"`` holds all rows.
    metric : one of :data:`FAIRNESS_METRICS`
    min_group_size : int
        Least number of *denominator* rows (predicted positives for precision, actual
        positives for recall and fnr, actual negatives for fpr, labelled rows for
        selection_rate and accuracy, predicted-or-actual positives for f1) for a group to be
        counted: that, not the row count, sets how noisy the group's value is. A group with
        no denominator rows is never counted.
    max_gap : float
        Largest acceptable difference between the best and the worst counted group.
    n_boot, confidence, seed
        Bootstrap replicates, interval level, and the seed (each grouping and segment draws
        from its own stream derived from it, so adding a segment leaves the others alone).

    Returns
    -------
    FairnessAudit
        Verdict per (grouping, segment): ``"violation"`` when the interval's low end exceeds
        ``max_gap``, ``"pass"`` when its high end is at most ``max_gap``, ``"inconclusive"``
        otherwise (with ``rows_needed``), ``"not enough groups"`` below 2 counted groups.
        The interval is valid for the gap of the true values, not a percentile interval of
        the raw gap (see the module note). ``rows_needed`` estimates how many more labelled
        rows the smallest counted group needs for a conclusive verdict, assuming every group
        grows by the same factor (larger groups proportionally more), the raw gap stays
        where it is, and the interval's distance to it shrinks as 1/sqrt(rows). It is
        ``None`` when the gap sits so close to ``max_gap`` that no realistic amount of data
        (over a billion rows) would decide.

    Examples
    --------
    >>> import pandas as pd
    >>> people = pd.DataFrame({"sex": ["f", "m"] * 200})
    >>> audit = fairness_audit([1, 0] * 200, [1, 0] * 200, sensitive=people,
    ...                        metric="accuracy", n_boot=200)
    >>> audit.overall, audit.verdict
    (1.0, 'pass')
    """
    spec = _check_settings(metric, min_group_size, max_gap, n_boot, confidence)
    truth, pred = _as_binary(y_true, "y_true", labels=True), _as_binary(y_pred, "y_pred")
    sensitive = _check_sensitive(sensitive)
    _check_lengths(y_true=truth, y_pred=pred, sensitive=sensitive, segment=segment)
    labelled = ~np.isnan(truth)
    cells = np.zeros(len(pred), dtype=np.int64)
    cells[labelled] = 2 * truth[labelled].astype(np.int64) + pred[labelled].astype(np.int64)

    if segment is None:
        seg_codes, segments = np.zeros(len(pred), dtype=np.int64), [ALL]
    else:
        seg_codes, seg_labels = _encode(pd.Series(segment))
        segments = [ALL, *seg_labels]
    by_group, gaps = [], []
    for name, codes, groups in _groupings(sensitive, intersections):
        counts, present = _confusion_counts(
            cells, labelled, codes, len(groups), seg_codes, len(segments), segment is not None
        )
        table = _group_table(spec, counts, present, min_group_size)
        starts = np.searchsorted(table["s"].to_numpy(), np.arange(len(segments) + 1))
        table.insert(0, "group", np.asarray(groups, dtype=object)[table.pop("g")])
        table.insert(0, "segment", np.asarray(segments, dtype=object)[table.pop("s")])
        table.insert(0, "grouping", name)
        for s, label in enumerate(segments):  # cheap: O(n_boot x groups) each, no rows
            stream = zlib.crc32(f"{name}\x00{label}".encode())
            rng = np.random.default_rng([seed, stream])
            rows = table.iloc[starts[s] : starts[s + 1]]
            gaps.append(_gap_row(spec, rows, max_gap, n_boot, confidence, rng))
            gaps[-1].update(grouping=name, segment=label)
        by_group.append(table.drop(columns="_numerator"))

    total = np.bincount(cells[labelled], minlength=4)
    overall = _values(spec, total[list(spec.numerator)].sum(), total[list(spec.support)].sum())
    gap_columns = ["grouping", "segment", "gap", "ci_low", "ci_high", "verdict", "rows_needed"]
    gap_table = pd.DataFrame(gaps, columns=[*gap_columns, "worst_group", "best_group"])
    gap_table["rows_needed"] = gap_table["rows_needed"].astype("Int64")
    return FairnessAudit(
        metric=metric,
        max_gap=float(max_gap),
        min_group_size=int(min_group_size),
        overall=float(overall),
        by_group=pd.concat(by_group, ignore_index=True),
        gaps=gap_table,
        confidence=float(confidence),
        n_boot=int(n_boot),
    )


def _values(spec: _Metric, numerator: Any, support: Any) -> np.ndarray:
    """The metric from numerator and support counts; NaN where the support is 0."""
    numerator, support = np.asarray(numerator, dtype=float), np.asarray(support, dtype=float)
    denominator = numerator + support if spec.f1 else support
    scale = 2.0 if spec.f1 else 1.0
    out = np.full(np.broadcast(numerator, support).shape, np.nan)
    return np.divide(scale * numerator, denominator, out=out, where=support > 0)


def _confusion_counts(cells, labelled, codes, n_groups, seg_codes, n_segments, segmented):
    """``(segments, groups, 4)`` labelled counts and a ``(segments, groups)`` presence mask."""
    n_seg = n_segments - 1 if segmented else 1
    key = seg_codes * n_groups + codes
    present = np.bincount(key, minlength=n_seg * n_groups).reshape(n_seg, n_groups) > 0
    flat = key[labelled] * 4 + cells[labelled]
    counts = np.bincount(flat, minlength=n_seg * n_groups * 4).reshape(n_seg, n_groups, 4)
    if segmented:
        counts = np.concatenate([counts.sum(axis=0, keepdims=True), counts])
        present = np.concatenate([present.any(axis=0, keepdims=True), present])
    return counts, present


def _group_table(spec: _Metric, counts, present, min_group_size: int) -> pd.DataFrame:
    s, g = np.nonzero(present)
    cells = counts[s, g]
    numerator = cells[:, list(spec.numerator)].sum(axis=1)
    support = cells[:, list(spec.support)].sum(axis=1)
    n = cells.sum(axis=1)
    counted = support >= max(min_group_size, 1)
    reason = np.full(len(s), None, dtype=object)
    for i in np.flatnonzero(~counted):  # one message per small group, never per row
        if n[i] == 0:
            reason[i] = "no labelled rows"
        elif support[i] == 0:
            reason[i] = f"no {spec.support_name}"
        else:
            reason[i] = f"{support[i]} {spec.support_name} < min_group_size={min_group_size}"
    return pd.DataFrame(
        {
            "s": s,
            "g": g,
            "n": n,
            "denominator": support,
            "value": _values(spec, numerator, support),
            "counted": counted,
            "reason": reason,
            "_numerator": numerator,
        }
    )


def _gap_row(spec, rows: pd.DataFrame, max_gap, n_boot, confidence, rng) -> dict[str, Any]:
    rows = rows[rows["counted"]]
    if len(rows) < 2:
        return {
            "gap": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "verdict": "not enough groups",
            "rows_needed": None,
            "worst_group": None,
            "best_group": None,
        }
    values = rows["value"].to_numpy()
    gap = float(values.max() - values.min())
    order = np.argsort(values if spec.higher_is_better else -values, kind="stable")
    low, high = _gap_interval(
        spec,
        rows["_numerator"].to_numpy(),
        rows["denominator"].to_numpy(),
        rows["n"].to_numpy(),
        n_boot=n_boot,
        confidence=confidence,
        rng=rng,
    )
    ci_low, ci_high = float(np.clip(low, 0, 1)), float(np.clip(high, 0, 1))
    if ci_low > max_gap:
        verdict, needed = "violation", 0
    elif ci_high <= max_gap:
        verdict, needed = "pass", 0
    else:
        verdict = "inconclusive"
        spread = gap - low if gap > max_gap else high - gap
        distance = abs(gap - max_gap)
        more = (spread / distance) ** 2 - 1 if distance > 0 else math.inf
        more *= int(rows["n"].min())
        needed = max(1, math.ceil(more)) if more <= MAX_ROWS_NEEDED else None
    return {
        "gap": gap,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "verdict": verdict,
        "rows_needed": needed,
        "worst_group": rows["group"].iloc[order[0]],
        "best_group": rows["group"].iloc[order[-1]],
    }


def _gap_interval(spec, numerator, support, n, *, n_boot, confidence, rng) -> tuple[float, float]:
    """Bounds on the true max - min from simultaneous bootstrap intervals (module note)."""
    point = _values(spec, numerator, support)
    boot_support = rng.binomial(n, support / n, size=(n_boot, len(n)))
    boot = _values(spec, rng.binomial(boot_support, numerator / support), boot_support)
    finite = np.isfinite(boot)
    error = np.where(finite, boot - point, 0.0)
    spread = np.sqrt((error**2).sum(axis=0) / np.maximum(finite.sum(axis=0), 1))
    se = np.maximum(spread, 1.0 / support)  # floor: a 0/m or m/m group still has doubt
    # a replicate where a group has no denominator rows counts as exceeding any bound
    undefined = ~finite.all(axis=1)
    if len(n) <= MAX_PAIRWISE:
        i, j = np.triu_indices(len(n), 1)
        se_pair = np.hypot(se[i], se[j])
        t = (np.abs(error[:, i] - error[:, j]) / se_pair).max(axis=1)
        c = np.quantile(np.where(undefined, np.inf, t), confidence, method="higher")
        diff = np.abs(point[i] - point[j])
        return float(np.max(diff - c * se_pair)), float(np.max(diff + c * se_pair))
    t = (np.abs(error) / se).max(axis=1)
    c = np.quantile(np.where(undefined, np.inf, t), confidence, method="higher")
    low, high = point - c * se, point + c * se
    return _max_difference(low, high), _max_difference(high, low)


def _max_difference(a: np.ndarray, b: np.ndarray) -> float:
    """``max(a[i] - b[j])`` over ``i != j``."""
    i, j = np.argmax(a), np.argmin(b)
    if i != j:
        return float(a[i] - b[j])
    return float(max(a[i] - np.min(np.delete(b, i)), np.max(np.delete(a, j)) - b[j]))


def _encode(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and sorted string labels (``"(missing)"`` last), hashing each row once."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    keys = category_keys(pd.Series(np.asarray(uniques, dtype=object))).to_numpy(dtype=object)
    labels = sorted(set(keys))
    position = {label: k for k, label in enumerate(labels)}
    lookup = np.array([position[k] for k in keys] + [len(labels)], dtype=np.int64)
    codes = lookup[codes]  # the sentinel -1 picks the last entry: the missing code
    if (codes == len(labels)).any():
        labels.append(MISSING)
    return codes, labels


def _groupings(sensitive: pd.DataFrame, intersections: bool):
    """Yield ``(name, codes, labels)`` per column and, optionally, per combination."""
    names = [str(c) for c in sensitive.columns]
    encoded = [_encode(sensitive.iloc[:, k]) for k in range(sensitive.shape[1])]
    for name, (codes, labels) in zip(names, encoded, strict=True):
        yield name, codes, labels
    if not intersections:
        return
    for size in range(2, len(names) + 1):
        for combo in itertools.combinations(range(len(names)), size):
            key = np.zeros(len(sensitive), dtype=np.int64)
            for k in combo:
                key = key * len(encoded[k][1]) + encoded[k][0]
            uniques, codes = np.unique(key, return_inverse=True)
            parts = []
            for k in reversed(combo):
                uniques, digit = np.divmod(uniques, len(encoded[k][1]))
                parts.append([f"{names[k]}={encoded[k][1][d]}" for d in digit])
            labels = [" & ".join(p) for p in zip(*reversed(parts), strict=True)]
            yield " × ".join(names[k] for k in combo), codes.reshape(-1), labels


def _check_settings(metric, min_group_size, max_gap, n_boot, confidence) -> _Metric:
    if metric not in _METRICS:
        raise ValueError(f"metric={metric!r} is not one of {', '.join(FAIRNESS_METRICS)}.")
    for name, value, ok, allowed in [
        ("min_group_size", min_group_size, min_group_size >= 0, "an integer >= 0"),
        ("max_gap", max_gap, 0 <= max_gap <= 1, "a number in [0, 1]"),
        ("n_boot", n_boot, n_boot >= 1, "an integer >= 1 (1000 is typical)"),
        ("confidence", confidence, 0 < confidence < 1, "a number in (0, 1), e.g. 0.95"),
    ]:
        if not ok:
            raise ValueError(f"{name} must be {allowed}; got {value!r}.")
    return _METRICS[metric]


def _as_binary(values: Any, name: str, *, labels: bool = False) -> np.ndarray:
    """Float 0/1 array; NaN allowed (as "not labelled yet") only when ``labels``."""
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values).ravel())
    missing = missing_mask(series)
    numbers, invalid = numeric_array(series, missing)
    bad = invalid | (~np.isnan(numbers) & (numbers != 0) & (numbers != 1))
    if not labels:
        bad |= missing
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        value = "a missing value" if missing[at] else repr(python_value(series.iloc[at]))
        allowed = "0, 1 or NaN (not labelled yet)" if labels else "0 or 1"
        raise DataError(
            f"{name} must hold {allowed} with 1 = positive; got {value} at position {at}. "
            "Map the classes to 0/1 first, e.g. (y == 'Yes').astype(int)."
        )
    return numbers


def _check_sensitive(sensitive: Any) -> pd.DataFrame:
    if isinstance(sensitive, pd.Series):
        sensitive = sensitive.to_frame()
    if not isinstance(sensitive, pd.DataFrame) or sensitive.shape[1] == 0:
        got = type(sensitive).__name__ if not isinstance(sensitive, pd.DataFrame) else "none"
        raise DataError(
            f"sensitive must be a DataFrame with at least one protected column; got {got}. "
            "Pass e.g. df[['race', 'sex']]."
        )
    return sensitive


def _check_lengths(**arrays: Any) -> None:
    sizes = {name: len(a) for name, a in arrays.items() if a is not None}
    first, expected = next(iter(sizes.items()))
    for name, size in sizes.items():
        if size != expected:
            raise DataError(
                f"{name} has {size} rows but {first} has {expected}; pass one entry per row."
            )


class _PrefitScores(ClassifierMixin, BaseEstimator):
    """Scores computed elsewhere, posing as a fitted classifier whose one feature is the score.

    ThresholdOptimizer needs an estimator to ask for scores. The model's scores already
    exist (out-of-fold for fitting, the test split for evaluation), and refitting the model
    inside the optimizer would both cost a training run and leak; passing the score column
    as ``X`` and answering ``predict_proba`` with it lets ``prefit=True`` use them as they are.
    """

    def fit(self, X: Any, y: Any = None) -> _PrefitScores:
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = 1
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = np.asarray(X, dtype=float).reshape(len(X), -1)[:, 0]
        return np.column_stack([1.0 - scores, scores])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def compare_threshold_optimizer(
    y_fit: Any,
    scores_fit: Any,
    sensitive_fit: pd.DataFrame,
    y_eval: Any,
    scores_eval: Any,
    sensitive_eval: pd.DataFrame,
    *,
    constraint: str = "equalized_odds",
    objective: str = "balanced_accuracy_score",
    threshold: float = 0.5,
    random_state: int = 0,
) -> dict[str, Any]:
    """Before/after numbers for fairlearn's ``ThresholdOptimizer`` on existing scores.

    Opt-in mitigation: group-specific (possibly randomised) thresholds are fitted on
    ``(y_fit, scores_fit)`` (out-of-fold predictions in practice) and applied to the eval set
    (the test split). "Before" is ``scores_eval >= threshold``. Groups are the combinations of
    all sensitive columns, as ThresholdOptimizer sees them; gaps are raw max - min on the eval
    set (run :func:`fairness_audit` on the predictions for intervals and verdicts).

    Returns
    -------
    dict
        Settings, then ``"before"`` and ``"after"``, each with ``accuracy``, ``precision``,
        ``recall``, ``selection_rate``, ``selection_rate_gap``, ``precision_gap`` and
        ``by_group`` (``n``, ``selection_rate``, ``precision`` per group); plain Python values.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> group = pd.DataFrame({"g": rng.choice(["a", "b"], 2000)})
    >>> y = rng.integers(0, 2, 2000)
    >>> scores = np.clip(0.3 * y + 0.3 * (group["g"] == "a") + rng.uniform(0, 0.4, 2000), 0, 1)
    >>> out = compare_threshold_optimizer(y[:1000], scores[:1000], group[:1000], y[1000:],
    ...     scores[1000:], group[1000:].reset_index(drop=True), constraint="demographic_parity")
    >>> out["after"]["selection_rate_gap"] < out["before"]["selection_rate_gap"]
    True
    """
    postprocessing = require("fairness", "fairness mitigation", "fairlearn.postprocessing")
    ThresholdOptimizer = postprocessing.ThresholdOptimizer

    y_fit, y_eval = _as_binary(y_fit, "y_fit"), _as_binary(y_eval, "y_eval")
    sensitive_fit = _check_sensitive(sensitive_fit)
    sensitive_eval = _check_sensitive(sensitive_eval)
    x_fit = np.asarray(scores_fit, dtype=float).reshape(-1, 1)
    x_eval = np.asarray(scores_eval, dtype=float).reshape(-1, 1)
    _check_lengths(y_fit=y_fit, scores_fit=x_fit, sensitive_fit=sensitive_fit)
    _check_lengths(y_eval=y_eval, scores_eval=x_eval, sensitive_eval=sensitive_eval)
    optimizer = ThresholdOptimizer(
        estimator=_PrefitScores().fit(x_fit, y_fit),
        constraints=constraint,
        objective=objective,
        prefit=True,
        predict_method="predict_proba",
    )
    optimizer.fit(x_fit, y_fit.astype(int), sensitive_features=sensitive_fit)
    after = optimizer.predict(x_eval, sensitive_features=sensitive_eval, random_state=random_state)
    before = (x_eval[:, 0] >= threshold).astype(int)
    *_, (_, codes, groups) = _groupings(sensitive_eval, intersections=True)
    return {
        "constraint": constraint,
        "objective": objective,
        "threshold": float(threshold),
        "random_state": random_state,
        "n_fit": len(y_fit),
        "n_eval": len(y_eval),
        "before": _summary(y_eval, before, codes, groups),
        "after": _summary(y_eval, np.asarray(after, dtype=int), codes, groups),
    }


def _summary(y: np.ndarray, pred: np.ndarray, codes: np.ndarray, groups: list[str]) -> dict:
    cells = 2 * y.astype(np.int64) + pred
    counts = np.bincount(codes * 4 + cells, minlength=len(groups) * 4).reshape(-1, 4)
    tn, fp, fn, tp = counts.T
    rate = _values(_METRICS["selection_rate"], fp + tp, counts.sum(axis=1))
    precision = _values(_METRICS["precision"], tp, fp + tp)

    def gap(values: np.ndarray) -> float | None:
        values = values[np.isfinite(values)]
        return float(values.max() - values.min()) if values.size >= 2 else None

    def ratio(numerator: np.ndarray, denominator: np.ndarray) -> float | None:
        return float(numerator.sum() / denominator.sum()) if denominator.sum() else None

    return {
        "accuracy": ratio(tn + tp, counts),
        "precision": ratio(tp, fp + tp),
        "recall": ratio(tp, fn + tp),
        "selection_rate": ratio(fp + tp, counts),
        "selection_rate_gap": gap(rate),
        "precision_gap": gap(precision),
        "by_group": {
            group: {
                "n": int(counts[k].sum()),
                "selection_rate": python_value(rate[k]),
                "precision": python_value(precision[k]),
            }
            for k, group in enumerate(groups)
            if counts[k].sum() > 0
        },
    }
