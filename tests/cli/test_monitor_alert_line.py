"""What `tabloop monitor` prints about its webhook POST: an alert when a requirement fails,
a resolved notice when every requirement holds (Alertmanager's format is sent on every run)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import yaml

from tests.cli.test_cli import run
from tests.cli.test_monitor_cli import production, write_project  # noqa: F401
from tests.stops import fill_log


@pytest.fixture
def hook() -> Iterator[tuple[str, list[Any]]]:
    """A real webhook on 127.0.0.1 answering 200; its URL and the bodies it received."""
    bodies: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v2/alerts", bodies
    server.shutdown()
    server.server_close()


def test_a_passing_run_says_it_sent_a_resolved_notice_not_an_alert(
    tmp_path,
    stops_model,
    production,  # noqa: F811
    hook,
):
    url, bodies = hook
    folder = write_project(tmp_path, stops_model)
    rows = production.head(1000)
    fill_log(
        f"sqlite:///{folder / 'log.db'}",
        stops_model["result"].model,
        rows,
        labels=rows["contraband"],
    )

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
