"""What an answer promises about the log: in ``sync`` mode the row is committed before the
answer; when the log cannot keep rows, the prediction is refused with 503, not dropped."""

from __future__ import annotations

import sqlite3
import time

import pytest
from fastapi.testclient import TestClient

from tabloop.serve import create_app
from tabloop.store import Store
from tests.serve.test_app import rows_of


def _logged(url: str) -> list[str]:
    store = Store(url)
    try:
        return store.predictions(period="all")["prediction_id"].tolist()
    finally:
        store.close()


def test_in_sync_mode_the_row_is_committed_before_the_answer(make_config, registered, tmp_path):
    config = make_config(log={"durability": "sync"})
    url = config.serve.store_url
    with TestClient(create_app(config)) as http:
        for n in (1, 3):
            answer = http.post("/predict", json={"records": rows_of(registered["df"], n)})
            assert answer.status_code == 200
            ids = [p["prediction_id"] for p in answer.json()["predictions"]]
            assert set(ids) <= set(_logged(url))  # read by another connection, no flush


@pytest.mark.parametrize("durability", ["async", "sync"])
def test_when_neither_database_nor_spool_takes_rows_predictions_are_503(
    make_config, registered, tmp_path, monkeypatch, durability
):
    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("TABLOOP_HOME", str(blocker))  # the spool folder cannot be made
    config = make_config(log={"durability": durability})
    url = config.serve.store_url
    body = {"records": rows_of(registered["df"], 2)}
    with TestClient(create_app(config)) as http:
        acknowledged = [
            p["prediction_id"] for p in http.post("/predict", json=body).json()["predictions"]
        ]
        lock = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
        lock.execute("BEGIN EXCLUSIVE")  # another program holds the log's write lock
        statuses = []
        try:
            deadline = time.monotonic() + 120  # the insert waits SQLite's busy timeout first
            while time.monotonic() < deadline:
                answer = http.post("/predict", json=body)
                statuses.append(answer.status_code)
                if answer.status_code == 200:
                    acknowledged += [p["prediction_id"] for p in answer.json()["predictions"]]
                elif answer.status_code == 503:
                    refused = answer
                    break
                else:
                    pytest.fail(f"unexpected {answer.status_code}: {answer.text}")
                time.sleep(0.05)
            else:
                pytest.fail(f"never refused: {len(statuses)} answers {set(statuses)}")
            assert refused.json()["error"] in ("log_unavailable", "log_full")
            assert (
                "do not act" in refused.json()["message"]
                or "Nothing was predicted" in refused.json()["message"]
            )
            assert int(refused.headers["retry-after"]) >= 1
            metrics = http.get("/metrics").text
            assert "tabloop_log_refused_rows_total" in metrics
            ready = http.get("/health/ready")
            assert ready.status_code == 503 and "cannot store rows" in ready.text
        finally:
            lock.rollback()
            lock.close()
        assert http.app.state.serve.writer.flush(timeout=60)
        after = http.post("/predict", json=body)
        assert after.status_code == 200
        acknowledged += [p["prediction_id"] for p in after.json()["predictions"]]
    logged = _logged(url)
    assert sorted(logged) == sorted(set(logged))  # none twice
    assert set(acknowledged) <= set(logged)  # every answered prediction is in the log
