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
:func:`assemble` (:class:`Assembled`: the fitted :class:`TabloopModel`). The steps live in
modules of their own: :mod:`~tabloop.train._split`, :mod:`~tabloop.train._zoo_cv` and
:mod:`~tabloop.train._sampled_cv` (with the refit's size), :mod:`~tabloop.train._assemble`;
:mod:`~tabloop.train._distributed_steps` reads the table in pieces,
:mod:`~tabloop.train._segments` trains a project without a target, and
:mod:`~tabloop.train._result` holds :class:`TrainResult`. This module only chains them.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tabloop.config import check_extras, extra_warnings
from tabloop.exceptions import TrainError
from tabloop.train._assemble import assemble, choose_members
from tabloop.train._distributed import every_piece_has_every_class
from tabloop.train._distributed_steps import _assemble_on_workers, _read_in_pieces
from tabloop.train._result import TrainResult, data_hash
from tabloop.train._sample import ALL_ROWS, Sampling
from tabloop.train._sampled_cv import (
    REFIT_SHARE,
    _fold_rows,
    _refit_data,
    budget_too_small,
    cross_validate_sampled,
)
from tabloop.train._segments import _train_segments
from tabloop.train._split import SplitData, split_and_encode

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.scale import Runner
    from tabloop.train._cv import CVResult


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
