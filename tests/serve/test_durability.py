"""An answer means the row is safe: real `tabloop serve` processes on 127.0.0.1 killed with
SIGKILL in ``serve.log.durability: sync`` mode, and refusing with 503 when their SQLite log
is write-locked and the in-memory backlog is full. Every prediction answered 200 must end
up in the log exactly once.

Nothing here asserts a duration: timeouts only bound the waits, generously, so that a
loaded 2-core machine passes.
"""

from __future__ import annotations

import collections
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tabloop.store import LogWriter, Store
from tests.serve.test_app import rows_of
from tests.serve.test_server import write_project
from tests.servers import tabloop_serve

pytestmark = pytest.mark.slow

WAIT_S = 120  # the longest any wait below may take; never reached on a healthy run
REFUSED = re.compile(r'^tabloop_log_refused_rows_total\{reason="(\w+)"\} (\S+)$', re.MULTILINE)


def write_durability_project(
    folder: Path, registered: dict[str, Any], store_url: str, **serve: Any
) -> None:
    """The A/B titanic project of ``test_server.py`` with ``serve`` settings added."""
    write_project(folder, registered, store_url)
    path = folder / "tabloop.yaml"
    project = yaml.safe_load(path.read_text())
    project["serve"].update(serve)
    path.write_text(yaml.safe_dump(project))


class Senders:
    """Threads posting one-row ``/predict`` requests until stopped or the server is gone.

    ``acked`` lists the prediction ids answered 200; ``refused`` the 503 responses.
    """

    def __init__(self, base: str, rows: list[dict[str, Any]], threads: int = 4) -> None:
        self.base, self.rows = base, rows
        self.acked: list[str] = []
        self.refused: list[httpx.Response] = []
        self.other: collections.Counter[str] = collections.Counter()
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._sent = 0
        self._threads = [threading.Thread(target=self._send, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Senders:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self._threads:
            thread.join(WAIT_S)

    def wait_until(self, condition: Any, what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"gave up waiting for {what} after {WAIT_S} s: {len(self.acked)} answered "
                    f"200, {len(self.refused)} 503, other {dict(self.other)}"
                )
            time.sleep(0.05)

    def _send(self) -> None:
        with httpx.Client(base_url=self.base, timeout=WAIT_S) as http:
            while not self.stopped.is_set():
                with self._lock:
                    row, self._sent = self.rows[self._sent % len(self.rows)], self._sent + 1
                try:
                    answer = http.post("/predict", json={"records": [row]})
                except httpx.TransportError as exc:  # the server is gone
                    with self._lock:
                        self.other[type(exc).__name__] += 1
                    return
                with self._lock:
                    if answer.status_code == 200:
                        self.acked += [p["prediction_id"] for p in answer.json()["predictions"]]
                    elif answer.status_code == 503:
                        self.refused.append(answer)
                    else:
                        self.other[f"HTTP {answer.status_code}: {answer.text[:200]}"] += 1


def logged_ids(url: str, spool: Path) -> list[str]:
    """Every prediction id in the log, after replaying what a killed server left spooled."""
    store = Store(url)
    try:
        writer = LogWriter(store, spool_dir=spool)
        writer.start()  # replays the spool, as the next `tabloop serve` would
        assert writer.flush(timeout=WAIT_S)
        deadline = time.monotonic() + WAIT_S
        while writer.spooled and time.monotonic() < deadline:
            time.sleep(0.1)
        writer.close()
        assert writer.spooled == 0 and writer.lost == 0
        return list(store.predictions(period="all")["prediction_id"])
    finally:
        store.close()


def test_sigkill_in_sync_mode_loses_no_acknowledged_prediction(tmp_path, registered):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    write_durability_project(tmp_path, registered, url, log={"durability": "sync"})
    server = tabloop_serve(tmp_path)
    try:
        with Senders(server.url, rows_of(registered["df"], 200)) as senders:
            senders.wait_until(lambda: len(senders.acked) >= 200, "200 answers")
            server.process.kill()  # SIGKILL; the clients keep sending until they see it
            server.process.wait(WAIT_S)
    finally:
        output = server.stop(signal.SIGKILL)
    assert server.process.returncode == -signal.SIGKILL, output
    assert not [k for k in senders.other if k.startswith("HTTP")], senders.other

    logged = logged_ids(url, tmp_path / ".tabloop" / "spool")
    acknowledged = set(senders.acked)
    assert len(acknowledged) == len(senders.acked) >= 200
    assert not acknowledged - set(logged), "acknowledged predictions missing from the log"
    assert len(logged) == len(set(logged)), "predictions logged twice"


def refused_rows(base: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics", timeout=WAIT_S).text
    return {reason: float(value) for reason, value in REFUSED.findall(text)}


def test_a_write_locked_log_refuses_with_503_and_keeps_every_answered_row(tmp_path, registered):
    path = tmp_path / "log.db"
    url = f"sqlite:///{path}"
    serve = {"max_rows": 5, "log": {"max_backlog": 10}}
    write_durability_project(tmp_path, registered, url, **serve)
    server = tabloop_serve(tmp_path)
    base = server.url
    lock = sqlite3.connect(path, isolation_level=None, timeout=WAIT_S)
    try:
        with Senders(base, rows_of(registered["df"], 200)) as senders:
            senders.wait_until(lambda: len(senders.acked) >= 20, "20 answers")
            lock.execute("BEGIN EXCLUSIVE")  # the writer's inserts now wait, then fail
            senders.wait_until(lambda: len(senders.refused) >= 5, "5 refusals")
            locked = len(senders.acked)  # more answers now mean rows went to the spool
            senders.wait_until(lambda: len(senders.acked) >= locked + 20, "spooled answers")
            refused = refused_rows(base)
            lock.execute("ROLLBACK")
            before = len(senders.acked)
            senders.wait_until(lambda: len(senders.acked) >= before + 20, "answers after it")
        deadline = time.monotonic() + WAIT_S
        while httpx.get(f"{base}/health/ready", timeout=WAIT_S).json()["log_backlog"]:
            assert time.monotonic() < deadline, "the log backlog did not drain"
            time.sleep(0.2)
    finally:
        lock.close()
        output = server.stop()
    assert server.process.returncode in (0, -signal.SIGTERM), output
    assert not senders.other, senders.other
    assert "spooling predictions" in output and "replayed" in output

    for answer in senders.refused:
        assert answer.json()["error"] in {"log_full", "log_unavailable"}, answer.text
        assert int(answer.headers["retry-after"]) >= 1
    assert sum(refused.values()) > 0, refused
    assert set(refused) <= {"backlog_full", "unavailable", "not_committed"}

    store = Store(url)
    try:
        logged = list(store.predictions(period="all")["prediction_id"])
    finally:
        store.close()
    assert not set(senders.acked) - set(logged), "acknowledged predictions missing from the log"
    assert len(logged) == len(set(logged)), "predictions logged twice"
    assert not list((tmp_path / ".tabloop" / "spool").glob("spool-*.jsonl"))
