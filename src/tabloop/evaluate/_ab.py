"""The A/B report of a prediction log: metrics per variant and variant vs control.

Statistics over logged outcomes, so they live in ``evaluate``; the service (``tabloop.serve``)
reads the log of a period and renders the report as JSON and as its live dashboard.

Compute, then render: :func:`ab_report` turns the prediction log into an :class:`ABReport`
of plain data; the HTTP endpoint, the HTML dashboard and the CLI all render that object.

Maintainer note: statistics
---------------------------
*Per variant.* Every metric comes from :mod:`tabloop.evaluate._metrics` on the variant's
labelled rows (a row whose outcome is known), with a percentile-bootstrap interval; each
variant resamples from its own random stream derived from ``seed`` and its name, so adding
a variant leaves the others' numbers alone. Per upload batch (``outcome_batch``) the same:
metrics with intervals (their own streams) and the baseline on the batch's rows. The
*constant baseline* is the best constant in hindsight, computed on every labelled outcome
of the log: their mean (regression), or their majority class with its share as
probability (classification; its ROC-AUC is 0.5). It has seen the outcomes, so it is a
demanding reference: a model below it is worse than a constant.

*Entities* (``cluster_by``, the service's ``serve.sticky_by``). A customer predicted twice
is one customer, not two independent rows: their errors are correlated, and counting the
rows as independent makes intervals too narrow. With ``cluster_by`` every interval and
test resamples whole entities with all their rows (the cluster bootstrap), Welch's test
uses the cluster-robust variance of each mean with ``G - 1`` degrees of freedom per variant
(``G`` entities), ``rows_needed`` counts entities, and the report says on how many
entities and rows each figure rests. A row without an entity key is an entity of its own.
Sticky routing keeps an entity in one variant; should one appear in two (a forced
``/predict/B``), each variant still resamples its own rows.

*Variant vs control*, for the decision ``metric`` only. The variants hold different rows,
so the two samples are independent, never paired. The difference is always
``variant - control`` (B − A): in the JSON, the verdict sentence and every renderer.

- Means of a per-row quantity (``mse``: squared error, ``mae``: absolute error,
  ``accuracy``: 0/1 hit) use Welch's t-test on the per-row values
  (``scipy.stats.ttest_ind(equal_var=False)``): difference of means, Welch standard error
  and degrees of freedom, its t interval and two-sided p-value.
- Other metrics (``roc_auc``, ``precision``, ``recall``, ``f1``, ``rmse``, ``r2`` and the
  macro averages) are not means of independent rows; each variant is bootstrapped on its
  own, replicate ``b`` of the difference is ``variant_b - control_b``, the interval is the
  percentile interval and the p-value ``2 min(P(d <= 0), P(d >= 0))``, approximate and
  floored at ``1 / n_boot``.

A variant is *better* when the interval excludes 0. Otherwise ``rows_needed`` extrapolates
(see :func:`~tabloop.evaluate._ab_stats.rows_needed`): assuming the observed difference is
the true one, about how many more labelled rows (entities with ``cluster_by``) per variant
give it power ``power``. No comparison is made below :data:`MIN_LABELLED` labelled rows
(entities) per variant or where the metric is undefined (ROC-AUC needs both classes among
a variant's labelled rows).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tabloop.config import HIGHER_IS_BETTER
from tabloop.data.frame import python_value
from tabloop.evaluate._ab_fit import VariantFit, VariantStats
from tabloop.evaluate._ab_stats import (
    LogArrays,
    bootstrap_difference,
    describe,
    pick_control,
    rows_needed,
    welch,
)

#: The metrics an A/B report shows per task, in report order (names of
#: :data:`~tabloop.evaluate._metrics.METRICS`, computed by the same scorers).
AB_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "accuracy", "precision", "recall", "f1"),
    "multiclass": ("roc_auc", "accuracy", "precision_macro", "recall_macro", "f1_macro"),
    "regression": ("mse", "rmse", "mae", "r2"),
}
#: The decision metric unless one is given.
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "mse"}
#: Metrics that are the mean of a per-row quantity: compared with Welch's t-test.
PER_ROW_METRICS = frozenset({"mse", "mae", "accuracy"})
#: Fewest labelled rows per variant before two variants are compared.
MIN_LABELLED = 10
_UNDEFINED_WHY = {
    "roc_auc": "it needs logged scores and two classes among the labelled rows",
    "r2": "it needs outcomes that are not all equal",
}


@dataclass(frozen=True)
class Comparison:
    """``variant`` against ``control`` on ``metric``; ``difference`` is variant - control.

    ``*_labelled`` and ``*_entities`` are the rows and entities (None without
    ``cluster_by``) the test rests on; ``rows_needed`` counts entities when there are.
    """

    control: str
    variant: str
    metric: str
    method: str | None  # "welch", "bootstrap", or None when no test was possible
    control_value: float | None
    variant_value: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    better: str | None
    rows_needed: int | None
    control_labelled: int
    variant_labelled: int
    control_entities: int | None
    variant_entities: int | None
    verdict: str


@dataclass(frozen=True)
class ABReport:
    """The result of :func:`ab_report`; ``to_dict()`` is what every renderer receives.

    Attributes
    ----------
    task, metric, confidence, power, n_boot : the settings; ``higher_is_better`` of metric.
    control : str or None
        The control variant (None when the log names no variant at all): every
        difference is ``variant - control``.
    cluster_by : str or None
        The log column whose entities are resampled (None: rows are independent).
    resampling : str
        What the intervals resample, in words, with the counts they rest on.
    variants : list of VariantStats
        The control first, then the others in sorted order.
    comparisons : list of Comparison
        Every other variant against the control, on ``metric``.
    baseline : dict
        The constant predictor: ``kind`` ("mean" or "majority"), ``prediction`` (the
        mean, or the majority label), ``probability`` (its share), ``labelled`` (rows it was
        computed on, over all variants) and a ``description`` for renderers.
    verdict : str
        One sentence: a comparison's verdict, or ``"control A: ...; ..."`` for several.
    """

    task: str
    metric: str
    higher_is_better: bool
    confidence: float
    power: float
    n_boot: int
    control: str | None
    cluster_by: str | None
    resampling: str
    variants: list[VariantStats]
    comparisons: list[Comparison]
    baseline: dict[str, Any]
    verdict: str

    @property
    def by_variant(self) -> pd.DataFrame:
        """Metric values, one row per variant (like ``MetricFrame.by_group``)."""
        rows = {v.name: {k: m["value"] for k, m in v.metrics.items()} for v in self.variants}
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(AB_METRICS[self.task]))

    def difference(self) -> pd.Series:
        """The decision metric's ``variant - control`` per compared variant."""
        values = {c.variant: c.difference for c in self.comparisons}
        return pd.Series(values, name=self.metric, dtype=float)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable plain data: Python scalars only, NaN as ``None``."""
        return _plain(dataclasses.asdict(self))


def ab_report(
    log: pd.DataFrame,
    *,
    task: str,
    classes: Sequence[Any] | None = None,
    metric: str | None = None,
    control: str | None = None,
    variants: Sequence[str] | None = None,
    cluster_by: str | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    power: float = 0.8,
    seed: int = 0,
) -> ABReport:
    """Compare the variants of a prediction service on their labelled predictions.

    Parameters
    ----------
    log : pandas.DataFrame
        One row per logged prediction with columns ``variant``, ``prediction``, ``outcome``
        (None/NaN until labelled) and, where present, ``score`` (binary: positive-class
        probability), ``probabilities`` (multiclass: dict label -> probability; string keys
        as in JSON are matched too) and ``outcome_batch`` (upload batch id). Rows with an
        outcome and a prediction are *labelled*; the others only count as predictions.
    task : {"binary", "multiclass", "regression"}
        A clustering service has no outcomes to score: see :func:`segment_shares`.
    classes : list, optional
        The labels; binary: ``[negative, positive]``. Default: the sorted labels seen in
        ``prediction`` and ``outcome``.
    metric : str, optional
        The decision metric, one of :data:`AB_METRICS` for the task; default
        :data:`DEFAULT_METRIC`.
    control : str, optional
        The control variant; default ``"A"`` if present, else the first in sorted order.
    variants : list of str, optional
        Variants to report even without rows (e.g. the configured ones).
    cluster_by : str, optional
        A log column naming the entity of each row (the service passes its
        ``serve.sticky_by`` values): intervals and tests then resample entities with all
        their rows (cluster bootstrap, cluster-robust Welch test). Default: rows are
        independent.
    confidence, n_boot, power, seed
        Interval level, bootstrap replicates, the power ``rows_needed`` aims at, and the
        seed that makes the report deterministic.

    Returns
    -------
    ABReport
        See the module note for the statistics behind each number.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> y = np.arange(40.0)
    >>> log = pd.DataFrame({"variant": ["A", "B"] * 20, "outcome": y,
    ...                     "prediction": y + [3, 0.5, -2, -0.5] * 10})
    >>> report = ab_report(log, task="regression", n_boot=200)
    >>> report.variants[1].metrics["mae"]["value"], report.comparisons[0].better
    (0.5, 'B')
    >>> report.verdict
    'B better: mse B 0.250 vs A 6.500 (B − A = −6.250, 95% CI −7.450 to −5.050, p < 0.0001)'
    """
    _check_settings(task, confidence, n_boot, power)
    metric = DEFAULT_METRIC[task] if metric is None else metric
    if metric not in AB_METRICS[task]:
        raise ValueError(
            f"metric={metric!r} is not reported for a {task} task; "
            f"choose one of {', '.join(AB_METRICS[task])}."
        )
    rows = LogArrays(log, task, classes, cluster_by=cluster_by)
    names = sorted(set(rows.names) | {str(v) for v in variants or ()})
    control = pick_control(control, names)
    names = [control, *(n for n in names if n != control)] if control is not None else names
    fits = {
        name: VariantFit(
            rows, name, AB_METRICS[task], n_boot=n_boot, confidence=confidence, seed=seed
        )
        for name in names
    }
    comparisons = [
        _compare(
            fits[control], fits[name], metric, confidence=confidence, power=power, by=cluster_by
        )
        for name in names[1:]
    ]
    return ABReport(
        task=task,
        metric=metric,
        higher_is_better=HIGHER_IS_BETTER[metric],
        confidence=float(confidence),
        power=float(power),
        n_boot=int(n_boot),
        control=control,
        cluster_by=cluster_by,
        resampling=_resampling(rows, cluster_by),
        variants=[fit.stats for fit in fits.values()],
        comparisons=comparisons,
        baseline=rows.baseline_summary(),
        verdict=_overall_verdict(list(fits.values()), comparisons, metric, control),
    )


def _compare(
    control: VariantFit,
    variant: VariantFit,
    metric: str,
    *,
    confidence: float,
    power: float,
    by: str | None,
) -> Comparison:
    cv, vv = control.values[metric], variant.values[metric]
    known: dict[str, Any] = {"control_value": cv, "variant_value": vv}
    if cv is not None and vv is not None:
        known["difference"] = vv - cv
    common: dict[str, Any] = {
        "control": control.name,
        "variant": variant.name,
        "metric": metric,
        "control_labelled": control.n,
        "variant_labelled": variant.n,
        "control_entities": control.entities,
        "variant_entities": variant.entities,
    }
    unit = "rows" if by is None else "entities"
    if min(control.size, variant.size) < MIN_LABELLED:
        return _untested(
            common,
            known,
            f"not enough labelled {unit} yet ({control.size:,} and {variant.size:,}; "
            f"at least {MIN_LABELLED} per variant needed)",
        )
    if cv is None or vv is None:
        who = " and ".join(f.name for f in (control, variant) if f.values[metric] is None)
        why = _UNDEFINED_WHY.get(metric, "its denominator is empty")
        return _untested(common, known, f"{metric} is undefined for {who} so far ({why})")
    if metric in PER_ROW_METRICS:
        rows = control.rows
        test = welch(
            rows.per_row(variant.at, metric),
            rows.per_row(control.at, metric),
            confidence=confidence,
            variant_clusters=variant.clusters,
            control_clusters=control.clusters,
        )
    else:
        replicates = variant.replicates[metric], control.replicates[metric]
        test = bootstrap_difference(*replicates, point=vv - cv, confidence=confidence)
    if test.ci_low is None:
        return _untested(
            common,
            known,
            f"not enough labelled {unit} yet: most resamples leave {metric} undefined",
        )
    better, needed = None, None
    if test.significant:
        up = (test.difference > 0) == HIGHER_IS_BETTER[metric]
        better = variant.name if up else control.name
    else:
        needed = rows_needed(
            test.difference,
            test.se,
            n_control=control.size,
            n_variant=variant.size,
            confidence=confidence,
            power=power,
        )
    fields: dict[str, Any] = {
        **common,
        "method": test.method,
        **known,
        "difference": test.difference,
        "ci_low": test.ci_low,
        "ci_high": test.ci_high,
        "p_value": test.p_value,
        "better": better,
        "rows_needed": needed,
    }
    counts = ""
    if by is not None:
        counts = (
            f"; resampled by {by}: {variant.name} {variant.size:,} entities "
            f"({variant.n:,} rows), {control.name} {control.size:,} ({control.n:,})"
        )
    needed_unit = "rows" if by is None else f"entities ({by})"
    verdict = describe(fields, test, confidence, counts=counts, unit=needed_unit)
    return Comparison(**fields, verdict=verdict)


def _untested(common: dict[str, Any], known: dict[str, Any], verdict: str) -> Comparison:
    blank = dict.fromkeys(["difference", "ci_low", "ci_high", "p_value", "better"])
    fields = {**common, "method": None, **blank, **known, "rows_needed": None}
    return Comparison(**fields, verdict=verdict)


def _resampling(rows: LogArrays, cluster_by: str | None) -> str:
    n = int(rows.y.size)
    if cluster_by is None:
        return f"rows: each of the {n:,} labelled rows counts as independent"
    entities = rows.entities(np.arange(n)) or 0
    return (
        f"entities ({cluster_by}): {entities:,} entities with {n:,} labelled rows; "
        "intervals and tests resample whole entities with all their rows"
    )


def _overall_verdict(
    fits: list[VariantFit], comparisons: list[Comparison], metric: str, control: str | None
) -> str:
    labelled = sum(f.n for f in fits)
    if not fits:
        return "no labelled predictions yet"
    if len(fits) == 1:
        only = fits[0]
        value = only.values[metric]
        seen = f" ({metric} {value:.4g} on {only.n:,} labelled rows)" if value is not None else ""
        return f"only one variant ({only.name}){seen}; nothing to compare"
    if labelled == 0:
        logged = sum(f.stats.predictions for f in fits)
        return f"no labelled predictions yet ({logged:,} predictions logged)"
    if len(comparisons) == 1:
        return comparisons[0].verdict
    parts = [
        c.verdict if c.method else f"{c.variant} vs {c.control}: {c.verdict}" for c in comparisons
    ]
    return f"control {control}: " + "; ".join(parts)


# --- helpers ------------------------------------------------------------------------------


def _check_settings(task: str, confidence: float, n_boot: int, power: float) -> None:
    if task == "clustering":
        raise ValueError(
            "A clustering service has no outcomes to compare; "
            "tabloop.evaluate.segment_shares(log) gives the segment shares per variant."
        )
    if task not in AB_METRICS:
        raise ValueError(f"task must be one of {', '.join(map(repr, AB_METRICS))}; got {task!r}.")
    for name, value, ok, allowed in [
        ("confidence", confidence, 0 < confidence < 1, "a number in (0, 1), e.g. 0.95"),
        ("power", power, 0 < power < 1, "a number in (0, 1), e.g. 0.8"),
        ("n_boot", n_boot, _is_int(n_boot) and n_boot >= 1, "an integer >= 1, e.g. 1000"),
    ]:
        if not ok:
            raise ValueError(f"{name} must be {allowed}; got {value!r}.")


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return python_value(value)
