"""Estimated performance before outcomes arrive, from the model's own calibrated probabilities.

Maintainer note
---------------
*The estimate (CBPE).* If the positive-class probability ``p`` is calibrated, each row is a
true positive with probability ``p`` when predicted positive, so the expected confusion
counts are sums of ``p`` and ``1 - p`` over the predicted-positive and predicted-negative
rows. A ratio metric is then estimated by the ratio of expected counts, e.g. precision
``E[TP] / (E[TP] + E[FP])``. That is NannyML's confidence-based performance estimation
(CBPE) approximation: ``E[a / b]`` is replaced by ``E[a] / E[b]``, which is off by
``O(1/n)``, far below the sampling noise. ROC-AUC is the area under the expected ROC curve,
whose point at threshold ``t`` is ``(sum_{p>=t} (1-p) / sum (1-p), sum_{p>=t} p / sum p)``.

*Score groups, not rows.* Rows are grouped by distinct probability (sorted ascending); every
metric, expected or realised, is a function of the positives and negatives per group
(:func:`_metrics`). For the expectation those are ``count * p`` and ``count * (1 - p)``; for
realised outcomes the labelled counts; for a simulated replicate binomial draws. ROC-AUC is
then the Mann-Whitney sum: a negative counts the positives of higher groups plus half those
of its own group, which is the trapezoid over distinct thresholds with ties grouped.

*The interval.* Labels are simulated as ``y ~ Bernoulli(p)`` and the realised metric of
each replicate is computed; its central ``confidence`` range is both the uncertainty of the
estimate and the band the realised value should fall in if the model is calibrated. Rows
with one probability share one binomial draw, which is exact. Beyond :data:`SIM_BINS`
distinct values, neighbouring values are pooled into about that many bins of equal row
count (never across the threshold) and drawn as ``Binomial(rows, mean p)``: the variance is
then larger by the within-bin variance of ``p`` (negligible for narrow bins) and pairs inside
a bin count as ties for ROC-AUC (a fraction ``~1/SIM_BINS`` of the pairs). The cost is one
sort of the probabilities plus ``O(n_sim x SIM_BINS)``, whatever the number of rows.

*Calibration.* The estimate is only as good as the calibration. On labelled rows the Brier
score and the expected calibration error (ECE, :data:`ECE_BINS` equal-width bins) are
reported. ECE is biased upward by noise, so it is compared with its own distribution under
perfect calibration at this sample size (simulated like the interval). The rule for
``calibrated``:

- ``None`` below :data:`MIN_CALIBRATION_ROWS` labelled rows (too few to tell);
- ``False`` when ECE exceeds both :data:`ECE_TOLERANCE` (material: with bins not straddling
  the threshold, ECE bounds the error of the accuracy estimate, and 0.02 is the error we
  accept) and the ``confidence`` quantile of ECE under calibration (detectable);
- ``True`` otherwise, meaning "no material, detectable miscalibration".
"""

from __future__ import annotations

import math
import numbers
import zlib
from typing import Any

import numpy as np
import pandas as pd

from tabloop.data.frame import missing_mask, numeric_array, python_value
from tabloop.exceptions import MonitorError

__all__ = [
    "ESTIMATED_METRICS",
    "calibration_check",
    "estimated_by_chunk",
    "estimated_performance",
]

#: Metrics estimated, in report order.
ESTIMATED_METRICS = ("accuracy", "precision", "recall", "f1", "selection_rate", "roc_auc")
#: Simulated label sets per interval.
N_SIM = 200
#: Above this many distinct probabilities, the simulation pools neighbours into bins.
SIM_BINS = 500
#: Equal-width bins of the expected calibration error.
ECE_BINS = 10
#: ECE above which miscalibration is material (if also detectable).
ECE_TOLERANCE = 0.02
#: Fewer labelled rows than this: ``calibrated`` is None.
MIN_CALIBRATION_ROWS = 100


def estimated_performance(
    probability: Any,
    *,
    threshold: float,
    y_true: Any = None,
    n_sim: int = N_SIM,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Estimate a binary classifier's performance from its probabilities, before outcomes.

    Parameters
    ----------
    probability : array-like of float in [0, 1]
        Calibrated probability of the positive class, one per prediction.
    threshold : float in (0, 1)
        The prediction is positive when ``probability >= threshold``.
    y_true : array-like of 0/1, NaN or None where not labelled yet, optional
        Outcomes known so far. The realised metrics on the labelled rows are reported next to
        the estimate on those same rows, and calibration is checked on them.
    n_sim : int
        Simulated label sets for the intervals.
    confidence : float in (0, 1)
        Level of the intervals (0.95: the 2.5th and 97.5th percentiles).
    seed : int
        Seed of the simulation.

    Returns
    -------
    dict
        JSON-safe (Python scalars, NaN as None)::

            {"threshold", "n", "n_labelled" (None without y_true), "confidence", "n_sim",
             "estimated": {"confusion": {"tp", "fp", "fn", "tn"},  # expected counts
                           "metrics": {metric: {"value", "ci_low", "ci_high"}}},
             "labelled": None or {"n", "estimated": <as above, on the labelled rows>,
                                  "realised": {"confusion": {...}, "metrics": {metric: x}},
                                  "inside": {metric: realised within [low, high]}},
             "calibration": None or <calibration_check's dict, on the labelled rows>,
             "warning": None or a sentence to show beside the estimates}

        Metrics are :data:`ESTIMATED_METRICS`. Estimated ratios are ratios of expected
        counts (the CBPE approximation); ``roc_auc`` is the area under the expected ROC
        curve. A metric is None where undefined (e.g. precision with no predicted positive).

    Examples
    --------
    >>> out = estimated_performance([0.9, 0.6, 0.4, 0.2, 0.7], threshold=0.5)
    >>> {k: round(v, 2) for k, v in out["estimated"]["confusion"].items()}
    {'tp': 2.2, 'fp': 0.8, 'fn': 0.6, 'tn': 1.4}
    >>> round(out["estimated"]["metrics"]["accuracy"]["value"], 2)
    0.72
    """
    p = _as_probability(probability)
    _check_threshold(threshold)
    _check_simulation(n_sim, confidence)
    y = None if y_true is None else _as_labels(y_true, len(p))
    return _estimate(p, y, threshold, n_sim, confidence, np.random.default_rng(seed))


def estimated_by_chunk(
    probability: Any,
    chunks: Any,
    *,
    threshold: float,
    y_true: Any = None,
    n_sim: int = N_SIM,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """:func:`estimated_performance` per chunk (an hour, a day, a batch), for time charts.

    Parameters
    ----------
    probability, threshold, y_true, n_sim, confidence, seed
        As in :func:`estimated_performance`.
    chunks : array-like
        The chunk of each row (e.g. ``timestamps.dt.floor("D")``); no missing values.

    Returns
    -------
    list of dict
        One per chunk, in sorted chunk order: ``{"chunk": label, **estimated_performance(...)}``
        on the chunk's rows (``pandas.json_normalize`` flattens them into a table). Each chunk
        draws from its own stream derived from ``seed`` and its label, so adding a chunk
        leaves the others' intervals unchanged.

    Examples
    --------
    >>> rows = estimated_by_chunk([0.9, 0.2, 0.8, 0.3], ["mon", "mon", "tue", "tue"],
    ...                           threshold=0.5)
    >>> [(r["chunk"], r["n"], round(r["estimated"]["metrics"]["accuracy"]["value"], 2))
    ...  for r in rows]
    [('mon', 2, 0.85), ('tue', 2, 0.75)]
    """
    p = _as_probability(probability)
    _check_threshold(threshold)
    _check_simulation(n_sim, confidence)
    y = None if y_true is None else _as_labels(y_true, len(p))
    labels = chunks if isinstance(chunks, pd.Series) else pd.Series(np.asarray(chunks).ravel())
    if len(labels) != len(p):
        raise MonitorError(
            f"chunks has {len(labels)} rows but probability has {len(p)}; "
            "pass one chunk label per prediction."
        )
    missing = missing_mask(labels)
    if missing.any():
        at = int(np.flatnonzero(missing)[0])
        raise MonitorError(
            f"chunks must label every row; got a missing value at position {at}. "
            "Drop the row or give it a chunk."
        )
    codes, uniques = pd.factorize(labels, sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    out = []
    for k, label in enumerate(uniques):
        rows = order[bounds[k] : bounds[k + 1]]
        name = _json_label(label)
        rng = np.random.default_rng([seed, zlib.crc32(str(name).encode())])
        chunk_y = None if y is None else y[rows]
        out.append(
            {"chunk": name, **_estimate(p[rows], chunk_y, threshold, n_sim, confidence, rng)}
        )
    return out


def calibration_check(
    probability: Any,
    y_true: Any,
    *,
    n_sim: int = N_SIM,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Brier score, expected calibration error and a ``calibrated`` verdict on labelled rows.

    Rows whose ``y_true`` is NaN or None are left out. The rule for ``calibrated`` is in the
    module note: None below :data:`MIN_CALIBRATION_ROWS` labelled rows, False when ECE is
    both above :data:`ECE_TOLERANCE` and above ``ece_limit`` (the ``confidence`` quantile
    of ECE for a perfectly calibrated model at this sample size), else True.

    Returns
    -------
    dict
        ``{"n", "brier", "brier_if_calibrated", "ece", "ece_limit", "ece_tolerance",
        "calibrated", "bins": [{"low", "high", "n", "mean_probability", "positive_rate"}]}``;
        ``brier_if_calibrated`` is the Brier score expected if ``p`` were calibrated,
        ``mean(p (1 - p))``. Numbers are None when no row is labelled.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(size=5000)
    >>> calibration_check(p, rng.uniform(size=5000) < p)["calibrated"]
    True
    >>> calibration_check(p, rng.uniform(size=5000) < p**3)["calibrated"]
    False
    """
    p = _as_probability(probability)
    _check_simulation(n_sim, confidence)
    y = _as_labels(y_true, len(p))
    labelled = ~np.isnan(y)
    groups = _labelled_groups(p[labelled], y[labelled])
    return _calibration(*groups, n_sim, confidence, np.random.default_rng(seed))


# -- computation --------------------------------------------------------------------------------
def estimated_from_cells(
    table: pd.DataFrame,
    *,
    threshold: float,
    n_sim: int = N_SIM,
    confidence: float = 0.95,
    seed: int = 0,
    labelled: bool = True,
) -> dict[str, Any] | None:
    """:func:`estimated_performance` from the monitor's table of counts (``_performance.cells``):
    the rows with a score, their outcome codes (1 positive, 0 negative, -1 not labelled).
    None when no row has a score. Equal to the call on the rows the table counts (without
    ``y_true`` when ``labelled`` is False: the estimate alone, as chunks show it)."""
    score = table["score"].to_numpy(dtype=float)
    ok = np.isfinite(score)
    if not ok.any():
        return None
    rows = table[ok]
    p = _as_probability(rows["score"].to_numpy(dtype=float))
    _check_threshold(threshold)
    _check_simulation(n_sim, confidence)
    counts = rows["count"].to_numpy(dtype=float)
    y = rows["y"].to_numpy(dtype=float)
    values, inverse = np.unique(p, return_inverse=True)
    all_counts = np.bincount(inverse.reshape(-1), weights=counts, minlength=len(values))
    known = y >= 0
    groups = _weighted_groups(p[known], counts[known], y[known]) if labelled else None
    rng = np.random.default_rng(seed)
    return _estimate_groups(values, all_counts, groups, threshold, n_sim, confidence, rng)


def _estimate(p, y, threshold, n_sim, confidence, rng) -> dict[str, Any]:
    values, counts = _score_groups(p)[:2]
    labelled = None if y is None else _labelled_groups(p[~np.isnan(y)], y[~np.isnan(y)])
    return _estimate_groups(values, counts, labelled, threshold, n_sim, confidence, rng)


def _labelled_groups(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct probabilities of labelled rows, their row counts and positives."""
    return _weighted_groups(p, np.ones(len(p)), y)


def _weighted_groups(p: np.ndarray, counts: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    values, inverse = np.unique(p, return_inverse=True)
    inverse = inverse.reshape(-1)
    rows = np.bincount(inverse, weights=counts, minlength=len(values))
    positives = np.bincount(inverse, weights=counts * y, minlength=len(values))
    return values, rows, positives


def _estimate_groups(
    all_values, all_counts, labelled, threshold, n_sim, confidence, rng
) -> dict[str, Any]:
    """The estimate from score groups: every row's (values, counts), and the labelled rows'
    (values, counts, positives), or None when outcomes were not given."""
    out: dict[str, Any] = {
        "threshold": float(threshold),
        "n": int(round(float(all_counts.sum()))),
        "n_labelled": None,
        "confidence": float(confidence),
        "n_sim": int(n_sim),
        "estimated": _estimated(all_values, all_counts, threshold, n_sim, confidence, rng),
        "labelled": None,
        "calibration": None,
        "warning": None,
    }
    if labelled is None:
        return out
    values, counts, positives = labelled
    out["n_labelled"] = n_labelled = int(round(float(counts.sum())))
    if n_labelled == 0:
        return out
    estimated = _estimated(values, counts, threshold, n_sim, confidence, rng)
    split = int(np.searchsorted(values, threshold))
    realised = _metrics(positives, counts - positives, split)
    out["labelled"] = {
        "n": n_labelled,
        "estimated": estimated,
        "realised": {
            "confusion": {k: int(round(float(v))) for k, v in realised.pop("confusion").items()},
            "metrics": {k: _number(v) for k, v in realised.items()},
        },
        "inside": {name: _inside(realised[name], estimated["metrics"][name]) for name in realised},
    }
    out["calibration"] = calibration = _calibration(
        values, counts, positives, n_sim, confidence, rng
    )
    if calibration["calibrated"] is False:
        out["warning"] = (
            f"The probabilities look miscalibrated on the {n_labelled} labelled rows "
            f"(ECE {calibration['ece']:.3f} > {ECE_TOLERANCE} and above the "
            f"{calibration['ece_limit']:.3f} expected by chance): the estimates may be off. "
            "Recalibrate the model (e.g. isotonic regression on recent labelled rows)."
        )
    return out


def _estimated(values, counts, threshold, n_sim, confidence, rng) -> dict[str, Any]:
    """Expected confusion counts, estimated metrics and their simulated intervals."""
    split = int(np.searchsorted(values, threshold))  # groups from here on are predicted positive
    expected = _metrics(counts * values, counts * (1.0 - values), split)
    confusion = {k: float(v) for k, v in expected.pop("confusion").items()}
    simulated = _simulate(values, counts, split, n_sim, rng)
    q = 100 * (1 - confidence) / 2
    metrics = {}
    for name, value in expected.items():
        sims = simulated[name][np.isfinite(simulated[name])]
        low, high = np.percentile(sims, [q, 100 - q]) if sims.size else (np.nan, np.nan)
        metrics[name] = {"value": _number(value), "ci_low": _number(low), "ci_high": _number(high)}
    return {"confusion": confusion, "metrics": metrics}


def _score_groups(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct probabilities (ascending), their row counts (float) and each row's group."""
    values, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
    return values, counts.astype(float), inverse.reshape(-1)


def _metrics(positives: np.ndarray, negatives: np.ndarray, split: int) -> dict[str, Any]:
    """Every metric from positives and negatives per score group (last axis, ascending score).

    Groups ``split:`` are predicted positive. Leading axes are replicates. Returns the
    ``confusion`` counts and one array (or scalar) per metric, NaN where undefined.
    """
    tp, fp = positives[..., split:].sum(axis=-1), negatives[..., split:].sum(axis=-1)
    fn, tn = positives[..., :split].sum(axis=-1), negatives[..., :split].sum(axis=-1)
    n, actual_positives, actual_negatives = tp + fp + fn + tn, tp + fn, fp + tn
    # Mann-Whitney with ties: each negative beats nothing, loses to every positive of a higher
    # group and to half of those of its own group
    higher = np.expand_dims(actual_positives, -1) - np.cumsum(positives, axis=-1)
    pairs = (negatives * (np.maximum(higher, 0.0) + 0.5 * positives)).sum(axis=-1)
    return {
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "accuracy": _ratio(tp + tn, n),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, actual_positives),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "selection_rate": _ratio(tp + fp, n),
        "roc_auc": _ratio(pairs, actual_positives * actual_negatives),
    }


def _simulate(values, counts, split, n_sim, rng) -> dict[str, np.ndarray]:
    """Each metric on ``n_sim`` label sets drawn as ``y ~ Bernoulli(p)`` (module note)."""
    if len(values) > SIM_BINS:
        # rows before each group, counted from the start of its side of the threshold
        before = np.cumsum(counts) - counts
        before[split:] -= before[split] if split < len(values) else 0.0
        side = np.arange(len(values)) >= split
        width = counts.sum() / SIM_BINS
        key = np.floor(before / width).astype(np.int64) + side * (SIM_BINS + 1)
        bins, inverse = np.unique(key, return_inverse=True)
        rows = np.bincount(inverse, weights=counts)
        mean = np.bincount(inverse, weights=counts * values) / rows
        split = int(np.searchsorted(bins, SIM_BINS + 1))
        counts, values = rows, np.clip(mean, 0.0, 1.0)
    trials = np.rint(counts).astype(np.int64)
    positives = rng.binomial(trials, values, size=(n_sim, len(values))).astype(float)
    simulated = _metrics(positives, counts - positives, split)
    simulated.pop("confusion")
    return simulated


def _calibration(values, counts, positives, n_sim, confidence, rng) -> dict[str, Any]:
    """Calibration from the labelled rows' score groups: distinct probabilities, rows, positives."""
    n = int(round(float(counts.sum())))
    edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    out: dict[str, Any] = {
        "n": n,
        "brier": None,
        "brier_if_calibrated": None,
        "ece": None,
        "ece_limit": None,
        "ece_tolerance": ECE_TOLERANCE,
        "calibrated": None,
        "bins": [],
    }
    if n == 0:
        return out
    which = np.minimum((values * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    rows = np.rint(np.bincount(which, weights=counts, minlength=ECE_BINS)).astype(np.int64)
    p_sum = np.bincount(which, weights=counts * values, minlength=ECE_BINS)
    y_sum = np.bincount(which, weights=positives, minlength=ECE_BINS)
    ece = float(np.abs(y_sum - p_sum).sum() / n)
    # ECE of labels drawn from the probabilities themselves: its noise floor at this n
    mean_p = _ratio(p_sum, rows)
    drawn = rng.binomial(rows, np.nan_to_num(mean_p), size=(n_sim, ECE_BINS))
    null = np.abs(drawn - p_sum).sum(axis=1) / n
    limit = float(np.quantile(null, confidence))
    out.update(
        brier=float((positives * (1 - values) ** 2 + (counts - positives) * values**2).sum() / n),
        brier_if_calibrated=float((counts * values * (1 - values)).sum() / n),
        ece=ece,
        ece_limit=limit,
        bins=[
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "n": int(rows[b]),
                "mean_probability": _number(mean_p[b]),
                "positive_rate": _number(_ratio(y_sum[b], rows[b])),
            }
            for b in range(ECE_BINS)
        ],
    )
    if n >= MIN_CALIBRATION_ROWS:
        out["calibrated"] = not (ece > ECE_TOLERANCE and ece > limit)
    return out


def _ratio(numerator: Any, denominator: Any) -> Any:
    """``numerator / denominator``, NaN where the denominator is 0 (no warning)."""
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out if out.ndim else out[()]


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _inside(realised: Any, interval: dict[str, float | None]) -> bool | None:
    value, low, high = _number(realised), interval["ci_low"], interval["ci_high"]
    if value is None or low is None or high is None:
        return None
    return low - 1e-12 <= value <= high + 1e-12


def _json_label(label: Any) -> Any:
    value = python_value(label)
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


# -- input checks -------------------------------------------------------------------------------
def _as_floats(values: Any, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-D float array, a mask of entries that are not numbers, and the values as given."""
    array = values.to_numpy() if isinstance(values, pd.Series | pd.Index) else np.asarray(values)
    if array.ndim != 1:
        hint = " (the positive-class column, e.g. proba[:, 1])" if name == "probability" else ""
        raise MonitorError(
            f"{name} must be one-dimensional{hint}; got an array of shape {array.shape}."
        )
    if array.dtype.kind in "biuf":
        return array.astype(float, copy=False), np.zeros(len(array), dtype=bool), array
    series = pd.Series(array)
    floats, invalid = numeric_array(series, missing_mask(series))
    return floats, invalid, array


def _first_bad(bad: np.ndarray, raw: np.ndarray) -> tuple[int, str]:
    """Position and description of the first bad entry."""
    at = int(np.flatnonzero(bad)[0])
    value = python_value(raw[at])
    return at, "a missing value (NaN or None)" if value is None else repr(value)


def _as_probability(values: Any) -> np.ndarray:
    p, invalid, raw = _as_floats(values, "probability")
    if len(p) == 0:
        raise MonitorError("probability is empty; pass at least one prediction's probability.")
    bad = invalid | ~((p >= 0) & (p <= 1))  # NaN fails both comparisons
    if bad.any():
        at, value = _first_bad(bad, raw)
        raise MonitorError(
            f"probability must hold numbers in [0, 1] (the positive class's probability); "
            f"got {value} at position {at}."
        )
    return p


def _as_labels(values: Any, n: int) -> np.ndarray:
    y, invalid, raw = _as_floats(values, "y_true")
    if len(y) != n:
        raise MonitorError(
            f"y_true has {len(y)} rows but probability has {n}; pass one outcome per "
            "prediction (NaN or None where it is not known yet)."
        )
    bad = invalid | (~np.isnan(y) & (y != 0) & (y != 1))
    if bad.any():
        at, value = _first_bad(bad, raw)
        raise MonitorError(
            f"y_true must hold 0, 1 or NaN/None (not labelled yet) with 1 = positive; "
            f"got {value} at position {at}. Map the classes to 0/1 first."
        )
    return y


def _check_threshold(threshold: Any) -> None:
    if not (isinstance(threshold, numbers.Real) and 0 < threshold < 1):
        raise MonitorError(
            f"threshold must be a number in (0, 1) (predicted positive when probability >= "
            f"threshold); got {threshold!r}."
        )


def _check_simulation(n_sim: Any, confidence: Any) -> None:
    if not (isinstance(n_sim, numbers.Integral) and n_sim >= 1):
        raise MonitorError(f"n_sim must be an integer >= 1 (200 is typical); got {n_sim!r}.")
    if not (isinstance(confidence, numbers.Real) and 0 < confidence < 1):
        raise MonitorError(f"confidence must be a number in (0, 1), e.g. 0.95; got {confidence!r}.")
