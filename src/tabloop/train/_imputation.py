"""``tabloop train --compare-imputation``: every imputation strategy scored by CV.

Measured on public data, missing-value indicators gain a little while KNN, MICE and
multiple imputation rarely gain anything at 1.2–2.7× the time. So the comparison reports
each strategy's score with its spread and time, and recommends the simplest one within
one standard error of the best (the one-standard-error rule) rather than the top score.
Simplest is by nominal cost (:data:`COST_FACTORS`, indicators adding 10%), not by the
measured seconds: two variants of the same cost differ in time by noise alone.

Budget: with ``seconds``, variants run cheapest first while the next one's estimated cost
fits what is left. A variant is estimated at the best model's cross-validation time times
its strategy's factor (:data:`COST_FACTORS`, measured on public data), rescaled after each
variant by how far the estimates were off; the variants left out are listed with the
reason, never run past the budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tabloop._progress import Bars
from tabloop.train._cv import cross_validate, fold_indices, make_pipeline
from tabloop.train._zoo import model_spec

if TYPE_CHECKING:
    from tabloop.train._result import TrainResult

STRATEGIES = ("none", "median", "knn", "iterative", "multiple")
#: Cost of a strategy's cross-validation relative to the model's own (indicators: +10%).
COST_FACTORS = {"none": 1.0, "median": 1.0, "knn": 1.5, "iterative": 2.5, "multiple": 3.0}


def estimated_seconds(strategy: str, indicators: bool, model_seconds: float) -> float:
    """A variant's estimated cross-validation time (see :data:`COST_FACTORS`)."""
    return model_seconds * COST_FACTORS[strategy] * (1.1 if indicators else 1.0)


def compare_imputation(result: TrainResult, *, seconds: float | None = None) -> dict[str, Any]:
    """Cross-validate the best single model of ``result`` under each imputation strategy,
    with and without missing indicators, on the same folds; within ``seconds`` when given
    (see the module's note). ``scheduled`` counts the variants run, ``skipped`` lists
    the others."""
    import time

    start = time.monotonic()
    config, task = result.config, result.task
    best = max((r for r in result.cv if r.name != "dummy"), key=lambda r: r.mean)
    X = result.train.drop(columns=[result.model.target])
    y = result.y_train
    folds = fold_indices(config, result.train, y, task)
    linear = model_spec(best.name).family == "linear"
    variants = [
        (strategy, indicators)
        for strategy in STRATEGIES
        if not (strategy == "none" and linear)  # linear models cannot take NaN
        for indicators in ((False,) if strategy == "none" else (False, True))
    ]
    variants.sort(key=lambda v: estimated_seconds(v[0], v[1], 1.0))  # cheapest first
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    scale = 1.0  # measured / estimated so far
    with Bars() as bars:
        bar = bars.add("imputation strategies", len(variants))
        for strategy, indicators in variants:
            cost = scale * estimated_seconds(strategy, indicators, best.seconds)
            if seconds is not None and time.monotonic() - start + cost > seconds:
                skipped.append(strategy + (" + indicators" if indicators else ""))
                bars.advance(bar)
                continue
            variant = config.model_copy(deep=True)
            variant.prepare.imputation = strategy  # type: ignore[assignment]
            variant.prepare.missing_indicators = indicators
            cv = cross_validate(
                make_pipeline(variant, best.name, task, params=best.params),
                X,
                y,
                folds,
                task=task,
                metric=result.metric,
                name=best.name,
                n_classes=max(2, len(result.model.classes)),
                keep_models=False,
            )
            rows.append(
                {
                    "strategy": strategy,
                    "indicators": indicators,
                    "mean": cv.mean,
                    "std": cv.std,
                    "seconds": round(cv.seconds, 2),
                }
            )
            done = sum(estimated_seconds(r["strategy"], r["indicators"], 1.0) for r in rows)
            scale = sum(r["seconds"] for r in rows) / (done * best.seconds or 1.0)
            bars.advance(bar)
    return {
        "model": best.name,
        "metric": result.metric,
        "rows": rows,
        "scheduled": len(rows),
        "folds": len(folds),
        "skipped": skipped,
        **recommend(
            rows,
            model=best.name,
            metric=result.metric,
            folds=len(folds),
            skipped=skipped,
            seconds=seconds,
        ),
    }


def recommend(
    rows: list[dict[str, Any]],
    *,
    model: str,
    metric: str,
    folds: int,
    skipped: list[str] | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """``recommended`` (strategy and indicators, or ``None``) and ``message`` for the
    compared ``rows``: the simplest (lowest nominal cost, then the higher score) within
    one standard error of the best; no recommendation from fewer than two strategies."""
    left_out = ""
    if skipped:
        left_out = (
            f" Not run within the {seconds or 0:.0f} s left of the time budget: "
            f"{', '.join(skipped)}."
        )
    if not rows:
        return {
            "recommended": None,
            "message": f"Imputation for {model}: no strategy compared.{left_out}",
        }
    top = max(rows, key=lambda r: r["mean"])
    tolerance = top["std"] / np.sqrt(folds)
    good = [r for r in rows if r["mean"] >= top["mean"] - tolerance]
    pick = min(
        good, key=lambda r: (estimated_seconds(r["strategy"], r["indicators"], 1.0), -r["mean"])
    )
    label = pick["strategy"] + (" + indicators" if pick["indicators"] else "")
    if len(rows) == 1:
        return {
            "recommended": None,
            "message": f"Imputation for {model}: only {label!r} was compared (CV {metric} "
            f"{abs(top['mean']):.4f}); no recommendation against the others.{left_out}",
        }
    if pick is top:
        message = (
            f"Imputation for {model}: {label!r} scores best (CV {metric} "
            f"{abs(top['mean']):.4f}) and nothing simpler comes within one standard error."
        )
    else:
        message = (
            f"Imputation for {model}: recommend {label!r} (CV {metric} "
            f"{abs(pick['mean']):.4f} in {pick['seconds']:.1f} s); the best was "
            f"{top['strategy']}{' + indicators' if top['indicators'] else ''} at "
            f"{abs(top['mean']):.4f}, within one standard error ({tolerance:.4f})."
        )
    return {
        "recommended": {"strategy": pick["strategy"], "indicators": pick["indicators"]},
        "message": message + left_out,
    }
