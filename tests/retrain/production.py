"""Production rows logged as a served champion would have logged them, for retrain tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def plain(value: Any) -> Any:
    """A cell as JSON would carry it (NaN as None, numpy scalars as Python ones)."""
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def log_production(
    config: Any,
    rows: pd.DataFrame,
    outcomes: pd.Series,
    *,
    entity: str,
    features: list[str],
    prediction: Any = 0,
    score: float | None = None,
) -> None:
    """Log ``rows`` as served by version 1 of ``config.name``, one an hour from ``T0``, with
    their ``outcomes``."""
    from tabloop.store import PredictionRecord, Store

    records = [
        PredictionRecord(
            prediction_id=uuid.uuid4().hex,
            created_at=T0 + timedelta(hours=i),
            variant="champion",
            model_name=config.name,
            model_version="1",
            entity_id=str(row[entity]),
            request_id=None,
            inputs={c: plain(row[c]) for c in features},
            context={},
            prediction=prediction,
            score=score,
            probabilities=None,
            latency_ms=1.0,
        )
        for i, (_, row) in enumerate(rows.iterrows())
    ]
    store = Store(config.serve.store_url)
    try:
        store.open()
        store.insert_predictions(records)
        store.record_outcomes(
            [(r.prediction_id, plain(v)) for r, v in zip(records, outcomes, strict=True)]
        )
    finally:
        store.close()
