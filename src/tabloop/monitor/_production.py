"""Production rows as one flat frame, from the prediction log or from a file.

The monitor works on one frame whatever the source: the model's input columns and the
logged context columns side by side, plus the reserved columns below. The log keeps
inputs and context as JSON objects per prediction; they are spread into columns here, once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tabloop.exceptions import MonitorError

#: Columns the monitor adds beside the inputs and context (file columns use the same names).
TIME, PREDICTION, SCORE, OUTCOME = "created_at", "prediction", "score", "outcome"
VARIANT, VERSION, PREDICTION_ID = "variant", "model_version", "prediction_id"
RESERVED = (TIME, PREDICTION, SCORE, OUTCOME, VARIANT, VERSION, PREDICTION_ID)


def read_log(config: Any, *, variant: str | None = None) -> tuple[pd.DataFrame, str]:
    """Every logged prediction of the project (all periods), and the log's URL for messages."""
    from tabloop.store import Store

    store = Store(Store.project_url(config))
    try:
        store.open()
        return store.predictions(period="all", variant=variant), store.url
    finally:
        store.close()


def from_log(log: pd.DataFrame) -> pd.DataFrame:
    """The frame of :meth:`Store.predictions` with ``inputs`` and ``context`` spread out.

    A context column that is also an input keeps the input's value (they are the same
    request field). Columns that only some rows carry are missing (NaN) elsewhere.
    """
    inputs = _spread(log["inputs"])
    context = _spread(log["context"])
    context = context.drop(columns=[c for c in context.columns if c in inputs.columns])
    kept = log[[PREDICTION_ID, TIME, VARIANT, VERSION, PREDICTION, SCORE, OUTCOME]]
    # a request field named like a reserved column cannot shadow the logged prediction
    inputs = inputs.drop(columns=list(RESERVED), errors="ignore")
    context = context.drop(columns=list(RESERVED), errors="ignore")
    return pd.concat([kept.reset_index(drop=True), inputs, context], axis=1)


def from_file(
    path: str | Path | pd.DataFrame, *, outcome: str | None, time: str | None
) -> pd.DataFrame:
    """A CSV or Parquet file (or a frame) of production rows: features, context,
    ``prediction``, the outcome (column ``outcome`` or the project's target) and optionally
    ``score`` (the positive-class probability, also read from ``probability``) and a time
    column (``created_at`` or the project's ``data.time``).
    """
    from tabloop.data import load_data

    df = path.copy() if isinstance(path, pd.DataFrame) else load_data(path)
    if len(df) == 0:
        raise MonitorError(
            f"{'The frame' if isinstance(path, pd.DataFrame) else path} has no rows."
        )
    if PREDICTION not in df.columns:
        raise MonitorError(
            f"{path}: no column 'prediction'. A file to monitor holds the model's inputs, "
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
