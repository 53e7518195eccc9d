"""``GET /monitor``: the service's own log monitored on demand, as JSON and as a page."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import precision_score

from tabloop.serve import create_app
from tests.stops import CONTEXT, stops_config


@pytest.fixture
def production():
    from tabloop.examples import traffic_stops

    return traffic_stops(600, production=True)


def test_monitor_route_reports_on_what_the_service_logged(stops_model, production, tmp_path):
    config = stops_config(stops_model["uri"], tmp_path, monitor={"bootstrap": 100})
    model = stops_model["result"].model
    rows = json.loads(production[["stop_id", *model.inputs, *CONTEXT]].to_json(orient="records"))
    with TestClient(create_app(config)) as http:
        empty = http.get("/monitor")
        assert empty.status_code == 422
        assert "no production rows" in empty.json()["message"]

        answers = http.post("/predict", json={"records": rows}).json()["predictions"]
        truth = production["contraband"]
        items = [
            {"prediction_id": a["prediction_id"], "value": bool(truth[i])}
            for i, a in enumerate(answers)
            if truth.notna()[i]
        ]
        assert http.post("/outcomes", json={"outcomes": items}).status_code == 200
        answer = http.get("/monitor", params={"chunk": "200"})
        assert answer.status_code == 200, answer.text
        data = answer.json()
        page = http.get("/monitor", params={"format": "html"})
        bad = http.get("/monitor", params={"variant": "Z"})
        wrong_time = http.get("/monitor", params={"since": "soon"})

    labelled = truth.notna().to_numpy()
    predicted = [a["prediction"] for a, keep in zip(answers, labelled, strict=True) if keep]
    expected = precision_score(truth[labelled].astype(bool), predicted)
    assert data["window"]["rows"] == len(rows) and data["window"]["labelled"] == len(items)
    assert data["performance"]["metrics"]["precision"]["value"] == pytest.approx(expected)
    assert [c["rows"] for c in data["chunks"]] == [200, 200, 200]
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Population drift" in page.text
    assert bad.status_code == 404 and bad.json()["field"] == "variant"
    assert wrong_time.status_code == 422 and "'soon' is not a date" in wrong_time.json()["message"]


def test_dashboard_links_to_the_monitoring_report(stops_model, tmp_path):
    config = stops_config(stops_model["uri"], tmp_path)
    with TestClient(create_app(config)) as http:
        page = http.get("/dashboard").text
    assert 'href="monitor?format=html"' in page
