"""The log on a real SQLite file, and on PostgreSQL (a fresh schema per test) where it runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tabloop.store import PredictionRecord, Store

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    """An opened store on ``url``, closed after the test."""
    log = Store(url)
    log.open()
    yield log
    log.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'log.db'}"


MakeRecord = Callable[..., PredictionRecord]


@pytest.fixture
def make_record() -> MakeRecord:
    """``make_record(i, **fields)``: a classification record, ``i`` seconds after T0."""

    def make(i: int = 0, **fields: Any) -> PredictionRecord:
        values: dict[str, Any] = {
            "prediction_id": f"p{i:05d}",
            "created_at": T0 + timedelta(seconds=i),
            "variant": "A",
            "model_name": "churn",
            "model_version": "3",
            "entity_id": f"c{i}",
            "request_id": "req-1",
            "inputs": {"age": 30 + i, "plan": "basic"},
            "context": {"channel": "web"},
            "prediction": "yes",
            "score": 0.75,
            "probabilities": None,
            "latency_ms": 2.5,
        }
        values.update(fields)
        return PredictionRecord(**values)

    return make
