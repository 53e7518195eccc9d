"""Step 2 of :func:`~tabloop.train.train`: cross-validate the dummy and every candidate of
``train.models`` on the same folds (each tuned with Optuna first when ``train.trials`` > 0),
skipping what the time budget cannot pay for."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tabloop._extras import require
from tabloop._progress import Bars
from tabloop.train._cv import CVResult, OutOfTime, cross_validate, make_pipeline

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tabloop.config import ProjectConfig
    from tabloop.train._split import SplitData


@dataclass
class ZooScores:
    """Step 2: the cross-validated candidates (the dummy first) and those the budget skipped."""

    results: list[CVResult] = field(repr=False)
    skipped: list[str]
    # seconds a skipped model's whole cross-validation would take, from the folds it ran
    estimates: dict[str, float] = field(default_factory=dict)
    began: float = 0.0  # time.monotonic() when the first candidate started

    @property
    def by_name(self) -> dict[str, CVResult]:
        return {r.name: r for r in self.results}


def cross_validate_zoo(
    data: SplitData, config: ProjectConfig, *, deadline: float | None
) -> ZooScores:
    """Cross-validate the dummy and every model of ``train.models`` (tuned first when
    ``train.trials`` > 0); a model still running at ``deadline`` is skipped."""
    names = ["dummy", *[m for m in config.train.models if m != "dummy"]]
    task, X, y, folds, metric = data.task, data.X, data.y, data.folds, data.metric
    skipped: list[str] = []
    estimates: dict[str, float] = {}
    results: list[CVResult] = []
    began = time.monotonic()
    with Bars() as bars:
        models_bar = bars.add("models", len(names))
        for i, name in enumerate(names):
            bars.update(models_bar, description=f"model {name}")
            fold_bar = bars.add(f"  folds of {name}", len(folds))
            try:
                params: dict[str, Any] = {}
                if config.train.trials and name != "dummy":
                    remaining = (
                        None
                        if deadline is None
                        else (deadline - time.monotonic()) / (len(names) - i)
                    )
                    params = _tune(
                        config, name, task, X, y, folds, metric, len(data.classes), remaining, bars
                    )
                results.append(
                    cross_validate(
                        make_pipeline(config, name, task, params=params),
                        X,
                        y,
                        folds,
                        task=task,
                        metric=metric,
                        name=name,
                        params=params,
                        n_classes=len(data.classes),
                        deadline=deadline,
                        on_fold=lambda b=fold_bar: bars.advance(b),
                    )
                )
            except TimeoutError as exc:  # OutOfTime
                skipped.append(name)
                if isinstance(exc, OutOfTime) and exc.folds_done:
                    estimates[name] = exc.seconds / exc.folds_done * len(folds)
            bars.advance(models_bar)
    return ZooScores(results=results, skipped=skipped, estimates=estimates, began=began)


def _tune(
    config: ProjectConfig,
    name: str,
    task: str,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    metric: str,
    n_classes: int,
    seconds: float | None,
    bars: Bars,
) -> dict[str, Any]:
    """Optuna TPE over the model's search space; each trial is a full cross-validation."""
    optuna = require("optuna", f"train.trials: {config.train.trials}")

    from tabloop.train._zoo import model_spec

    spec = model_spec(name)
    if spec.space is None:
        return {}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bar = bars.add(f"  trials of {name}", config.train.trials)

    def objective(trial: Any) -> float:
        params = spec.space(trial)  # type: ignore[misc]
        result = cross_validate(
            make_pipeline(config, name, task, params=params),
            X,
            y,
            folds,
            task=task,
            metric=metric,
            name=name,
            n_classes=n_classes,
            keep_models=False,
        )
        bars.advance(bar)
        return result.mean

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.split.seed)
    )
    study.optimize(objective, n_trials=config.train.trials, timeout=seconds)
    return dict(study.best_params) if study.trials else {}
