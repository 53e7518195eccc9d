"""The service in process (FastAPI TestClient): predict, A/B routing, outcomes, report, reset,
health and metrics, checked against the model called directly and against scikit-learn."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from tabloop.registry import load_model
from tabloop.serve import create_app
from tests.serve.conftest import AB, TARGET


def rows_of(df, n: int, start: int = 0) -> list[dict[str, Any]]:
    part = df.drop(columns=TARGET).iloc[start : start + n]
    return json.loads(part.to_json(orient="records"))


@pytest.fixture
def client(make_config):
    def open_client(**serve: Any) -> TestClient:
        return TestClient(create_app(make_config(**serve)))

    return open_client


def test_prediction_matches_the_registered_model_and_is_logged(client, registered):
    df = registered["df"]
    rows = rows_of(df, 3)
    rows[0]["officer_decision"] = "search"
    with client(context=["officer_decision"]) as http:
        answer = http.post("/predict", json={"records": rows})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert answer.headers["x-model-variant"] == "champion"
        state = http.app.state.serve
        state.writer.flush()
        log = state.store.predictions()
    model, _ = load_model("models:/titanic/1", config=state.config)
    expected = model.predict_proba(df.drop(columns=TARGET).iloc[:3])[:, 1]
    got = [p["probability"] for p in body["predictions"]]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert [p["prediction"] for p in body["predictions"]] == list(
        model.predict(df.drop(columns=TARGET).iloc[:3])
    )
    assert {p["model_version"] for p in body["predictions"]} == {"1"}
    assert len({p["prediction_id"] for p in body["predictions"]}) == 3
    ids = [p["prediction_id"] for p in body["predictions"]]
    assert sorted(log["prediction_id"]) == sorted(ids)
    log = log.set_index("prediction_id").loc[ids]  # the request's row order
    assert list(log["entity_id"]) == ["p0", "p1", "p2"]
    assert log["context"].iloc[0] == {"officer_decision": "search"}
    assert log["inputs"].iloc[1]["age"] == rows[1]["age"]
    assert "passenger" not in log["inputs"].iloc[0]
    assert set(log["request_id"]) == {body["request_id"]}


def test_mlflow_table_shapes_give_the_same_answer(client, registered):
    rows = rows_of(registered["df"], 2)
    columns = list(rows[0])
    split = {"columns": columns, "data": [[r[c] for c in columns] for r in rows]}
    with client() as http:
        a = http.post("/predict", json={"records": rows}).json()
        b = http.post("/predict", json={"dataframe_records": rows}).json()
        c = http.post("/predict", json={"dataframe_split": split}).json()
    probs = [[p["probability"] for p in x["predictions"]] for x in (a, b, c)]
    assert probs[0] == probs[1] == probs[2]


def test_traffic_split_and_sticky_routing(client, registered):
    rows = rows_of(registered["df"], 2000)
    with client(**AB) as http:
        body = http.post("/predict", json={"records": rows}).json()
    share_b = np.mean([p["variant"] == "B" for p in body["predictions"]])
    # 2,000 fair coin flips: outside 0.5 ± 0.05 with probability < 1e-5
    assert 0.45 < share_b < 0.55
    assert {p["model_version"] for p in body["predictions"] if p["variant"] == "B"} == {"2"}

    with client(**AB, sticky_by="passenger") as http:
        first = http.post("/predict", json={"records": rows[:200]}).json()["predictions"]
        again = http.post("/predict", json={"records": rows[:200][::-1]}).json()["predictions"]
        forced = http.post("/predict/B", json={"records": rows[:5]}).json()["predictions"]
    assert [p["variant"] for p in first] == [p["variant"] for p in again][::-1]
    assert {p["variant"] for p in first} == {"A", "B"}
    assert {p["variant"] for p in forced} == {"B"}


def test_outcomes_are_idempotent_conflicts_refused_unknown_reported(client, registered):
    rows = rows_of(registered["df"], 4)
    with client() as http:
        ids = [
            p["prediction_id"]
            for p in http.post("/predict", json={"records": rows}).json()["predictions"]
        ]
        first = http.post("/outcomes", json={"outcomes": [{"prediction_id": ids[0], "value": 1}]})
        assert first.status_code == 200 and first.json()["stored"] == 1
        again = http.post("/outcomes", json={"outcomes": [{"prediction_id": ids[0], "value": 1}]})
        assert (again.json()["stored"], again.json()["unchanged"]) == (0, 1)
        changed = http.post(
            "/outcomes",
            json={
                "outcomes": [
                    {"prediction_id": ids[1], "value": 0},
                    {"prediction_id": ids[0], "value": 0},
                ]
            },
        )
        assert changed.status_code == 409
        assert changed.json()["error"] == "outcome_conflict"
        assert ids[0] in changed.json()["message"]
        overwrite = http.post(
            "/outcomes",
            json={"outcomes": [{"prediction_id": ids[0], "value": 0}], "overwrite": True},
        )
        assert overwrite.json()["updated"] == 1
        mixed = http.post(
            "/outcomes",
            json={
                "outcomes": [
                    {"prediction_id": ids[2], "value": 1},
                    {"prediction_id": "nope", "value": 1},
                ]
            },
        )
        assert mixed.status_code == 200
        assert (mixed.json()["stored"], mixed.json()["unknown"]) == (1, ["nope"])
        unknown = http.post("/outcomes", json={"outcomes": [{"prediction_id": "nope", "value": 1}]})
        assert unknown.status_code == 404 and "nope" in unknown.text
        by_entity = http.post("/outcomes", json={"outcomes": [{"id": "p3", "value": 0}]})
        assert by_entity.json()["stored"] == 1
        wrong = http.post(
            "/outcomes", json={"outcomes": [{"prediction_id": ids[1], "value": "maybe"}]}
        )
        assert wrong.status_code == 422 and "maybe" in wrong.json()["message"]
        page = http.get("/outcomes", params={"limit": 2}).json()
    assert page["total"] == 3 and len(page["outcomes"]) == 2
    # ids[1] was in the refused batch: nothing of it was stored
    assert ids[1] not in {o["prediction_id"] for o in page["outcomes"]}


def test_report_metrics_equal_sklearn_per_variant_and_batch(client, registered):
    df = registered["df"]
    rows = rows_of(df, 600)
    truth = dict(zip(df["passenger"].iloc[:600], df[TARGET].iloc[:600], strict=True))
    with client(**AB) as http:
        predictions = http.post("/predict", json={"records": rows}).json()["predictions"]
        for batch in (range(0, 250), range(250, 500)):  # two uploads; rows 500+ stay unlabelled
            items = [
                {
                    "prediction_id": predictions[i]["prediction_id"],
                    "value": int(truth[rows[i]["passenger"]]),
                }
                for i in batch
            ]
            assert http.post("/outcomes", json={"outcomes": items}).status_code == 200
        report = http.get("/report").json()
    by_name = {v["name"]: v for v in report["variants"]}
    for name in ("A", "B"):
        mine = [(i, p) for i, p in enumerate(predictions) if p["variant"] == name]
        done = [(i, p) for i, p in mine if i < 500]
        y = [int(truth[rows[i]["passenger"]]) for i, _ in done]
        pred = [p["prediction"] for _, p in done]
        prob = [p["probability"] for _, p in done]
        stats = by_name[name]
        assert (stats["predictions"], stats["labelled"]) == (len(mine), len(done))
        m = stats["metrics"]
        assert m["precision"]["value"] == pytest.approx(precision_score(y, pred, zero_division=0))
        assert m["recall"]["value"] == pytest.approx(recall_score(y, pred))
        assert m["f1"]["value"] == pytest.approx(f1_score(y, pred))
        assert m["accuracy"]["value"] == pytest.approx(accuracy_score(y, pred))
        assert m["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, prob))
        assert [b["labelled"] for b in stats["batches"]] == [
            sum(1 for i, _ in done if i < 250),
            sum(1 for i, _ in done if i >= 250),
        ]
    assert len(report["comparisons"]) == 1
    assert report["comparisons"][0]["variant"] == "B"
    assert isinstance(report["verdict"], str) and report["verdict"]


def test_reset_starts_a_period_and_keeps_the_old_one(client, registered):
    rows = rows_of(registered["df"], 5)
    with client() as http:
        http.post("/predict", json={"records": rows})
        reset = http.post("/admin/reset", params={"note": "new model"}).json()
        assert reset["period"] == reset["previous_period"] + 1
        http.post("/predict", json={"records": rows[:2]})
        now = http.get("/report").json()
        before = http.get("/report", params={"period": reset["previous_period"]}).json()
    assert sum(v["predictions"] for v in now["variants"]) == 2
    assert sum(v["predictions"] for v in before["variants"]) == 5


def test_health_and_prometheus_metrics(client, registered):
    rows = rows_of(registered["df"], 7)
    with client(**AB) as http:
        assert http.get("/health/live").json() == {"status": "live"}
        ready = http.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["variants"] == {"A": "1", "B": "2"}
        body = http.post("/predict", json={"records": rows}).json()
        http.post("/predict", json={"records": [{"age": "forty"}]})
        text = http.get("/metrics").text
    n_a = sum(p["variant"] == "A" for p in body["predictions"])
    assert f'tabloop_predictions_total{{model_version="1",variant="A"}} {float(n_a)}' in text
    assert 'tabloop_validation_errors_total{code="schema_error"} 1.0' in text
    assert 'tabloop_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert "tabloop_log_backlog" in text


def test_reload_follows_an_alias_move(client, registered):
    from mlflow import MlflowClient

    from tabloop.registry import promote

    with client(variants={"live": "models:/titanic@champion"}) as http:
        config = http.app.state.serve.config
        assert http.get("/variants").json()["variants"][0]["model_version"] == "1"
        try:
            promote(2, config)
            changed = http.post("/admin/reload").json()["changed"]
            version = http.post("/predict", json={"records": rows_of(registered["df"], 1)}).json()
        finally:  # put the aliases back as the other tests expect them
            promote(1, config)
            MlflowClient(registered["uri"]).set_registered_model_alias("titanic", "challenger", "2")
    assert changed == {"live": {"from": "models:/titanic/1", "to": "models:/titanic/2"}}
    assert version["predictions"][0]["model_version"] == "2"


def test_poller_picks_up_an_alias_move_without_a_call(client, registered):
    import time

    from mlflow import MlflowClient

    from tabloop.registry import promote

    with client(variants={"live": "models:/titanic@champion"}, reload_every=0.2) as http:
        config = http.app.state.serve.config
        try:
            promote(2, config)
            deadline = time.monotonic() + 60
            version = "1"
            while version == "1" and time.monotonic() < deadline:
                time.sleep(0.2)
                version = http.get("/variants").json()["variants"][0]["model_version"]
        finally:
            promote(1, config)
            MlflowClient(registered["uri"]).set_registered_model_alias("titanic", "challenger", "2")
    assert version == "2"


def test_report_lists_a_variant_that_has_served_nothing_yet(client, registered):
    """All traffic to B (A's share 0): GET /report is a report with A at zero predictions,
    not an error that A is not in the log."""
    rows = rows_of(registered["df"], 3)
    with client(variants=AB["variants"], traffic={"A": 0.0, "B": 1.0}) as http:
        answer = http.post("/predict", json={"records": rows})
        assert answer.status_code == 200, answer.text
        served = {p["variant"] for p in answer.json()["predictions"]}
        report = http.get("/report")
    assert report.status_code == 200, report.text
    by_name = {v["name"]: v["predictions"] for v in report.json()["variants"]}
    assert served == {"B"} and by_name == {"A": 0, "B": 3}


def test_a_sticky_column_that_is_a_model_input_is_logged_once_as_an_input(client, registered):
    """sticky_by 'embarked' is a feature of both models: the log holds it among the inputs
    only (not again as context), and the report still resamples by its values."""
    df = registered["df"]
    rows = rows_of(df, 300)
    truth = dict(zip(df["passenger"], df[TARGET], strict=True))
    with client(**AB, sticky_by="embarked") as http:
        predictions = http.post("/predict", json={"records": rows}).json()["predictions"]
        items = [
            {"prediction_id": p["prediction_id"], "value": int(truth[r["passenger"]])}
            for p, r in zip(predictions, rows, strict=True)
        ]
        assert http.post("/outcomes", json={"outcomes": items}).status_code == 200
        report = http.get("/report").json()
        log = http.app.state.serve.store.predictions()
    assert all(context == {} for context in log["context"])
    by_id = {p["prediction_id"]: r for p, r in zip(predictions, rows, strict=True)}
    assert [i["embarked"] for i in log["inputs"]] == [
        by_id[p]["embarked"] for p in log["prediction_id"]
    ]
    # each port is one entity, and sticky routing keeps it in one variant
    ports = {r["embarked"] for r in rows}
    assert sum(v["entities"] for v in report["variants"]) == len(ports) > 1


def test_outcomes_by_id_without_data_id_say_how_predictions_get_an_id(registered, tmp_path):
    """A project without data.id logs no entity: an upload by 'id' cannot match and the 404
    says what the id is matched to and the two ways out (the entity there is 'gender', the
    sticky column); with data.id the message names that column and the open period."""
    from tabloop.config import config_from_dict
    from tests.serve.conftest import project_config

    config = project_config(
        registered["uri"],
        tmp_path,
        store_url=f"sqlite:///{tmp_path / 'log.db'}",
        sticky_by="gender",
    )
    config.data.id = None
    rows = rows_of(registered["df"].drop(columns="passenger"), 2)
    with TestClient(create_app(config)) as http:
        predicted = http.post("/predict", json={"records": rows})
        assert predicted.status_code == 200, predicted.text
        answer = http.post("/outcomes", json={"outcomes": [{"id": "1", "value": 1}]})
        assert http.app.state.serve.store.predictions()["entity_id"].isna().all()
    assert answer.status_code == 404 and answer.json()["error"] == "unknown_ids"
    message = answer.json()["message"]
    assert message.startswith("No prediction matches any of the 1 ids (first: '1'): ")
    for fragment in (
        "matched to the data.id column of the /predict rows",
        "this project sets no data.id",
        "Send the prediction_id each /predict answer holds",
        "set data.id to the column naming the entity (e.g. 'gender')",
    ):
        assert fragment in message, message

    # a forecasting project (the finding: features.lags, no sticky_by): its lags' entity
    raw = project_config(registered["uri"]).model_dump(mode="json")
    raw["data"]["id"] = None
    raw["features"]["lags"] = {"fare": {"by": "class", "order": "age", "lags": [1]}}
    raw["serve"]["store_url"] = f"sqlite:///{tmp_path / 'log3.db'}"
    lagged = config_from_dict(raw)
    lagged._root = tmp_path
    with TestClient(create_app(lagged)) as http:
        answer = http.post("/outcomes", json={"outcomes": [{"id": "1", "value": 1}]})
    assert "set data.id to the column naming the entity (e.g. 'class')" in answer.json()["message"]

    with_id = project_config(
        registered["uri"], tmp_path, store_url=f"sqlite:///{tmp_path / 'log2.db'}"
    )
    with TestClient(create_app(with_id)) as http:
        answer = http.post("/outcomes", json={"outcomes": [{"id": "p9", "value": 1}]})
    assert answer.status_code == 404
    assert (
        "by entity id: the 'passenger' column (data.id) of the /predict rows of the "
        "current period (1)" in answer.json()["message"]
    )
