"""Cross-validation on the sample ``train.sample`` chooses, and the refit's size.

With ``train.sample: auto`` the zoo is cross-validated on growing samples until a step gains
less than its standard error or the budget would not pay for the next
(:mod:`tabloop.train._sample` holds the rules); the chosen members are then refitted on as
many rows as the rest of the budget allows, estimated from their seconds per row in
cross-validation. Also the error when the budget lets no model finish.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from tabloop.exceptions import TrainError
from tabloop.train._cv import fold_indices
from tabloop.train._sample import (
    ALL_ROWS,
    Sampling,
    gain_is_noise,
    next_step_too_costly,
    refit_rows,
    sample_order,
    sizes_to_try,
)
from tabloop.train._split import SplitData
from tabloop.train._zoo_cv import ZooScores, cross_validate_zoo

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.train._assemble import MemberChoice

#: Share of the time budget kept back for refitting the winners and the learning curve.
REFIT_SHARE = 0.2


def cross_validate_sampled(
    data: SplitData, config: ProjectConfig, *, deadline: float | None
) -> tuple[SplitData, ZooScores, Sampling]:
    """:func:`cross_validate_zoo` on the sample ``train.sample`` asks for; with ``auto`` on
    growing samples until a step gains less than its standard error or the budget would
    not allow the next (:mod:`tabloop.train._sample`). Returns the kept step's rows and
    scores, and how they were chosen."""
    rows = len(data.X)
    sizes, note = sizes_to_try(config.train.sample, rows)
    if sizes == [rows]:
        zoo = cross_validate_zoo(data, config, deadline=deadline)
        return data, zoo, Sampling(rows, rows, rows, note or ALL_ROWS)
    order = sample_order(config, data.train, data.y, data.task)
    curve: list[dict[str, Any]] = []
    kept: tuple[SplitData, ZooScores] | None = None
    reason = f"train.sample is {sizes[0]:,} rows"
    for i, size in enumerate(sizes):
        began = time.monotonic()
        try:
            step = _subsample(data, order[:size], config)
        except (TrainError, ValueError):
            if size == rows:
                raise
            continue  # too few of a rare class (or groups) for the folds: a bigger step
        zoo = cross_validate_zoo(step, config, deadline=deadline)
        seconds = time.monotonic() - began
        if zoo.skipped and kept is not None:
            reason = (
                f"at {size:,} rows {', '.join(zoo.skipped)} ran out of the time budget, so the "
                f"{len(kept[0].X):,}-row step is kept"
            )
            break
        if zoo.skipped:  # the first step: keep it, the budget allows no bigger one
            kept = (step, zoo)
            reason = f"the time budget ran out at the first step ({size:,} rows)"
            break
        best = max(zoo.results, key=lambda r: (r.name != "dummy", r.mean))
        error = best.std / np.sqrt(len(best.fold_scores))
        curve.append(
            {
                "size": size,
                "model": best.name,
                "mean": best.mean,
                "std": best.std,
                "se": error,
                "seconds": round(seconds, 2),
            }
        )
        previous, kept = kept, (step, zoo)
        if len(sizes) == 1:
            break
        if previous is not None:
            last = curve[-2]
            noise, gain, gain_error = gain_is_noise((last["mean"], last["se"]), (best.mean, error))
            if noise:
                reason = (
                    f"from {last['size']:,} to {size:,} rows the best score gained "
                    f"{gain:+.4f}, less than its standard error {gain_error:.4f}"
                )
                break
        if i + 1 == len(sizes):
            reason = f"every step gained more than its standard error, up to all {rows:,} rows"
        elif deadline is not None:
            left = deadline - time.monotonic()
            if too_costly := next_step_too_costly(seconds, size, sizes[i + 1], left):
                reason = too_costly
                break
    assert kept is not None
    step, zoo = kept
    return step, zoo, Sampling(rows, len(step.X), len(step.X), reason, curve, order)


def _subsample(
    data: SplitData, positions: np.ndarray, config: ProjectConfig, *, folds: bool = True
) -> SplitData:
    """``data`` restricted to the training rows at ``positions`` (kept in table order)."""
    from dataclasses import replace

    rows = np.sort(positions)
    train, y = data.train.iloc[rows], data.y[rows]
    return replace(
        data,
        train=train,
        X=data.X.iloc[rows],
        y=y,
        folds=fold_indices(config, train, y, data.task) if folds else [],
    )


def _fold_rows(data: SplitData) -> float:
    """The mean training rows of a cross-validation fold (about n/2 for a time split)."""
    return float(np.mean([len(fit) for fit, _ in data.folds]))


def _fit_seconds_per_row(data: SplitData, zoo: ZooScores, chosen: MemberChoice) -> float:
    """Seconds the chosen members took per training row in cross-validation (one fold's
    fit over a fold's rows): what a refit on more rows is estimated from."""
    members = [zoo.by_name[name] for name in chosen.weights]
    return sum(r.seconds / len(r.fold_scores) for r in members) / _fold_rows(data)


def _refit_data(
    whole: SplitData,
    data: SplitData,
    zoo: ZooScores,
    chosen: MemberChoice,
    sampling: Sampling,
    config: ProjectConfig,
    *,
    deadline: float | None,
) -> SplitData:
    """The rows to refit the chosen models on: the cross-validated sample, grown to the
    largest the rest of the budget allows (every row without a budget)."""
    if sampling.order is None or sampling.size == sampling.rows or config.train.refit == "folds":
        return data
    size = refit_rows(
        cv_size=sampling.size,
        rows=sampling.rows,
        seconds_per_row=_fit_seconds_per_row(data, zoo, chosen),
        seconds_left=None if deadline is None else deadline - time.monotonic(),
    )
    sampling.refit_size = size
    if size == sampling.size:
        return data
    return _subsample(whole, sampling.order[:size], config, folds=False)


def budget_too_small(budget: float, zoo: ZooScores, *, before: float) -> TrainError:
    """The error when no model but (perhaps) the dummy finished cross-validation: how far
    each skipped model got, and the smallest budget that fits one, estimated as the time
    before cross-validation, plus the dummy's, plus the quickest skipped model's whole
    cross-validation (from the folds it ran), over the share of the budget cross-validation
    gets (``1 - REFIT_SHARE``), rounded up to 5 s."""
    progress = []
    for name in zoo.skipped:
        estimate = zoo.estimates.get(name)
        progress.append(
            f"{name}: about {estimate:.0f} s for all folds" if estimate else f"{name}: not started"
        )
    dummy = sum(r.seconds for r in zoo.results) + zoo.estimates.get("dummy", 0.0)
    models = [v for k, v in zoo.estimates.items() if k != "dummy"]
    which = "no model" if not zoo.results else "no model but the dummy"
    head = (
        f"Within --time-budget {budget:g} s {which} finished cross-validation "
        f"({'; '.join(progress)})"
    )
    if not models:
        least = math.ceil((before + dummy) / (1 - REFIT_SHARE) / 5) * 5
        return TrainError(
            f"{head}; a budget that fits one is more than {max(least, budget):.0f} s: raise "
            "--time-budget or train.time_budget (or lower train.sample). Nothing was registered."
        )
    need = max((before + dummy + min(models)) / (1 - REFIT_SHARE), budget + 1)
    return TrainError(
        f"{head}; the smallest budget that fits one is about {math.ceil(need / 5) * 5} s: "
        "raise --time-budget or train.time_budget. Nothing was registered."
    )
