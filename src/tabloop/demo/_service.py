"""The demo's live part: serve two variants, send the test rows, upload their outcomes in two
batches, print the A/B report, stop the service.

The service runs as a real ``tabloop serve`` process, as a team would run it, and is spoken
to over HTTP with the standard library only (no client package is a runtime dependency).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from tabloop.registry import RegisteredVersion
    from tabloop.workflows import TrainRun

#: Rows per /predict request in the demo: a client batching a day's cases.
ROWS_PER_REQUEST = 100


def registered(run: TrainRun) -> RegisteredVersion:
    """The version ``run`` registered under an alias, which the demo serves or predicts
    with; :class:`~tabloop.exceptions.RegistryError` saying why when it has none (a model
    that does not beat the dummy is registered without an alias, see
    :func:`~tabloop.workflows.failure_line`)."""
    from tabloop.exceptions import RegistryError
    from tabloop.workflows import failure_line

    version = run.version
    if version is not None and version.aliases:
        return version
    why = failure_line(run) or (
        "it was not registered" if version is None else f"{version.uri} has no alias"
    )
    raise RegistryError(
        f"The demo serves the model of {run.result.config.name!r} by its alias, but {why}. "
        "The demo's data is generated with fixed seeds, so please report this as a bug."
    )


@contextmanager
def running_service(root: Path, *, echo: Callable[[str], Any], log_name: str) -> Iterator[str]:
    """Run ``tabloop serve`` for the project in ``root``; yield its base URL; stop it with
    SIGTERM (the log writer flushes its queue first) when the block ends."""
    port = _free_port()
    log_file = root / "reports" / log_name
    with log_file.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "tabloop", "serve", "--port", str(port)],
            cwd=root,
            env={**os.environ, "TABLOOP_PROGRESS": "0"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, server, log_file)
            echo(f"      service up at {base} (log: {log_file})")
            yield base
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    echo("      service stopped (SIGTERM): queue flushed, every prediction is in the log")


def predict_rows(base: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send ``rows`` through ``/predict`` in requests of :data:`ROWS_PER_REQUEST`."""
    answers: list[dict[str, Any]] = []
    for start in range(0, len(rows), ROWS_PER_REQUEST):
        chunk = rows[start : start + ROWS_PER_REQUEST]
        answers += call(base, "/predict", {"records": chunk})["predictions"]
    return answers


def run_ab_test(
    root: Path, test: pd.DataFrame, *, target: str, echo: Callable[[str], Any]
) -> dict[str, Any]:
    """Serve the project in ``root`` (variants from its tabloop.yaml), send ``test`` through
    ``/predict``, upload the outcomes in two batches and return the A/B report."""
    with running_service(root, echo=echo, log_name="service.log") as base:
        rows = json.loads(test.drop(columns=target).to_json(orient="records"))
        answers = predict_rows(base, rows)
        echo(f"      {len(answers):,} test rows predicted; outcomes arrive in two batches")
        truth = [_plain(v) for v in test[target]]
        half = len(answers) // 2
        for part in (slice(0, half), slice(half, None)):
            items = [
                {"prediction_id": a["prediction_id"], "value": t}
                for a, t in zip(answers[part], truth[part], strict=True)
            ]
            call(base, "/outcomes", {"outcomes": items})
        return call(base, "/report")  # type: ignore[no-any-return]


def report_lines(report: dict[str, Any]) -> list[str]:
    """The A/B report as a few terminal lines, wrapped at 74 columns."""
    metric = report["metric"]
    lines = []
    for v in report["variants"]:
        m = v["metrics"].get(metric, {})
        interval = (
            f" [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" if m.get("ci_low") is not None else ""
        )
        value = f"{m['value']:.3f}" if m.get("value") is not None else "n/a"
        per_batch = [(b["metrics"].get(metric) or {}).get("value") for b in v["batches"]]
        batches = ", ".join("n/a" if x is None else f"{x:.3f}" for x in per_batch)
        lines.append(
            f"{v['name']}: {v['predictions']:,} predictions, {v['labelled']:,} labelled, "
            f"{metric} {value}{interval} (per batch: {batches})"
        )
    lines.append(f"verdict: {report['verdict']}")
    # 74 columns: the demo indents by 6, and a terminal has 80
    return [part for line in lines for part in textwrap.wrap(line, 74, subsequent_indent="  ")]


def call(base: str, path: str, body: Any = None) -> Any:
    """POST ``body`` (GET without one) to ``base + path``; the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{path}: {exc.code} {exc.read().decode()[:300]}") from None


def _wait_ready(base: str, server: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the service stopped at start-up; see {log_file}")
        try:
            with urllib.request.urlopen(base + "/health/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the service was not ready after 120 s; see {log_file}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
