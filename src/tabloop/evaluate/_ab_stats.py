"""The arithmetic under the A/B report: the log as arrays, and variant-vs-control tests.

The choice of test per metric is explained in :mod:`tabloop.evaluate._ab`; this module holds
the computation so it can be checked on its own against scipy and hand computation.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tabloop.data.frame import python_value, require_columns
from tabloop.evaluate._bootstrap import percentile_interval
from tabloop.evaluate._metrics import Scorer, _prepare
from tabloop.exceptions import DataError

#: Beyond this, ``rows_needed`` is None: no realistic amount of data would decide.
MAX_ROWS_NEEDED = 10**9


class LogArrays:
    """The log as arrays: variant names, labelled mask, encoded truth and predictions."""

    def __init__(
        self,
        log: pd.DataFrame,
        task: str,
        classes: Sequence[Any] | None,
        *,
        cluster_by: str | None = None,
    ) -> None:
        check_log(log)
        self.task, n = task, len(log)
        if n:
            needed = ["variant", "prediction", "outcome", *([cluster_by] if cluster_by else [])]
            require_columns(log, needed, role="log column")

        def column(name: str) -> pd.Series:
            return log[name] if name in log else pd.Series([None] * n, dtype=object)

        self.names = column("variant").astype(str).to_numpy() if n else np.array([], str)
        self.labelled = (column("outcome").notna() & column("prediction").notna()).to_numpy()
        self.batch = column("outcome_batch").reset_index(drop=True)
        #: the entity of each labelled row (codes; None: rows are independent)
        self.clusters: np.ndarray | None = None
        if cluster_by is not None:
            self.clusters = cluster_codes(column(cluster_by)[self.labelled])
        outcome, prediction = column("outcome")[self.labelled], column("prediction")[self.labelled]
        self.proba: np.ndarray | None = None
        self.constant: float | None = None  # the baseline's prediction (a code if classes)
        self.majority: int | None = None
        if task == "regression":
            self.classes: list[Any] = []
            self.y, self.pred = _floats(outcome, "outcome"), _floats(prediction, "prediction")
            self.constant = float(self.y.mean()) if self.y.size else None
            return
        self.classes = list(classes) if classes is not None else _seen_labels(outcome, prediction)
        if task == "binary" and self.labelled.any() and len(self.classes) != 2:
            raise ValueError(
                f"A binary task needs two classes; got {self.classes!r}. "
                "Pass classes=[negative, positive]."
            )
        self.y, self.pred = _codes(outcome, self.classes), _codes(prediction, self.classes)
        if task == "binary":
            self.proba = _floats(column("score")[self.labelled], "score", strict=False)
        elif len(self.classes) >= 2:
            self.proba = _proba_matrix(column("probabilities")[self.labelled], self.classes)
        shares = np.bincount(self.y, minlength=len(self.classes)) / max(self.y.size, 1)
        self.shares = shares
        if self.y.size:
            self.majority = int(shares.argmax())
            self.constant = float(self.majority)

    def variant(self, name: str) -> tuple[int, np.ndarray]:
        """Prediction count, and positions among the labelled rows, of variant ``name``."""
        mine = self.names == name
        return int(mine.sum()), np.flatnonzero(mine[self.labelled])

    def scorer(self, at: np.ndarray, *, baseline: bool = False) -> Scorer:
        """The metrics scorer (weights -> values) on labelled rows ``at``."""
        y, n = self.y[at], len(at)
        pred = np.full(n, self.constant) if baseline else self.pred[at]
        if self.task == "regression":
            return _prepare("regression", y, pred, None)[0]
        proba = None if self.proba is None else self.proba[at]
        if baseline and self.task == "binary":
            proba = np.full(n, self.shares[1])
        elif baseline and proba is not None:
            proba = np.tile(self.shares, (n, 1))
        if proba is not None and not np.isfinite(proba).all():
            proba = None  # a labelled row without a score: no ROC-AUC
        return _prepare(self.task, y, pred, proba)[0]

    def entities(self, at: np.ndarray) -> int | None:
        """How many entities the labelled rows ``at`` belong to (None: not clustered)."""
        return None if self.clusters is None else int(np.unique(self.clusters[at]).size)

    def per_row(self, at: np.ndarray, metric: str) -> np.ndarray:
        """The per-row quantity whose mean is ``metric`` (see :data:`PER_ROW_METRICS`)."""
        if metric == "accuracy":
            return (self.pred[at] == self.y[at]).astype(float)
        error = self.pred[at] - self.y[at]
        return error**2 if metric == "mse" else np.abs(error)

    def baseline_summary(self) -> dict[str, Any]:
        n = int(self.y.size)
        if self.task == "regression":
            return {
                "kind": "mean",
                "prediction": self.constant,
                "probability": None,
                "labelled": n,
                "description": f"a constant predicting the mean of all {n:,} labelled "
                "outcomes: the best constant in hindsight, a demanding reference",
            }
        top = self.majority
        return {
            "kind": "majority",
            "prediction": None if top is None else python_value(self.classes[top]),
            "probability": None if top is None else float(self.shares[top]),
            "labelled": n,
            "description": f"a constant predicting the majority class of all {n:,} labelled "
            "outcomes with its share as probability (ROC-AUC 0.5)",
        }


def cluster_codes(keys: pd.Series) -> np.ndarray:
    """Integer codes of entity ``keys``; a row without a key is an entity of its own."""
    codes, _ = pd.factorize(keys.reset_index(drop=True), use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    codes[missing] = codes.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    return codes


def variant_seed(seed: int, name: str) -> int:
    """The bootstrap seed of variant ``name``: its own stream, independent of the others."""
    state = np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)
    return int(state[0])


def point_values(score: Scorer, names: tuple[str, ...], w: np.ndarray) -> dict[str, float | None]:
    """``{name: value}`` of replicate 0 of ``w``; None where a metric is undefined."""
    out = score(w)
    return {m: float(out[m][0]) if m in out and np.isfinite(out[m][0]) else None for m in names}


def _decimals(size: float) -> int:
    """Decimals that show about four significant digits of numbers up to ``size``."""
    if not size > 0:
        return 4
    return min(8, max(1, 3 - math.floor(math.log10(size))))


@dataclass(frozen=True)
class Difference:
    """``variant - control`` with its interval, two-sided p-value and standard error."""

    difference: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    se: float | None
    method: str  # "welch" or "bootstrap"
    floored: bool = False  # the p-value is the bootstrap's floor 1 / replicates

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low > 0 or self.ci_high < 0


def welch(
    variant: np.ndarray,
    control: np.ndarray,
    *,
    confidence: float,
    variant_clusters: np.ndarray | None = None,
    control_clusters: np.ndarray | None = None,
) -> Difference:
    """Welch's t-test on per-row values (squared errors, 0/1 hits): a difference of means.

    The arithmetic of ``scipy.stats.ttest_ind(variant, control, equal_var=False)`` and its
    ``confidence_interval(confidence)``, written out because scipy warns (an error under the
    test suite) when one group is constant, e.g. a variant that is right on every row. When
    both are constant (standard error 0) the interval collapses to the difference and ``p``
    is 1 for equal means, else 0.

    With ``*_clusters`` (the entity of each row) each mean's variance is the cluster-robust
    one, ``G / (G - 1) * sum_g (sum_{i in g} (y_i - mean))^2 / n^2`` over the ``G`` entities,
    and the Welch-Satterthwaite degrees of freedom count ``G - 1`` per variant: rows of one
    entity are not independent. With one row per entity both reduce to Welch's test.
    """
    from scipy.stats import t

    variant, control = np.asarray(variant, float), np.asarray(control, float)
    difference = float(variant.mean() - control.mean())
    var_v, dof_v = _mean_variance(variant, variant_clusters)
    var_c, dof_c = _mean_variance(control, control_clusters)
    se = math.sqrt(var_v + var_c)
    if not math.isfinite(se):
        return Difference(difference, None, None, None, None, "welch")
    if se == 0:
        return Difference(difference, difference, difference, float(difference == 0), 0.0, "welch")
    df = (var_v + var_c) ** 2 / (var_v**2 / dof_v + var_c**2 / dof_c)
    p_value = float(2 * t.sf(abs(difference) / se, df))
    half = float(t.ppf(0.5 + confidence / 2, df)) * se
    return Difference(difference, difference - half, difference + half, p_value, se, "welch")


def _mean_variance(values: np.ndarray, clusters: np.ndarray | None) -> tuple[float, int]:
    """The variance of ``values.mean()`` and its degrees of freedom (rows or entities - 1)."""
    n = len(values)
    if clusters is None:
        return float(values.var(ddof=1)) / n if n > 1 else math.nan, n - 1
    _, codes = np.unique(clusters, return_inverse=True)
    sums = np.bincount(codes.ravel(), weights=values - values.mean())
    g = len(sums)
    if g < 2:
        return math.nan, 0
    return g / (g - 1) * float(np.sum(sums**2)) / n**2, g - 1


def bootstrap_difference(
    variant: np.ndarray, control: np.ndarray, *, point: float, confidence: float
) -> Difference:
    """Percentile interval of independent bootstrap replicates, paired by replicate index.

    ``variant`` and ``control`` are each variant's own replicates of the metric (NaN where
    a replicate leaves it undefined). The p-value ``2 min(P(d <= 0), P(d >= 0))`` over the
    defined replicate differences ``d`` is approximate; it is floored at ``1 / replicates``
    because a finite bootstrap cannot show a smaller one.
    """
    d = np.asarray(variant, float) - np.asarray(control, float)
    low, high = percentile_interval(d, confidence)
    finite = d[np.isfinite(d)]
    if low is None or finite.size < 2:
        return Difference(point, None, None, None, None, "bootstrap")
    share = min(float(np.mean(finite <= 0)), float(np.mean(finite >= 0)))
    p_value = min(1.0, 2 * share)
    floored = p_value < 1 / d.size
    p_value = max(p_value, 1 / d.size)
    se = float(finite.std(ddof=1))
    return Difference(point, low, high, p_value, se, "bootstrap", floored=floored)


def rows_needed(
    difference: float,
    se: float | None,
    *,
    n_control: int,
    n_variant: int,
    confidence: float,
    power: float,
) -> int | None:
    """About how many more labelled rows per variant would make ``difference`` significant.

    With ``n`` the harmonic mean of the two sizes and ``se`` the standard error of the
    difference at that size, the standard error shrinks as ``1/sqrt(n)``, so the size that
    detects ``difference`` at level ``1 - confidence`` with probability ``power`` is
    ``n_req = n ((z_{1-alpha/2} + z_power) se / |difference|)^2``; the answer is
    ``max(0, ceil(n_req - n))``. None when the difference is 0, ``se`` is unknown or 0,
    or the answer exceeds :data:`MAX_ROWS_NEEDED`.
    """
    from scipy.stats import norm

    if difference == 0 or se is None or not se > 0:
        return None
    n = 2 / (1 / n_control + 1 / n_variant)
    z = float(norm.ppf(1 - (1 - confidence) / 2) + norm.ppf(power))
    more = n * (z * se / abs(difference)) ** 2 - n
    if not more <= MAX_ROWS_NEEDED:
        return None
    return max(0, math.ceil(more))


def describe(
    c: dict[str, Any], test: Difference, confidence: float, *, counts: str = "", unit: str = "rows"
) -> str:
    """The verdict sentence of a tested comparison ``c`` (the fields of a Comparison).

    Numbers always read variant then control, and the difference is ``variant - control``
    (B − A), as in the JSON, whichever is better. ``counts`` is appended inside the
    parentheses (what the figures rest on); ``unit`` names what ``rows_needed`` counts.
    """
    variant, control = c["variant"], c["control"]
    values = [c["variant_value"], c["control_value"]]
    diff, low, high = test.difference, test.ci_low, test.ci_high
    assert low is not None and high is not None
    digits = _decimals(max(abs(v) for v in values))
    num = lambda x: f"{x:.{digits}f}".replace("-", "\u2212")  # noqa: E731
    p = test.p_value
    if p is None:
        p_text = "p unknown"
    elif test.floored:
        p_text = f"p \u2264 {p:.2g}"
    else:
        p_text = "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}"
    numbers = (
        f"{c['metric']} {variant} {num(values[0])} vs {control} {num(values[1])} "
        f"({variant} \u2212 {control} = {'+' if diff > 0 else ''}{num(diff)}, "
        f"{100 * confidence:g}% CI {num(low)} to {num(high)}, {p_text}{counts})"
    )
    if c["better"] is not None:
        return f"{c['better']} better: {numbers}"
    head = "no difference yet"
    if c["rows_needed"] == 0:  # the bootstrap interval can be wider than the normal one
        head += f" \u2014 borderline, a few more labelled {unit} per variant should settle it"
    elif c["rows_needed"] is not None:
        head += f" \u2014 about {c['rows_needed']:,} more labelled {unit} per variant needed"
    return f"{head}; {numbers}"


def _floats(values: pd.Series, column: str, *, strict: bool = True) -> np.ndarray:
    """Float array; a non-number raises (``strict``) or becomes NaN."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(numbers) & values.notna().to_numpy()
    if strict and bad.any():
        found = values[bad].iloc[0]
        raise DataError(
            f"Column {column!r} must hold numbers for a regression task; got {found!r}. "
            "Cast the log's values to the target's type first."
        )
    return numbers


def _seen_labels(outcome: pd.Series, prediction: pd.Series) -> list[Any]:
    return sorted_labels(pd.unique(pd.concat([outcome, prediction]).to_numpy()))


def sorted_labels(values: Any) -> list[Any]:
    """Distinct plain labels in sorted order; by their text when they do not compare
    (``1`` and ``"a"``)."""
    labels = [python_value(v) for v in values]
    try:
        return sorted(labels)
    except TypeError:
        return sorted(labels, key=str)


def check_log(log: Any) -> None:
    """A :class:`DataError` unless ``log`` is a pandas DataFrame."""
    if not isinstance(log, pd.DataFrame):
        raise DataError(f"log must be a pandas DataFrame; got {type(log).__name__}.")


def pick_control(control: str | None, names: list[str]) -> str | None:
    """``control``, checked against the variant ``names``; default ``"A"`` if present, else
    the first name (``names`` are sorted). A name not among them is a ValueError naming them."""
    if control is None:
        return "A" if "A" in names else (names[0] if names else None)
    if names and control not in names:
        raise ValueError(
            f"control={control!r} is not a variant of the log; variants: {names}. "
            "Pass variants=[...] to report variants that have no predictions yet."
        )
    return control


def _codes(values: pd.Series, classes: list[Any]) -> np.ndarray:
    codes = pd.Index(classes, dtype=object).get_indexer(values.to_numpy(dtype=object))
    if (codes < 0).any():
        found = values.iloc[int(np.argmax(codes < 0))]
        raise DataError(
            f"The log holds the label {found!r}, which is not one of the classes {classes!r}. "
            "Pass classes= with every label of the target."
        )
    return codes.astype(np.int64)


def _proba_matrix(dicts: pd.Series, classes: list[Any]) -> np.ndarray:
    """``(n, K)`` probabilities from dicts label -> probability; NaN where one is missing."""
    out = np.full((len(dicts), len(classes)), np.nan)
    for i, entry in enumerate(dicts):
        if isinstance(entry, Mapping):
            for k, label in enumerate(classes):
                value = entry.get(label, entry.get(str(label)))
                out[i, k] = np.nan if value is None else float(value)
    return out
