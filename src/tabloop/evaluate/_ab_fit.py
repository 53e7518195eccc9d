"""One variant of an A/B report: its metrics with intervals, per upload batch, and baseline.

The statistics are explained in :mod:`tabloop.evaluate._ab`; this module computes one
variant's figures (resampling rows, or whole entities when the log has them) so the
report module keeps to comparing variants and assembling the result.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabloop.data.frame import python_value
from tabloop.evaluate._ab_stats import LogArrays, point_values, variant_seed
from tabloop.evaluate._bootstrap import bootstrap_counts, percentile_interval


@dataclass(frozen=True)
class VariantStats:
    """One variant: counts, metrics with intervals, metrics per upload batch, baseline.

    ``entities`` is how many entities its labelled rows belong to (None when the report
    does not resample by entity). Each of ``batches`` is ``{"batch", "labelled",
    "entities", "metrics": {name: {"value", "ci_low", "ci_high"}}, "baseline": {name:
    value}}``, the baseline being the report's constant on the batch's rows.
    """

    name: str
    predictions: int
    labelled: int
    entities: int | None
    coverage: float | None  # labelled / predictions; None without predictions
    metrics: dict[str, dict[str, float | None]]  # name -> {"value", "ci_low", "ci_high"}
    batches: list[dict[str, Any]]
    baseline: dict[str, float | None]  # the constant predictor on the same rows


class VariantFit:
    """One variant's numbers on metrics ``names``: point values, bootstrap replicates,
    batches and baseline; ``stats`` is their plain-data summary."""

    def __init__(
        self,
        rows: LogArrays,
        name: str,
        names: tuple[str, ...],
        *,
        n_boot: int,
        confidence: float,
        seed: int,
    ) -> None:
        self.name, self.rows = name, rows
        predictions, self.at = rows.variant(name)
        self.n = len(self.at)
        self.entities = rows.entities(self.at)
        self.clusters = None if rows.clusters is None else rows.clusters[self.at]
        self.values: dict[str, float | None] = dict.fromkeys(names)
        self.replicates: dict[str, np.ndarray] = {}
        metrics: dict[str, dict[str, float | None]] = {
            m: {"value": None, "ci_low": None, "ci_high": None} for m in names
        }
        batches: list[dict[str, Any]] = []
        baseline: dict[str, float | None] = dict.fromkeys(names)
        settings: dict[str, Any] = {"n_boot": n_boot, "confidence": confidence}
        if self.n:
            self.values, metrics, self.replicates = with_intervals(
                rows, self.at, names, seed=variant_seed(seed, name), **settings
            )
            baseline = point_values(
                rows.scorer(self.at, baseline=True), names, np.ones((1, self.n))
            )
            batches = self._batches(names, metrics, seed=seed, **settings)
        self.stats = VariantStats(
            name=name,
            predictions=predictions,
            labelled=self.n,
            entities=self.entities,
            coverage=self.n / predictions if predictions else None,
            metrics=metrics,
            batches=batches,
            baseline=baseline,
        )

    @property
    def size(self) -> int:
        """The sample size of the tests: entities when resampled by entity, else rows."""
        return self.n if self.entities is None else self.entities

    def _batches(
        self,
        names: tuple[str, ...],
        whole: dict[str, dict[str, float | None]],
        *,
        n_boot: int,
        confidence: float,
        seed: int,
    ) -> list[dict[str, Any]]:
        """Each upload batch's metrics with intervals and baseline; a batch holding every
        labelled row of the variant reuses the variant's ``whole`` figures."""
        positions = np.flatnonzero(self.rows.labelled)[self.at]
        keys = self.rows.batch.iloc[positions].reset_index(drop=True)
        groups = keys.groupby(keys, dropna=False, sort=False).indices
        found = [(python_value(k), ix) for k, ix in groups.items()]
        out = []
        for batch, ix in sorted(found, key=lambda item: batch_order(item[0])):
            at = self.at[ix]
            metrics = copy.deepcopy(whole) if len(ix) == self.n else None
            if metrics is None:
                _, metrics, _ = with_intervals(
                    self.rows,
                    at,
                    names,
                    n_boot=n_boot,
                    confidence=confidence,
                    seed=variant_seed(seed, f"{self.name}\x00batch\x00{batch}"),
                )
            ones = np.ones((1, len(ix)))
            out.append(
                {
                    "batch": batch,
                    "labelled": len(ix),
                    "entities": self.rows.entities(at),
                    "metrics": metrics,
                    "baseline": point_values(self.rows.scorer(at, baseline=True), names, ones),
                }
            )
        return out


def with_intervals(
    rows: LogArrays,
    at: np.ndarray,
    names: tuple[str, ...],
    *,
    n_boot: int,
    confidence: float,
    seed: int,
) -> tuple[dict[str, float | None], dict[str, dict[str, float | None]], dict[str, np.ndarray]]:
    """Point values, ``{name: {value, ci_low, ci_high}}`` and the bootstrap replicates of
    the metrics on labelled rows ``at``, resampling entities when the log has them."""
    n = len(at)
    score = rows.scorer(at)
    values = point_values(score, names, np.ones((1, n)))
    clusters = None if rows.clusters is None else rows.clusters[at]
    draws: dict[str, list[np.ndarray]] = {m: [] for m in names}
    for counts in bootstrap_counts(n, n_boot=n_boot, seed=seed, clusters=clusters):
        for m, replicate in score(counts.astype(np.float64)).items():
            if m in draws:
                draws[m].append(replicate)
    metrics: dict[str, dict[str, float | None]] = {}
    replicates: dict[str, np.ndarray] = {}
    for m in names:
        metrics[m] = {"value": values[m], "ci_low": None, "ci_high": None}
        if draws[m] and values[m] is not None:
            replicates[m] = np.concatenate(draws[m])
            low, high = percentile_interval(replicates[m], confidence)
            metrics[m].update(ci_low=low, ci_high=high)
    return values, metrics, replicates


def batch_order(batch: Any) -> tuple:
    """Numbers in order, then other ids as text, then rows without a batch id."""
    number = isinstance(batch, int | float)
    return (batch is None, not number, batch if number else str(batch))
