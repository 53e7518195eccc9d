"""A registered traffic-stops model and a real SQLite prediction log to monitor.

The model is trained once per session (logistic regression, 3 folds) on all training
stops with target ``found``; the log is filled the way the service fills it (inputs,
context, prediction, score), from the shifted ``production`` stream, with outcomes for
the searched stops.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict

CONTEXT = ["department", "race", "ethnicity", "sex", "searched", "search_authorization"]
DROP = ["date", *CONTEXT, "contraband"]


def stops_project(tracking_uri: str, root: Path, **sections: Any) -> dict[str, Any]:
    """The stops project as ``tabloop.yaml`` holds it, its log in ``root/log.db``;
    ``sections`` replace the sections of the same name."""
    return {
        "name": "stops",
        "data": {"train": "data/stops.csv", "target": "found", "id": "stop_id"},
        "features": {"drop": DROP},
        "train": {"models": ["linear"], "folds": 3, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 200, "importance": False},
        "registry": {"tracking_uri": tracking_uri},
        "serve": {"context": CONTEXT, "store_url": f"sqlite:///{root / 'log.db'}"},
        **sections,
    }


def stops_config(tracking_uri: str, root: Path, **sections: Any) -> Any:
    config = config_from_dict(stops_project(tracking_uri, root, **sections))
    config._root = root
    return config


def training_stops(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    from tabloop.examples import traffic_stops

    df = traffic_stops(n, seed=seed)
    return df.assign(found=df["contraband"].fillna(False).astype(bool))


@pytest.fixture(scope="session")
def stops_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``models:/stops/1``, the champion, trained on 3,000 training stops."""
    from tabloop.evaluate import evaluate
    from tabloop.registry import register
    from tabloop.train import train

    folder = tmp_path_factory.mktemp("stops-mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    df = training_stops()
    (folder / "data").mkdir()
    df.to_csv(folder / "data" / "stops.csv", index=False)
    config = stops_config(uri, folder)
    result = train(df, config=config)
    evaluation = evaluate(result).to_dict()
    version = register(result, evaluation, config=config)
    return {
        "uri": uri,
        "df": df,
        "version": version,
        "result": result,
        "evaluation": evaluation,
        "folder": folder,
    }


def fill_log(
    store_url: str,
    model: Any,
    rows: pd.DataFrame,
    *,
    version: str = "1",
    start: datetime = datetime(2025, 1, 1, tzinfo=UTC),
    step: timedelta = timedelta(hours=1),
    labels: pd.Series | None = None,
    variant: str = "champion",
) -> pd.DataFrame:
    """Log ``rows`` as the service would (one prediction per ``step``), and their outcomes
    where ``labels`` is not missing; return the rows with ``prediction``, ``score``, ``id``."""
    from tabloop.store import PredictionRecord, Store

    scores = model.predict_scores(rows)
    threshold = 0.5 if model.threshold is None else model.threshold
    predicted = scores >= threshold
    out = rows.reset_index(drop=True).assign(
        prediction=predicted, score=scores, prediction_id=[uuid.uuid4().hex for _ in rows.index]
    )
    records = []
    for i, row in out.iterrows():
        records.append(
            PredictionRecord(
                prediction_id=row["prediction_id"],
                created_at=start + step * int(i),
                variant=variant,
                model_name="stops",
                model_version=version,
                entity_id=str(row["stop_id"]),
                request_id=None,
                inputs={c: _plain(row[c]) for c in model.inputs},
                context={c: _plain(row[c]) for c in CONTEXT if c in out.columns},
                prediction=bool(row["prediction"]),
                score=float(row["score"]),
                probabilities=None,
                latency_ms=1.0,
            )
        )
    store = Store(store_url)
    try:
        store.open()
        store.insert_predictions(records)
        if labels is not None:
            values = labels.reset_index(drop=True)
            items = [
                (pid, bool(values[i]))
                for i, pid in enumerate(out["prediction_id"])
                if pd.notna(values[i])
            ]
            if items:
                store.record_outcomes(items)
    finally:
        store.close()
    return out


def log_production(folder: Path, stops_model: dict[str, Any], rows: pd.DataFrame) -> None:
    """``rows`` logged in ``folder/log.db`` (the log of :func:`stops_project`) by the
    session's model, with outcomes for the searched stops."""
    model = stops_model["result"].model
    fill_log(f"sqlite:///{folder / 'log.db'}", model, rows, labels=rows["contraband"])


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
