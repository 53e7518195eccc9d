"""A real Dask cluster on 127.0.0.1 for the tests: `dask scheduler` and `dask worker`
processes, as a user starts them (not distributed's in-process test helpers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers import free_port

DASK = str(Path(sys.executable).with_name("dask"))
#: Generous: processes start slowly on a busy 2-core machine; a failure here is setup.
START_SECONDS = 180


@dataclass
class Cluster:
    address: str
    folder: Path
    workers: list[subprocess.Popen] = field(default_factory=list)

    def add_worker(self, *, python: list[str] | None = None, env: dict | None = None) -> None:
        """One more worker process (no nanny, so killing it kills the worker); ``python``
        replaces the interpreter command (a worker without tabloop)."""
        command = [
            *(python or [sys.executable]),
            "-m",
            "distributed.cli.dask_worker",
            self.address,
            "--nthreads",
            "1",
            "--no-nanny",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
            "--memory-limit",
            "0",
        ]
        with (self.folder / f"worker-{len(self.workers)}.log").open("w") as log:
            self.workers.append(
                subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            )

    def wait_for_workers(self, n: int) -> None:
        import warnings

        from distributed import Client
        from distributed.versions import VersionMismatchWarning

        with warnings.catch_warnings():  # a test starts mismatched workers on purpose
            warnings.simplefilter("ignore", VersionMismatchWarning)
            with Client(self.address, timeout="60s") as client:
                client.wait_for_workers(n, timeout=START_SECONDS)

    def kill_worker(self, index: int) -> None:
        os.kill(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait()

    def replace_worker_during(
        self,
        work: Callable[[], Any],
        *,
        started: Callable[[], bool],
        then: Callable[[], None] = lambda: None,
    ) -> Any:
        """``work()`` in a thread; once ``started()`` holds, kill the first worker, start
        another and call ``then()``; ``work``'s result (its error re-raised)."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = work()
            except BaseException as exc:  # noqa: BLE001  (raised below, in the test)
                outcome["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        while thread.is_alive() and not started():
            time.sleep(0.01)
        assert thread.is_alive(), outcome  # the work was under way when the worker died
        self.kill_worker(0)
        self.add_worker()
        then()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]


def free_address() -> str:
    """A scheduler address on 127.0.0.1 where nothing listens."""
    return f"tcp://127.0.0.1:{free_port()}"


def assert_connecting_fails(address: str, message: str) -> None:
    """Opening a runner on ``address`` raises :class:`ClusterError` matching ``message``."""
    import pytest

    from tabloop.exceptions import ClusterError
    from tabloop.scale import open_runner, parse_cluster_address

    with pytest.raises(ClusterError, match=message), open_runner(parse_cluster_address(address)):
        pass


@contextmanager
def running_cluster(folder: Path, *, workers: int = 2) -> Iterator[Cluster]:
    """A scheduler on a free port of 127.0.0.1 with ``workers`` workers, stopped on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    log = folder / "scheduler.log"
    with log.open("w") as sink:
        scheduler = _start_scheduler(scheduler_file, sink)
    cluster = None
    try:
        deadline = time.monotonic() + START_SECONDS
        while not scheduler_file.exists():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler did not start: {log}")
            time.sleep(0.2)
        while True:  # the file may be seen before it is fully written
            try:
                address = json.loads(scheduler_file.read_text())["address"]
                break
            except (json.JSONDecodeError, KeyError):
                time.sleep(0.2)
        cluster = Cluster(address, folder)
        for _ in range(workers):
            cluster.add_worker()
        if workers:
            cluster.wait_for_workers(workers)
        yield cluster
    finally:
        # the workers first, while their scheduler still answers: a worker whose scheduler
        # is gone keeps trying to reach it and outlasts the grace period
        _stop(cluster.workers if cluster else [])
        _stop([scheduler])


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to each of ``processes``, then SIGKILL to any still running 30 s later."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start_scheduler(scheduler_file: Path, sink: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [
            DASK,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--dashboard-address",
            "127.0.0.1:0",  # its HTTP server binds there even without a dashboard
            "--scheduler-file",
            str(scheduler_file),
        ],
        stdout=sink,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
