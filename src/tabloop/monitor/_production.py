"""Production rows as one flat frame, from the prediction log or from a file.

The monitor works on one frame whatever the source: the model's input columns and the
logged context columns side by side, plus the reserved columns below. The log keeps
inputs and context as JSON objects per prediction; :func:`read_log` reads them already
spread into typed columns by the store's typed reader (``tabloop.store.read_range``: the
database and Arrow decode them, never a Python loop over rows), so :func:`from_log` only
picks the columns. A frame of :meth:`Store.predictions` (the objects as dicts) is still
accepted and spread by the same rules.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabloop.exceptions import MonitorError

#: Columns the monitor adds beside the inputs and context (file columns use the same names).
TIME, PREDICTION, SCORE, OUTCOME = "created_at", "prediction", "score", "outcome"
VARIANT, VERSION, PREDICTION_ID = "variant", "model_version", "prediction_id"
RESERVED = (TIME, PREDICTION, SCORE, OUTCOME, VARIANT, VERSION, PREDICTION_ID)
#: The log's own columns :func:`read_log` returns beside the spread request fields
LOG_READ = (
    PREDICTION_ID, TIME, VARIANT, "model_name", VERSION, "entity_id", PREDICTION, SCORE, OUTCOME,
)  # fmt: skip
_RANGE_ROWS = 250_000  # rows per range of the schema pass

if TYPE_CHECKING:
    from tabloop.store import Store


def read_log(
    config: Any,
    *,
    variant: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
) -> tuple[pd.DataFrame, str]:
    """Every logged prediction of the project (all periods; ``since`` inclusive, ``until``
    exclusive when given), and the log's URL for messages.

    The frame holds the columns of :data:`LOG_READ` and one typed column per input key and
    per context key that is not an input, none named like those (the store's rules, see
    ``tabloop.store.LogSchema``); :func:`from_log` turns it into the monitor's frame.
    """
    from tabloop.store import Store

    store = Store(Store.project_url(config))
    try:
        store.open()
        return read_typed(store, variant=variant, since=since, until=until), store.url
    finally:
        store.close()


def read_typed(
    store: Store | str,
    *,
    variant: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
) -> pd.DataFrame:
    """The window of ``store`` as :func:`read_log`'s typed frame, read range by range."""
    from tabloop.store import LogRange, log_schema, read_range, split_log

    ranges = split_log(store, since=since, until=until, variant=variant, part_rows=_RANGE_ROWS)
    if not ranges:
        return read_range(store, LogRange(None, None, variant), columns=LOG_READ)
    schema = log_schema(store, ranges)
    frames = [read_range(store, part, schema=schema, columns=LOG_READ) for part in ranges]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def from_log(log: pd.DataFrame) -> pd.DataFrame:
    """The monitor's frame of logged rows: the reserved columns, then the request fields.

    ``log`` is :func:`read_log`'s typed frame, or a frame of :meth:`Store.predictions`
    whose ``inputs`` and ``context`` are spread here. A context column that is also an input
    keeps the input's value (they are the same request field); a request field named like
    a reserved column never shadows it. Columns that only some rows carry are missing
    elsewhere. A field holding values of several kinds (numbers and text) is text in the
    typed frame (numbers as their JSON text).
    """
    if not {"inputs", "context", "latency_ms", "outcome_batch"} <= set(log.columns):
        spread = [c for c in log.columns if c not in LOG_READ]
        kept = [PREDICTION_ID, TIME, VARIANT, VERSION, PREDICTION, SCORE, OUTCOME, *spread]
        return log[kept].reset_index(drop=True)
    # a frame of Store.predictions: the same rules as the store's LogSchema.columns
    inputs = _spread(log["inputs"])
    context = _spread(log["context"])
    context = context.drop(columns=[c for c in context.columns if c in inputs.columns])
    kept = log[[PREDICTION_ID, TIME, VARIANT, VERSION, PREDICTION, SCORE, OUTCOME]]
    # a request field named like a reserved column cannot shadow the logged prediction
    inputs = inputs.drop(columns=list(RESERVED), errors="ignore")
    context = context.drop(columns=list(RESERVED), errors="ignore")
    return pd.concat([kept.reset_index(drop=True), inputs, context], axis=1)


def from_file(
    path: str | Path | pd.DataFrame,
    *,
    outcome: str | None,
    time: str | None,
    source: str | None = None,
) -> pd.DataFrame:
    """A CSV or Parquet file (or a frame) of production rows: features, context,
    ``prediction``, the outcome (column ``outcome`` or the project's target) and optionally
    ``score`` (the positive-class probability, also read from ``probability``) and a time
    column (``created_at`` or the project's ``data.time``).
    """
    from tabloop.data import load_data

    df = path.copy() if isinstance(path, pd.DataFrame) else load_data(path)
    # a frame is named by its source (never printed whole: that is the frame's repr)
    where = source or ("The frame" if isinstance(path, pd.DataFrame) else str(path))
    if len(df) == 0:
        raise MonitorError(f"{where} has no rows.")
    if PREDICTION not in df.columns:
        raise MonitorError(
            f"{where}: no column 'prediction'. A file to monitor holds the model's inputs, "
            "the 'prediction' made for each row and, when known, the outcome."
        )
    if SCORE not in df.columns and "probability" in df.columns:
        df = df.rename(columns={"probability": SCORE})
    if OUTCOME not in df.columns:
        if outcome and outcome in df.columns:
            df = df.rename(columns={outcome: OUTCOME})
        else:
            df[OUTCOME] = np.nan
    if TIME not in df.columns:
        if time and time in df.columns:
            df[TIME] = pd.to_datetime(df[time], utc=True, errors="coerce")
        else:
            df[TIME] = pd.NaT
    else:
        df[TIME] = pd.to_datetime(df[TIME], utc=True, errors="coerce")
    for column, default in ((SCORE, np.nan), (VARIANT, "file"), (VERSION, "")):
        if column not in df.columns:
            df[column] = default
    if PREDICTION_ID not in df.columns:
        df[PREDICTION_ID] = [f"row-{i}" for i in range(len(df))]
    return df


def _spread(column: pd.Series) -> pd.DataFrame:
    records: list[Any] = [value if isinstance(value, dict) else {} for value in column]
    return pd.DataFrame.from_records(records, index=range(len(records)))
