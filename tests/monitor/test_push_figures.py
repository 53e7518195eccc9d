"""Prometheus and MLflow chart the same figures of one monitor report: both read them with
``tabloop.registry.monitor_figures``, each under the names the README gives."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tabloop.monitor._push import verdict_registry
from tabloop.registry import monitor_figures, monitor_metrics
from tests.registry.test_monitor_run import REPORT

#: Each figure's Prometheus metric and MLflow metric (README: Monitoring, and MLflow runs).
SAME = {
    "tabloop_monitor_passed": "monitor_passed",
    "tabloop_monitor_rows": "rows",
    "tabloop_monitor_labelled_rows": "labelled_rows",
    "tabloop_monitor_drifted_columns": "drifted_columns",
    "tabloop_monitor_drift_share": "drift_share",
    "tabloop_monitor_multivariate_auc": "drift_multivariate_auc",
}
#: The labels every verdict carries.
COMMON = ("project", "variant")


def scraped(report: dict) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(verdict_registry(report, variant="B")).decode()
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in COMMON))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_figures_of_a_report_read_by_hand():
    figures = monitor_figures({**REPORT, "requirements": [*REPORT["requirements"][:1]]})
    assert (figures.passed, figures.failed_requirements) == (True, 0)
    figures = monitor_figures(REPORT)
    assert (figures.passed, figures.failed_requirements) == (False, 1)
    assert (figures.rows, figures.labelled_rows) == (6000, 1362)
    assert (figures.drifted_columns, figures.drift_share, figures.multivariate_auc) == (
        2,
        0.25,
        0.61,
    )
    assert figures.production == {"precision": 0.66, "recall": None}
    assert figures.estimated == {"precision": 0.7}
    assert (figures.fairness_max_gap, figures.fairness_violation) == (0.16, True)
    statuses = [(r.expression, r.status) for r in figures.requirements]
    assert statuses == [
        ("precision >= 0.5", 1.0),
        ("fairness.max_gap <= 0.05", 0.0),
        ("drift.share_drifted_columns < 0.3", -1.0),
    ]


def test_prometheus_and_mlflow_give_each_figure_the_same_value():
    report = {
        **REPORT,
        "project": "stops",
        "requirements": [
            {"expression": "precision >= 0.5", "status": "pass", "value": 0.66},
            {"expression": "recall >= 0.9", "status": "fail", "value": 0.4},
            {"expression": "drift.share_drifted_columns < 0.3", "status": "unknown"},
        ],
    }
    prometheus, mlflow = scraped(report), monitor_metrics(report)
    for gauge, metric in SAME.items():
        assert prometheus[(gauge, ())] == mlflow[metric], gauge
    assert prometheus[("tabloop_monitor_passed", ())] == 0.0
    assert (
        prometheus[("tabloop_monitor_metric", (("metric", "precision"),))]
        == (mlflow["production_precision"])
    )
    assert ("tabloop_monitor_metric", (("metric", "recall"),)) not in prometheus  # no figure
    for expression, key in [
        ("precision >= 0.5", "precision ge 0.5"),
        ("recall >= 0.9", "recall ge 0.9"),
        ("drift.share_drifted_columns < 0.3", "drift.share_drifted_columns lt 0.3"),
    ]:
        status = prometheus[("tabloop_monitor_requirement_status", (("requirement", expression),))]
        assert status == mlflow[f"requirement/{key}"]
    assert [
        prometheus.get(("tabloop_monitor_requirement_value", (("requirement", e),)))
        for e in ("precision >= 0.5", "recall >= 0.9", "drift.share_drifted_columns < 0.3")
    ] == [0.66, 0.4, None]
