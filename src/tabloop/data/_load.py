"""Read a table from a CSV/Parquet file (whole or in chunks) or a SQL query into pandas."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tabloop.exceptions import DataFileNotFoundError, DataSourceError, EmptyDataError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
COMPRESSION_SUFFIXES = {".gz", ".bz2", ".zip", ".xz", ".zst"}


def load_data(source: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV (optionally compressed) or Parquet file.

    Parameters
    ----------
    source : path to a ``.csv``/``.tsv`` (``.gz``, ``.zip``, ... allowed) or ``.parquet`` file.

    Raises
    ------
    DataFileNotFoundError : the file does not exist.
    EmptyDataError : the file is empty, or has a header but no rows.
    DataSourceError : the file cannot be parsed.

    Examples
    --------
    >>> import tabloop
    >>> df = tabloop.load_data("../shared/datasets/titanic.csv")  # doctest: +SKIP
    """
    path, kind = _check_file(source)
    df = _read_parquet(path) if kind in PARQUET_SUFFIXES else _read_csv(path, sep=_separator(kind))
    if df.shape[1] == 0:
        raise EmptyDataError(f"Data file '{path}' has no columns.")
    if len(df) == 0:
        raise EmptyDataError(_no_rows(path, df.shape[1]))
    return df


def read_chunks(source: str | os.PathLike[str], *, rows: int) -> Iterator[pd.DataFrame]:
    """Read a CSV (optionally compressed) or Parquet file ``rows`` rows at a time.

    The file is checked when this is called, before any chunk is read, and fails as
    :func:`load_data` does; a file with a header and no rows raises :class:`EmptyDataError`
    once iterated. Chunks without rows are skipped.

    Examples
    --------
    >>> from tabloop.data import read_chunks
    >>> sizes = [len(c) for c in read_chunks("big.csv", rows=50_000)]  # doctest: +SKIP
    """
    path, kind = _check_file(source)
    if kind in PARQUET_SUFFIXES:
        return _with_rows(path, _parquet_chunks(path, rows))
    return _with_rows(path, _csv_chunks(path, sep=_separator(kind), rows=rows))


def _check_file(source: str | os.PathLike[str]) -> tuple[Path, str]:
    """The path of an existing, non-empty file of a readable kind, and that kind's suffix."""
    path = Path(source)
    if not path.exists():
        raise DataFileNotFoundError(f"Data file '{path}' does not exist (looked in {Path.cwd()}).")
    if path.is_dir():
        raise DataSourceError(f"Data path '{path}' is a directory; expected a CSV or Parquet file.")
    if path.stat().st_size == 0:
        raise EmptyDataError(f"Data file '{path}' is empty (0 bytes); expected a header and rows.")
    kind = kind_of(path.name)
    if kind not in PARQUET_SUFFIXES | CSV_SUFFIXES | {""}:
        raise DataSourceError(
            f"Data file '{path}' has suffix {kind!r}; expected one of .csv, .tsv, .parquet."
        )
    return path, kind


def kind_of(name: str) -> str:
    """The data suffix of a file name, compression suffixes aside (``a.csv.gz`` -> ``.csv``);
    ``""`` when it has none."""
    suffixes = [s.lower() for s in Path(name).suffixes]
    while suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _separator(kind: str) -> str:
    return "\t" if kind == ".tsv" else ","


def _no_rows(path: Path, columns: int) -> str:
    if columns:
        return f"Data file '{path}' has a header ({columns} columns) but no rows."
    return f"Data file '{path}' has no rows."


def _read_csv(path: Path, *, sep: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError as exc:
        raise EmptyDataError(f"Data file '{path}' has no header and no rows.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataSourceError(f"Cannot parse '{path}' as CSV: {_first_line(exc)}") from exc


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises a zoo of types for corrupt files
        raise DataSourceError(f"Cannot read '{path}' as Parquet: {_first_line(exc)}") from exc


def _csv_chunks(path: Path, *, sep: str, rows: int) -> Iterator[pd.DataFrame]:
    try:  # reads the header now, so a file without one fails on the call
        reader = pd.read_csv(path, sep=sep, chunksize=rows)
    except pd.errors.EmptyDataError as exc:
        raise EmptyDataError(f"Data file '{path}' has no header and no rows.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataSourceError(f"Cannot parse '{path}' as CSV: {_first_line(exc)}") from exc

    def chunks() -> Iterator[pd.DataFrame]:
        with reader:
            try:
                yield from reader
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
                raise DataSourceError(f"Cannot parse '{path}' as CSV: {_first_line(exc)}") from exc

    return chunks()


def _parquet_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except Exception as exc:  # as in _read_parquet
        raise DataSourceError(f"Cannot read '{path}' as Parquet: {_first_line(exc)}") from exc

    def chunks() -> Iterator[pd.DataFrame]:
        with file:
            yield file.schema_arrow.empty_table().to_pandas()  # the columns, for _with_rows
            yield from parquet_batches(file, path, rows=rows)

    return chunks()


def parquet_batches(
    file: Any, path: Any, *, rows: int, row_groups: Sequence[int] | None = None, first_row: int = 0
) -> Iterator[pd.DataFrame]:
    """The rows of an open ``pyarrow.parquet.ParquetFile`` (of ``row_groups``), ``rows`` at
    a time, indexed by their row in the file from ``first_row``; a corrupt page is a
    :class:`DataSourceError` naming ``path``."""
    start = first_row
    try:
        for batch in file.iter_batches(batch_size=rows, row_groups=row_groups):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame
    except Exception as exc:  # as in _read_parquet
        raise DataSourceError(f"Cannot read '{path}' as Parquet: {_first_line(exc)}") from exc


def _with_rows(path: Path, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``chunks`` without the empty ones; :class:`EmptyDataError` if none had a row."""
    columns = rows = 0
    for chunk in chunks:
        columns = chunk.shape[1]
        if len(chunk):
            rows += len(chunk)
            yield chunk
    if rows == 0:
        raise EmptyDataError(_no_rows(path, columns))


def load_sql(query: str, url: str) -> pd.DataFrame:
    """Run ``query`` against the database at SQLAlchemy ``url`` and return the rows.

    ``$VARS`` in the URL are expanded from the environment, so passwords need not be
    written in ``tabloop.yaml``. The password is masked in every message.
    """
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    expanded = os.path.expandvars(url)
    try:
        parsed = make_url(expanded)
    except Exception as exc:
        raise DataSourceError(
            f"SQL URL {url!r} is not a valid SQLAlchemy URL "
            "(expected e.g. 'postgresql+psycopg://user@host:5432/db' or 'sqlite:///file.db')."
        ) from exc
    shown = parsed.render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(parsed)
    except Exception as exc:  # unknown dialect or driver not installed
        raise DataSourceError(f"Cannot use SQL URL '{shown}': {_first_line(exc)}") from exc
    try:
        connection = engine.connect()
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        reason = _first_line(getattr(exc, "orig", None) or exc)
        raise DataSourceError(f"Cannot connect to database '{shown}': {reason}") from exc
    try:
        df = pd.read_sql_query(sa.text(query), connection)
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) else exc
        reason = _first_line(getattr(cause, "orig", None) or cause or exc)
        raise DataSourceError(f"Query failed on '{shown}': {reason}") from exc
    finally:
        connection.close()
        engine.dispose()
    if len(df) == 0:
        raise EmptyDataError(f"SQL query on '{shown}' returned no rows.")
    return df


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
