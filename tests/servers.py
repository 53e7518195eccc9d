"""Servers for end-to-end tests, on 127.0.0.1: ``tabloop serve`` and ``mlflow server`` as
real processes, an app under Uvicorn in a thread, and a :class:`Recorder` of the requests
tabloop sends (a webhook, a Pushgateway).

A server process runs in a session of its own with its output in a file: a pipe left unread
would fill and block the server, and would stay open as long as any worker of it lives.
:meth:`Served.stop` signals the whole session, then kills whatever of it is left. A wait for
a server is bounded only by a generous guard, so that a hung server fails its test instead
of hanging the suite; a loaded 2-core machine may take minutes to load models.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx

#: Seconds a server may take to answer: a guard against a hung server, not a limit.
READY_S = 900
#: Seconds a signalled server may take to exit before the rest of its session is killed.
STOP_S = 600


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """``command`` started in a session of its own, returned once GET ``ready`` answers 200
    at ``url`` (``port`` on 127.0.0.1); its stdout and stderr go to ``log``."""

    def __init__(
        self,
        command: list[str],
        *,
        port: int,
        ready: str,
        log: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.log = log
        self._name = " ".join([Path(command[0]).name, *command[1:4]])
        with log.open("w") as out:  # the child keeps its own copy of the file
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready(ready)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def output(self) -> str:
        """What the server wrote so far, stdout and stderr interleaved."""
        return self.log.read_text()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> str:
        """Send ``sig`` to every process of the server's session, wait for the server to
        exit (SIGKILL to what is left after :data:`STOP_S`); return its whole output."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # workers that outlived the server
        self.process.wait()
        return self.output()

    def _wait_until_ready(self, ready: str) -> None:
        deadline = time.monotonic() + READY_S
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"{self._name} exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}{ready}", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self._name} did not answer in {READY_S} s:\n{self.output()}"
                )
            time.sleep(0.2)


def tabloop_serve(folder: Path, *args: str, env: Mapping[str, str] | None = None) -> Served:
    """``tabloop serve *args`` in the project ``folder`` (its home ``folder/.tabloop``),
    ready; its output in ``folder/server.log``."""
    port = free_port()
    return Served(
        [sys.executable, "-m", "tabloop", "serve", "--port", str(port), *args],
        port=port,
        ready="/health/ready",
        log=folder / "server.log",
        cwd=folder,
        env={"TABLOOP_PROGRESS": "0", "TABLOOP_HOME": str(folder / ".tabloop"), **(env or {})},
    )


def mlflow_server(database: Path, artifacts: Path, *, log: Path) -> Served:
    """``mlflow server`` (one worker) on the SQLite ``database``, new artifacts in
    ``artifacts``; ready once its ``/health`` answers."""
    port = free_port()
    return Served(
        [
            os.path.join(os.path.dirname(sys.executable), "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{database}",
            "--default-artifact-root",
            str(artifacts),
            "--workers",
            "1",
        ],
        port=port,
        ready="/health",
        log=log,
    )


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """``app`` under Uvicorn in a thread on a free 127.0.0.1 port, started (its lifespan
    has run); yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + READY_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "Uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_S)


class Recorder:
    """A real HTTP server on 127.0.0.1, in a thread while in a ``with`` block, that keeps
    each request as ``(method, path, body)`` in ``requests`` and its body in ``bodies``
    (read as JSON when sent as JSON), and answers it with the next of ``statuses`` (the last
    one repeats); ``url`` ends with ``path``."""

    def __init__(self, statuses: Sequence[int] = (200,), *, path: str = "") -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[str, str, str]] = []
        self.bodies: list[Any] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def record(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                recorder.requests.append((self.command, self.path, body))
                as_json = self.headers.get_content_type() == "application/json"
                recorder.bodies.append(json.loads(body) if as_json else body)
                answered = min(len(recorder.requests), len(recorder.statuses))
                self.send_response(recorder.statuses[answered - 1])
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = record  # noqa: N815 - the http.server API

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> Recorder:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
