"""Alerts: a payload POSTed to ``monitor.alert_webhook`` when a requirement fails.

``monitor.alert_format`` picks the payload:

- ``tabloop``: one JSON object (``source``, ``project``, ``model``, ``window``, ``failed``
  with each requirement's value, interval and status, ``summary``);
- ``alertmanager``: a JSON list of alerts as Alertmanager's ``POST /api/v2/alerts`` takes
  them, one per requirement judged (``labels`` with ``alertname:
  TabloopMonitorRequirementFailed``, ``severity``, ``project``, ``model``, ``requirement``;
  ``annotations`` with ``summary`` and ``description``; ``startsAt`` and ``endsAt``). A
  failing requirement ends :data:`ALERT_LASTS_S` after the run, a passing one now (resolved).
  Alertmanager expects a firing alert to be sent again until it clears, so this format is
  sent on every run that judged a requirement, never deduplicated: the alert fires as long
  as the runs fail, and the first run that passes resolves it, whatever the schedule (the
  name differs from the shipped Prometheus rule ``TabloopRequirementFailed``, which fires
  from the pushed verdicts);
- ``slack``: ``{"text": ...}`` as a Slack (or Mattermost, Rocket.Chat) incoming webhook takes.

Delivery is retried with exponential backoff (:data:`BACKOFF_S`, doubled each time, at most
:data:`ATTEMPTS` tries) when the webhook cannot be reached, times out or answers 5xx; a 4xx
or a malformed URL is final (the request itself is wrong, sending it again changes nothing).
Delivery never decides the monitor's outcome: a webhook that is down, slow or answers an
error is recorded in the report (``alert.error``, ``alert.attempts``), and the monitor still
writes its reports and exits with the requirements' status.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

#: Seconds to wait for the webhook to answer, per attempt.
TIMEOUT_S = 5.0
#: Tries in all (the first and the retries).
ATTEMPTS = 4
#: Seconds before the first retry; doubled before each next one (0.5, 1, 2).
BACKOFF_S = 0.5
#: Seconds an Alertmanager alert of a failing requirement lasts unless a later run sends it
#: again (it fails still) or resolves it (it passes): longer than a daily schedule.
ALERT_LASTS_S = 25 * 3600
ALERTNAME = "TabloopMonitorRequirementFailed"
FORMATS = ("tabloop", "alertmanager", "slack")
PASS_FAIL = ("pass", "fail")


def alert_payload(report: dict[str, Any], fmt: str = "tabloop") -> Any:
    """What a receiver needs to act, in the ``fmt`` it reads (see the module docstring)."""
    failed = [r for r in report.get("requirements", []) if r.get("status") == "fail"]
    model = report.get("model", {}).get("uri")
    summary = "; ".join(f"{r['expression']} (measured {_fmt(r.get('value'))})" for r in failed)
    if fmt == "alertmanager":
        judged = [r for r in report.get("requirements", []) if r.get("status") in PASS_FAIL]
        return _alertmanager(report, judged, model)
    if fmt == "slack":
        project = report.get("project") or "tabloop"
        return {"text": f"tabloop monitor: {project} ({model}) fails {summary}"}
    if fmt != "tabloop":
        raise ValueError(f"alert format {fmt!r}: use one of {', '.join(FORMATS)}")
    return {
        "source": "tabloop monitor",
        "project": report.get("project"),
        "model": model,
        "window": report.get("window"),
        "failed": failed,
        "summary": summary,
    }


def _alertmanager(
    report: dict[str, Any], judged: list[dict[str, Any]], model: str | None
) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    started = _iso(now)
    window = report.get("window") or {}
    alerts = []
    for r in judged:
        failing = r["status"] == "fail"
        labels = {
            "alertname": ALERTNAME,
            "severity": "warning",
            "project": report.get("project"),
            "model": model,
            "requirement": r["expression"],
        }
        interval = ""
        if r.get("ci_low") is not None and r.get("ci_high") is not None:
            interval = f", interval {_fmt(r['ci_low'])} to {_fmt(r['ci_high'])}"
        alerts.append(
            {
                "labels": {k: str(v) for k, v in labels.items() if v is not None},
                "annotations": {
                    "summary": f"{r['expression']} "
                    f"{'fails' if failing else 'holds'} (measured {_fmt(r.get('value'))})",
                    "description": f"tabloop monitor measured {_fmt(r.get('value'))}"
                    f"{interval} on {window.get('rows', 'n/a')} rows "
                    f"({window.get('labelled', 'n/a')} labelled) of {model}.",
                },
                "startsAt": started,
                "endsAt": _iso(now + timedelta(seconds=ALERT_LASTS_S)) if failing else started,
            }
        )
    return alerts


def send_alert(
    url: str,
    payload: Any,
    *,
    timeout: float = TIMEOUT_S,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """POST ``payload`` as JSON, retrying as the module docstring says; return ``{"url",
    "sent", "status", "error", "attempts"}`` and never raise."""
    out: dict[str, Any] = {"url": url, "sent": False, "status": None, "error": None}
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:  # trying again is futile
        expected = "an http:// or https:// URL, e.g. http://alertmanager:9093/api/v2/alerts"
        return {**out, "error": f"the webhook URL {url!r} is not {expected}", "attempts": 1}
    for attempt in range(1, attempts + 1):
        out.update(_post(url, payload, timeout), attempts=attempt)
        status = out["status"]
        if out["sent"] or (status is not None and status < 500):
            break
        if attempt < attempts:
            sleep(backoff * 2 ** (attempt - 1))
    if not out["sent"] and out["attempts"] > 1:
        out["error"] = f"{out['error']} (after {out['attempts']} attempts)"
    return out


def _post(url: str, payload: Any, timeout: float) -> dict[str, Any]:
    body = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = int(response.status)
            return {"status": status, "sent": 200 <= status < 300, "error": None}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "sent": False, "error": f"the webhook answered HTTP {exc.code}"}
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return {"status": None, "sent": False, "error": f"the webhook did not answer: {reason}"}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)
