"""Steps 3 and 4 of :func:`~tabloop.train.train`: choose the members (best candidate or a
greedy ensemble, the verdict against the dummy, a binary model's threshold) on the
out-of-fold predictions, then refit them (or keep their fold models, as the budget says)
into a :class:`~tabloop.train.TabloopModel` with its input schema."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from tabloop.exceptions import TrainError
from tabloop.train._baseline import BaselineCheck, check_against_dummy
from tabloop.train._cv import CVResult, covered, make_pipeline, score
from tabloop.train._ensemble import blend, greedy_ensemble
from tabloop.train._model import Member, TabloopModel

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.train._split import SplitData
    from tabloop.train._threshold import ThresholdChoice
    from tabloop.train._zoo_cv import ZooScores


@dataclass
class MemberChoice:
    """Step 3: the chosen ensemble weights, its out-of-fold predictions, the verdict against
    the dummy, the decision threshold (binary) and the warnings so far."""

    best: CVResult = field(repr=False)
    weights: dict[str, float]
    oof: np.ndarray = field(repr=False)
    baseline_check: BaselineCheck
    threshold: ThresholdChoice | None
    warnings: list[str]


@dataclass
class Assembled:
    """Step 4: the fitted model, the columns it does not read and why, and notes on the refit."""

    model: TabloopModel
    dropped: dict[str, str]
    notes: list[str]
    refit: str  # "full" or "folds" (the fold models kept, as the budget required)


def choose_members(data: SplitData, zoo: ZooScores, config: ProjectConfig) -> MemberChoice:
    """Pick the best candidate or a greedy ensemble on the out-of-fold predictions, check it
    against the dummy on the same folds, and choose the threshold of a binary model."""
    task, y, folds, metric = data.task, data.y, data.folds, data.metric
    results = zoo.results
    warnings = [
        f"{name}: skipped, the time budget ran out during cross-validation" for name in zoo.skipped
    ]
    candidates = [r for r in results if r.name != "dummy"] or results
    if not any(r.name == "dummy" for r in results):
        raise TrainError("No model finished within the time budget; raise train.time_budget.")
    best = max(candidates, key=lambda r: r.mean)
    if config.train.ensemble and len(candidates) > 1:
        weights = greedy_ensemble(candidates, y, task=task, metric=metric)
    else:
        weights = {best.name: 1.0}
    by_name = zoo.by_name
    oof = blend(by_name, weights)
    baseline_check = check_against_dummy(
        [score(task, metric, y[rows], oof[rows]) for _, rows in folds],
        by_name["dummy"].fold_scores,
        metric=metric,
        weights=weights,
        validation_share=float(np.mean([len(v) / len(f) for f, v in folds])),
        skipped=zoo.skipped,
    )
    if not baseline_check.beats_dummy:
        warnings.append(baseline_check.message)

    threshold = None
    if task == "binary":
        from tabloop.train._threshold import choose_threshold

        rows = covered(oof)
        threshold = choose_threshold(
            y[rows],
            oof[rows],
            objective=config.train.threshold,
            costs=dict(config.train.costs) or None,
            confidence=config.train.threshold_confidence,
        )
    return MemberChoice(
        best=best,
        weights=weights,
        oof=oof,
        baseline_check=baseline_check,
        threshold=threshold,
        warnings=warnings,
    )


def assemble(
    data: SplitData,
    zoo: ZooScores,
    chosen: MemberChoice,
    config: ProjectConfig,
    *,
    deadline: float | None,
    fold_rows: float | None = None,
    fit: Callable[..., Any] | None = None,
) -> Assembled:
    """Refit the chosen members on all training rows (or keep their fold models when the
    budget says so) and wrap them with the input schema into a :class:`TabloopModel`.
    ``fit(name, pipeline, X, y)`` fits a member (default: the pipeline's own ``fit``)."""
    by_name = zoo.by_name
    weights = chosen.weights
    X, y, task = data.X, data.y, data.task
    refit, note = refit_mode(
        config.train.refit,
        [by_name[n] for n in weights],
        now=time.monotonic(),
        deadline=deadline,
        growth=max(1.3, len(X) / fold_rows) if fold_rows else 1.3,
    )
    notes = [note] if note else []
    members = []
    for name, weight in weights.items():
        if refit == "folds":
            pipes = by_name[name].fold_models
        else:
            pipe = make_pipeline(config, name, task, params=by_name[name].params)
            pipes = [fit(name, pipe, X, y) if fit else clone(pipe).fit(X, y)]
        members.append(Member(name, weight, pipes))
    schema, dropped = _input_schema(members, X, config)
    model = TabloopModel(
        task=task,
        target=data.target,
        classes=data.classes,
        members=members,
        schema=schema,
        threshold=None if chosen.threshold is None else chosen.threshold.threshold,
        unseen=config.prepare.unseen_categories,
        info={
            "metric": data.metric,
            "models": list(weights),
            "project": config.name,
            # training columns the model does not read (the id, dropped or unselected ones):
            # a client may send the same record shape as the training data
            "ignored": [c for c in X.columns if c not in schema and c != data.target],
            # columns read as earlier rows' values when a frame carries them (features.lags)
            "history": [data.target] if data.target in X.columns else [],
        },
    )
    return Assembled(model=model, dropped=dropped, notes=notes, refit=refit)


def refit_mode(
    wanted: str,
    chosen: list[CVResult],
    *,
    now: float,
    deadline: float | None,
    growth: float = 1.3,
) -> tuple[str, str | None]:
    """``full`` unless refitting the chosen models would overrun the budget; then ``folds``
    (average the fold models already fitted) with a note saying why.

    A full fit is estimated at one fold's time times ``growth``, the refit's rows over a
    fold's (1.3 covers the rows of the validation fold).
    """
    cost = sum(r.seconds / max(len(r.fold_scores), 1) * growth for r in chosen)
    if wanted == "full" and deadline is not None and now + cost > deadline:
        return "folds", (
            f"refit: averaged the fold models instead of refitting (about {cost:.0f} s more "
            "would overrun the time budget)"
        )
    return wanted, None


def _input_schema(
    members: list[Member], X: pd.DataFrame, config: ProjectConfig
) -> tuple[Any, dict[str, str]]:
    """The raw columns the fitted pipelines read, and the columns selection dropped (why)."""
    from tabloop.data import infer_schema

    needed: set[str] = set()
    dropped: dict[str, str] = {}
    for member in members:
        for pipe in member.pipelines:
            steps = pipe.named_steps
            if "lags" in steps:  # the entity, order and source columns, not the target
                lags = steps["lags"]
                needed |= {c for pair in lags.groups_ for c in pair if c}
                needed |= {c for c in lags.specs_ if c != config.data.target}
            derived = steps["derive"].formulas_
            for formula in derived.values():
                needed |= set(formula.columns)
            needed |= set(steps["log"].columns_)
            needed |= {c for c in steps["select"].selected_ if c not in derived}
            dropped.update(steps["select"].dropped_)
    columns = [c for c in X.columns if c in needed]
    schema = infer_schema(
        X[columns],
        categorical=[c for c in config.features.categorical if c in columns],
        numeric=[c for c in config.features.numeric if c in columns],
        text=[c for c in config.features.text if c in columns],
        strict=False,
    )
    return schema, {c: r for c, r in dropped.items() if c not in needed}
