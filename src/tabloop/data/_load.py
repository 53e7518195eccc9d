"""Read a table from a CSV/Parquet file or a SQL query into a pandas DataFrame."""

from __future__ import annotations

import os
from pathlib import Path

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
    path = Path(source)
    if not path.exists():
        raise DataFileNotFoundError(f"Data file '{path}' does not exist (looked in {Path.cwd()}).")
    if path.is_dir():
        raise DataSourceError(f"Data path '{path}' is a directory; expected a CSV or Parquet file.")
    if path.stat().st_size == 0:
        raise EmptyDataError(f"Data file '{path}' is empty (0 bytes); expected a header and rows.")

    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    kind = suffixes[-1] if suffixes else ""
    if kind in PARQUET_SUFFIXES:
        df = _read_parquet(path)
    elif kind in CSV_SUFFIXES or kind == "":
        df = _read_csv(path, sep="\t" if kind == ".tsv" else ",")
    else:
        raise DataSourceError(
            f"Data file '{path}' has suffix {kind!r}; expected one of .csv, .tsv, .parquet."
        )
    if df.shape[1] == 0:
        raise EmptyDataError(f"Data file '{path}' has no columns.")
    if len(df) == 0:
        raise EmptyDataError(
            f"Data file '{path}' has a header ({df.shape[1]} columns) but no rows."
        )
    return df


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
