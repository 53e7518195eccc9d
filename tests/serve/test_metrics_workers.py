"""`tabloop serve --workers 2` as a real Uvicorn process: every scrape, whichever worker
answers it, counts the requests of both workers, and files of an earlier run in
PROMETHEUS_MULTIPROC_DIR do not add to the counts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.serve.test_app import rows_of
from tests.serve.test_metrics import samples
from tests.serve.test_server import free_port, write_project

pytestmark = pytest.mark.slow

REQUESTS = 60


def start(folder: Path, port: int, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """The server in a session of its own, its output in ``folder/server.log`` (a pipe would
    stay open as long as any worker lives); :func:`stop` ends every process of it."""
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tabloop", "serve", "--port", str(port), *args],
        cwd=folder,
        env={**os.environ, "TABLOOP_PROGRESS": "0", **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop(process)
            raise AssertionError(f"server exited early:\n{(folder / 'server.log').read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(process)
    raise AssertionError(f"server not ready in 180 s:\n{(folder / 'server.log').read_text()}")


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM to the server (a graceful stop), then SIGKILL to whatever of its session is
    left, workers included."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def earlier_run(folder: Path) -> None:
    """Leave the files a crashed earlier run would: 1,000 counted /predict requests."""
    code = (
        "from prometheus_client import Counter\n"
        "c = Counter('tabloop_requests', 'x', ['method', 'route', 'status'])\n"
        "c.labels('POST', '/predict', '200').inc(1000)\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    assert list(folder.glob("counter_*.db"))


def test_two_workers_count_every_request_once(tmp_path, registered):
    write_project(tmp_path, registered, f"sqlite:///{tmp_path / 'log.db'}")
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    earlier_run(multiproc)
    port = free_port()
    env = {"TABLOOP_HOME": str(tmp_path / ".tabloop"), "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    server = start(tmp_path, port, "--workers", "2", env=env)
    base = f"http://127.0.0.1:{port}"
    rows = rows_of(registered["df"], REQUESTS)
    try:
        for row in rows:  # a new connection each: the kernel spreads them over the workers
            answer = httpx.post(f"{base}/predict", json={"records": [row]}, timeout=30)
            assert answer.status_code == 200, answer.text
        pids = {p.name.rsplit("_", 1)[-1] for p in multiproc.glob("counter_*.db")}
        scrapes = [samples(httpx.get(f"{base}/metrics", timeout=30).text) for _ in range(6)]
    finally:
        stop(server)
        output = (tmp_path / "server.log").read_text()
    assert len(pids) >= 2, f"one worker took every request: {sorted(pids)}\n{output}"
    for scraped in scrapes:
        predicted = {
            k: v
            for k, v in scraped.items()
            if k[0] == "tabloop_requests_total" and ("route", "/predict") in k[1]
        }
        assert predicted == {
            (
                "tabloop_requests_total",
                frozenset({"method": "POST", "route": "/predict", "status": "200"}.items()),
            ): REQUESTS
        }
        by_variant = [v for k, v in scraped.items() if k[0] == "tabloop_predictions_total"]
        assert sum(by_variant) == REQUESTS
        scored = [v for k, v in scraped.items() if k[0] == "tabloop_score_count"]
        assert sum(scored) == REQUESTS
        routes = {
            dict(k[1]).get("route") for k in scraped if k[0] == "tabloop_request_seconds_count"
        }
        assert "/predict" in routes
        info = {dict(k[1])["variant"] for k in scraped if k[0] == "tabloop_model_info"}
        assert info == {"A", "B"}
        assert ("tabloop_log_backlog", frozenset()) in scraped
        assert scraped[("process_resident_memory_bytes", frozenset())] > 0
