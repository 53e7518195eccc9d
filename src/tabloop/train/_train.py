"""``tabloop.train``: from a table and ``tabloop.yaml`` to a fitted, evaluated-ready model.

Protocol: hold out the test split first; cross-validate every candidate on the rest (or on
the sample ``train.sample`` chooses, :mod:`tabloop.train._sample`; preparation fitted inside
each fold); tune with Optuna when ``train.trials`` > 0; combine candidates greedily on
out-of-fold predictions; choose the decision threshold on those same predictions; refit the
chosen models on all training rows (or as many as the budget allows). The test split is
touched once, by :func:`tabloop.evaluate.evaluate`.

:func:`train` calls four steps in order, each returning plain data: :func:`split_and_encode`
(:class:`SplitData`), :func:`cross_validate_sampled` (:func:`cross_validate_zoo` on growing
samples; :class:`ZooScores`),
:func:`choose_members` (:class:`MemberChoice`: weights, verdict against the dummy, threshold) and
:func:`assemble` (:class:`Assembled`: the fitted :class:`TabloopModel`).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from tabloop._extras import require
from tabloop._progress import Bars
from tabloop.config import check_extras, extra_warnings
from tabloop.exceptions import TrainError
from tabloop.train._baseline import BaselineCheck, check_against_dummy
from tabloop.train._cv import (
    DEFAULT_METRIC,
    CVResult,
    OutOfTime,
    covered,
    cross_validate,
    fold_indices,
    make_pipeline,
    score,
)
from tabloop.train._distributed import every_piece_has_every_class
from tabloop.train._ensemble import blend, greedy_ensemble
from tabloop.train._model import Member, TabloopModel
from tabloop.train._sample import (
    ALL_ROWS,
    Sampling,
    gain_is_noise,
    next_step_too_costly,
    refit_rows,
    sample_order,
    sizes_to_try,
)

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.scale import Runner
    from tabloop.train._distributed import DistributedSource
    from tabloop.train._threshold import ThresholdChoice

#: Share of the time budget kept back for refitting the winners and the learning curve.
REFIT_SHARE = 0.2


@dataclass
class TrainResult:
    """Everything training produced: the model, the split, and the evidence for the report.

    ``baseline_check`` says whether the chosen model beats the dummy on the cross-validation
    folds (see :mod:`tabloop.train._baseline`); ``beats_dummy`` is its verdict. A model that
    does not is returned all the same (so it can be evaluated and inspected), with the
    verdict in ``warnings``; :func:`tabloop.registry.register` then gives it no alias.
    ``warnings`` also names every candidate the time budget skipped and every default model
    left out because its extra is not installed (those also in ``missing_extras``, with the
    ``pip install`` command); ``notes`` holds the rest of what the budget changed (refit by
    fold models, no learning curve).
    """

    config: ProjectConfig
    task: str
    model: TabloopModel
    train: pd.DataFrame = field(repr=False)
    test: pd.DataFrame = field(repr=False)
    metric: str
    cv: list[CVResult] = field(repr=False)
    weights: dict[str, float]
    oof: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    threshold: ThresholdChoice | None = None
    learning_curve: dict[str, Any] | None = None
    learning_curve_skipped: str | None = None  # why there is no curve (also in notes)
    dropped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    data_hash: str = ""
    imputation_comparison: dict[str, Any] | None = None
    baseline_check: BaselineCheck | None = None
    warnings: list[str] = field(default_factory=list)
    missing_extras: list[str] = field(default_factory=list)  # also in warnings
    sampling: dict[str, Any] | None = None  # rows cross-validated and refitted, and why
    # train.engine dask: the table on the workers, for the test split's counts
    source: DistributedSource | None = field(default=None, repr=False)

    @property
    def beats_dummy(self) -> bool:
        """False when the chosen model is not better than the dummy beyond noise (or is the
        dummy); True for clustering, which has no dummy."""
        return self.baseline_check is None or self.baseline_check.beats_dummy

    def encode(self, y: pd.Series) -> np.ndarray:
        """Target values as the class codes the model's probabilities are ordered by."""
        return _encode(y, self.model.classes)

    def cv_table(self) -> list[dict[str, Any]]:
        return [
            {
                "model": r.name,
                "mean": r.mean,
                "std": r.std,
                "folds": r.fold_scores,
                "seconds": round(r.seconds, 2),
                "params": r.params,
                "weight": self.weights.get(r.name, 0.0),
            }
            for r in self.cv
        ]


def train(
    df: pd.DataFrame | None = None,
    *,
    config: ProjectConfig | str | Path | None = None,
    target: str | None = None,
    time_budget: float | None = None,
    runner: Runner | None = None,
) -> TrainResult:
    """Train the project's models and return the result (evaluate it next).

    Parameters
    ----------
    df : the training table; default: the data named in the config.
    config : a :class:`~tabloop.config.ProjectConfig` or a path to ``tabloop.yaml``;
        without one, ``target`` is required and every default applies.
    time_budget : seconds for the whole run (overrides ``train.time_budget``).
    runner : where ``train.engine: dask`` runs (:func:`tabloop.scale.open_runner`); default:
        the cluster of ``scale.cluster`` or ``TABLOOP_CLUSTER``, opened for this call.

    Examples
    --------
    >>> import tabloop
    >>> df = tabloop.examples.treatment_outcomes(n=600, seed=1)
    >>> result = tabloop.train(df, target="unsuccessful_outcome")  # doctest: +SKIP
    >>> result.model.predict_frame(df.head(2))["probability"].between(0, 1).all()  # doctest: +SKIP
    True
    """
    start = time.monotonic()
    config = _resolve_config(config, df, target)
    check_extras(config)  # a missing library is named before any data is read
    if config.train.engine == "dask":
        if df is not None:
            raise TrainError(
                "train.engine 'dask' reads data.train on the workers; call train() without "
                "a frame, or set train.engine to 'local'."
            )
        with ExitStack() as stack:
            if runner is None:
                from tabloop.scale import cluster_address, open_runner

                address = cluster_address(None, config.scale.cluster)
                runner = stack.enter_context(open_runner(address))
            return _train(config, None, start, time_budget, runner)
    if df is None:
        from tabloop.data import load_training_data
        from tabloop.scale import InProcess
        from tabloop.train._distributed import too_big_to_load

        too_big = too_big_to_load(config)
        if too_big:
            return _train(config, None, start, time_budget, InProcess(), too_big=too_big)
        df = load_training_data(config)
    return _train(config, df, start, time_budget, None)


def _train(
    config: ProjectConfig,
    df: pd.DataFrame | None,
    start: float,
    time_budget: float | None,
    runner: Runner | None,
    *,
    too_big: str | None = None,
) -> TrainResult:
    """:func:`train` once the table, or the ``runner`` that reads it in pieces (on the
    workers with ``train.engine: dask``; here when it is ``too_big`` to load), is known."""
    budget = time_budget or config.train.time_budget
    deadline = start + budget if budget else None
    source = None
    left_out_defaults = extra_warnings(config)
    if runner is not None:
        df, whole, source, config, left_out = _read_in_pieces(config, runner)
    else:
        assert df is not None
        if config.data.target is None or config.task == "clustering":
            return _train_segments(config, df, start)
        whole = split_and_encode(df, config)
    cv_deadline = None if deadline is None else start + budget * (1 - REFIT_SHARE)
    data, zoo, sampling = cross_validate_sampled(whole, config, deadline=cv_deadline)
    if budget and zoo.skipped and all(r.name == "dummy" for r in zoo.results):
        raise budget_too_small(budget, zoo, before=zoo.began - start)
    chosen = choose_members(data, zoo, config)
    if source is not None and config.train.engine == "dask":
        assert runner is not None
        if "lightgbm" in chosen.weights:
            every_piece_has_every_class(source, whole.classes)
        built = _assemble_on_workers(
            whole, data, zoo, chosen, sampling, config, source, runner, deadline=deadline
        )
        chosen.warnings.extend(left_out)
    else:
        refit = _refit_data(whole, data, zoo, chosen, sampling, config, deadline=deadline)
        built = assemble(refit, zoo, chosen, config, deadline=deadline, fold_rows=_fold_rows(data))
        if too_big is not None and source is not None:
            read = f"a uniform sample of {len(whole.X):,} training rows was read"
            detail = "" if sampling.reason == ALL_ROWS else f"; {sampling.reason}"
            sampling.rows, sampling.reason = source.train_rows, f"{too_big}: {read}{detail}"
    if built.refit == "folds":  # the budget kept the fold models: nothing was refitted
        sampling.refit_size = sampling.size
    notes = [*sampling.notes(), *built.notes]
    curve, skipped = _curve(config, chosen.best, data, sampling, deadline=deadline)
    if skipped:
        notes.append(skipped)
    return TrainResult(
        config=config,
        task=data.task,
        model=built.model,
        train=data.train,
        test=data.test,
        metric=data.metric,
        cv=zoo.results,
        weights=chosen.weights,
        oof=chosen.oof,
        y_train=data.y,
        threshold=chosen.threshold,
        learning_curve=curve,
        learning_curve_skipped=skipped,
        dropped=built.dropped,
        notes=notes,
        seconds=time.monotonic() - start,
        data_hash=data_hash(df),
        baseline_check=chosen.baseline_check,
        warnings=[*left_out_defaults, *chosen.warnings],
        missing_extras=left_out_defaults,
        sampling=sampling.to_dict(),
        source=source,
    )


def _read_in_pieces(
    config: ProjectConfig, runner: Runner
) -> tuple[pd.DataFrame, SplitData, DistributedSource, ProjectConfig, list[str]]:
    """A sample of ``data.train`` read in pieces by ``runner``, split as the whole table is;
    with ``train.engine: dask`` also the config restricted to the models the workers fit
    (with a warning naming the rest)."""
    from tabloop.data import check_training_columns
    from tabloop.train._distributed import (
        DISTRIBUTED_MODELS,
        read_sample,
        require_cluster,
        sample_sizes,
    )

    on_workers = config.train.engine == "dask"
    if on_workers:
        require_cluster(runner)
    train_rows, test_rows = sample_sizes(config)
    df, is_test, source = read_sample(config, runner, train_rows=train_rows, test_rows=test_rows)
    check_training_columns(df, config)
    whole = split_and_encode(df, config, is_test=is_test)
    update: dict[str, Any] = {}
    wanted = config.train.sample
    if isinstance(wanted, int) and wanted < source.train_rows:
        update["sample"] = None  # taken while reading: the models see the whole sample
    warnings = []
    if on_workers:
        update["models"] = [m for m in config.train.models if m in DISTRIBUTED_MODELS]
        left_out = [m for m in config.train.models if m not in (*DISTRIBUTED_MODELS, "dummy")]
        if left_out:
            fits = " and ".join(update["models"])
            warnings.append(
                f"{', '.join(left_out)}: left out, train.engine dask fits {fits} on the workers"
            )
    config = config.model_copy(update={"train": config.train.model_copy(update=update)})
    return df, whole, source, config, warnings


def _assemble_on_workers(
    whole: SplitData,
    data: SplitData,
    zoo: ZooScores,
    chosen: MemberChoice,
    sampling: Sampling,
    config: ProjectConfig,
    source: DistributedSource,
    runner: Runner,
    *,
    deadline: float | None,
) -> Assembled:
    """The chosen members fitted on every training row of ``source`` across the workers
    (a uniform share of them when the rest of the budget allows no more), their
    preparation on the sample."""
    from functools import partial

    from tabloop.train._distributed import fit_distributed

    rows = refit_rows(
        cv_size=min(len(whole.X), source.train_rows),
        rows=source.train_rows,
        seconds_per_row=_fit_seconds_per_row(data, zoo, chosen) / max(runner.workers, 1),
        seconds_left=None if deadline is None else deadline - time.monotonic(),
    )
    fit = partial(
        fit_distributed,
        source=source,
        runner=runner,
        target=whole.target,
        classes=whole.classes,
        fraction=rows / source.train_rows,
    )
    built = assemble(whole, zoo, chosen, config, deadline=None, fit=fit)
    if sampling.reason == ALL_ROWS and len(whole.X) < source.train_rows:
        sampling.reason = f"a uniform sample of {len(whole.X):,} rows, read on the workers"
    sampling.rows, sampling.refit_size = source.train_rows, rows
    built.notes.append(
        f"train.engine dask: {', '.join(chosen.weights)} fitted on {rows:,} of "
        f"{source.train_rows:,} training rows across {runner.workers} worker(s) of "
        f"{runner.address}; the preparation on a sample of {len(whole.X):,} rows"
    )
    return built


# -- the steps of train(), each returning plain data -------------------------------------


@dataclass
class SplitData:
    """Step 1: the held-out test split, and the training rows encoded for cross-validation."""

    task: str
    target: str
    classes: list[Any]
    train: pd.DataFrame = field(repr=False)
    test: pd.DataFrame = field(repr=False)
    X: pd.DataFrame = field(repr=False)
    y: np.ndarray = field(repr=False)
    folds: list[tuple[np.ndarray, np.ndarray]] = field(repr=False)
    metric: str


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


def split_and_encode(
    df: pd.DataFrame, config: ProjectConfig, *, is_test: np.ndarray | None = None
) -> SplitData:
    """Check the target, hold out the test split (the rows ``is_test`` marks, when given),
    encode the target, make the CV folds."""
    from tabloop.data import check_target, infer_task, split
    from tabloop.data.frame import require_columns

    target = config.data.target
    assert target is not None  # train() sends a project without a target to clustering
    require_columns(df, [target], role="target column")
    check_target(df, target)
    task = config.task or infer_task(df[target])
    classes = _classes(df[target], task)
    if is_test is not None:
        train_df, test_df = df[~is_test], df[is_test]
    else:
        train_df, test_df = split(
            df,
            target=target,
            strategy=config.split_strategy,
            test_size=config.split.test_size,
            group=config.split.group,
            time=config.split.time or config.data.time,
            seed=config.split.seed,
        )
    # a target with features.lags rides along as history: the lags step reads the values of
    # earlier rows and removes the column (a row never sees its own target)
    X = train_df if target in config.features.lags else train_df.drop(columns=[target])
    y = (
        _encode(train_df[target], classes)
        if task != "regression"
        else train_df[target].to_numpy(float)
    )
    if task != "regression" and len(np.unique(y)) < 2:
        raise TrainError(f"The training split has a single class of {target!r}; need two.")
    return SplitData(
        task=task,
        target=target,
        classes=classes,
        train=train_df,
        test=test_df,
        X=X,
        y=y,
        folds=fold_indices(config, train_df, y, task),
        metric=config.train.metric or DEFAULT_METRIC[task],
    )


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


def _train_segments(config: ProjectConfig, df: pd.DataFrame, start: float) -> TrainResult:
    """Clustering: derive → log → impute/scale → k-means or a Gaussian mixture (k by
    silhouette). Every row is used; there is no target to hold out."""
    from sklearn.pipeline import Pipeline

    from tabloop.data import infer_schema
    from tabloop.data.frame import require_columns
    from tabloop.prepare import DeriveFeatures, LogTransform, Preprocess
    from tabloop.train._cluster import Segmenter

    drop = {*config.features.drop, config.data.id, config.data.time} - {None}
    text = list(config.features.text)  # declared free text is left out whatever its values
    require_columns(df, text, role="features.text column")
    schema = infer_schema(df, strict=False, text=text)
    dropped = {c: "listed in features.drop or a role column" for c in drop if c in df}
    for col in schema:
        if col.name in drop:
            continue
        if col.kind == "text" and col.n_unique > 1:  # TF-IDF numbers would swamp the rest
            dropped[col.name] = "free text (not used for clustering)"
        elif col.kind in ("id", "text", "datetime") or col.n_unique <= 1:
            dropped[col.name] = f"{col.kind if col.n_unique > 1 else 'constant'} column"
        elif config.features.include is not None and col.name not in config.features.include:
            dropped[col.name] = "not in features.include"
    X = df[[c for c in df.columns if c not in dropped]]
    if X.shape[1] == 0:
        raise TrainError(f"No column is left to cluster on ({dropped}).")
    imputation = config.prepare.imputation if config.prepare.imputation != "none" else "median"
    clusters = config.train.clusters
    pipe = Pipeline(
        [
            ("derive", DeriveFeatures(formulas=dict(config.features.derive))),
            ("log", LogTransform(columns=list(config.features.log))),
            (
                "preprocess",
                Preprocess(
                    family="linear",
                    imputation=imputation,
                    knn_k=config.prepare.knn_k,
                    missing_indicators=False,
                    seed=config.split.seed,
                ),
            ),
            (
                "model",
                Segmenter(
                    method=clusters.method,
                    k=clusters.k,
                    k_range=(clusters.k_min, clusters.k_max),
                    seed=config.split.seed,
                ),
            ),
        ]
    ).fit(X)
    model = TabloopModel(
        task="clustering",
        target=None,
        classes=[],
        members=[Member(clusters.method, 1.0, [pipe])],
        schema=infer_schema(X, strict=False),
        unseen=config.prepare.unseen_categories,
        info={"project": config.name},
    )
    empty = np.empty(0)
    return TrainResult(
        config=config,
        task="clustering",
        model=model,
        train=df,
        test=df.iloc[:0],
        metric="silhouette",
        cv=[],
        weights={clusters.method: 1.0},
        oof=empty,
        y_train=empty,
        dropped=dropped,
        seconds=time.monotonic() - start,
        data_hash=data_hash(df),
    )


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


def data_hash(df: pd.DataFrame) -> str:
    """A content hash of a frame (values and column names), to tie a model to its data."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    digest.update("\x1f".join(map(str, df.columns)).encode())
    return digest.hexdigest()[:16]


def _resolve_config(
    config: ProjectConfig | str | Path | None, df: pd.DataFrame | None, target: str | None
) -> ProjectConfig:
    from tabloop.config import ProjectConfig, config_from_dict, load_config

    if isinstance(config, ProjectConfig):
        return config
    if config is not None:
        return load_config(config)
    if target is None:
        raise TrainError("Give config= (a tabloop.yaml) or target= (the column to predict).")
    if df is None:
        raise TrainError("Without a config, pass the training frame as the first argument.")
    return config_from_dict({"name": "model", "data": {"train": "(in memory)", "target": target}})


def _classes(y: pd.Series, task: str) -> list[Any]:
    from tabloop.data import positive_label

    if task == "regression":
        return []
    values = pd.unique(y.dropna())
    if task == "binary":
        positive = positive_label(y)
        from tabloop.data.frame import category_keys

        keys = category_keys(pd.Series(values))
        pos = values[list(keys).index(positive)] if positive in list(keys) else values[-1]
        neg = next(v for v in values if v != pos)
        return [_python(neg), _python(pos)]
    try:
        return [_python(v) for v in sorted(values)]
    except TypeError:
        return [_python(v) for v in sorted(values, key=str)]


def _python(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _encode(y: pd.Series, classes: list[Any]) -> np.ndarray:
    codes = pd.Categorical(y.map(_python), categories=classes).codes
    if (codes < 0).any():
        unknown = pd.Series(y)[codes < 0].iloc[0]
        raise TrainError(f"Target value {unknown!r} is not one of the classes {classes}.")
    return np.asarray(codes, dtype=int)


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


def _curve(
    config: ProjectConfig,
    best: CVResult,
    data: SplitData,
    sampling: Sampling,
    *,
    deadline: float | None,
) -> tuple[dict[str, Any] | None, str | None]:
    """The learning curve with its verdict (:mod:`tabloop.train._curve`): the sampling's
    when ``train.sample`` drew one, else one fitted within what is left of the budget;
    with the reason when there is none though one was asked for."""
    from tabloop.train._curve import learning_curve, sampled_curve_verdict

    curve = sampling.learning_curve(data.metric)
    if curve is not None:
        curve["verdict"] = sampled_curve_verdict(curve, sampling.curve)
        return curve, None
    if not config.train.learning_curve:
        return None, None
    return learning_curve(
        config, best, data.task, data.metric, data.X, data.y, data.folds, deadline=deadline
    )
