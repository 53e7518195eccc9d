"""The alert webhook against real HTTP receivers on 127.0.0.1: retries with backoff on 5xx
and refused connections (never on 4xx), and the three payload formats."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tabloop.monitor import monitor
from tabloop.monitor._alerts import ALERT_LASTS_S, ATTEMPTS, alert_payload, send_alert
from tests.monitor.test_monitor import log_labelled, production, project  # noqa: F401
from tests.servers import Recorder, free_port

REPORT = {
    "project": "stops",
    "model": {"uri": "models:/stops/3"},
    "window": {"rows": 1500, "labelled": 700},
    "requirements": [
        {
            "expression": "recall >= 0.99",
            "status": "fail",
            "value": 0.61234,
            "ci_low": 0.58,
            "ci_high": 0.65,
        },
        {"expression": "precision >= 0.5", "status": "pass", "value": 0.7},
    ],
}


@pytest.fixture
def receiver() -> Iterator[Any]:
    """Starts a webhook receiver at ``/hook`` answering each POST with the next of the
    statuses it is given (the last one repeats); stopped after the test."""
    with contextlib.ExitStack() as started:
        yield lambda statuses: started.enter_context(Recorder(statuses, path="/hook"))


def test_a_webhook_failing_twice_gets_the_alertmanager_alert_on_the_third_try(
    project,  # noqa: F811 - the fixtures of test_monitor
    stops_model,
    production,  # noqa: F811
    receiver,
):
    hook = receiver([503, 502, 200])
    config = project(
        requirements=["recall >= 0.99"], alert_webhook=hook.url, alert_format="alertmanager"
    )
    log_labelled(config, stops_model, production)
    before = datetime.now(UTC).replace(microsecond=0)
    data = monitor(config).to_dict()
    assert data["alert"] == {
        "url": hook.url,
        "sent": True,
        "status": 200,
        "error": None,
        "attempts": 3,
    }
    assert len(hook.bodies) == 3 and hook.bodies[0] == hook.bodies[2]
    (alert,) = hook.bodies[2]  # Alertmanager's POST /api/v2/alerts: a list of alerts
    recall = data["performance"]["metrics"]["recall"]["value"]
    assert alert["labels"] == {
        "alertname": "TabloopMonitorRequirementFailed",
        "severity": "warning",
        "project": data["project"],
        "model": data["model"]["uri"],
        "requirement": "recall >= 0.99",
    }
    assert alert["annotations"]["summary"] == f"recall >= 0.99 fails (measured {recall:.3g})"
    assert set(alert) == {"labels", "annotations", "startsAt", "endsAt"}
    started = datetime.strptime(alert["startsAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= started <= datetime.now(UTC)
    ends = datetime.strptime(alert["endsAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert ends - started == timedelta(hours=25) == timedelta(seconds=ALERT_LASTS_S)
    # Alertmanager forgets an alert not sent again: a lasting failure is sent on every run
    again = monitor(config, already_alerted={"recall >= 0.99"}).to_dict()
    assert again["alert"]["sent"] is True and "skipped" not in again["alert"]
    assert len(hook.bodies) == 4
    assert hook.bodies[3][0]["labels"] == alert["labels"]


def test_alertmanager_resolves_a_requirement_that_passes_in_the_same_post():
    firing, resolved = alert_payload(REPORT, "alertmanager")
    assert firing["labels"]["requirement"] == "recall >= 0.99"
    assert resolved["labels"]["requirement"] == "precision >= 0.5"
    assert resolved["endsAt"] == resolved["startsAt"]  # ended now: Alertmanager resolves it
    assert resolved["annotations"]["summary"] == "precision >= 0.5 holds (measured 0.7)"
    assert firing["endsAt"] > firing["startsAt"]
    unknown = {**REPORT, "requirements": [{"expression": "f1 >= 0.9", "status": "unknown"}]}
    assert alert_payload(unknown, "alertmanager") == []  # nothing judged: nothing to say


@pytest.mark.parametrize("url", ["htp://127.0.0.1/hook", "alertmanager:9093/api/v2/alerts"])
def test_a_malformed_webhook_url_is_tried_once(url):
    waits: list[float] = []
    out = send_alert(url, alert_payload(REPORT), sleep=waits.append)
    assert out == {
        "url": url,
        "sent": False,
        "status": None,
        "error": f"the webhook URL {url!r} is not an http:// or https:// URL, e.g. "
        "http://alertmanager:9093/api/v2/alerts",
        "attempts": 1,
    }
    assert waits == []


def test_a_4xx_is_not_retried(receiver):
    hook = receiver([400, 200])
    out = send_alert(hook.url, alert_payload(REPORT))
    assert out == {
        "url": hook.url,
        "sent": False,
        "status": 400,
        "error": "the webhook answered HTTP 400",
        "attempts": 1,
    }
    assert len(hook.bodies) == 1


def test_a_webhook_that_never_answers_is_tried_a_bounded_number_of_times_with_backoff():
    url = f"http://127.0.0.1:{free_port()}/"  # nothing listens there: refused
    waits: list[float] = []
    out = send_alert(url, alert_payload(REPORT), sleep=waits.append)
    assert out["sent"] is False and out["attempts"] == ATTEMPTS == 4
    assert waits == [0.5, 1.0, 2.0]
    assert out["error"].startswith("the webhook did not answer")
    assert out["error"].endswith("(after 4 attempts)")


def test_a_webhook_answering_5xx_every_time_gives_up_after_the_last_attempt(receiver):
    hook = receiver([500])
    out = send_alert(hook.url, alert_payload(REPORT), backoff=0.01)
    assert out["status"] == 500 and out["attempts"] == 4 and len(hook.bodies) == 4
    assert out["error"] == "the webhook answered HTTP 500 (after 4 attempts)"


def test_slack_and_tabloop_payloads(receiver):
    hook = receiver([200])
    assert send_alert(hook.url, alert_payload(REPORT, "slack"))["sent"]
    assert hook.bodies == [
        {"text": "tabloop monitor: stops (models:/stops/3) fails recall >= 0.99 (measured 0.612)"}
    ]
    own = alert_payload(REPORT)
    assert own["failed"] == [REPORT["requirements"][0]]
    assert own["summary"] == "recall >= 0.99 (measured 0.612)"
    with pytest.raises(ValueError, match="alert format 'teams': use one of tabloop"):
        alert_payload(REPORT, "teams")


def test_the_alert_format_is_checked_when_the_config_loads(project):  # noqa: F811
    from tabloop.exceptions import ConfigError

    with pytest.raises((ConfigError, ValueError), match="alert_format"):
        project(alert_format="teams")
