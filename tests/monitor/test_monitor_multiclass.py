"""Monitoring a multiclass model through a real log: the HR data of ../shared/datasets,
in SQLite and, where it answers, PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from tabloop.config import config_from_dict
from tabloop.monitor import monitor
from tests.projects import fast_project, register_trained


@pytest.fixture(scope="module")
def hr(load, tmp_path_factory):
    raw = fast_project("hr", "status", tmp_path_factory.mktemp("hr"))
    result = register_trained(load("hr").drop(columns=["Unnamed: 0"]), config_from_dict(raw))
    return {"raw": raw, "result": result}


def _config(hr: dict[str, Any], store_url: str, root: Path) -> Any:
    config = config_from_dict(
        {
            **hr["raw"],
            "serve": {"store_url": store_url, "context": ["gender"]},
            "monitor": {"bootstrap": 100, "segment": "gender", "requirements": ["accuracy >= 0.9"]},
        }
    )
    config._root = root
    return config


def _log(store_url: str, model: Any, rows: Any) -> Any:
    from tabloop.store import PredictionRecord, Store

    scores = model.predict_scores(rows)
    labels = [model.classes[i] for i in scores.argmax(axis=1)]
    start = datetime(2025, 3, 1, tzinfo=UTC)
    records = [
        PredictionRecord(
            prediction_id=uuid.uuid4().hex,
            created_at=start + timedelta(minutes=i),
            variant="champion",
            model_name="hr",
            model_version="1",
            entity_id=None,
            request_id=None,
            inputs={c: row[c] for c in model.inputs},
            context={"gender": row["gender"]},
            prediction=labels[i],
            score=None,
            probabilities=dict(zip(model.classes, map(float, scores[i]), strict=True)),
            latency_ms=1.0,
        )
        for i, row in enumerate(rows.to_dict("records"))
    ]
    store = Store(store_url)
    try:
        store.open()
        store.insert_predictions(records)
        truth = zip(records, rows["status"], strict=True)
        store.record_outcomes([(r.prediction_id, t) for r, t in truth])
    finally:
        store.close()
    return labels


def _check(hr: dict[str, Any], store_url: str, root: Path, load: Any) -> None:
    rows = load("hr_test").drop(columns=["Unnamed: 0"]).head(1200)
    predicted = _log(store_url, hr["result"].model, rows)
    data = monitor(_config(hr, store_url, root), chunk="400").to_dict()
    metrics = data["performance"]["metrics"]
    y = rows["status"]
    assert data["window"]["labelled"] == 1200
    assert metrics["accuracy"]["value"] == pytest.approx(accuracy_score(y, predicted))
    assert metrics["f1_macro"]["value"] == pytest.approx(f1_score(y, predicted, average="macro"))
    assert metrics["balanced_accuracy"]["value"] == pytest.approx(
        balanced_accuracy_score(y, predicted)
    )
    matrix = data["performance"]["confusion_matrix"]
    assert matrix["labels"] == list(hr["result"].model.classes)
    assert sum(map(sum, matrix["matrix"])) == 1200
    assert data["estimated"] is None  # estimates are for binary classifiers
    segments = {r["segment"]: r for r in data["performance"]["segments"]["rows"]}
    assert segments["male"]["labelled"] == (rows["gender"] == "male").sum()
    assert [c["rows"] for c in data["chunks"]] == [400, 400, 400]
    assert data["requirements"][0]["status"] == "fail"  # a linear model is far from 0.9
    assert "prediction" in [c["column"] for c in data["drift"]["columns"]]


def test_multiclass_window_from_a_sqlite_log(hr, tmp_path, load):
    _check(hr, f"sqlite:///{tmp_path / 'log.db'}", tmp_path, load)


@pytest.mark.postgres
def test_multiclass_window_from_a_postgresql_log(hr, pg_url, tmp_path, load):
    _check(hr, pg_url, tmp_path, load)
