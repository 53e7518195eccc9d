"""`tabloop serve` as a real Uvicorn process on 127.0.0.1: predictions, outcomes and the
report over HTTP, then SIGTERM; every acknowledged prediction must be in the log, on SQLite
and on PostgreSQL."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sklearn.metrics import precision_score

from tabloop.store import Store
from tests.serve.conftest import AB, TARGET
from tests.serve.test_app import rows_of
from tests.servers import live_server, tabloop_serve

pytestmark = pytest.mark.slow


def write_project(folder: Path, registered: dict[str, Any], store_url: str) -> None:
    registered["df"].to_csv(folder / "titanic.csv", index=False)
    project = {
        "name": "titanic",
        "data": {"train": "titanic.csv", "target": TARGET, "id": "passenger"},
        "registry": {"tracking_uri": registered["uri"]},
        "serve": {**AB, "store_url": store_url, "context": ["officer"]},
    }
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(project))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_served_predictions_outcomes_report_and_clean_shutdown(tmp_path, registered, log_url):
    write_project(tmp_path, registered, log_url)
    server = tabloop_serve(tmp_path)
    df = registered["df"]
    rows = rows_of(df, 120)
    truth = dict(zip(df["passenger"], df[TARGET], strict=True))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            answers = []
            for row in rows:  # one row per request, as a live client sends them
                answer = http.post("/predict", json={"records": [{**row, "officer": "x"}]})
                assert answer.status_code == 200, answer.text
                answers.append(answer.json()["predictions"][0])
            for batch in (range(0, 60), range(60, 100)):  # two uploads; 20 stay unlabelled
                items = [
                    {
                        "prediction_id": answers[i]["prediction_id"],
                        "value": int(truth[rows[i]["passenger"]]),
                    }
                    for i in batch
                ]
                stored = http.post("/outcomes", json={"outcomes": items}).json()["stored"]
                assert stored == len(items)
            report = http.get("/report").json()
            # a burst right before the stop: acknowledged, possibly not yet written
            burst = http.post("/predict", json={"records": rows[:50]}).json()["predictions"]
    finally:
        output = server.stop(signal.SIGTERM)
    # Uvicorn shuts down gracefully, then re-raises the signal it caught (exit status -15)
    assert server.process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output

    a = {v["name"]: v for v in report["variants"]}["A"]
    labelled = [(i, x) for i, x in enumerate(answers[:100]) if x["variant"] == "A"]
    y = [int(truth[rows[i]["passenger"]]) for i, _ in labelled]
    pred = [x["prediction"] for _, x in labelled]
    assert a["labelled"] == len(labelled)
    assert a["metrics"]["precision"]["value"] == pytest.approx(
        precision_score(y, pred, zero_division=0)
    )
    assert [b["labelled"] for b in a["batches"]] == [
        sum(1 for i, _ in labelled if i < 60),
        sum(1 for i, _ in labelled if i >= 60),
    ]

    store = Store(log_url)
    try:
        log = store.predictions()
    finally:
        store.close()
    acknowledged = {x["prediction_id"] for x in answers + burst}
    assert set(log["prediction_id"]) == acknowledged
    assert set(log["context"].map(json.dumps)) == {'{"officer": "x"}', "{}"}
    assert "Serving A = models:/titanic/1, B = models:/titanic/2" in output
    assert "127.0.0.1 only" in output


def test_a_bug_is_a_json_500_and_the_keep_alive_connection_stays_usable(make_config):
    import http.client

    from tabloop.serve import create_app

    app = create_app(make_config())

    @app.get("/bug")
    def bug() -> None:  # stands for any bug on a request path
        raise RuntimeError("a bug")

    with live_server(app) as base:
        connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
        connection.request("GET", "/bug")
        failed = connection.getresponse()
        assert failed.status == 500
        assert json.loads(failed.read()) == {
            "error": "internal_error",
            "message": "internal error: RuntimeError",
        }
        first_socket = connection.sock
        connection.request("GET", "/health/live")  # the same connection, kept alive
        answer = connection.getresponse()
        assert (answer.status, json.loads(answer.read())) == (200, {"status": "live"})
        assert connection.sock is first_socket
        connection.close()
