"""``tabloop store export``: the log as Parquet files partitioned by day, typed columns.

Maintainer note — all or nothing
--------------------------------
The window is read range by range and page by page (never in one query, so memory stays
bounded by a page whatever the window's size) and written to a folder beside the
destination (``.<name>.partial-*``); only when every file is closed is that folder renamed
to the destination, in one step. A failure — the database, a full disk, Ctrl-C — removes
the folder aside, and the destination is as it was. An existing destination that is not
empty is refused unless ``overwrite=True``; it is then replaced only at the end (moved
aside, the new export renamed in, the old one deleted).

Layout: ``DIR/day=YYYY-MM-DD/part-N.parquet`` (hive style, the UTC day of ``created_at``;
a new part every ``FILE_ROWS`` rows of a day), and ``DIR/_tabloop_export.json``, which
says what was exported (window, rows per day, column types, notes). Readers of the folder
(pandas, pyarrow, Dask, Spark) skip files whose name starts with ``_``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tabloop.exceptions import StoreError
from tabloop.store._ranges import LogRange, check_window, parse_bound, split_log
from tabloop.store._schema import LogColumn, LogSchema
from tabloop.store._store import Store
from tabloop.store._typed import (
    LOG_COLUMNS,
    PAGE_ROWS,
    arrow_schema,
    log_schema,
    read_pages,
    typed_columns,
)

if TYPE_CHECKING:
    import pyarrow as pa

#: The hive partition key: no request field may take its name either
DAY = "day"
RANGE_ROWS = 250_000  # rows per range of the schema pass and the export (progress steps)
FILE_ROWS = 1_000_000  # rows per Parquet file before a day starts a new part
MANIFEST = "_tabloop_export.json"


@dataclass
class ExportResult:
    """What :func:`export_log` wrote.

    ``days`` maps each UTC day (``YYYY-MM-DD``) to its rows; ``columns`` each column to its
    Arrow type; ``notes`` says, in one line each, which columns of mixed kinds were declared
    text and which request fields were left out because a log column has their name.
    """

    folder: Path
    rows: int
    days: dict[str, int] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None


def export_log(
    store: Store | str,
    folder: str | Path,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    overwrite: bool = False,
    page_rows: int = PAGE_ROWS,
    file_rows: int = FILE_ROWS,
) -> ExportResult:
    """Write the prediction log (all periods, predictions joined with their outcomes) to
    ``folder`` as Parquet partitioned by day, with inputs and context as typed columns.

    ``since`` is inclusive, ``until`` exclusive (ISO text or datetimes; naive means UTC).
    Columns: those of :func:`read_range` (all the log's own columns), then one per input
    key and per context key that is not an input; none named like a log column or
    ``day``. A key whose values are of several kinds is one text column (see
    :class:`LogSchema`), and :attr:`ExportResult.notes` says so. Nothing is written when
    the window is empty, a bound is not a date, or ``folder`` exists and is not empty
    without ``overwrite``; a failure half-way leaves ``folder`` as it was (module note).
    ``page_rows`` predictions are read per query; a day's file is closed, and the next part
    started, once it holds at least ``file_rows`` rows.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from datetime import UTC, datetime
    >>> from tabloop.store import PredictionRecord, Store
    >>> home = pathlib.Path(tempfile.mkdtemp())
    >>> store = Store(Store.default_url(home))
    >>> store.open()
    >>> record = PredictionRecord("p1", datetime(2026, 12, 5, 8, tzinfo=UTC), "A", "churn",
    ...     "3", None, None, {"age": 41}, {}, "yes", 0.8, None, 2.0)
    >>> store.insert_predictions([record])
    1
    >>> result = export_log(store, home / "export")
    >>> result.rows, result.days, result.columns["age"]
    (1, {'2026-12-05': 1}, 'int64')
    >>> store.close()
    """
    from tabloop._progress import Bars

    start, end = parse_bound(since, name="since"), parse_bound(until, name="until")
    check_window(start, end)
    target = Path(folder)
    _check_target(target, overwrite=overwrite)
    log = Store(store) if isinstance(store, str) else store
    try:
        _check_schema(log)
        with Bars() as bars:
            ranges, schema = _survey(log, start, end, bars)
            names, spread = typed_columns(schema, LOG_COLUMNS, reserved=[DAY])
            types = arrow_schema(schema, names, spread)
            result = ExportResult(target, 0, since=start, until=end)
            result.columns = {f.name: str(f.type) for f in types}
            result.notes = _notes(schema, spread)
            aside = _aside(target)
            try:
                with _DayFiles(aside, types, file_rows) as files:
                    writing = bars.add("Writing Parquet", sum(part.rows for part in ranges))
                    for part in ranges:
                        for page in read_pages(
                            log, part, schema=schema, reserved=[DAY], page_rows=page_rows
                        ):
                            files.write(page)
                            bars.advance(writing, len(page))
                result.rows, result.days = files.rows, files.days
                (aside / MANIFEST).write_text(json.dumps(_manifest(result), indent=2) + "\n")
                _move_into_place(aside, target)
            except OSError as exc:
                shutil.rmtree(aside, ignore_errors=True)
                raise StoreError(
                    f"Could not write the export to {target}: {exc.strerror or exc}; nothing "
                    "was written. Check the free space and permissions there."
                ) from exc
            except BaseException:
                shutil.rmtree(aside, ignore_errors=True)
                raise
    finally:
        if log is not store:
            log.close()
    return result


def _survey(
    log: Store, start: datetime | None, end: datetime | None, bars: Any
) -> tuple[list[LogRange], LogSchema]:
    """The window's ranges and its schema (one schema query per range, for the progress
    bar); :class:`StoreError` when the window is empty."""
    ranges = split_log(log, since=start, until=end, part_rows=RANGE_ROWS)
    if not ranges:
        raise StoreError(
            f"The prediction log at {log.url} holds no predictions {_describe(start, end)}; "
            "nothing was written. Widen --since/--until (`tabloop store status` shows the log)."
        )
    reading = bars.add("Reading column types", len(ranges))
    schemas = []
    for part in ranges:
        schemas.append(log_schema(log, [part]))
        bars.advance(reading)
    return ranges, LogSchema.combine(schemas)


def _notes(schema: LogSchema, spread: list[LogColumn]) -> list[str]:
    """The columns declared text for their mixed kinds, and the request fields left out."""
    whole = [schema.value("prediction"), schema.value("outcome")]
    notes = [c.note for c in (*whole, *spread) if c.note]
    return notes + [
        f"{name} not exported: a column of the export has its name"
        for name in schema.shadowed({*LOG_COLUMNS, DAY})
    ]


def _aside(target: Path) -> Path:
    """A new hidden folder beside ``target`` to write the export into."""
    try:
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    except OSError as exc:
        raise StoreError(
            f"Could not create a folder beside {target}: {exc.strerror or exc}; nothing was "
            "written. Check the permissions of its parent folder."
        ) from exc


def _describe(since: datetime | None, until: datetime | None) -> str:
    if since is None and until is None:
        return "at all"
    parts = [
        f"from {since.isoformat()}" if since else "",
        f"before {until.isoformat()}" if until else "",
    ]
    return " ".join(p for p in parts if p)


def _check_target(target: Path, *, overwrite: bool) -> None:
    """Refuse a destination the export would have to write over, before reading anything."""
    if target.exists() and not target.is_dir():
        raise StoreError(f"{target} exists and is not a folder; give a folder to export into.")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise StoreError(
            f"{target} exists and is not empty; give an empty or new folder, or --overwrite "
            "to replace it."
        )
    if not target.parent.is_dir():
        raise StoreError(f"The folder {target.parent} does not exist; create it first.")


def _check_schema(store: Store) -> None:
    status = store.status()
    if status.state == "empty":
        raise StoreError(f"The prediction log at {store.url} has no tables yet; nothing to export.")
    if status.problem is not None:
        raise StoreError(status.problem)


def _manifest(result: ExportResult) -> dict[str, Any]:
    return {
        "since": result.since.isoformat() if result.since else None,
        "until": result.until.isoformat() if result.until else None,
        "rows": result.rows,
        "days": result.days,
        "columns": result.columns,
        "notes": result.notes,
    }


def _move_into_place(aside: Path, target: Path) -> None:
    """Rename the finished export to ``target``; an old ``target`` is moved away first and
    deleted only once the new one is in place."""
    if target.is_dir() and any(target.iterdir()):
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
        try:
            os.replace(aside, target)
        except BaseException:
            os.replace(old / target.name, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    if target.is_dir():
        target.rmdir()
    os.replace(aside, target)


class _DayFiles:
    """One open Parquet writer at a time: pages arrive in time order, so a day's rows are
    contiguous; a day starts a new part once a part holds ``file_rows`` rows."""

    def __init__(self, folder: Path, schema: pa.Schema, file_rows: int) -> None:
        self.folder, self.schema, self.file_rows = folder, schema, file_rows
        self.rows = 0
        self.days: dict[str, int] = {}
        self._writer: Any = None
        self._day: str | None = None
        self._part = 0
        self._in_file = 0

    def __enter__(self) -> _DayFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()

    def write(self, page: pa.Table) -> None:
        import numpy as np
        import pyarrow as pa

        days = page["created_at"].cast(pa.date32()).to_numpy().astype("datetime64[D]")
        cuts = [0, *(np.flatnonzero(days[1:] != days[:-1]) + 1).tolist(), len(page)]
        for lo, hi in zip(cuts, cuts[1:], strict=False):
            self._write(str(days[lo]), page.slice(lo, hi - lo))

    def _write(self, day: str, rows: pa.Table) -> None:
        import pyarrow.parquet as pq

        if day != self._day or self._in_file >= self.file_rows:
            self._close()
            self._part = self._part + 1 if day == self._day else 0
            self._day, self._in_file = day, 0
            path = self.folder / f"{DAY}={day}" / f"part-{self._part}.parquet"
            path.parent.mkdir(exist_ok=True)
            self._writer = pq.ParquetWriter(path, self.schema)
        self._writer.write_table(rows)
        self._in_file += len(rows)
        self.rows += len(rows)
        self.days[day] = self.days.get(day, 0) + len(rows)

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
