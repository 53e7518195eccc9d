"""Alerts: a JSON payload POSTed to ``monitor.alert_webhook`` when a requirement fails.

Delivery never decides the monitor's outcome: a webhook that is down, slow or answers an
error is recorded in the report (``alert.error``), and the monitor still writes its
reports and exits with the requirements' status.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

#: Seconds to wait for the webhook to answer.
TIMEOUT_S = 5.0


def alert_payload(report: dict[str, Any]) -> dict[str, Any]:
    """What a receiver needs to act: the failed requirements with value, interval, rows."""
    failed = [r for r in report.get("requirements", []) if r.get("status") == "fail"]
    return {
        "source": "tabloop monitor",
        "project": report.get("project"),
        "model": report.get("model", {}).get("uri"),
        "window": report.get("window"),
        "failed": failed,
        "summary": "; ".join(
            f"{r['expression']} (measured {_fmt(r.get('value'))})" for r in failed
        ),
    }


def send_alert(url: str, payload: dict[str, Any], *, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """POST ``payload``; return ``{"url", "sent", "status", "error"}`` and never raise."""
    body = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    out: dict[str, Any] = {"url": url, "sent": False, "status": None, "error": None}
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            out["status"] = int(response.status)
            out["sent"] = 200 <= response.status < 300
    except urllib.error.HTTPError as exc:
        out["status"], out["error"] = exc.code, f"the webhook answered HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        out["error"] = f"the webhook did not answer: {reason}"
    return out


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3g}" if isinstance(value, float) else str(value)
