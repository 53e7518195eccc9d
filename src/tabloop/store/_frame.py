"""The log as a pandas DataFrame: the one place that picks its dtypes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

_OBJECTS = ("inputs", "context", "probabilities")  # dicts stay dicts
_FLOATS = ("score", "latency_ms")
_TIMES = ("created_at", "outcome_at")


def to_frame(rows: Sequence[Sequence[Any]], columns: list[str]) -> pd.DataFrame:
    """``rows`` of the predictions query as a frame with stable dtypes, even when empty.

    Times are tz-aware UTC, ``period_id`` int64, ``score``/``latency_ms`` float64 (NaN when
    missing), ``outcome_batch`` Int64 (<NA> when unlabelled). ``prediction`` and ``outcome``
    get the dtype pandas infers from their values, as a column read from a file would:
    numbers are float with NaN for a missing outcome, labels keep their type.
    """
    values = dict(zip(columns, zip(*rows, strict=True), strict=True)) if rows else {}
    data: dict[str, Any] = {}
    for name in columns:
        column = list(values.get(name, ()))
        if name in _TIMES:
            data[name] = pd.to_datetime(pd.Series(column, dtype=object), utc=True)
        elif name == "period_id":
            data[name] = pd.Series(column, dtype="int64")
        elif name == "outcome_batch":
            data[name] = pd.array(column, dtype="Int64")
        elif name in _FLOATS:
            data[name] = pd.Series(column, dtype="float64")
        elif name in _OBJECTS:
            data[name] = pd.Series(column, dtype=object)
        else:
            data[name] = pd.Series(column, dtype=None if column else object)
    return pd.DataFrame(data)


def arrow_to_frame(tables: Sequence[pa.Table], schema: pa.Schema) -> pd.DataFrame:
    """Typed pages of the log (Arrow tables of ``schema``) as one DataFrame.

    Arrow's own conversion, with the dtypes of :func:`to_frame` where they differ: an int64
    column with nulls becomes float64 with NaN (as pandas infers it from values), except
    ``outcome_batch``, Int64; a bool column with nulls holds objects; a ``null`` column
    holds None; text is pandas' string dtype.
    """
    import pyarrow as pa

    table = pa.concat_tables(tables) if tables else schema.empty_table()
    frame = table.to_pandas(split_blocks=True)
    if "outcome_batch" in frame.columns:
        frame["outcome_batch"] = frame["outcome_batch"].astype("Int64")
    return frame
