"""README: ``tabloop monitor --variant V`` narrows the log to one A/B arm. The log is filled
by the service itself (both arms serve the champion, rows routed at random), and each arm's
report counts exactly the rows the service answered under that arm."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tabloop.config import load_config
from tabloop.serve import create_app
from tests.cli.test_cli import run
from tests.cli.test_monitor_cli import write_project
from tests.stops import CONTEXT


def test_monitor_variant_sees_exactly_that_variants_rows(tmp_path, stops_model):
    from tabloop.examples import traffic_stops

    serve = {
        "context": CONTEXT,
        "store_url": f"sqlite:///{tmp_path / 'log.db'}",
        "variants": {"A": "models:/stops@champion", "B": "models:/stops/1"},
        "traffic": {"A": 0.7, "B": 0.3},
    }
    folder = write_project(tmp_path, stops_model, serve=serve)
    model = stops_model["result"].model
    rows = traffic_stops(1500, production=True, seed=3)
    rows = rows[["stop_id", *model.inputs, *CONTEXT]]
    records = json.loads(rows.to_json(orient="records"))
    with TestClient(create_app(load_config(folder / "tabloop.yaml"))) as http:
        answer = http.post("/predict", json={"records": records})
        assert answer.status_code == 200, answer.text
    variants = [p["variant"] for p in answer.json()["predictions"]]
    counts = {name: variants.count(name) for name in ("A", "B")}
    assert min(counts.values()) > 0

    for name in ("B", "A"):
        done = run("monitor", "--variant", name, "--out", f"reports-{name}", cwd=folder)
        assert done.returncode == 0, done.stderr
        report = json.loads((folder / f"reports-{name}" / "monitor.json").read_text())
        assert report["window"]["rows"] == counts[name], name
