"""Dataframe access in one place: dtype tests, value coercion, category keys.

Every other module asks these helpers rather than poking at pandas dtypes directly, so a
change of backend (pyarrow-backed strings in pandas 3, Dask partitions) touches this file only.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from tabloop.exceptions import ColumnNotFoundError, DataError

#: Strings read as booleans (case-insensitive), as CSV files and JSON requests spell them.
BOOL_STRINGS = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}


def is_bool(series: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(series.dtype)


def is_numeric(series: pd.Series) -> bool:
    """True for int/float columns (booleans excluded)."""
    return pd.api.types.is_numeric_dtype(series.dtype) and not is_bool(series)


def is_datetime(series: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(series.dtype)


def to_numeric(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Coerce to float; return the values and a mask of entries that were present but invalid.

    The Series form of :func:`numeric_array`: one rule for what counts as a number.
    """
    numbers, invalid = numeric_array(series, missing_mask(series))
    return (
        pd.Series(numbers, index=series.index, name=series.name),
        pd.Series(invalid, index=series.index, name=series.name),
    )


def to_datetime(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Coerce to datetime; return values and a mask of present-but-unparseable entries.

    Each text is parsed on its own (``format="mixed"``); texts with different UTC offsets
    are converted to UTC.
    """
    if is_datetime(series):
        return series, pd.Series(False, index=series.index)
    try:
        values = pd.to_datetime(series, errors="coerce", format="mixed")
    except ValueError:  # "Mixed timezones detected": one clock, UTC
        values = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
    invalid = values.isna() & series.notna()
    return values, invalid


def time_values(series: pd.Series) -> pd.Series:
    """A time or sequence column as values that sort in time: numbers as floats, anything
    else as naive datetimes in UTC (:func:`to_datetime`); missing where a value is missing
    or unparseable. The one reading of time behind the time split, the time folds, the
    time sample and ``features.lags``, so all of them order the rows alike."""
    if is_numeric(series):
        return series.astype("float64")
    values = to_datetime(series)[0]
    if not is_datetime(values):  # object dtype: parsed values with several time zones
        values = pd.to_datetime(values, errors="coerce", utc=True)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values


def as_texts(series: pd.Series) -> list[str]:
    """The column as free text: a missing value is the empty text, any other value its
    ``str`` (what TF-IDF reads, in the profile and in ``tabloop.prepare.EncodeText``)."""
    values = series.astype(object).where(series.notna(), "")
    return [v if isinstance(v, str) else str(v) for v in values.tolist()]


def category_keys(series: pd.Series) -> pd.Series:
    """Map values to the strings used to compare categories across sources.

    A category observed as ``1`` in a CSV must match ``1``, ``1.0`` or ``"1"`` in a JSON
    request, so integral numbers are written without a decimal part, and booleans as
    ``true``/``false``, whatever container (numpy, nullable, object) they arrive in.
    """
    if pd.api.types.is_object_dtype(series.dtype):
        held = pd.api.types.infer_dtype(series, skipna=True)
        if held == "empty":
            return series.astype("string")
        if held == "boolean":
            series = series.astype("boolean")
        elif held in ("integer", "floating", "mixed-integer-float", "decimal"):
            series = series.astype("float64")
        elif held.startswith("mixed"):
            return series.map(category_key, na_action="ignore").astype("string")
    if is_bool(series):
        return series.astype("string").str.lower()
    if is_numeric(series):
        values = series.astype("float64")
        integral = values.notna() & np.isfinite(values) & (values == np.round(values))
        out = values.astype("string")
        if integral.any():
            out = out.where(~integral, values[integral].astype("int64").astype("string"))
        return out.where(values.notna())
    return series.astype("string")


#: Integers up to this magnitude are exact as float64: beyond it, a column's dtype (int64,
#: float64 or object, as pandas infers it from the other values) changes its key.
EXACT_INTEGER = 2**53


class Unclean(Exception):
    """Internal: a value outside the domain where a numpy replay provably agrees with the
    DataFrame path (a number sent as text, a list, an integer beyond 2**53 as a category);
    the caller takes the DataFrame path for the whole request."""


def strict_category_key(value: Any) -> str | None:
    """:func:`category_key` of one JSON scalar where it is certainly what
    :func:`category_keys` gives, whatever dtype pandas infers for the column the value
    lands in; ``None`` for a missing value; :class:`Unclean` when that is not certain
    (other types, numbers beyond :data:`EXACT_INTEGER`, infinities).

    The one rule for request values, shared by the numpy replays of ``prepare`` and by
    the service's records-level validation.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is None or (kind is float and value != value):
        return None
    if kind is bool or ((kind is int or kind is float) and abs(value) <= EXACT_INTEGER):
        return category_key(value)
    raise Unclean


def float_category_key(value: float) -> str | None:
    """:func:`category_keys` of one value of a float64 column (``None`` for NaN)."""
    if value != value:
        return None
    if value.is_integer() and abs(value) >= 2**63:
        return str(value)  # beyond int64, pandas keeps the float's own text
    return category_key(value)


def unseen_message(column: str, values: Iterable[Any]) -> str:
    """The start of every message about categories never seen in training."""
    shown = ", ".join(repr(v) for v in values)
    return f"Column {column!r} has value(s) never seen in training: {shown}"


def category_key(value: Any) -> str:
    """The scalar version of :func:`category_keys`, for values from a schema or config."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


#: Up to this many values, object arrays are checked with plain Python (cheaper than the
#: fixed cost of a pandas operation); above it, with pandas' vectorised, hashed operations.
SMALL = 512


def missing_mask(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy() if len(series) > SMALL else pd.isna(series.to_numpy())


def numeric_array(series: pd.Series, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float values and a mask of present-but-not-numeric entries."""
    if is_numeric(series) or is_bool(series):
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        return numbers, np.zeros(len(series), dtype=bool)
    numbers = None
    if len(series) > SMALL:
        with contextlib.suppress(OverflowError):  # a Python int beyond float: value by value
            numbers = pd.to_numeric(series, errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan
            )
    if numbers is None:
        numbers = np.array([_to_float(v) for v in series.to_numpy()], dtype="float64")
    return numbers, np.isnan(numbers) & ~missing


def _to_float(value: Any) -> float:
    if value is None or value is pd.NA:
        return np.nan
    if isinstance(value, str):
        value = value.strip()
    try:
        return float(value)
    except OverflowError:  # an integer beyond float's range
        return np.inf if value > 0 else -np.inf
    except (TypeError, ValueError):
        return np.nan


def invalid_bool_array(series: pd.Series, missing: np.ndarray) -> np.ndarray:
    """Mask of present entries that are not a boolean, 0/1 or a boolean word."""
    if is_bool(series):
        return np.zeros(len(series), dtype=bool)
    if is_numeric(series):
        return ~missing & ~series.isin((0, 1)).to_numpy()
    return ~missing & not_in(series, missing, BOOL_STRINGS, lower=True)


def not_in(
    series: pd.Series, missing: np.ndarray, allowed: Any, *, lower: bool = False
) -> np.ndarray:
    """Mask of present values whose category key is not in ``allowed`` (hashed lookups)."""
    if len(series) <= SMALL:
        allowed = allowed if isinstance(allowed, set | dict | frozenset) else set(allowed)
        keys = (
            None if m else category_key(v) for v, m in zip(series.to_numpy(), missing, strict=True)
        )
        if lower:
            keys = (k if k is None else k.strip().lower() for k in keys)
        return np.fromiter(
            (k is not None and k not in allowed for k in keys), dtype=bool, count=len(series)
        )
    keys = category_keys(series)
    if lower:
        keys = keys.str.strip().str.lower()
    return ~missing & ~keys.isin(list(allowed)).to_numpy()


def require_frame(df: Any, *, name: str = "data") -> None:
    """Raise :class:`DataError` unless ``df`` is a pandas DataFrame."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"{name} must be a pandas DataFrame; got {type(df).__name__}. "
            "Load files with tabloop.load_data(path) or wrap records in pandas.DataFrame(...)."
        )


def require_columns(df: pd.DataFrame, columns: Iterable[str], *, role: str = "column") -> None:
    """Raise :class:`ColumnNotFoundError` for the first absent column, suggesting close names."""
    present = [str(c) for c in df.columns]
    for column in columns:
        if column not in df.columns:
            raise column_not_found(column, present, role=role)


def column_not_found(
    column: str, present: list[str], *, role: str = "column"
) -> ColumnNotFoundError:
    close = difflib.get_close_matches(column, present, n=3, cutoff=0.6)
    lowered = {p.lower(): p for p in present}
    if column.lower() in lowered and lowered[column.lower()] not in close:
        close.insert(0, lowered[column.lower()])
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(repr(c) for c in present[:20]) + (", ..." if len(present) > 20 else "")
    return ColumnNotFoundError(
        f"{_sentence_start(role)} {column!r} is not in the data.{hint} Columns present: {shown}.",
        column=column,
        close_matches=close,
    )


def _sentence_start(role: str) -> str:
    """Capitalise plain words ("target column"), never a key path ("features.log column")."""
    return role if "." in role.split(" ")[0] else role[:1].upper() + role[1:]


def python_value(value: Any) -> Any:
    """A JSON-friendly Python scalar for a numpy/pandas scalar (NaN and NA become None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def json_safe(value: Any) -> Any:
    """``value`` (nested dicts, lists, arrays, numpy scalars) as plain JSON data: keys as text,
    numpy values as Python ones, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def row_label(index_value: Any) -> Any:
    """How a row is named in messages: its index label as a plain Python value."""
    return python_value(index_value)
