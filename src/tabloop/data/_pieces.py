"""Many files as one table, cut into pieces that can be read and scored independently.

A source is a file, a folder (every CSV/Parquet file under it) or a glob; local paths or,
through fsspec, URLs such as ``s3://bucket/day=*/part-*.parquet`` (with the filesystem's
package installed). A Parquet file is cut at row-group boundaries, so a piece is read
without touching the rest of the file; a CSV file cannot be cut without reading it and is
one piece. A :class:`Piece` is plain data: a Dask worker reads its own piece from the path,
the client never ships rows.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tabloop.data._load import (
    COMPRESSION_SUFFIXES,
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    _check_file,
    _csv_chunks,
    _first_line,
    _separator,
)
from tabloop.exceptions import DataFileNotFoundError, DataSourceError, EmptyDataError

#: Rows a piece aims at: Parquet row groups are grouped up to about this many.
PIECE_ROWS = 500_000


@dataclass(frozen=True)
class Piece:
    """Rows ``first_row`` .. ``first_row + rows`` of one file (``rows`` None: the whole of
    a CSV file); ``row_groups`` the Parquet row groups that hold them."""

    path: str
    kind: str
    first_row: int = 0
    rows: int | None = None
    row_groups: tuple[int, ...] = ()

    def read(self, *, chunk_rows: int) -> Iterator[pd.DataFrame]:
        """The piece's rows, ``chunk_rows`` at a time, indexed by their row in the file
        (0 is the first row after the header), so a message that names a row names it
        in the file."""
        if self.kind in PARQUET_SUFFIXES:
            yield from self._parquet(chunk_rows)
        else:
            sep = _separator(self.kind)
            yield from (c for c in _csv_chunks(self.path, sep=sep, rows=chunk_rows) if len(c))

    def _parquet(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        import pyarrow.parquet as pq

        start = self.first_row
        with _open(self.path) as handle:
            try:
                file = pq.ParquetFile(handle)
                batches = file.iter_batches(batch_size=chunk_rows, row_groups=self.row_groups)
                for batch in batches:
                    frame = batch.to_pandas()
                    frame.index = pd.RangeIndex(start, start + len(frame))
                    start += len(frame)
                    yield frame
            except OSError as exc:
                raise DataSourceError(f"Cannot read '{self.path}' as Parquet: {exc}") from exc


def find_data_files(source: str | os.PathLike[str]) -> list[str]:
    """The CSV/Parquet files of ``source`` (a file, a folder searched recursively, or a
    glob), sorted; :class:`DataFileNotFoundError` when there are none."""
    text = os.fspath(source)
    if "://" in text:
        return _remote_files(text)
    if glob.has_magic(text):
        found = [p for p in sorted(glob.glob(text, recursive=True)) if Path(p).is_file()]
        if not found:
            raise DataFileNotFoundError(f"No file matches '{text}' (looked in {Path.cwd()}).")
        return [str(_check_file(p)[0]) for p in found]
    path = Path(text)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and _is_data(p.name))
        if not found:
            raise DataFileNotFoundError(
                f"Folder '{path}' holds no CSV or Parquet file (looked for "
                f"{', '.join(sorted(CSV_SUFFIXES | PARQUET_SUFFIXES))})."
            )
        return [str(p) for p in found]
    return [str(_check_file(path)[0])]


def plan_pieces(files: list[str], *, rows: int = PIECE_ROWS) -> list[Piece]:
    """``files`` cut into pieces of about ``rows`` rows (Parquet) or whole (CSV); files
    without rows give no piece, and :class:`EmptyDataError` when no file has a row."""
    pieces: list[Piece] = []
    for path in files:
        kind = _kind(path)
        if kind in PARQUET_SUFFIXES:
            pieces.extend(_parquet_pieces(path, kind, rows))
        else:
            pieces.append(Piece(path, kind))
    if not pieces:
        raise EmptyDataError(f"No rows in {_files_text(files)}.")
    return pieces


def _parquet_pieces(path: str, kind: str, rows: int) -> list[Piece]:
    import pyarrow.parquet as pq

    with _open(path) as handle:
        try:
            meta = pq.ParquetFile(handle).metadata
        except Exception as exc:  # pyarrow raises a zoo of types for corrupt files
            raise DataSourceError(f"Cannot read '{path}' as Parquet: {_first_line(exc)}") from exc
    pieces, groups, first, size = [], [], 0, 0
    for group in range(meta.num_row_groups):
        n = meta.row_group(group).num_rows
        if n == 0:
            continue
        groups.append(group)
        size += n
        if size >= rows:
            pieces.append(Piece(path, kind, first, size, tuple(groups)))
            first, groups, size = first + size, [], 0
    if groups:
        pieces.append(Piece(path, kind, first, size, tuple(groups)))
    return pieces


def _kind(path: str) -> str:
    suffixes = [s.lower() for s in Path(path.split("?", 1)[0]).suffixes]
    while suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ".csv"


def _is_data(name: str) -> bool:
    return not name.startswith((".", "_")) and _kind(name) in CSV_SUFFIXES | PARQUET_SUFFIXES


def _files_text(files: list[str]) -> str:
    return f"'{files[0]}'" if len(files) == 1 else f"{len(files)} files ('{files[0]}', ...)"


def _open(path: str) -> Any:
    """What pyarrow opens, in a with-statement: a local path, or an fsspec file."""
    if "://" not in path:
        from contextlib import nullcontext

        return nullcontext(path)  # pyarrow reads a path natively, faster than a handle
    return _filesystem(path)[0].open(path, "rb")


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise DataSourceError(
            f"Reading '{url}' needs fsspec and the filesystem's package "
            "(pip install 'tabloop[scale]' s3fs / gcsfs)."
        ) from None
    try:
        return url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise DataSourceError(f"Cannot read '{url}': {_first_line(exc)}") from exc


def _remote_files(url: str) -> list[str]:
    fs, path = _filesystem(url)
    protocol = url.split("://", 1)[0]
    if glob.has_magic(path):
        found = sorted(fs.glob(path))
    elif fs.isdir(path):
        found = sorted(p for p in fs.find(path) if _is_data(p.rsplit("/", 1)[-1]))
    else:
        found = [path] if fs.exists(path) else []
    if not found:
        raise DataFileNotFoundError(f"No CSV or Parquet file at '{url}'.")
    return [f"{protocol}://{p}" for p in found]
