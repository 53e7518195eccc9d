"""``tabloop monitor``: how the model really does in production, and whether that has moved.

One call reads the production rows (the prediction log, or a file), the model package
(reference summary, reference sample, test metrics, threshold) and the ``monitor`` section
of the config, and returns a :class:`MonitorReport`: plain data that the HTML page, the
JSON file, the terminal and ``GET /monitor`` all render.

Maintainer note: the monitor is map -> merge -> statistics. The window's rows come in
partitions (a file's ~200k-row pieces, the log's time ranges, or the caller's), each reduced
by :func:`tabloop.monitor._partition.partition_statistics` to mergeable statistics, through
``map`` (the built-in one, or a cluster's); the merged statistics give the report
(:func:`_report`). The whole window is judged once (drift, realised and estimated
performance, fairness, requirements); chunks repeat the cheap parts (drift against the
stored reference summary, short metrics, estimates) so the report can draw them over time.
Chunks below ``min_chunk_rows`` are drawn but not judged.

What is exact and what is not: counts, chi-squared, Jensen-Shannon, PSI, every confusion
metric, ROC-AUC, fairness values, gaps and intervals, and CBPE equal the whole-frame figures.
KS and Wasserstein-1 are exact for numeric columns with at most 2,048 distinct values or
4,000 present values, and within the KLL sketch's stated bound beyond (``drift.sketch``, and
per column; DataSketches' compaction is random, so they can differ from run to run within
it). Bootstrap intervals are the Poisson bootstrap drawn from the merged counts (not from
partitions), so they do not depend on the partitioning. The multivariate classifier trains
on a uniform sample drawn across partitions, which does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabloop.data.frame import json_safe
from tabloop.evaluate import CHUNK_CELLS, MAX_CELLS, compact, realised_from_cells, score_bins
from tabloop.exceptions import MonitorError
from tabloop.monitor import _production as prod
from tabloop.monitor._column_stats import EXACT_VALUES, KLL_K, kll_rank_error
from tabloop.monitor._partition import (
    ChunkStats,
    PartitionStats,
    Plan,
    count_rows,
    file_partitions,
    log_partitions,
    merge_all,
    partition_statistics,
    sample_rows,
    time_unit,
)
from tabloop.monitor._performance import (
    SHORT_METRICS,
    by_segment_from_cells,
    compare_with_test,
)
from tabloop.monitor._requirements import check_production, failed
from tabloop.monitor._variant_model import no_rows_message, variant_note
from tabloop.monitor._windows import _ROWS, parse_time
from tabloop.scale import InProcess, Runner, cluster_address, open_runner

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.registry import ModelPackage

#: What the progress bar counts.
STEPS = ("statistics", "drift", "multivariate drift", "performance", "fairness", "chunks")
#: ``map(func, items) -> list``: runs the map step (the built-in one, or a cluster's).
Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], list[Any]]
#: Bootstrap replicates per chunk and per segment (the whole window uses monitor.bootstrap).
SMALL_BOOT = 200


@dataclass(frozen=True, eq=False)
class MonitorReport:
    """The monitor's findings as plain data (``data``), and whether every requirement held."""

    data: dict[str, Any] = field(repr=False)

    @property
    def passed(self) -> bool:
        """False when a requirement failed on the window (unknown ones do not count)."""
        return not failed(self.data["requirements"])

    @property
    def requirements(self) -> list[dict[str, Any]]:
        return list(self.data["requirements"])

    def to_dict(self) -> dict[str, Any]:
        return self.data

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, default=str, allow_nan=False)

    def to_html(self) -> str:
        from tabloop.report import render_monitor

        return render_monitor(self.data)

    def save(self, out_dir: str | Path = "reports") -> dict[str, Path]:
        """Write ``monitor.html`` and ``monitor.json`` into ``out_dir``."""
        from tabloop.report import save_report

        return save_report(out_dir, "monitor", json_text=self.to_json(), html=self.to_html())


def monitor(
    config: ProjectConfig | None = None,
    *,
    data: str | Path | pd.DataFrame | None = None,
    partitions: Iterable[Any] | None = None,
    map: Mapper | None = None,  # noqa: A002 - the cluster hook's name in the docs
    cluster: str | None = None,
    model: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    chunk: str | None = None,
    variant: str | None = None,
    already_alerted: Collection[str] = (),
    seed: int = 0,
) -> MonitorReport:
    """Monitor the project's champion (or ``model``) on production rows.

    Parameters
    ----------
    config : the project (default: ``tabloop.yaml`` in the working directory).
    data : a CSV/Parquet file, a folder or glob of them, or a DataFrame of production
        rows (model inputs, context,
        ``prediction``, optionally ``score``/``probability``, the outcome as ``outcome``
        or the target's name, and a time column); default: the project's prediction log,
        rows predicted by this model version. A file is read in partitions of about
        200,000 rows (Parquet row groups, CSV chunks), so memory stays bounded.
    partitions : instead of ``data``, an iterable of partitions of such rows: DataFrames, or
        zero-argument callables that load one (so a cluster worker reads its own piece).
    map : ``map(func, items) -> list`` of results in input order; the map step runs
        ``func`` on every partition through it (default: the built-in map, in this
        process). A cluster runner's ``.map`` computes the statistics where the data is.
    cluster : compute the statistics and the chunks' figures on Dask: ``local:N`` or a
        scheduler address (default: ``scale.cluster``, then ``TABLOOP_CLUSTER``; see
        :mod:`tabloop.scale`).
    model : ``models:/NAME@alias`` or ``models:/NAME/VERSION``; default: the champion.
    since, until : the window (``since`` inclusive, ``until`` exclusive; ISO text or datetime).
    chunk : ``'1d'``, ``'1w'``, ``'12h'`` or a row count; default ``monitor.chunk``.
    variant : only rows served by this A/B variant (log only).
    already_alerted : requirements whose failure was alerted before (a scheduled run passes
        the previous run's failures): the webhook is called only when a requirement fails
        that is not among them, so a lasting failure is one alert, not one per run
        (``alertmanager`` format: sent every run, as Alertmanager expects).

    Examples
    --------
    >>> report = monitor(since="2025-03-01", chunk="1w")  # doctest: +SKIP
    >>> report.passed, report.save("reports")  # doctest: +SKIP
    >>> from concurrent.futures import ProcessPoolExecutor  # doctest: +SKIP
    >>> with ProcessPoolExecutor(2) as pool:  # doctest: +SKIP
    ...     report = monitor(data="production.parquet", map=lambda f, xs: list(pool.map(f, xs)))
    """
    from tabloop.config import load_config
    from tabloop.registry import load_package

    config = config if config is not None else load_config()
    settings = config.monitor
    package = load_package(model, config=config)
    start, end = parse_time(since, name="since"), parse_time(until, name="until")
    if start is not None and end is not None and start >= end:
        raise MonitorError(f"--since {start} is not before --until {end}: the window is empty.")
    profile = package.reference_profile()
    if profile is None:
        raise MonitorError(
            f"Model {package.uri} has no reference summary (reference_profile.json): it was "
            "registered by an older tabloop. Retrain and register it again (`tabloop "
            "train`) to monitor drift against its training data."
        )
    chunk = chunk or settings.chunk
    items, source, normalise = _partitions(config, package, data, partitions, variant, start, end)
    plan = _plan(config, package, profile, chunk, start, end, normalise, seed, source)
    from tabloop._progress import Bars

    with Bars() as bars, _runner(map, cluster, config) as runner:
        bar = bars.add("monitor", total=len(STEPS))

        def step(name: str) -> None:
            bars.update(bar, description=f"monitor: {name}")
            bars.advance(bar)

        stats = map_partitions(plan, items, runner, map=map)
        if stats.rows == 0 and stats.log_versions and plan.log_model is not None:
            raise MonitorError(
                no_rows_message(
                    config, package, asked=model, variant=variant, log_versions=stats.log_versions
                )
            )
        if stats.rows == 0:
            raise MonitorError(
                f"The window holds no production rows ({_window_text(start, end)}, {source}); "
                "widen --since/--until, or send predictions first."
            )
        step("statistics")
        data = _report(stats, plan, package, config, source, start, end, step, runner)
    note = variant_note(config, package, asked=model, variant=variant)
    if note is not None:
        data["notes"].append(note)
    _alert(data, config.monitor.alert_webhook, set(already_alerted), config.monitor.alert_format)
    return MonitorReport(data)


def map_partitions(
    plan: Plan,
    items: Iterable[Any],
    runner: Runner | None = None,
    *,
    map: Mapper | None = None,  # noqa: A002
) -> PartitionStats:
    """The map and merge steps: every partition's statistics, merged. Through ``map`` when
    given (its list of results merged here), else ``runner.map_reduce``: merged as they
    come, so a window of any size holds a few partitions' statistics at once (on a cluster,
    the merges run on the workers and only the result comes back); default: this process."""
    runner = runner if runner is not None else InProcess()
    if plan.chunk is not None and _ROWS.match(plan.chunk):
        items = items if isinstance(items, Sequence) else list(items)
        count = partial(count_rows, plan)
        sizes = map(count, items) if map is not None else runner.map(count, items, description=None)
        offsets = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
        tasks: Iterable[Any] = [(i, item, int(offsets[i])) for i, item in enumerate(items)]
    else:
        tasks = ((i, item, 0) for i, item in enumerate(items))  # lazy: one piece at a time
    tasks = iter(tasks)
    first = next(tasks, None)
    if first is None:
        raise MonitorError("No partition of production rows was given; pass at least one.")
    tasks = itertools.chain([first], tasks)
    statistics = partial(partition_statistics, plan)
    if map is not None:
        return merge_all(list(map(statistics, list(tasks))))
    return runner.map_reduce(statistics, tasks, PartitionStats.merge, description=None)


def _runner(
    map: Mapper | None,  # noqa: A002
    cluster: str | None,
    config: Any,
) -> AbstractContextManager[Runner]:
    """Where the work runs: this process when the caller brings its own ``map`` (which then
    runs only the map step), else the cluster named by ``cluster`` / ``scale.cluster`` /
    ``TABLOOP_CLUSTER`` (each worker loads its own partitions and computes chunks' figures),
    else this process."""
    if map is not None:
        if cluster is not None:
            raise MonitorError("Pass map= or cluster=, not both.")
        return nullcontext(InProcess())
    return open_runner(cluster_address(cluster, config.scale.cluster))


def _plan(
    config: ProjectConfig,
    package: ModelPackage,
    profile: Any,
    chunk: str | None,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    normalise: bool,
    seed: int,
    source: str,
) -> Plan:
    settings, model = config.monitor, package.model
    if chunk is not None and not _ROWS.match(chunk):
        time_unit(chunk)  # a bad span fails here, before any row is read
    fairness = settings.fairness or config.evaluate.fairness
    return Plan(
        profile=profile,
        columns=tuple(_drift_columns(config, package, profile, None)),
        task=model.task,
        classes=tuple(model.classes or []),
        segment=settings.segment,
        fairness=fairness if model.task == "binary" else None,
        chunk=chunk,
        since=start,
        until=end,
        normalise=normalise,
        log_model=(package.uri.split("/")[1], package.version)
        if not normalise and package.uri.startswith("models:/")
        else None,
        outcome=config.data.target,
        time=config.data.time,
        sample_columns=tuple(model.inputs) if settings.drift.multivariate else (),
        seed=seed,
        source=source,
    )


def _report(
    stats: PartitionStats,
    plan: Plan,
    package: ModelPackage,
    config: ProjectConfig,
    source: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    step: Any,
    runner: Runner | None = None,
) -> dict[str, Any]:
    """The report from the merged statistics: the ``statistics`` step of the maintainer note
    (chunks' figures through ``runner``: on a cluster, the workers compute them)."""
    settings = config.monitor
    task, model, seed = package.model.task, package.model, plan.seed
    classes = list(model.classes or [])
    notes: list[str] = []
    profile = plan.profile
    columns = _drift_columns(config, package, profile, stats.present)
    drift = _drift(profile, stats.columns, columns, stats.rows, settings)
    drift_dict = drift.to_dict()
    drift_dict["sketch"] = {
        "k": KLL_K,
        "rank_error": kll_rank_error(KLL_K),
        "note": (
            f"KS and Wasserstein of numeric columns are exact for columns with at most "
            f"{EXACT_VALUES:,} distinct values or {KLL_K:,} present values; beyond, they come "
            f"from a KLL quantile sketch (k={KLL_K}): KS within {kll_rank_error(KLL_K):.3%} of "
            "the exact statistic and W1 / std within that times the column's range / std "
            "(99% confidence; per column in 'sketch')"
        ),
    }
    step("drift")
    drift_dict["multivariate"] = _multivariate(package, stats, settings, notes, seed)
    step("multivariate drift")

    window = _collapse(stats.cells, [])
    labelled = int(window.loc[window["has_outcome"], "count"].sum())
    performance = realised_from_cells(
        window, task=task, classes=classes, n_boot=settings.bootstrap, seed=seed
    )
    if bins := score_bins(window):
        notes.append(_pooled_note("the window holds", MAX_CELLS, bins))
    test_metrics = package.meta.get("metrics", {})
    performance["comparison"] = compare_with_test(performance["metrics"], test_metrics)
    if settings.segment:
        if settings.segment in stats.present:
            performance["segments"] = {
                "column": settings.segment,
                "rows": by_segment_from_cells(
                    _collapse(stats.cells, ["segment"]),
                    task=task,
                    classes=classes,
                    n_boot=SMALL_BOOT,
                    seed=seed,
                ),
            }
        else:
            notes.append(
                f"monitor.segment {settings.segment!r} is not in the production rows; log it "
                "with serve.context"
            )
    if labelled == 0:
        notes.append("no outcomes in this window yet: realised performance is not available")
    step("performance")

    estimated = _estimated(window, model, task)
    fairness, fairness_note = None, None
    if plan.fairness is not None:
        from tabloop.monitor._fairness import fairness_from_cells

        fairness, fairness_note = fairness_from_cells(
            stats.fairness, plan.fairness, n_boot=settings.bootstrap, seed=seed
        )
        if fairness_note:
            notes.append(fairness_note)
    step("fairness")

    figures = {
        "share_drifted_columns": drift_dict.get("share_drifted"),
        "multivariate_auc": (drift_dict["multivariate"] or {}).get("auc"),
    }
    requirements = check_production(
        settings.requirements,
        metrics=performance["metrics"],
        estimated=_estimated_metrics(estimated),
        drift=figures,
        fairness=(fairness or {}).get("model"),
        fairness_note=fairness_note,
    )
    chunks = _chunks(stats, plan, columns, package, config, runner or InProcess())
    if stats.chunk_cells is not None and (bins := score_bins(stats.chunk_cells)):
        notes.append(_pooled_note("the table per chunk holds", CHUNK_CELLS, bins))
    step("chunks")
    report = {
        "project": config.name,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": task,
        "source": source,
        "model": {
            "uri": package.uri,
            "version": package.version,
            "threshold": package.meta.get("threshold"),
            "classes": classes,
            "test_metrics": test_metrics,
        },
        "window": {
            "since": None if start is None else start.isoformat(),
            "until": None if end is None else end.isoformat(),
            "first": None if stats.first is None else stats.first.isoformat(),
            "last": None if stats.last is None else stats.last.isoformat(),
            "rows": stats.rows,
            "labelled": labelled,
            "labelled_share": labelled / stats.rows,
            "model_versions": sorted(stats.versions),
            "chunk": plan.chunk,
            "partitions": stats.partitions,
        },
        "drift": drift_dict,
        "performance": performance,
        "estimated": estimated,
        "fairness": fairness,
        "chunks": chunks,
        "requirements": requirements,
        "notes": notes,
    }
    report["passed"] = not failed(requirements)
    report["alert"] = None
    return json_safe(report)


# -- parts --------------------------------------------------------------------------------
def _alert(
    report: dict[str, Any], webhook: str | None, already: set[str], fmt: str = "tabloop"
) -> None:
    """POST the alert for failures not alerted before (recorded in ``report["alert"]``);
    Alertmanager's on every run that judged a requirement (it fires or resolves each)."""
    failing = {r["expression"] for r in failed(report["requirements"])}
    judged = any(r["status"] in ("pass", "fail") for r in report["requirements"])
    every_run = fmt == "alertmanager" and judged  # Alertmanager wants firing alerts re-sent
    if not webhook or not (failing or every_run):
        return
    from tabloop.monitor._alerts import alert_payload, send_alert

    if not every_run and failing <= already:
        report["alert"] = {
            "url": webhook,
            "sent": False,
            "status": None,
            "error": None,
            "skipped": f"already alerted: {', '.join(sorted(failing))}",
        }
        return
    report["alert"] = send_alert(webhook, alert_payload(report, fmt))


def _partitions(
    config: ProjectConfig,
    package: ModelPackage,
    data: Any,
    partitions: Iterable[Any] | None,
    variant: str | None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> tuple[Iterable[Any], str, bool]:
    """The partitions to map, a description of the source, and whether they are file rows
    (normalised by ``from_file`` and sorted by time in the map) or the log's frame."""
    if data is not None or partitions is not None:
        if variant is not None:
            raise MonitorError("--variant selects rows of the log; it cannot filter --data.")
        if data is not None and partitions is not None:
            raise MonitorError("Pass data= or partitions=, not both.")
        if partitions is not None:
            return partitions, "partitions", True
        if isinstance(data, pd.DataFrame):
            return [data], "a DataFrame", True
        kind = "file" if Path(str(data)).is_file() else "files"
        return file_partitions(data), f"{kind} {data}", True
    from tabloop.store import Store

    url = Store.project_url(config)
    where = f"the log at {Store(url).url}" + (f", variant {variant!r}" if variant else "")
    items = log_partitions(url, since=start, until=end, variant=variant)
    return items, f"{where}, model version {package.version}", False


def _drift_columns(
    config: ProjectConfig, package: ModelPackage, profile: Any, present: Collection[str] | None
) -> list[str]:
    """The columns judged for drift; ``present=None``: every candidate (the map's list)."""
    chosen = config.monitor.drift.columns
    if chosen:
        unknown = [c for c in chosen if c not in profile.columns]
        if unknown:
            raise MonitorError(
                f"monitor.drift.columns names {unknown[0]!r}, which the model's reference "
                f"summary does not hold; known: {', '.join(profile.columns)}."
            )
        return list(chosen)
    wanted = [*package.model.inputs, *config.serve.context, prod.PREDICTION, prod.SCORE]
    wanted += [
        c for c in profile.columns if (present is None or c in present) and c not in prod.RESERVED
    ]
    seen: dict[str, None] = {}
    for column in wanted:
        if column in profile.columns and column != config.data.target:
            seen.setdefault(column, None)
    return list(seen)


def _drift(
    profile: Any,
    stats: dict[str, Any],
    columns: list[str],
    rows: int,
    settings: Any,
    *,
    detail: bool = True,
) -> Any:
    from tabloop.monitor._drift import drift_from_stats

    return drift_from_stats(
        profile,
        {c: stats[c] for c in columns if c in stats},
        detail=detail,
        columns=columns,
        n_current=rows,
        threshold_numeric=settings.drift.numeric_threshold,
        threshold_categorical=settings.drift.categorical_threshold,
        threshold_missing=settings.drift.missing_threshold,
        alpha=settings.drift.alpha,
    )


def _multivariate(
    package: ModelPackage, stats: PartitionStats, settings: Any, notes: list[str], seed: int
) -> dict[str, Any] | None:
    if not settings.drift.multivariate:
        return None
    reference = package.reference_sample()
    if reference is None:
        notes.append(f"model {package.uri} has no reference sample: no multivariate drift")
        return None
    model = package.model
    sample = sample_rows(stats.sample)
    present = [] if sample is None else list(sample.columns)
    columns = [c for c in model.inputs if c in present and c in reference.columns]
    kinds = {c.name: c.kind for c in model.schema if c.name in columns}
    columns = [c for c in columns if kinds.get(c) in ("numeric", "categorical", "boolean")]
    if sample is None or not columns or stats.rows < 20:
        notes.append("multivariate drift needs at least 20 production rows and one input column")
        return None
    from tabloop.monitor._multivariate import domain_classifier

    try:
        result = domain_classifier(reference, sample, columns=columns, kinds=kinds, seed=seed)
    except MonitorError as exc:
        notes.append(f"multivariate drift skipped: {exc}")
        return None
    result["sample"] = (
        f"trained on a uniform sample of {len(sample):,} of the window's {stats.rows:,} rows, "
        f"drawn across its {stats.partitions} partition(s) (each row gets a seeded random key;"
        " the smallest keys are kept)"
    )
    return result


def _estimated(window: pd.DataFrame, model: Any, task: str) -> dict[str, Any] | None:
    if task != "binary":
        return None
    from tabloop.monitor._estimated import estimated_from_cells

    return estimated_from_cells(window, threshold=_threshold(model), labelled=True)


def _threshold(model: Any) -> float:
    return 0.5 if model.threshold is None else float(model.threshold)


def _estimated_metrics(estimated: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if estimated is None else estimated["estimated"]["metrics"]


def _pooled_note(what: str, limit: int, bins: int) -> str:
    return (
        f"{what} more than {limit:,} distinct cells of counts, so its scores are pooled "
        f"into {bins:,} equal-width bins: the confusion-count metrics stay exact, ROC-AUC is "
        f"within its 'error_bound', Brier within 1/{bins:,}, and log loss and the estimated "
        "performance use the bin centres"
    )


def _collapse(table: pd.DataFrame | None, keep: list[str]) -> pd.DataFrame:
    """The counts summed over the chunk (and segment) keys not in ``keep``."""
    assert table is not None
    return compact(table, [*keep, "score", "y", "pred", "has_outcome"])


def _chunk_labels(stats: PartitionStats, plan: Plan) -> dict[int, str]:
    """Chunk key -> label (the label the whole-frame monitor gave those rows)."""
    assert stats.chunk_cells is not None
    keys = sorted(set(stats.chunks) | set(stats.chunk_cells["chunk"].unique().tolist()))
    rows = _ROWS.match(plan.chunk or "")
    if rows:
        size = min(int(rows[1]), max(stats.rows, 1))
        return {k: f"rows {k * size + 1}-{min((k + 1) * size, stats.rows)}" for k in keys}
    span, unit = time_unit(plan.chunk or "")
    assert stats.first is not None
    origin = stats.first.floor("D")
    labels = {}
    for key in keys:
        index = (key * unit - origin.value) // span
        start = origin + pd.Timedelta(index * span, unit="ns")
        labels[key] = start.strftime("%Y-%m-%dT%H:%M")
    return labels


def _chunks(
    stats: PartitionStats,
    plan: Plan,
    columns: list[str],
    package: ModelPackage,
    config: ProjectConfig,
    runner: Runner,
) -> list[dict[str, Any]]:
    """Each chunk's figures, in time order: the chunks' statistics are gathered here and
    their figures computed through ``runner`` in a few batches (a batch per task keeps the
    per-task cost of a cluster small against thousands of daily chunks)."""
    if plan.chunk is None:
        return []
    labels = _chunk_labels(stats, plan)
    merged: dict[str, ChunkStats] = {}
    for key in sorted(stats.chunks):
        label = labels[key]
        merged[label] = (
            merged[label].merge(stats.chunks[key]) if label in merged else stats.chunks[key]
        )
    assert stats.chunk_cells is not None
    table = stats.chunk_cells  # sorted by chunk key: each label's keys are consecutive
    chunk_of = table["chunk"].to_numpy()
    keys: dict[str, list[int]] = {}
    for key, label in labels.items():
        keys.setdefault(label, []).append(key)
    chunks = []
    for label, chunk in merged.items():
        start = int(np.searchsorted(chunk_of, min(keys[label]), side="left"))
        stop = int(np.searchsorted(chunk_of, max(keys[label]), side="right"))
        chunks.append((label, chunk, table.iloc[start:stop]))  # chunk keys are not summed
    batches = np.array_split(np.arange(len(chunks)), min(len(chunks), 4 * runner.workers))
    model = package.model
    figures = runner.map(
        chunk_figures,
        [[chunks[i] for i in batch] for batch in batches],
        description=None,
        profile=runner.share(plan.profile),
        columns=columns,
        settings=config.monitor,
        task=model.task,
        classes=list(model.classes or []),
        threshold=_threshold(model),
        seed=plan.seed,
    )
    return [row for batch in figures for row in batch]


def chunk_figures(
    chunks: list[tuple[str, ChunkStats, pd.DataFrame]],
    *,
    profile: Any,
    columns: list[str],
    settings: Any,
    task: str,
    classes: list[Any],
    threshold: float,
    seed: int,
) -> list[dict[str, Any]]:
    """The report's rows for ``(label, statistics, table of counts)`` chunks: drift against
    the reference summary, short metrics, estimates and, for chunks of at least
    ``min_chunk_rows`` rows, the requirements. Runs where the runner puts it."""
    from tabloop.monitor._estimated import estimated_from_cells

    rows = []
    for label, chunk, part in chunks:
        judged = chunk.rows >= settings.min_chunk_rows
        row: dict[str, Any] = {"chunk": label, "rows": chunk.rows, "judged": judged}
        row["labelled"] = int(part.loc[part["has_outcome"], "count"].sum())
        drift = _drift(profile, chunk.columns, columns, chunk.rows, settings, detail=False)
        row["share_drifted"] = drift.share_drifted
        row["drifted_columns"] = list(drift.drifted_columns)
        perf = realised_from_cells(
            part,
            task=task,
            classes=classes,
            n_boot=SMALL_BOOT if judged else 0,
            seed=seed,
            names=SHORT_METRICS[task],
            curve=False,
        )
        row["metrics"] = perf["metrics"]
        estimated = (
            estimated_from_cells(part, threshold=threshold, labelled=False)
            if task == "binary"
            else None
        )
        row["estimated"] = _estimated_metrics(estimated)
        row["requirements"] = (
            check_production(
                [r for r in settings.requirements if not r.startswith("fairness.")],
                metrics=perf["metrics"],
                estimated=row["estimated"],
                drift={"share_drifted_columns": drift.share_drifted},
                fairness=None,
            )
            if judged
            else []
        )
        rows.append(row)
    return rows


def _window_text(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    if start is None and end is None:
        return "all rows"
    return f"from {start or 'the start'} until {end or 'now'}"
