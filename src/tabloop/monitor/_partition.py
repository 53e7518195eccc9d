"""The monitor's map step: a partition of production rows -> mergeable statistics.

Maintainer note
---------------
``monitor`` is map -> merge -> statistics. :func:`partition_statistics` turns one partition
(a DataFrame, or a zero-argument callable that loads one, so a cluster worker reads its own
piece) into a :class:`PartitionStats`; :meth:`PartitionStats.merge` is associative; the
report is computed from the merged statistics (``_monitor._report``). One process runs the
map with the built-in ``map``; a cluster passes its own ``map(func, items) -> list`` (same
order), e.g. ``tabloop.scale``'s Dask runner. Everything here pickles: the plan, the items
(DataFrames or picklable loaders such as :class:`ParquetPiece`), and the statistics.

What a partition yields, for the window and (with ``chunk``) per chunk:

- per drift column, :mod:`tabloop.monitor._column_stats` (counts, bin counts, KLL sketch);
- ``cells``: counts per (segment, score, outcome, prediction, has outcome), from which the
  window's realised metrics, segment figures and CBPE are computed (``_performance``,
  ``_estimated``); ``chunk_cells`` the same per chunk instead of per segment. Each is a
  table of counts of ``tabloop.evaluate`` (``count_cells``, ``merge_cells``), bounded:
  beyond ``MAX_CELLS`` (``CHUNK_CELLS``) cells its scores are pooled into bins;
- ``fairness``: counts per (fairness segment, protected values, outcome, prediction, human
  decision) of the labelled rows;
- ``sample``: a uniform sample of the window for the multivariate drift classifier: each row
  gets a uniform key from a stream seeded by (seed, partition position), and the
  ``sample_rows`` smallest keys are kept, within a partition and again at each merge (a
  bottom-k sample: uniform without replacement over all rows, for a given partitioning).

*Chunks across partitions.* A time chunk's key is the row's time in units of
``gcd(chunk span, 1 day)`` since the epoch; chunks start at midnight UTC of the window's
first day plus whole spans, so every chunk is a union of such units, mapped to chunk labels
once the window's first time is known (at the end). A row-count chunk needs each
partition's first row number: partitions count their rows in a first map, then the
statistics map gets the offsets (rows are numbered in partition order, and by time within
a partition, as the whole frame was).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tabloop.evaluate import CHUNK_CELLS, MAX_CELLS, merge_cells
from tabloop.exceptions import MonitorError
from tabloop.monitor import _production as prod
from tabloop.monitor._column_stats import (
    KLL_K,
    ColumnStats,
    column_stats_by_run,
    merge_columns,
)
from tabloop.monitor._performance import cells, segment_keys
from tabloop.monitor._windows import _ROWS as ROWS
from tabloop.monitor._windows import _SPAN as SPAN
from tabloop.monitor._windows import _UNITS as UNITS
from tabloop.monitor._windows import select

#: Rows per partition when the one-process path reads a file.
PARTITION_ROWS = 200_000
#: Rows of the multivariate drift sample.
SAMPLE_ROWS = 5000
#: KLL size of the per-chunk sketches (the window's use ``_column_stats.KLL_K``).
CHUNK_KLL_K = 1000
_KEY = "\x00key"
_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class Plan:
    """What every partition needs to know: settings only, no rows (pickled to workers)."""

    profile: Any  # ReferenceProfile
    columns: tuple[str, ...]
    task: str
    classes: tuple[Any, ...]
    segment: str | None = None
    fairness: Any = None  # the fairness settings (pydantic model: pickles)
    chunk: str | None = None
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    normalise: bool = True  # rows of a file: prod.from_file, then sorted by time
    log_model: tuple[str, str] | None = None  # log rows: keep this (model name, version)
    outcome: str | None = None
    time: str | None = None
    source: str = "the data"  # what the rows come from, named in errors
    sample_columns: tuple[str, ...] = ()
    sample_rows: int = SAMPLE_ROWS
    seed: int = 0


@dataclass
class ChunkStats:
    rows: int = 0
    columns: dict[str, ColumnStats] = field(default_factory=dict)

    def merge(self, other: ChunkStats) -> ChunkStats:
        return ChunkStats(self.rows + other.rows, merge_columns(self.columns, other.columns))


@dataclass
class PartitionStats:
    """Mergeable statistics of some rows of the window (see the module note)."""

    rows: int = 0
    partitions: int = 1
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    versions: frozenset[str] = frozenset()
    present: frozenset[str] = frozenset()  # columns of the partition's frame
    columns: dict[str, ColumnStats] = field(default_factory=dict)
    chunks: dict[int, ChunkStats] = field(default_factory=dict)
    cells: pd.DataFrame | None = None
    chunk_cells: pd.DataFrame | None = None
    fairness: Any = None  # a counts table, or the sentence saying why there is none
    sample: pd.DataFrame | None = None
    sample_rows: int = SAMPLE_ROWS
    # log rows of the window by model version, before keeping the monitored one's
    log_versions: dict[str, int] = field(default_factory=dict)

    def merge(self, other: PartitionStats) -> PartitionStats:
        chunks = dict(self.chunks)
        for key, stats in other.chunks.items():
            chunks[key] = chunks[key].merge(stats) if key in chunks else stats
        return PartitionStats(
            rows=self.rows + other.rows,
            partitions=self.partitions + other.partitions,
            first=_extreme(min, self.first, other.first),
            last=_extreme(max, self.last, other.last),
            versions=self.versions | other.versions,
            present=self.present | other.present,
            columns=merge_columns(self.columns, other.columns),
            chunks=chunks,
            cells=_merge_tables(self.cells, other.cells),
            chunk_cells=_merge_tables(self.chunk_cells, other.chunk_cells, CHUNK_CELLS),
            fairness=_merge_fairness(self.fairness, other.fairness),
            sample=_merge_samples(self.sample, other.sample, self.sample_rows),
            sample_rows=self.sample_rows,
            log_versions={
                v: self.log_versions.get(v, 0) + other.log_versions.get(v, 0)
                for v in {**self.log_versions, **other.log_versions}
            },
        )


def merge_all(parts: list[PartitionStats]) -> PartitionStats:
    """Merge a list of statistics, pairwise as a tree (the order does not change the result)."""
    if not parts:
        raise MonitorError("No partition of production rows was given; pass at least one.")
    while len(parts) > 1:
        parts = [
            parts[i].merge(parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0]


# -- the map ------------------------------------------------------------------------------------
def load(plan: Plan, item: Any) -> tuple[pd.DataFrame, dict[str, int]]:
    """The partition's rows in the window: loaded, normalised, selected, in time order; and
    for log rows, the window's rows per model version before the monitored one's are kept."""
    frame = item() if callable(item) else item
    if not isinstance(frame, pd.DataFrame):
        raise MonitorError(
            f"A partition must be a pandas DataFrame or a callable that returns one; got "
            f"{type(frame).__name__}."
        )
    versions: dict[str, int] = {}
    if plan.normalise:
        frame = prod.from_file(frame, outcome=plan.outcome, time=plan.time, source=plan.source)
    elif plan.log_model is not None:
        log, frame = frame, prod.from_log(frame)
        frame = select(frame, time=prod.TIME, since=plan.since, until=plan.until)
        log = log.loc[frame.index]
        version = frame[prod.VERSION].astype(str)
        versions = {str(k): int(v) for k, v in version.value_counts().items()}
        name, wanted = plan.log_model
        mine = (log["model_name"] == name).to_numpy() & (version == wanted).to_numpy()
        frame = frame[mine]
    frame = select(frame, time=prod.TIME, since=plan.since, until=plan.until)
    if plan.normalise:
        frame = frame.sort_values(prod.TIME, kind="stable")
    return frame.reset_index(drop=True), versions


def count_rows(plan: Plan, item: Any) -> int:
    """Rows of a partition in the window (the first map of row-count chunks)."""
    return len(load(plan, item)[0])


def partition_statistics(plan: Plan, task: tuple[int, Any, int]) -> PartitionStats:
    """The statistics of one partition: ``task`` is (position, item, first row number)."""
    position, item, offset = task
    frame, log_versions = load(plan, item)
    n = len(frame)
    times = frame[prod.TIME]
    present = frozenset(str(c) for c in frame.columns)
    columns = [c for c in plan.columns if c in frame.columns]
    keys = chunk_keys(frame, plan, offset)
    out = PartitionStats(
        rows=n,
        first=times.min() if times.notna().any() else None,
        last=times.max() if times.notna().any() else None,
        versions=frozenset(str(v) for v in frame[prod.VERSION].dropna().unique() if str(v)),
        present=present,
        sample_rows=plan.sample_rows,
        log_versions=log_versions,
    )
    bounds = np.append(np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]), n) if n else []
    chunked = plan.chunk is not None and n > 0
    runs = [(int(a), int(b), CHUNK_KLL_K) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    runs = [*(runs if chunked else []), (0, n, KLL_K)]  # the chunks, then the partition whole
    stats = {c: column_stats_by_run(plan.profile[c], frame[c], runs) for c in columns}
    out.columns = {c: stats[c][-1] for c in columns}
    if chunked:
        for i, (start, stop, _) in enumerate(runs[:-1]):
            chunk = {c: stats[c][i] for c in columns}
            out.chunks[int(keys[start])] = ChunkStats(stop - start, chunk)
    task, classes = plan.task, list(plan.classes)
    by = {}
    if plan.segment and plan.segment in frame.columns:
        by["segment"] = segment_keys(frame[plan.segment])
    out.cells = cells(frame, task=task, classes=classes, by=by)
    if chunked:
        chunks = {"chunk": keys}
        out.chunk_cells = cells(frame, task=task, classes=classes, by=chunks, max_cells=CHUNK_CELLS)
    if plan.fairness is not None:
        from tabloop.monitor._fairness import fairness_cells

        out.fairness = fairness_cells(frame, plan.fairness, classes=list(plan.classes))
    out.sample = _sample(frame, plan, position)
    return out


def chunk_keys(frame: pd.DataFrame, plan: Plan, offset: int) -> np.ndarray:
    """Each row's chunk key (see the module note): 0 without chunks."""
    n = len(frame)
    if plan.chunk is None:
        return np.zeros(n, dtype=np.int64)
    rows = ROWS.match(plan.chunk)
    if rows:
        size = int(rows[1])
        if size < 1:
            raise MonitorError(f"chunk {plan.chunk!r}: a chunk needs at least 1 row.")
        # a chunk larger than any int64 row number holds every row (and must not overflow)
        size = min(size, np.iinfo(np.int64).max)
        return (offset + np.arange(n, dtype=np.int64)) // size
    times = frame[prod.TIME]
    if times.isna().any():
        raise MonitorError(
            f"chunk {plan.chunk!r} cuts by time, but {int(times.isna().sum())} rows have no "
            "time; give the rows a time column or chunk by row count."
        )
    unit = time_unit(plan.chunk)[1]
    stamps = times.dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy()
    return np.floor_divide(stamps, unit)


def time_unit(chunk: str) -> tuple[int, int]:
    """A time chunk's span and key unit ``gcd(span, 1 day)``, in nanoseconds."""
    span = SPAN.match(chunk)
    if not span or int(span[1]) < 1:
        raise MonitorError(
            f"chunk {chunk!r} is not a span like '12h', '1d', '1w' or a row count like '500'."
        )
    try:
        delta = pd.Timedelta(**{UNITS[span[2]]: int(span[1])})
    except (OverflowError, ValueError):
        raise MonitorError(
            f"chunk {chunk!r} is longer than the span times can hold (about 292 years)."
        ) from None
    nanos = int(delta.value)
    return nanos, math.gcd(nanos, _DAY)


# -- merging helpers ----------------------------------------------------------------------------
def _extreme(pick: Any, a: pd.Timestamp | None, b: pd.Timestamp | None) -> pd.Timestamp | None:
    if a is None or b is None:
        return a if b is None else b
    return pick(a, b)


def _merge_tables(
    a: pd.DataFrame | None, b: pd.DataFrame | None, max_cells: int = MAX_CELLS
) -> pd.DataFrame | None:
    if a is None or b is None:
        return a if b is None else b
    return merge_cells([a, b], max_cells)


def _merge_fairness(a: Any, b: Any) -> Any:
    if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame):
        return merge_cells([a, b])
    if isinstance(a, str) or isinstance(b, str):
        return a if isinstance(a, str) else b
    return a if b is None else b


def _sample(frame: pd.DataFrame, plan: Plan, position: int) -> pd.DataFrame | None:
    columns = [c for c in plan.sample_columns if c in frame.columns]
    if not columns or not len(frame):
        return None
    keys = np.random.default_rng([plan.seed, position]).random(len(frame))
    keep = np.argsort(keys, kind="stable")[: plan.sample_rows]
    sample = frame.iloc[np.sort(keep)][columns].reset_index(drop=True)
    sample[_KEY] = keys[np.sort(keep)]
    return sample


def _merge_samples(a: pd.DataFrame | None, b: pd.DataFrame | None, size: int) -> Any:
    if a is None or b is None:
        return a if b is None else b
    both = pd.concat([a, b], ignore_index=True)
    return both.nsmallest(size, _KEY, keep="first").sort_values(_KEY).reset_index(drop=True)


def sample_rows(sample: pd.DataFrame | None) -> pd.DataFrame | None:
    """The merged sample without its keys (in key order: random, but reproducible)."""
    return None if sample is None else sample.drop(columns=_KEY)


# -- partitions of the log and of a file --------------------------------------------------------
@dataclass(frozen=True)
class LogPiece:
    """A time range of the prediction log (``tabloop.store.LogRange``), read when called
    with the window's column types (picklable: a worker reads its own range)."""

    url: str
    part: Any
    schema: Any

    def __call__(self) -> pd.DataFrame:
        from tabloop.store import read_range

        return read_range(self.url, self.part, schema=self.schema, columns=prod.LOG_READ)


def log_partitions(
    url: str, *, since: Any, until: Any, variant: str | None, rows: int = PARTITION_ROWS
) -> list[LogPiece]:
    """The window of the log cut into time ranges of about ``rows`` rows."""
    from tabloop.store import LogRange, log_schema, split_log

    ranges = split_log(url, since=since, until=until, variant=variant, part_rows=rows)
    if not ranges:
        return [LogPiece(url, LogRange(None, None, variant), None)]
    schema = log_schema(url, ranges)
    return [LogPiece(url, part, schema) for part in ranges]


def file_partitions(source: Any, *, rows: int = PARTITION_ROWS) -> Iterator[Any]:
    """The partitions of a file, a folder of files or a glob (:func:`tabloop.data.
    find_data_files`): a Parquet piece of about ``rows`` rows as a loader a worker calls
    to read it itself, a CSV file as its frames of ``rows`` rows (read here: a CSV file
    cannot be cut without reading it)."""
    from tabloop.data import find_data_files, plan_pieces

    pieces = plan_pieces(find_data_files(source), rows=rows)  # bad paths fail here, now

    def partitions() -> Iterator[Any]:
        for piece in pieces:
            if piece.row_groups:
                yield piece.load
            else:
                yield from piece.read(chunk_rows=rows)

    return partitions()
