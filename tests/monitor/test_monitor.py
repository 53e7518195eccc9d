"""``monitor()`` end to end on a real registered model and a real SQLite prediction log."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from tabloop.exceptions import MonitorError
from tabloop.monitor import monitor
from tests.servers import Recorder, free_port
from tests.stops import fill_log, stops_config

REQUIREMENTS = [
    "precision >= 0.5",
    "recall >= 0.99",
    "fairness.max_gap <= 0.05",
    "drift.share_drifted_columns < 0.9",
    "estimated.precision >= 0.1",
]


@pytest.fixture
def production() -> pd.DataFrame:
    from tabloop.examples import traffic_stops

    return traffic_stops(1500, production=True)


@pytest.fixture
def project(stops_model: dict[str, Any], tmp_path: Path):
    def make(**monitor_section: Any) -> Any:
        return stops_config(
            stops_model["uri"], tmp_path, monitor={"bootstrap": 200, **monitor_section}
        )

    return make


def log_labelled(config: Any, stops_model: dict[str, Any], rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` logged by the session's model, with outcomes for the searched ones."""
    model = stops_model["result"].model
    return fill_log(config.serve.store_url, model, rows, labels=rows["contraband"])


def test_production_metrics_equal_sklearn_on_the_labelled_rows(project, stops_model, production):
    config = project()
    logged = log_labelled(config, stops_model, production)
    report = monitor(config).to_dict()

    labelled = logged[production["contraband"].notna().to_numpy()]
    y = production["contraband"].dropna().astype(bool).to_numpy()
    pred = labelled["prediction"].to_numpy()
    metrics = report["performance"]["metrics"]
    assert report["window"]["rows"] == len(production)
    assert report["window"]["labelled"] == len(y) == report["performance"]["labelled"]
    assert metrics["precision"]["value"] == pytest.approx(precision_score(y, pred))
    assert metrics["recall"]["value"] == pytest.approx(recall_score(y, pred))
    assert metrics["f1"]["value"] == pytest.approx(f1_score(y, pred))
    assert metrics["accuracy"]["value"] == pytest.approx(accuracy_score(y, pred))
    assert metrics["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, labelled["score"]))
    low, high = metrics["precision"]["ci_low"], metrics["precision"]["ci_high"]
    assert low < metrics["precision"]["value"] < high
    # beside the test split's figure from the model package
    row = next(r for r in report["performance"]["comparison"] if r["metric"] == "precision")
    assert row["test"] == stops_model["evaluation"]["metrics"]["precision"]["value"]
    assert row["change"] == pytest.approx(row["production"] - row["test"])


def test_population_shift_of_the_production_stream_is_flagged(project, stops_model, production):
    config = project()
    fill_log(config.serve.store_url, stops_model["result"].model, production)
    drift = monitor(config).to_dict()["drift"]
    # production=True draws suspicious stops: the reason for the stop moves, the sex of the
    # driver (drawn the same way in both populations) does not
    columns = {c["column"]: c for c in drift["columns"]}
    assert columns["reason_for_stop"]["drifted"]
    assert not columns["sex"]["drifted"]
    assert not columns["age_group"]["drifted"]
    population = {r["value"]: r for r in drift["population"]["search_authorization"]}
    reference = stops_model["result"].train["search_authorization"].value_counts(normalize=True)
    current = production["search_authorization"].value_counts(normalize=True)
    for code in "NPCIW":
        assert population[code]["reference_share"] == pytest.approx(reference[code])
        assert population[code]["current_share"] == pytest.approx(current[code])


def test_requirements_have_a_three_way_status_and_the_report_says_why(
    project, stops_model, production
):
    config = project(
        requirements=REQUIREMENTS,
        fairness={"protected": ["race"], "segment": "department", "min_group_size": 5000},
    )
    log_labelled(config, stops_model, production)
    report = monitor(config)
    status = {r["expression"]: r for r in report.requirements}
    assert status["recall >= 0.99"]["status"] == "fail"
    assert status["drift.share_drifted_columns < 0.9"]["status"] == "pass"
    assert status["estimated.precision >= 0.1"]["status"] == "pass"
    # no group reaches 5,000 predicted positives: not a verdict, and it says so
    assert status["fairness.max_gap <= 0.05"]["status"] == "unknown"
    assert status["fairness.max_gap <= 0.05"]["message"]
    assert not report.passed


def test_a_window_without_outcomes_reports_unknown_not_a_failure(project, stops_model, production):
    config = project(requirements=["precision >= 0.5"])
    fill_log(config.serve.store_url, stops_model["result"].model, production)
    report = monitor(config)
    data = report.to_dict()
    assert data["performance"]["metrics"] == {}
    assert data["requirements"][0]["status"] == "unknown"
    assert "no labelled rows" in data["requirements"][0]["message"]
    assert any("no outcomes" in note for note in data["notes"])
    assert report.passed
    # the estimate before outcomes still exists
    assert data["estimated"]["estimated"]["metrics"]["precision"]["value"] is not None


def test_empty_window_is_a_typed_error_naming_the_window(project, stops_model, production):
    config = project()
    fill_log(config.serve.store_url, stops_model["result"].model, production.head(50))
    with pytest.raises(MonitorError, match="no production rows"):
        monitor(config, since="2030-01-01")
    with pytest.raises(MonitorError, match="is not before"):
        monitor(config, since="2025-02-01", until="2025-01-01")
    with pytest.raises(MonitorError, match="not a date"):
        monitor(config, since="next tuesday")


def test_window_and_chunks_select_by_prediction_time(project, stops_model, production):
    config = project(min_chunk_rows=30)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    fill_log(
        config.serve.store_url,
        stops_model["result"].model,
        production.head(400),
        start=start,
        step=timedelta(hours=1),
        labels=production["contraband"].head(400),
    )
    data = monitor(config, since="2025-01-03", until="2025-01-10", chunk="1d").to_dict()
    # 24 rows per day from Jan 3 to Jan 9 inclusive
    assert data["window"]["rows"] == 7 * 24
    assert [c["chunk"][:10] for c in data["chunks"]] == [f"2025-01-{d:02d}" for d in range(3, 10)]
    assert all(c["rows"] == 24 for c in data["chunks"])
    assert not any(c["judged"] for c in data["chunks"])  # 24 < min_chunk_rows
    rows = monitor(config, chunk="100").to_dict()["chunks"]
    assert [c["rows"] for c in rows] == [100, 100, 100, 100]
    assert all(c["judged"] for c in rows)


def test_segment_breakdown_counts_rows_and_labels(project, stops_model, production):
    config = project(segment="search_authorization")
    log_labelled(config, stops_model, production)
    segments = monitor(config).to_dict()["performance"]["segments"]
    assert segments["column"] == "search_authorization"
    by = {r["segment"]: r for r in segments["rows"]}
    counts = production["search_authorization"].value_counts()
    labelled = production.groupby("search_authorization")["contraband"].count()
    for code, row in by.items():
        assert row["rows"] == counts[code]
        assert row["labelled"] == labelled.get(code, 0)
    assert by["N"]["labelled"] == 0 and by["N"]["metrics"] == {}


def test_fairness_in_production_uses_labelled_rows_and_the_human_baseline(
    project, stops_model, production
):
    from fairlearn.metrics import MetricFrame

    config = project(
        fairness={
            "protected": ["race"],
            "segment": "department",
            "min_group_size": 5,
            "human_decision": "searched",
        }
    )
    logged = log_labelled(config, stops_model, production)
    fairness = monitor(config).to_dict()["fairness"]
    labelled = production["contraband"].notna().to_numpy()
    frame = MetricFrame(
        metrics=lambda y, p: precision_score(y, p, zero_division=0),
        y_true=production["contraband"][labelled].astype(int),
        y_pred=logged["prediction"][labelled].astype(int),
        sensitive_features=production["race"][labelled],
    )
    by_group = {r["group"]: r for r in fairness["model"]["by_group"] if r["segment"] == "(all)"}
    for race, value in frame.by_group.items():
        assert by_group[race]["value"] == pytest.approx(value)
    # the officers searched every labelled stop: their precision is the hit rate
    human = {r["group"]: r for r in fairness["human"]["by_group"] if r["segment"] == "(all)"}
    hits = production[labelled].groupby("race")["contraband"].mean()
    for race, rate in hits.items():
        assert human[race]["value"] == pytest.approx(rate)


def test_a_column_missing_from_production_is_reported_not_a_crash(project, stops_model, production):
    config = project()
    fill_log(config.serve.store_url, stops_model["result"].model, production.drop(columns="sex"))
    data = monitor(config).to_dict()
    assert "sex" in data["drift"]["absent"]
    assert "sex" not in [c["column"] for c in data["drift"]["columns"]]


def test_monitor_reads_a_file_of_production_rows(project, stops_model, production, tmp_path):
    config = project()
    model = stops_model["result"].model
    scored = model.predict_frame(production, validate=False)
    scored["created_at"] = production["date"]
    path = tmp_path / "production.csv"
    scored.rename(columns={"contraband": "found"}).to_csv(path, index=False)
    data = monitor(config, data=path).to_dict()
    y = production["contraband"].dropna().astype(bool)
    assert data["window"]["labelled"] == len(y)
    assert data["source"] == f"file {path}"
    with pytest.raises(MonitorError, match="cannot filter --data"):
        monitor(config, data=path, variant="A")


def test_old_model_without_reference_summary_gets_a_clear_message(
    project, stops_model, production, tmp_path
):
    import mlflow

    config = project()
    fill_log(config.serve.store_url, stops_model["result"].model, production.head(100))
    mlflow.set_tracking_uri(stops_model["uri"])
    local = Path(mlflow.artifacts.download_artifacts("models:/stops/1", dst_path=str(tmp_path)))
    for path in local.rglob("reference_profile.json"):
        path.unlink()
    copy = tmp_path / "old-model"
    shutil.copytree(local, copy)
    with pytest.raises(MonitorError, match="no reference summary"):
        monitor(config, model=str(copy), data=_as_file(stops_model, production, tmp_path))


def _as_file(stops_model: dict[str, Any], production: pd.DataFrame, tmp_path: Path) -> Path:
    scored = stops_model["result"].model.predict_frame(production.head(100), validate=False)
    path = tmp_path / "rows.csv"
    scored.to_csv(path, index=False)
    return path


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[Any]]]:
    """A real HTTP receiver on 127.0.0.1 answering 204: its URL and the payloads it got."""
    with Recorder([204], path="/hook") as hook:
        yield hook.url, hook.bodies


def test_failed_requirement_posts_an_alert_to_the_webhook(
    project, stops_model, production, webhook
):
    url, received = webhook
    config = project(requirements=["recall >= 0.99"], alert_webhook=url)
    log_labelled(config, stops_model, production)
    data = monitor(config).to_dict()
    assert data["alert"] == {"url": url, "sent": True, "status": 204, "error": None, "attempts": 1}
    (payload,) = received
    assert payload["failed"][0]["expression"] == "recall >= 0.99"
    assert payload["failed"][0]["value"] == pytest.approx(
        data["performance"]["metrics"]["recall"]["value"]
    )


def test_a_webhook_that_does_not_answer_is_recorded_and_the_report_still_written(
    project, stops_model, production, tmp_path
):
    port = free_port()  # nothing listens there
    config = project(requirements=["recall >= 0.99"], alert_webhook=f"http://127.0.0.1:{port}/")
    log_labelled(config, stops_model, production)
    report = monitor(config)
    assert report.to_dict()["alert"]["sent"] is False
    assert "did not answer" in report.to_dict()["alert"]["error"]
    paths = report.save(tmp_path / "reports")
    assert json.loads(paths["json"].read_text())["passed"] is False
    html = paths["html"].read_text()
    assert "Population drift" in html and "NOT delivered" in html
    for column in report.to_dict()["drift"]["population"]:  # every categorical column
        assert f"Population of {column}: test vs production" in html
    assert "<script src=" not in html  # self-contained
    assert not np.isnan(report.to_dict()["window"]["labelled_share"])


def test_a_champion_without_rows_of_its_own_names_the_versions_that_have_them(
    project, stops_model, production
):
    config = project()
    fill_log(config.serve.store_url, stops_model["result"].model, production.head(30), version="7")
    with pytest.raises(MonitorError, match=r"version 7: 30 rows.*--model models:/stops/7"):
        monitor(config)


def test_a_lasting_failure_is_alerted_once_and_a_new_one_again(
    project, stops_model, production, webhook
):
    url, received = webhook
    config = project(requirements=["recall >= 0.99", "f1 >= 0.99"], alert_webhook=url)
    log_labelled(config, stops_model, production)
    first = monitor(config).to_dict()
    again = monitor(config, already_alerted={"recall >= 0.99", "f1 >= 0.99"}).to_dict()
    new = monitor(config, already_alerted={"recall >= 0.99"}).to_dict()
    assert first["alert"]["sent"] and new["alert"]["sent"]
    assert again["alert"]["sent"] is False and "already alerted" in again["alert"]["skipped"]
    assert len(received) == 2
