"""The monitor's verdicts for Prometheus: pushed to a real HTTP server standing for the
Pushgateway, written as a node_exporter textfile, and `tabloop monitor --pushgateway/--textfile`
as a user runs it (a bad target is one line and exit 2 after the reports are written)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tabloop.exceptions import MonitorError
from tabloop.monitor import monitor, push_verdicts
from tests.cli.test_cli import TABLOOP, assert_one_line_error, run
from tests.cli.test_monitor_cli import write_project
from tests.monitor.test_monitor import log_labelled, production, project  # noqa: F401
from tests.servers import Recorder, free_port
from tests.stops import fill_log

REQUIREMENTS = ["recall >= 0.99", "precision >= 0.1", "fairness.max_gap <= 0.05"]


def values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def gateway() -> Iterator[Recorder]:
    """A real HTTP server on 127.0.0.1 standing for the Pushgateway: it records each push."""
    with Recorder() as g:
        yield g


def check_verdicts(scraped: dict, data: dict[str, Any], variant: str = "") -> None:
    common = {"project": "stops", "variant": variant}

    def get(name: str, **labels: str) -> float:
        return scraped[(name, frozenset({**common, **labels}.items()))]

    statuses = {r["expression"]: r["status"] for r in data["requirements"]}
    assert statuses["recall >= 0.99"] == "fail"
    assert get("tabloop_monitor_passed") == 0
    for expression, status in statuses.items():
        expected = {"pass": 1, "fail": 0, "unknown": -1}[status]
        assert get("tabloop_monitor_requirement_status", requirement=expression) == expected
    recall = data["performance"]["metrics"]["recall"]["value"]
    assert get("tabloop_monitor_requirement_value", requirement="recall >= 0.99") == recall
    assert get("tabloop_monitor_metric", metric="recall") == recall
    assert get("tabloop_monitor_rows") == data["window"]["rows"] == 1500
    assert get("tabloop_monitor_labelled_rows") == data["window"]["labelled"]
    assert get("tabloop_monitor_drifted_columns") == len(data["drift"]["drifted_columns"])
    assert get("tabloop_monitor_drift_share") == data["drift"]["share_drifted"]
    model = data["model"]
    assert get("tabloop_monitor_model_info", model=model["uri"], version=model["version"]) == 1
    assert get("tabloop_monitor_last_run_timestamp_seconds") > 1.7e9


def test_verdicts_are_pushed_to_the_gateway_and_written_as_a_textfile(
    project,  # noqa: F811 - the fixtures of test_monitor
    stops_model,
    production,  # noqa: F811
    gateway,
    tmp_path,
):
    config = project(requirements=REQUIREMENTS)
    log_labelled(config, stops_model, production)
    report = monitor(config)
    textfile = tmp_path / "tabloop.prom"
    said = push_verdicts(report, pushgateway=gateway.url, textfile=textfile, variant="B")
    assert said == [
        f"Verdicts written to {textfile}",
        f"Verdicts pushed to {gateway.url} (job tabloop_monitor, project stops, variant B)",
    ]
    ((method, path, body),) = gateway.requests
    assert (method, path) == ("PUT", "/metrics/job/tabloop_monitor/project/stops/variant/B")
    check_verdicts(values(body), report.to_dict(), variant="B")
    check_verdicts(values(textfile.read_text()), report.to_dict(), variant="B")


def test_a_textfile_that_fails_does_not_stop_the_push_and_every_failure_is_one_line(
    gateway, tmp_path
):
    report = {
        "project": "stops",
        "model": {"uri": "models:/stops/3", "version": "3"},
        "requirements": [{"expression": "recall >= 0.99", "status": "fail", "value": 0.6}],
    }
    with pytest.raises(MonitorError) as caught:
        push_verdicts(report, pushgateway=gateway.url, textfile=tmp_path / "no" / "v.prom")
    message = str(caught.value)
    assert message.startswith(f"--textfile '{tmp_path / 'no' / 'v.prom'}': cannot write it")
    assert message.endswith(
        f". Verdicts pushed to {gateway.url} (job tabloop_monitor, project stops). "
        "The report was written."
    )
    assert "\n" not in message
    ((method, path, body),) = gateway.requests
    assert path == "/metrics/job/tabloop_monitor/project/stops"
    assert (
        values(body)[
            (
                "tabloop_monitor_requirement_status",
                frozenset(
                    {"project": "stops", "variant": "", "requirement": "recall >= 0.99"}.items()
                ),
            )
        ]
        == 0
    )

    with pytest.raises(MonitorError) as both:
        push_verdicts(report, pushgateway="not a url", textfile=tmp_path / "v.txt")
    assert str(both.value).startswith(f"--textfile '{tmp_path / 'v.txt'}' must end in .prom")
    assert "; --pushgateway 'not a url': the push failed" in str(both.value)
    assert str(both.value).endswith("http://localhost:9091. The report was written.")


@pytest.mark.slow
def test_monitor_cli_pushes_and_a_bad_target_is_one_line_after_the_reports(
    tmp_path,
    stops_model,
    production,  # noqa: F811 - the fixture of test_monitor
    gateway,
):
    folder = write_project(tmp_path, stops_model, monitor={"requirements": REQUIREMENTS})
    fill_log(
        f"sqlite:///{folder / 'log.db'}",
        stops_model["result"].model,
        production,
        labels=production["contraband"],
    )
    pushed = run("monitor", "--pushgateway", gateway.url, "--textfile", "v.prom", cwd=folder)
    assert pushed.returncode == 1, pushed.stderr  # recall >= 0.99 fails; the push succeeded
    assert f"Verdicts pushed to {gateway.url}" in pushed.stdout
    data = json.loads((folder / "reports" / "monitor.json").read_text())
    check_verdicts(values(gateway.requests[0][2]), data)
    check_verdicts(values((folder / "v.prom").read_text()), data)

    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    cases = [
        (["--pushgateway", nobody], f"--pushgateway '{nobody}': the push failed"),
        (["--pushgateway", "not a url"], "--pushgateway 'not a url': the push failed"),
        (["--textfile", "missing/dir/v.prom"], "--textfile 'missing/dir/v.prom': cannot write"),
        (
            ["--textfile", "missing/v.prom", "--pushgateway", gateway.url],
            "--textfile 'missing/v.prom': cannot write",
            f"Verdicts pushed to {gateway.url}",
        ),
    ]
    for i, (args, *messages) in enumerate(cases):
        failed = run("monitor", "--out", f"out{i}", *args, cwd=folder)
        assert_one_line_error(failed, *messages, "The report was written.")
        assert json.loads((folder / f"out{i}" / "monitor.json").read_text())["passed"] is False
    assert len(gateway.requests) == 2  # the textfile that failed did not stop the push

    # a textfile node_exporter would not read is refused before the monitor runs
    refused = run("monitor", "--out", "txt", "--textfile", "verdicts.txt", cwd=folder)
    assert_one_line_error(refused, "--textfile 'verdicts.txt' must end in .prom")
    assert not (folder / "txt").exists()

    # with --every a refused push is a line on stderr and the runs go on
    every = subprocess.Popen(
        [*TABLOOP, "monitor", "--every", "1s", "--textfile", "missing/v.prom", "--out", "every"],
        cwd=folder,
        env={**os.environ, "COLUMNS": "200", "TABLOOP_PROGRESS": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen = []
        for line in every.stdout:  # type: ignore[union-attr]
            seen.append(line)
            if sum("Next run in 1s" in x for x in seen) == 2:  # a second run began and ended
                break
    finally:
        every.kill()
        every.communicate()
    text = "".join(seen)
    assert text.count("error: --textfile 'missing/v.prom': cannot write") == 2, text
    assert (folder / "every" / "monitor.json").exists()
