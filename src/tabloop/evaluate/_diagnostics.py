"""The evaluation's diagnostics: what a reader of the scores should know before trusting them.

Each diagnostic is plain data, ``{"kind", "severity", "message"}`` and ``column`` when it
names one: a model that did not beat the dummy, the budget's warnings and notes, a default
model left out because its extra is not installed (``missing_extra``), columns dropped as
possible leakage, columns whose permutation importance is ``irrelevant`` or
``undetermined``, an imbalanced class, and a test set too small for the main metric's
interval to tell differences apart (judged on the metric's own scale,
:func:`_metric_scale`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tabloop.train import TrainResult

#: A test set whose main-metric CI is wider than this share of the metric's scale gets a
#: "too small" diagnostic (see :func:`_metric_scale`).
WIDE_CI = 0.1
#: A minority class below this share gets an imbalance diagnostic.
IMBALANCED_SHARE = 0.2


def diagnose(
    result: TrainResult,
    metrics: dict[str, Any],
    importance: list[dict[str, Any]] | None,
    y: np.ndarray,
) -> list[dict[str, Any]]:
    """The evaluation's diagnostics, each ``{"kind", "severity", "message"}`` (and
    ``column`` when one is named), in the order the report lists them."""
    out: list[dict[str, Any]] = []
    check = result.baseline_check
    if check is not None and not check.beats_dummy:
        out.append({"kind": "baseline", "severity": "bad", "message": check.message})
    for message in result.warnings:
        if check is None or message != check.message:
            kind = "missing_extra" if message in result.missing_extras else "budget"
            out.append({"kind": kind, "severity": "warn", "message": message})
    for column, reason in result.dropped.items():
        if reason.startswith("possible leakage"):
            out.append(
                {
                    "kind": "leakage",
                    "severity": "bad",
                    "column": column,
                    "message": f"{column!r} was dropped: {reason}.",
                }
            )
    out.extend(_importance_diagnostics(importance or [], len(y)))
    if result.task in ("binary", "multiclass"):
        shares = np.bincount(result.y_train, minlength=len(result.model.classes)) / len(
            result.y_train
        )
        if shares.min() < IMBALANCED_SHARE:
            rare = result.model.classes[int(shares.argmin())]
            out.append(
                {
                    "kind": "class_imbalance",
                    "severity": "warn",
                    "message": f"Class {rare!r} is {shares.min():.1%} of training rows. "
                    f"train.imbalance is {result.config.train.imbalance!r}; the "
                    "threshold was chosen for that (see Threshold).",
                }
            )
    wide = _wide_interval(result.metric, metrics, y)
    if wide is not None:
        out.append({"kind": "small_test_set", "severity": "warn", "message": wide})
    for note in result.notes:
        out.append({"kind": "budget", "severity": "info", "message": note})
    if result.imputation_comparison:
        out.append(
            {
                "kind": "imputation",
                "severity": "info",
                "message": result.imputation_comparison["message"],
            }
        )
    return out


def _importance_diagnostics(importance: list[dict[str, Any]], n_test: int) -> list[dict[str, Any]]:
    """One diagnostic per column judged ``irrelevant`` or ``undetermined`` (see
    :func:`~tabloop.evaluate._importance.importance_verdict`)."""
    out = []
    for row in importance:
        verdict = row.get("verdict")
        if verdict not in ("irrelevant", "undetermined"):
            continue
        ci = f"95% CI {row['ci_low']:+.4f} to {row['ci_high']:+.4f}"
        material = f"a material effect (±{row['material']:.4f})"
        if verdict == "irrelevant":
            message = (
                f"{row['column']!r}: permutation importance {row['mean']:+.4f} ({ci}) "
                f"excludes {material}; the model does not rely on it."
            )
        else:
            message = (
                f"{row['column']!r}: undetermined, permutation importance {row['mean']:+.4f} "
                f"({ci}) is compatible with no effect and with {material} on {n_test} "
                "test rows."
            )
        out.append(
            {
                "kind": f"{verdict}_feature",
                "severity": "info",
                "column": row["column"],
                "message": message,
            }
        )
    return out


def _metric_scale(metric: str, y: np.ndarray) -> tuple[float, str]:
    """The scale a metric's interval width is judged on, and its name for people: the
    test target's standard deviation for RMSE and MAE (its variance for MSE), which is
    also the dummy's RMSE; 1 for the other metrics (probabilities, shares, R², log loss)."""
    if metric in ("rmse", "mae", "mse"):
        sd = float(np.std(y))
        if metric == "mse":
            return sd**2, f"the target's variance, {sd**2:.4g}"
        return sd, f"the target's standard deviation, {sd:.4g}"
    return 1.0, ""


def _wide_interval(metric: str, metrics: dict[str, Any], y: np.ndarray) -> str | None:
    """The "test set too small" message when the main metric's interval is wider than
    :data:`WIDE_CI` of the metric's scale (absolute 0.1 on RMSE fired on every
    regression project), else ``None``."""
    main = metrics.get(metric) or {}
    if main.get("ci_low") is None or main.get("ci_high") is None:
        return None
    width = main["ci_high"] - main["ci_low"]
    scale, named = _metric_scale(metric, y)
    if scale <= 0 or width <= WIDE_CI * scale:
        return None
    relative = f" ({width / scale:.0%} of {named})" if named else ""
    return (
        f"The 95% CI of {metric} spans {width:.4g}{relative} with {len(y)} test rows: "
        "differences smaller than that are noise."
    )
