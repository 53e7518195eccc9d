"""The monitor's verdicts as MLflow metrics: one run per monitored version, one point per
`tabloop monitor`, so MLflow charts drift and production performance over time."""

from __future__ import annotations

import json

import mlflow
import pytest

from tabloop.registry import monitor_metrics
from tests.cli.test_cli import run, unwrap
from tests.cli.test_monitor_cli import write_project
from tests.stops import fill_log

REPORT = {
    "model": {"uri": "models:/stops/1", "version": "1"},
    "window": {"rows": 6000, "labelled": 1362},
    "drift": {
        "share_drifted": 0.25,
        "drifted_columns": ["reason_for_stop", "score"],
        "multivariate": {"auc": 0.61},
    },
    "performance": {"metrics": {"precision": {"value": 0.66}, "recall": {"value": None}}},
    "estimated": {"estimated": {"metrics": {"precision": {"value": 0.7}}}},
    "fairness": {
        "model": {
            "verdict": "violation",
            "gaps": [{"gap": 0.08}, {"gap": 0.16}, {"gap": None}],
        }
    },
    "requirements": [
        {"expression": "precision >= 0.5", "status": "pass"},
        {"expression": "fairness.max_gap <= 0.05", "status": "fail"},
        {"expression": "drift.share_drifted_columns < 0.3", "status": "unknown"},
    ],
}


def test_verdicts_are_numbers_with_alert_flags_and_requirement_statuses():
    assert monitor_metrics(REPORT) == {
        "monitor_passed": 0.0,
        "failed_requirements": 1.0,
        "rows": 6000.0,
        "labelled_rows": 1362.0,
        "drift_share": 0.25,
        "drifted_columns": 2.0,
        "drift_multivariate_auc": 0.61,
        "production_precision": 0.66,  # recall has no figure: left out
        "estimated_precision": 0.7,
        "fairness_max_gap": 0.16,
        "fairness_violation": 1.0,
        "requirement/precision ge 0.5": 1.0,
        "requirement/fairness.max_gap le 0.05": 0.0,
        "requirement/drift.share_drifted_columns lt 0.3": -1.0,
    }


def test_a_report_without_outcomes_drift_or_fairness_gives_what_it_has():
    bare = {"requirements": [], "window": {"rows": 10, "labelled": 0}, "drift": {}}
    assert monitor_metrics(bare) == {
        "monitor_passed": 1.0,
        "failed_requirements": 0.0,
        "rows": 10.0,
        "labelled_rows": 0.0,
        "drifted_columns": 0.0,
    }


@pytest.fixture
def production():
    from tabloop.examples import traffic_stops

    return traffic_stops(3000, production=True)


@pytest.mark.slow
def test_each_monitor_adds_a_point_to_the_run_of_the_version_it_monitored(
    tmp_path, stops_model, production
):
    folder = write_project(
        tmp_path, stops_model, monitor={"requirements": ["precision >= 0.5"], "bootstrap": 100}
    )
    store = f"sqlite:///{folder / 'log.db'}"
    model = stops_model["result"].model
    fill_log(store, model, production, labels=production["contraband"])
    reports = []
    for i in range(2):
        done = run("monitor", "--out", f"reports{i}", cwd=folder)
        assert done.returncode in (0, 1), done.stderr
        reports.append(json.loads((folder / f"reports{i}" / "monitor.json").read_text()))

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name("stops")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`tabloop.kind` = 'monitor'"
    )
    assert [r.info.run_name for r in runs] == ["monitor stops v1"]
    found = runs[0]
    assert found.data.tags["tabloop.model"] == "models:/stops/1"
    history = client.get_metric_history(found.info.run_id, "drift_share")
    assert [(m.step, m.value) for m in history] == [
        (i, pytest.approx(r["drift"]["share_drifted"])) for i, r in enumerate(reports)
    ]
    expected = monitor_metrics(reports[-1])
    assert found.data.metrics == pytest.approx(expected)
    precision = reports[-1]["performance"]["metrics"]["precision"]["value"]
    assert found.data.metrics["production_precision"] == pytest.approx(precision)
    passed = reports[-1]["requirements"][0]["status"] == "pass"
    assert found.data.metrics["requirement/precision ge 0.5"] == (1.0 if passed else 0.0)
    attached = {a.path for a in client.list_artifacts(found.info.run_id, "reports")}
    assert attached == {"reports/monitor.json", "reports/monitor.html"}


@pytest.mark.slow
def test_a_store_that_cannot_take_the_verdicts_is_a_warning_not_the_monitors_exit(
    tmp_path, stops_model, production
):
    """Logging to MLflow comes after the monitor's own outputs: an MLflow store another
    process holds a write lock on still lets the monitor print its verdicts and exit with
    its own code (1: a requirement fails), with one warning saying what was not logged."""
    import sqlite3

    folder = write_project(
        tmp_path, stops_model, monitor={"requirements": ["recall >= 0.99"], "bootstrap": 100}
    )
    model = stops_model["result"].model
    fill_log(f"sqlite:///{folder / 'log.db'}", model, production, labels=production["contraband"])
    first = run("monitor", "--out", "first", cwd=folder)  # re-points the copied store's paths
    assert first.returncode == 1, first.stderr
    assert "warning" not in first.stderr

    holder = sqlite3.connect(folder / "mlflow.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # a writer elsewhere: reads work, writes wait
        locked = run("monitor", "--out", "second", cwd=folder)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert locked.returncode == 1, locked.stderr
    assert "recall >= 0.99" in locked.stdout and "fail" in locked.stdout
    assert "second" in locked.stdout and (folder / "second" / "monitor.json").exists()
    assert unwrap(locked.stderr) == (
        "warning: the verdicts were not logged to MLflow: the store "
        f"sqlite:///{folder / 'mlflow.db'} refused them (database is locked)"
    )

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name("stops")
    (found,) = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`tabloop.kind` = 'monitor'"
    )
    assert len(client.get_metric_history(found.info.run_id, "monitor_passed")) == 1
