"""The Grafana dashboard and Prometheus rules shipped with the service: promtool accepts the
rules and they fire on the series they are written for; the dashboard is importable with its
datasource as a variable; and every metric either one queries is exposed by a real running
service (Uvicorn on 127.0.0.1) or by a real monitor run's pushed verdicts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tabloop.monitor import monitor
from tabloop.monitor._push import verdict_registry
from tabloop.serve import create_app, ops_file
from tests.cli.test_cli import run
from tests.monitor.test_monitor import log_labelled, production, project  # noqa: F401
from tests.serve.conftest import AB
from tests.serve.test_app import rows_of
from tests.servers import live_server

PROMTOOL = shutil.which("promtool")
NO_PROMTOOL = (
    "promtool is not installed: `make test` installs Debian's prometheus package (as root or "
    "with sudo); or run `apt-get install prometheus`."
)
METRIC = re.compile(r"\b(?:tabloop|process)_[a-z0-9_]+\b")


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "tabloop-rules.yml"
    path.write_text(ops_file("rules"))
    return path


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if PROMTOOL is None:
        pytest.skip(NO_PROMTOOL)
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False)


def dashboard() -> dict[str, Any]:
    return json.loads(ops_file("grafana"))


def dashboard_queries() -> list[str]:
    board = dashboard()
    queries = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["query"]["query"])
    return queries


def rules_queries() -> list[str]:
    groups = yaml.safe_load(ops_file("rules"))["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def exposed_names(text: str) -> set[str]:
    """Every sample name an exposition text declares, with or without a sample yet (a
    labelled counter nothing has counted still has its HELP and TYPE)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    names = set()
    for family in text_string_to_metric_families(text):
        names.update(s.name for s in family.samples)
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def test_promtool_accepts_the_rules(rules_file):
    result = promtool("check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


def test_the_rules_fire_on_the_series_they_watch(rules_file, tmp_path):
    rules = {
        r["alert"]: r for g in yaml.safe_load(rules_file.read_text())["groups"] for r in g["rules"]
    }

    def expect(name: str, labels: dict[str, str], **annotations: str) -> dict[str, Any]:
        static = {k: v for k, v in rules[name]["annotations"].items() if "{{" not in v}
        return {
            "exp_labels": {**labels, "severity": rules[name]["labels"]["severity"]},
            "exp_annotations": {**static, **annotations},
        }

    service = {"job": "tabloop", "instance": "a"}
    series = "{" + ", ".join(f'{k}="{v}"' for k, v in service.items())
    tests = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # 60 requests a minute, 6 of them answered 503: 10% server errors
                    {
                        "series": "tabloop_requests_total" + series + ', route="/predict", '
                        'method="POST", status="200"}',
                        "values": "0+54x30",
                    },
                    {
                        "series": "tabloop_requests_total" + series + ', route="/predict", '
                        'method="POST", status="503"}',
                        "values": "0+6x30",
                    },
                    {
                        "series": "tabloop_log_refused_rows_total"
                        + series
                        + ', reason="backlog_full"}',
                        "values": "0x10 5x20",
                    },
                    {
                        "series": "tabloop_model_info"
                        + series
                        + ', variant="A", model="m", version="1"}',
                        "values": "1x30",
                    },
                    {
                        "series": 'tabloop_monitor_requirement_status{project="stops", variant="", '
                        'requirement="recall >= 0.99"}',
                        "values": "0x30",
                    },
                    {
                        "series": 'tabloop_monitor_requirement_status{project="stops", '
                        'variant="B", requirement="precision >= 0.5"}',
                        "values": "1x30",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "15m",
                        "alertname": "TabloopServerErrors",
                        "exp_alerts": [
                            expect(
                                "TabloopServerErrors",
                                service,
                                summary="a: 10% of requests answer 5xx",
                            )
                        ],
                    },
                    {
                        "eval_time": "12m",
                        "alertname": "TabloopLogRefusingPredictions",
                        "exp_alerts": [
                            expect(
                                "TabloopLogRefusingPredictions",
                                {**service, "reason": "backlog_full"},
                                summary="a: predictions refused with 503 (backlog_full)",
                                description="5 predicted rows were refused in 5 minutes "
                                "because the log could not keep them; clients got 503 and "
                                "must retry.",
                            )
                        ],
                    },
                    {
                        "eval_time": "20m",
                        "alertname": "TabloopLogRefusingPredictions",
                        "exp_alerts": [],
                    },  # 5 minutes without a refusal: resolved
                    {
                        "eval_time": "15m",
                        "alertname": "TabloopRequirementFailed",
                        "exp_alerts": [
                            expect(
                                "TabloopRequirementFailed",
                                {"project": "stops", "requirement": "recall >= 0.99"},
                                summary="stops: recall >= 0.99 fails",
                            )
                        ],
                    },
                    {"eval_time": "15m", "alertname": "TabloopServiceAbsent", "exp_alerts": []},
                    {"eval_time": "15m", "alertname": "TabloopClientErrors", "exp_alerts": []},
                ],
            },
            {
                "interval": "1m",
                "input_series": [],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "TabloopServiceAbsent",
                        "exp_alerts": [expect("TabloopServiceAbsent", {})],
                    },
                ],
            },
        ],
    }
    path = tmp_path / "rules-test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_dashboard_query_is_valid_promql(tmp_path):
    """promtool parses each query as a recording rule, with Grafana's variables replaced by
    what Grafana sends (a range for $__rate_interval, a regex for $job and $variant)."""
    grafana = {"$__rate_interval": "1m", "$job": ".*", "$variant": ".*"}
    rules = []
    for i, query in enumerate(q for q in dashboard_queries() if not q.startswith("label_values")):
        for variable, value in grafana.items():
            query = query.replace(variable, value)
        assert "$" not in query, query
        rules.append({"record": f"tabloop:dashboard_query_{i}", "expr": query})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout and len(rules) > 20


def test_the_dashboard_is_importable_with_the_datasource_as_a_variable():
    board = dashboard()
    assert board["uid"] == "tabloop-service" and board["id"] is None
    (source,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert (source["name"], source["query"]) == ("datasource", "prometheus")
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"] and all(
            t["datasource"] == panel["datasource"] for t in panel["targets"]
        )
    titles = " | ".join(p["title"] for p in board["panels"])
    for topic in (
        "Requests per second",
        "Latency",
        "Error",
        "Predicted rows",
        "Score distribution",
        "Model version",
        "Log backlog",
        "Monitor passed",
        "Requirements",
    ):
        assert topic in titles


def test_print_writes_the_shipped_files_without_a_project(tmp_path):
    printed = run("serve", "--print", "grafana", cwd=tmp_path)
    assert printed.returncode == 0 and json.loads(printed.stdout) == dashboard()
    printed = run("serve", "--print", "rules", cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout == ops_file("rules")
    wrong = run("serve", "--print", "kibana", cwd=tmp_path)
    assert wrong.returncode == 2 and "must be grafana or rules; got 'kibana'" in wrong.stderr


@pytest.mark.slow
def test_every_metric_queried_is_exposed_by_a_running_service_or_the_monitor(
    make_config,
    registered,
    project,  # noqa: F811 - the fixtures of test_monitor
    stops_model,
    production,  # noqa: F811
):
    rows = rows_of(registered["df"], 40)
    with live_server(create_app(make_config(**AB))) as base, httpx.Client(base_url=base) as http:
        answers = http.post("/predict", json={"records": rows}).json()["predictions"]
        assert len(answers) == 40
        assert http.post("/predict", json={"records": [{"age": "old"}]}).status_code == 422
        service = exposed_names(http.get("/metrics").text)
    config = project(requirements=["recall >= 0.99", "drift.multivariate_auc <= 0.9"])
    log_labelled(config, stops_model, production)
    verdicts = exposed_names(generate_latest(verdict_registry(monitor(config))).decode())
    assert verdicts <= {n for n in verdicts if n.startswith("tabloop_monitor_")}
    assert not {n for n in service if n.startswith("tabloop_monitor_")}
    for where, queries in (("dashboard", dashboard_queries()), ("rules", rules_queries())):
        used = {name for query in queries for name in METRIC.findall(query)}
        assert len(used) >= 10, where
        assert used - service - verdicts == set(), f"{where} queries metrics nothing exposes"
    # the dashboard covers what the service exposes (the process metrics aside)
    on_board = {name for query in dashboard_queries() for name in METRIC.findall(query)}
    own = {n for n in service if n.startswith("tabloop_") and not n.endswith("_created")}
    assert own - on_board <= {"tabloop_request_seconds_count", "tabloop_request_seconds_sum"}
