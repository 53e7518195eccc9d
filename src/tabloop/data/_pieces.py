"""Many files as one table, cut into pieces that can be read and scored independently.

A source is a file, a folder (every CSV/Parquet file under it) or a glob; local paths or,
through fsspec, URLs such as ``s3://bucket/day=*/`` (with the filesystem's package
installed). A Parquet file is cut at row-group boundaries, so a piece is read without
touching the rest of the file; a CSV file cannot be cut without reading it and is one
piece. A :class:`Piece` is plain data: a Dask worker reads its own piece from the path,
the client never ships rows.

Folders are searched recursively; names starting with ``.`` or ``_`` (``_SUCCESS``,
``_temporary/``, ``.ipynb_checkpoints/``, a killed run's hidden staging folder) are
skipped at every level, and only ``.csv``, ``.tsv``, ``.parquet`` and ``.pq`` files
(compressed CSV too) count as data there.
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
    PARQUET_SUFFIXES,
    _check_file,
    _csv_chunks,
    _first_line,
    _separator,
    kind_of,
    parquet_batches,
)
from tabloop.exceptions import (
    DataFileNotFoundError,
    DataSourceError,
    EmptyDataError,
    MissingDependencyError,
)

#: Rows a piece aims at: Parquet row groups are grouped up to about this many.
PIECE_ROWS = 500_000
#: What a folder or a glob picks up (an explicit file may also be ``.txt``).
FOLDER_KINDS = {".csv", ".tsv", *PARQUET_SUFFIXES}


@dataclass(frozen=True)
class Piece:
    """Rows ``first_row`` .. ``first_row + rows`` of one file (``rows`` None: the whole of
    a CSV file); ``row_groups`` the Parquet row groups that hold them.

    Examples
    --------
    >>> from tabloop.data import find_data_files, plan_pieces
    >>> pieces = plan_pieces(find_data_files("new/"), rows=200_000)  # doctest: +SKIP
    >>> sum(len(chunk) for chunk in pieces[0].read(chunk_rows=50_000))  # doctest: +SKIP
    """

    path: str
    kind: str
    first_row: int = 0
    rows: int | None = None
    row_groups: tuple[int, ...] = ()

    def load(self) -> pd.DataFrame:
        """The whole piece as one frame (a Parquet piece reads its row groups at once)."""
        return pd.concat(self.read(chunk_rows=self.rows or 1_000_000))

    def read(self, *, chunk_rows: int) -> Iterator[pd.DataFrame]:
        """The piece's rows, ``chunk_rows`` at a time, indexed by their row in the file
        (0 is the first row after the header), so a message that names a row names it
        in the file."""
        if self.kind in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            with _open(self.path) as handle, pq.ParquetFile(handle) as file:
                yield from parquet_batches(
                    file,
                    self.path,
                    rows=chunk_rows,
                    row_groups=self.row_groups,
                    first_row=self.first_row,
                )
        else:
            chunks = _csv_chunks(self.path, sep=_separator(self.kind), rows=chunk_rows)
            yield from (chunk for chunk in chunks if len(chunk))


def find_data_files(source: str | os.PathLike[str]) -> list[str]:
    """The CSV/Parquet files of ``source`` (a file, a folder searched recursively, or a
    glob whose matching folders are searched too), sorted; :class:`DataFileNotFoundError`
    when there are none.

    Examples
    --------
    >>> find_data_files("scored/day=2026-12-*/")  # doctest: +SKIP
    ['scored/day=2026-12-01/part-0.parquet', 'scored/day=2026-12-02/part-0.parquet']
    """
    text = os.fspath(source)
    if "://" in text:
        return _remote_files(text)
    if glob.has_magic(text):
        found: list[str] = []
        fixed = next(i for i, part in enumerate(Path(text).parts) if glob.has_magic(part))
        for match in sorted(glob.glob(text, recursive=True)):
            path = Path(match)
            if any(p.startswith((".", "_")) for p in path.parts[fixed:]):
                continue  # what the wildcards matched follows the folder rule
            if path.is_dir():
                found += _folder_files(path)
            elif _is_data(path.name):
                found.append(str(path))
        if not found:
            raise DataFileNotFoundError(
                f"No CSV or Parquet file matches '{text}' (looked in {Path.cwd()})."
            )
        return found
    path = Path(text)
    if path.is_dir():
        files = _folder_files(path)
        if not files:
            raise DataFileNotFoundError(
                f"Folder '{path}' holds no CSV or Parquet file (looked for "
                f"{', '.join(sorted(FOLDER_KINDS))}, skipping names that start with . or _)."
            )
        return files
    return [str(_check_file(path)[0])]


def plan_pieces(files: list[str], *, rows: int = PIECE_ROWS) -> list[Piece]:
    """``files`` cut into pieces of about ``rows`` rows (Parquet) or whole (CSV); files
    without rows give no piece, and :class:`EmptyDataError` when no file has a row."""
    pieces: list[Piece] = []
    for path in files:
        kind = kind_of(path.split("?", 1)[0]) or ".csv"
        if kind in PARQUET_SUFFIXES:
            pieces.extend(_parquet_pieces(path, kind, rows))
        elif "://" in path or os.path.getsize(path) > 0:
            pieces.append(Piece(path, kind))
    if not pieces:
        shown = f"'{files[0]}'" if len(files) == 1 else f"any of {len(files)} files"
        more = "" if len(files) == 1 else f" ('{files[0]}', ...)"
        raise EmptyDataError(f"No rows in {shown}{more}: there is nothing to predict.")
    return pieces


def estimate_table_size(pieces: list[Piece]) -> tuple[int, int]:
    """Rows and columns of the table ``pieces`` cut (:func:`plan_pieces`), without reading
    it: Parquet's counts from its footer; a CSV file's rows estimated from its size and the
    mean length of its first lines (close for a regular, uncompressed table)."""
    import pyarrow.parquet as pq

    rows, columns = 0, 0
    for piece in pieces:
        if piece.rows is not None:
            rows += piece.rows
            if not columns:
                with _open(piece.path) as handle, pq.ParquetFile(handle) as file:
                    columns = file.metadata.num_columns
            continue
        opened = _filesystem(piece.path)[0].open(piece.path, "rb") if "://" in piece.path else None
        with opened or open(piece.path, "rb") as handle:  # noqa: SIM115 - one of two openers
            head = handle.read(1 << 20)
            size = handle.seek(0, os.SEEK_END)
        lines = head.count(b"\n") or 1
        rows += max(int(size / (len(head) / lines)) - 1, 0)  # the header is one line
        if not columns:
            first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
            columns = first.count(_separator(piece.kind)) + 1
    return rows, columns


def _parquet_pieces(path: str, kind: str, rows: int) -> list[Piece]:
    import pyarrow.parquet as pq

    try:
        with _open(path) as handle, pq.ParquetFile(handle) as file:
            meta = file.metadata
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


def _folder_files(folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        hidden = any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)
        if not hidden and path.is_file() and kind_of(path.name) in FOLDER_KINDS:
            found.append(str(path))
    return sorted(found)


def _is_data(name: str) -> bool:
    return not name.startswith((".", "_")) and kind_of(name) in FOLDER_KINDS


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
        raise MissingDependencyError(
            f"Reading '{url}' needs fsspec: pip install 'tabloop[scale]' (and s3fs or gcsfs "
            "for s3:// or gs://)."
        ) from None
    try:
        return url_to_fs(url)
    except ImportError as exc:
        raise MissingDependencyError(
            f"Reading '{url}' needs its filesystem's package: {_first_line(exc)}"
        ) from None
    except ValueError as exc:
        raise DataSourceError(f"Cannot read '{url}': {_first_line(exc)}") from exc


def _remote_files(url: str) -> list[str]:
    fs, path = _filesystem(url)
    protocol = url.split("://", 1)[0]
    try:
        matches = sorted(fs.glob(path)) if glob.has_magic(path) else [path]
        found: list[str] = []
        for match in matches:
            if fs.isdir(match):
                base = match.rstrip("/")
                for name in sorted(fs.find(base)):
                    relative = name[len(base) :].lstrip("/").split("/")
                    if not any(p.startswith((".", "_")) for p in relative) and _is_data(
                        relative[-1]
                    ):
                        found.append(name)
            elif fs.exists(match) and (match == path or _is_data(match.rsplit("/", 1)[-1])):
                found.append(match)
    except OSError as exc:  # credentials, network: the filesystem's own message
        raise DataSourceError(f"Cannot list '{url}': {_first_line(exc)}") from exc
    if not found:
        raise DataFileNotFoundError(f"No CSV or Parquet file at '{url}'.")
    return [f"{protocol}://{p}" for p in found]
