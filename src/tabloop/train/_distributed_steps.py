"""The steps of :func:`~tabloop.train.train` when the table is read in pieces: a sample read
by a runner and split as the whole table is, and (``train.engine: dask``) the chosen members
fitted on every training row across the workers. The pieces themselves are
:mod:`tabloop.train._distributed`'s."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from tabloop.train._assemble import Assembled, MemberChoice, assemble
from tabloop.train._sample import ALL_ROWS, Sampling, refit_rows
from tabloop.train._sampled_cv import _fit_seconds_per_row
from tabloop.train._split import SplitData, split_and_encode

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig
    from tabloop.scale import Runner
    from tabloop.train._distributed import DistributedSource
    from tabloop.train._zoo_cv import ZooScores


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
