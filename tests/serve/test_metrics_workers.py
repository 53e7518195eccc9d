"""`tabloop serve --workers 2` as a real Uvicorn process: both workers answer, every scrape,
whichever worker answers it, counts the requests of both, and files of an earlier run in
PROMETHEUS_MULTIPROC_DIR do not add to the counts; a PROMETHEUS_MULTIPROC_DIR the user set
(here missing) works with one worker too."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.serve.test_app import rows_of
from tests.serve.test_metrics import samples
from tests.serve.test_server import write_project
from tests.servers import tabloop_serve

pytestmark = pytest.mark.slow

REQUESTS = 60
#: Rounds of REQUESTS sent at most while waiting for the kernel to hand some to each worker.
ROUNDS = 10


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


def predicted_by_pid(folder: Path, scratch: Path) -> dict[str, float]:
    """Each worker's count of answered /predict requests, read from its own counter file
    (each file summed alone by prometheus_client's MultiProcessCollector)."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        alone = scratch / pid
        alone.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        scraped = samples(generate_latest(registry).decode())
        counts[pid] = sum(
            v
            for k, v in scraped.items()
            if k[0] == "tabloop_requests_total" and ("route", "/predict") in k[1]
        )
    return counts


def post_all(base: str, rows: list[dict[str, Any]]) -> None:
    """POST each row on a connection of its own, four at a time (so both workers are busy
    and the kernel hands connections to each)."""

    def post(row: dict[str, Any]) -> None:
        answer = httpx.post(f"{base}/predict", json={"records": [row]}, timeout=120)
        assert answer.status_code == 200, answer.text

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, rows))


def test_two_workers_count_every_request_once(tmp_path, registered):
    write_project(tmp_path, registered, f"sqlite:///{tmp_path / 'log.db'}")
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    earlier_run(multiproc)
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
    server = tabloop_serve(tmp_path, "--workers", "2", env=env)
    base = server.url
    rows = rows_of(registered["df"], REQUESTS)
    sent = 0
    try:
        for attempt in range(ROUNDS):  # more rounds only if one worker took every request
            post_all(base, rows)
            sent += REQUESTS
            by_pid = predicted_by_pid(multiproc, tmp_path / f"scratch{attempt}")
            if sum(n > 0 for n in by_pid.values()) >= 2:
                break
        scrapes = [samples(httpx.get(f"{base}/metrics", timeout=30).text) for _ in range(6)]
    finally:
        output = server.stop()
    answering = {pid: n for pid, n in by_pid.items() if n > 0}
    assert len(answering) >= 2, f"one worker took every request: {by_pid}\n{output}"
    assert sum(by_pid.values()) == sent  # the earlier run's 1,000 are gone
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
            ): sent
        }
        by_variant = [v for k, v in scraped.items() if k[0] == "tabloop_predictions_total"]
        assert sum(by_variant) == sent
        scored = [v for k, v in scraped.items() if k[0] == "tabloop_score_count"]
        assert sum(scored) == sent
        routes = {
            dict(k[1]).get("route") for k in scraped if k[0] == "tabloop_request_seconds_count"
        }
        assert "/predict" in routes
        info = {dict(k[1])["variant"] for k in scraped if k[0] == "tabloop_model_info"}
        assert info == {"A", "B"}
        assert ("tabloop_log_backlog", frozenset()) in scraped
        assert scraped[("process_resident_memory_bytes", frozenset())] > 0


def test_one_worker_with_a_user_set_folder_that_is_missing_creates_it_and_counts(
    tmp_path, registered
):
    write_project(tmp_path, registered, f"sqlite:///{tmp_path / 'log.db'}")
    multiproc = tmp_path / "not" / "yet"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc)}  # prometheus_client in multiprocess mode
    server = tabloop_serve(tmp_path, env=env)
    base = server.url
    try:
        post_all(base, rows_of(registered["df"], 5))
        scraped = samples(httpx.get(f"{base}/metrics", timeout=30).text)
    finally:
        output = server.stop()
    assert multiproc.is_dir(), output
    key = frozenset({"method": "POST", "route": "/predict", "status": "200"}.items())
    assert scraped[("tabloop_requests_total", key)] == 5, output
    assert sum(v for k, v in scraped.items() if k[0] == "tabloop_predictions_total") == 5
