"""What `tabloop monitor` prints about its webhook POST: an alert when a requirement fails,
a resolved notice when every requirement holds (Alertmanager's format is sent on every run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.cli.test_cli import run
from tests.cli.test_monitor_cli import production, write_project  # noqa: F401
from tests.servers import Recorder
from tests.stops import log_production


@pytest.fixture
def hook() -> Iterator[tuple[str, list[Any]]]:
    """A real webhook on 127.0.0.1 answering 200; its URL and the bodies it received."""
    with Recorder([200], path="/api/v2/alerts") as receiver:
        yield receiver.url, receiver.bodies


def test_a_passing_run_says_it_sent_a_resolved_notice_not_an_alert(
    tmp_path,
    stops_model,
    production,  # noqa: F811
    hook,
):
    url, bodies = hook
    folder = write_project(tmp_path, stops_model)
    rows = production.head(1000)
    log_production(folder, stops_model, rows)

    def monitor(requirement: str) -> str:
        project = yaml.safe_load((folder / "tabloop.yaml").read_text())
        project["monitor"] = {
            "requirements": [requirement],
            "bootstrap": 100,
            "alert_webhook": url,
            "alert_format": "alertmanager",
        }
        (folder / "tabloop.yaml").write_text(yaml.safe_dump(project))
        done = run("monitor", cwd=folder)
        assert done.returncode == (0 if requirement == "recall >= 0" else 1), done.stderr
        return done.stdout

    holds = monitor("recall >= 0")
    assert f"Resolved notice to {url}: sent (every requirement holds)" in holds
    assert "Alert to" not in holds
    ((resolved,),) = bodies  # what was sent: Alertmanager's alert, ended now
    assert resolved["endsAt"] == resolved["startsAt"]

    fails = monitor("recall >= 0.99")
    assert f"Alert to {url}: sent" in fails
    assert "Resolved notice" not in fails
    assert bodies[1][0]["endsAt"] > bodies[1][0]["startsAt"]
