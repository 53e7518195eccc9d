"""Durability of the prediction log: is every acknowledged prediction logged exactly once?

``tabloop serve`` answers ``/predict`` once the rows are queued for its log (default,
``serve.log.durability: async``) or committed (``sync``), and refuses with 503 and
``Retry-After`` what the log cannot keep (see the note in ``tabloop/store/_writer.py``).
This script checks those promises on real servers, the same kind of project as
``serve_latency.py`` (a LightGBM model on 12 features, registered in a temporary MLflow store;
the setup is imported from that script). Clients record the ``prediction_id`` of every HTTP
200; after each scenario the script opens the log with ``Store(url).predictions(period="all")``
and counts acknowledged ids that are not in it (lost), ids logged twice, and rows refused
with 503. A client that gets a 503 pauses ``--retry-pause`` seconds (0.05) and sends again,
ignoring ``Retry-After``: the impatient client the back-pressure must hold against.

a. SIGTERM mid-run. Four clients send single-row requests (5,000 in all); once half are
   acknowledged the server gets SIGTERM while the clients keep sending (each stops at its
   first connection error). The shutdown flush is timed from Uvicorn's own lines.
b. Database outage. The same load while the log's database goes away for 10 s after a third
   of the requests: with PostgreSQL (``TABLOOP_TEST_POSTGRES``, default ``postgresql+psycopg:
   //postgres@127.0.0.1:5432/test``, a fresh schema created and dropped here) the server
   reaches it through a TCP proxy in this script that drops every connection and refuses new
   ones; without PostgreSQL another connection holds the SQLite log's write lock
   (``BEGIN EXCLUSIVE``), so inserts fail after SQLite's busy timeout. The writer must spool,
   replay once the database is back, and log every acknowledged row once.
c. Full disk. ``TABLOOP_HOME`` (where the spool lives) on a 256 KB tmpfs (mounted here; needs
   root, else the scenario is skipped), the database cut as in b, four clients for 20 s. The
   spool fills, then the log can keep nothing: requests must be refused (503), not
   acknowledged and dropped. Then the database comes back, the backlog drains, SIGTERM.
d. Overload. Eight clients send 100-row requests to the default log (SQLite) for 60 s, more
   rows than SQLite takes: the in-memory backlog must stay bounded (``serve.log.max_backlog``,
   10,000 rows), the excess refused with 503. Goal: the server's RSS grows at most 200 MB.
e. SIGKILL under load, default (``async``) mode: the load of d for 20 s, then ``kill -9``.
   Rows queued but not yet written are lost; the goal is at most ``max_backlog`` of them
   (configured explicitly here), the window the README states.
f. The same in ``sync`` mode: nothing acknowledged may be lost.

Before the load of e and f, four clients send single-row requests (3,000): their p50/p99
against each mode is the latency cost of ``sync``. For e and f, rows left in the spool
count as kept (the next start replays them).

Peak RSS is the server process's ``VmHWM`` (``/proc/<pid>/status``); growth is the largest
``VmRSS`` sampled during the scenario minus the one at its start. Timings are wall-clock on
a shared machine (the load average is printed); the counts are what matters. ``--quick``
shortens every scenario (about 3 minutes in all). Exits 1 when a scenario misses its goal.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml
from serve_latency import (
    JSON_HEADERS,
    Server,
    free_port,
    machine,
    make_project,
    records_body,
    tabloop_server,
    wait_for_log,
    write_config,
)

from tabloop.store import PredictionRecord, Store

POSTGRES = os.environ.get(
    "TABLOOP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MAX_BACKLOG = 10_000  # serve.log.max_backlog written in the project file (tabloop's default)
RSS_GROWTH_MB = 200  # the goal under 60 s of overload
TMPFS_SIZE = "256k"
WRITER = "tabloop.store: "  # how the log writer's lines start, after time and level
ALARM = f"{WRITER}the prediction log cannot store rows"  # a failing state, at most 1/min
SCENARIOS = {
    "a": "SIGTERM mid-run",
    "b": "database outage",
    "c": "full disk + database down",
    "d": "overload, 8 x 100 rows",
    "e": "SIGKILL, async",
    "f": "SIGKILL, sync",
}
Acked = list[tuple[float, float, str]]  # (start, seconds, prediction_id) per acknowledged row


# -- clients ------------------------------------------------------------------------------------
class Clients:
    """Threads sending ``/predict`` requests until ``total`` are sent, ``seconds`` have passed
    or :meth:`stop`; each stops at its first connection error (the server is gone).

    ``acked`` holds ``(start, seconds, prediction_id)`` of every row answered 200 and
    ``answered`` ``(start, seconds)`` of every such request, in ``time.monotonic()`` time.
    A 503 is counted (``refused_rows``, by error code) and followed by ``retry_pause``
    seconds of rest.
    """

    def __init__(
        self,
        base: str,
        bodies: list[bytes],
        *,
        total: int | None = None,
        seconds: float | None = None,
        clients: int = 4,
        retry_pause: float = 0.05,
    ) -> None:
        self.base, self.bodies, self.total = base, bodies, total
        self.seconds, self.retry_pause = seconds, retry_pause
        self.rows = [len(json.loads(body)["records"]) for body in bodies]
        self.acked: Acked = []
        self.answered: list[tuple[float, float]] = []
        self.refused_rows = self.refused_requests = self.without_retry_after = 0
        self.refused_codes: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self._next = 0
        self._deadline = float("inf")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(clients)]

    def start(self) -> None:
        if self.seconds is not None:
            self._deadline = time.monotonic() + self.seconds
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def wait_for(self, acknowledged: int) -> None:
        while len(self.acked) < acknowledged:
            if not self.running:
                raise RuntimeError(
                    f"The clients stopped after {len(self.acked)} acknowledged predictions "
                    f"(errors: {dict(self.errors)}); expected {acknowledged}."
                )
            time.sleep(0.01)

    def _take(self) -> int | None:
        with self._lock:
            i, self._next = self._next, self._next + 1
        over = self.total is not None and i >= self.total
        if over or self._stop.is_set() or time.monotonic() >= self._deadline:
            return None
        return i

    def _work(self) -> None:
        with httpx.Client(base_url=self.base, timeout=120, headers=JSON_HEADERS) as client:
            while (i := self._take()) is not None:
                body = i % len(self.bodies)
                start = time.monotonic()
                try:
                    response = client.post("/predict", content=self.bodies[body])
                except httpx.TransportError as exc:
                    with self._lock:
                        self.errors[type(exc).__name__] += 1
                    return
                seconds = time.monotonic() - start
                with self._lock:
                    if response.status_code == 200:
                        ids = [p["prediction_id"] for p in response.json()["predictions"]]
                        self.acked.extend((start, seconds, pid) for pid in ids)
                        self.answered.append((start, seconds))
                        continue
                    if response.status_code != 503:
                        self.errors[f"HTTP {response.status_code}"] += 1
                        continue
                    self.refused_requests += 1
                    self.refused_rows += self.rows[body]
                    self.refused_codes[_error_code(response)] += 1
                    self.without_retry_after += "retry-after" not in response.headers
                time.sleep(self.retry_pause)


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error"))
    except ValueError:
        return "(not JSON)"


# -- the server's memory ------------------------------------------------------------------------
def memory_kb(pid: int) -> dict[str, int] | None:
    """``VmRSS`` and ``VmHWM`` of a live process, in kB (None once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.MULTILINE))
    return {k: int(v) for k, v in found.items()} if len(found) == 2 else None


class Watch:
    """Samples the server's memory every ``every`` seconds, and its log backlog
    (``/health/ready``) every fifth sample, until :meth:`stop` or the process is gone."""

    def __init__(self, pid: int, base: str, every: float = 0.2) -> None:
        self.pid, self.base, self.every = pid, base, every
        first = memory_kb(pid) or {"VmRSS": 0, "VmHWM": 0}
        self.start_kb, self.rss_kb, self.hwm_kb = first["VmRSS"], first["VmRSS"], first["VmHWM"]
        self.backlog = self.peak_backlog = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> bool:
        found = memory_kb(self.pid)
        if found is None:
            return False
        self.rss_kb = max(self.rss_kb, found["VmRSS"])
        self.hwm_kb = max(self.hwm_kb, found["VmHWM"])
        return True

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set() and self.sample():
            if tick % 5 == 0:
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
                    answer = httpx.get(f"{self.base}/health/ready", timeout=2).json()
                    self.backlog = int(answer["log_backlog"])
                    self.peak_backlog = max(self.peak_backlog, self.backlog)
            tick += 1
            self._stop.wait(self.every)

    def stop(self) -> dict[str, float]:
        self.sample()
        self._stop.set()
        self._thread.join(10)
        return {
            "start_mb": self.start_kb / 1024,
            "peak_mb": max(self.hwm_kb, self.rss_kb) / 1024,
            "growth_mb": (self.rss_kb - self.start_kb) / 1024,
            "peak_backlog": self.peak_backlog,
        }


# -- the outage ---------------------------------------------------------------------------------
class DatabaseProxy:
    """A TCP forwarder to the database. ``cut()`` drops every connection and refuses new ones,
    as a database that went away; ``restore()`` listens on the same port again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        self._thread.start()
        self.restore()

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer, up_writer}
        self._open |= pair
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        self._open -= pair


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


class SqliteLock:
    """Another connection holding the SQLite log's write lock while ``cut``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def cut(self) -> None:
        self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._conn.execute("BEGIN EXCLUSIVE")

    def restore(self) -> None:
        if self._conn is not None:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None


def postgres_reachable(url: str) -> bool:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def cuttable_database(folder: Path, kind: str, name: str) -> Iterator[dict[str, Any]]:
    """A log database that can go away: ``store_url`` for the server, ``verify_url`` to read
    it, ``outage`` (``cut()``/``restore()``) and ``how`` (a description)."""
    import sqlalchemy as sa

    if kind == "sqlite":
        path = folder / f"{name}-log.db"
        lock = SqliteLock(path)
        try:
            yield {
                "store_url": f"sqlite:///{path}",
                "verify_url": f"sqlite:///{path}",
                "outage": lock,
                "how": "SQLite log write-locked by another connection (BEGIN EXCLUSIVE)",
            }
        finally:
            lock.restore()  # a no-op unless an error came during the outage
        return
    schema = f"tabloop_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    direct = sa.make_url(POSTGRES).update_query_dict({"options": f"-csearch_path={schema}"})
    proxy = DatabaseProxy(direct.host or "127.0.0.1", direct.port or 5432)
    proxy.start()
    try:
        yield {
            "store_url": direct.set(host="127.0.0.1", port=proxy.port).render_as_string(
                hide_password=False
            ),
            "verify_url": direct.render_as_string(hide_password=False),
            "outage": proxy,
            "how": f"PostgreSQL schema {schema} behind a TCP proxy that drops every "
            "connection and refuses new ones",
        }
    finally:
        proxy.close()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def small_tmpfs(folder: Path) -> Iterator[Path | None]:
    """A 256 KB tmpfs mounted at ``folder`` (None when it cannot be: not root)."""
    if os.geteuid() != 0:
        yield None
        return
    folder.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  (cannot mount a tmpfs: {done.stderr.strip()})")
        yield None
        return
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# -- compute ------------------------------------------------------------------------------------
def configure(
    folder: Path, project: dict[str, Any], store_url: str | None = None, **log: Any
) -> None:
    """Write the project file of ``serve_latency.py`` with ``serve.log`` settings added."""
    path = write_config(folder, project["tracking_uri"], store_url)
    raw = yaml.safe_load(path.read_text())
    raw.setdefault("serve", {})["log"] = {"max_backlog": MAX_BACKLOG, **log}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def spooled_ids(spool: Path) -> list[str]:
    """Prediction ids waiting in the spool files (the next start replays them)."""
    ids = []
    for path in sorted(spool.glob("spool-*.jsonl")) if spool.is_dir() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, TypeError, KeyError):
                ids.append(PredictionRecord.from_json(line).prediction_id)
    return ids


def check_log(
    url: str, clients: Clients, spool: Path, *, extra: Acked | None = None
) -> dict[str, Any]:
    """Acknowledged ids neither in the log nor in the spool (lost), ids logged twice, and the
    rows the clients saw refused."""
    store = Store(url)
    try:
        ids = store.predictions(period="all")["prediction_id"]
    finally:
        store.close()
    acked = [*(extra or []), *clients.acked]
    acknowledged = {pid for _, _, pid in acked}
    logged, waiting = set(ids), set(spooled_ids(spool))
    return {
        "acknowledged": len(acked),
        "logged": len(ids),
        "left_in_spool": len(waiting - logged),
        "lost": len(acknowledged - logged - waiting),
        "duplicates": int(ids.duplicated().sum()) + (len(acked) - len(acknowledged)),
        "logged_not_acknowledged": len(logged - acknowledged),
        "refused_rows": clients.refused_rows,
        "refused_requests": clients.refused_requests,
        "refused_codes": dict(clients.refused_codes),
        "without_retry_after": clients.without_retry_after,
        "client_errors": dict(clients.errors),
    }


def logged_count(url: str) -> int:
    store = Store(url)
    try:
        return sum(period["predictions"] for period in store.periods())
    finally:
        store.close()


def line_time(lines: list[tuple[float, str]], text: str) -> float | None:
    return next((t for t, line in lines if text in line), None)


def summary(values: list[float]) -> dict[str, float]:
    """Count, p50, p99 and max of durations in seconds, in ms."""
    if not values:
        nan = float("nan")
        return {"requests": 0, "p50_ms": nan, "p99_ms": nan, "max_ms": nan}
    p50, p99 = np.percentile(np.asarray(values) * 1e3, [50, 99])
    return {
        "requests": len(values),
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "max_ms": max(values) * 1e3,
    }


def latency(acked: Acked, start: float, end: float) -> dict:
    """p50/p99 in ms of requests started inside [start, end) and of the others."""
    inside = [s for t, s, _ in acked if start <= t < end]
    outside = [s for t, s, _ in acked if not start <= t < end]
    return {"during": summary(inside), "outside": summary(outside)}


def backlog(base: str) -> int | None:
    """The log backlog the server reports now (None if it does not answer in 5 s)."""
    try:
        return int(httpx.get(f"{base}/health/ready", timeout=5).json()["log_backlog"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def start_server(folder: Path, home: Path) -> tuple[Server, str]:
    port = free_port()
    server = tabloop_server(folder, port, home)
    server.start(f"http://127.0.0.1:{port}/health/ready")
    return server, f"http://127.0.0.1:{port}"


def server_pid(server: Server) -> int:
    assert server.process is not None
    return server.process.pid


def scenario_a(folder: Path, project: dict[str, Any], bodies: list[bytes], options: Any) -> dict:
    home = folder / "home-a"
    configure(folder, project)  # the default log: SQLite under home
    url = Store.default_url(home)
    server, base = start_server(folder, home)
    watch = Watch(server_pid(server), base)
    clients = Clients(base, bodies, total=options.requests, retry_pause=options.retry_pause)
    start = time.monotonic()
    clients.start()
    try:
        clients.wait_for(options.requests // 2)
        before = logged_count(url)
        at_signal = len(clients.acked)
        sent = server.terminate()
    finally:
        clients.join()
        memory = watch.stop()
        ended = server.wait()
    waiting = line_time(server.lines, "Waiting for application shutdown")
    complete = line_time(server.lines, "Application shutdown complete")
    result = check_log(url, clients, home / "spool")
    result.update(
        {
            "sent": options.requests,
            "memory": memory,
            "client_seconds": time.monotonic() - start,
            "acknowledged_at_signal": at_signal,
            "acknowledged_after_signal": sum(1 for t, s, _ in clients.acked if t + s > sent),
            "logged_at_signal": before,
            "exit_code": server.process.returncode if server.process else None,
            "signal_to_exit_s": ended - sent,
            "shutdown_flush_s": complete - waiting if waiting and complete else None,
        }
    )
    return result


def scenario_b(folder: Path, project: dict[str, Any], bodies: list[bytes], options: Any) -> dict:
    home = folder / "home-b"
    with cuttable_database(folder, options.database, "b") as db:
        configure(folder, project, db["store_url"])
        server, base = start_server(folder, home)
        watch = Watch(server_pid(server), base)
        clients = Clients(base, bodies, total=options.requests, retry_pause=options.retry_pause)
        try:
            start = time.monotonic()
            clients.start()
            try:
                clients.wait_for(options.requests // 3)
                cut = time.monotonic()
                db["outage"].cut()
                time.sleep(options.outage_seconds)
                db["outage"].restore()
                restored = time.monotonic()
            finally:
                clients.join()
            sent_all = time.monotonic()
            wait_for_log(base)
            memory = watch.stop()
            stop = server.stop()
            result = check_log(db["verify_url"], clients, home / "spool")
        finally:
            server.stop()
    output = "\n".join(line for _, line in server.lines)
    replays = [t for t, line in server.lines if re.search(r"replayed \d+ spooled", line)]
    result.update(
        {
            "outage": f"{db['how']} for {options.outage_seconds:g} s",
            "sent": options.requests,
            "memory": memory,
            "client_seconds": sent_all - start,
            "acknowledged_during_outage": sum(
                1 for t, _, _ in clients.acked if cut <= t < restored
            ),
            "spooled_messages": output.count("spooling predictions"),
            "replayed": sum(int(n) for n in re.findall(r"replayed (\d+) spooled", output)),
            "catch_up_s": replays[-1] - restored if replays else None,
            "signal_to_exit_s": stop,
            "latency": latency(clients.acked, cut, restored),
        }
    )
    return result


def scenario_c(folder: Path, project: dict[str, Any], bodies: list[bytes], options: Any) -> dict:
    with small_tmpfs(folder / "home-c") as home:
        if home is None:
            return {"skipped": f"needs root to mount a {TMPFS_SIZE} tmpfs for TABLOOP_HOME"}
        with cuttable_database(folder, options.database, "c") as db:
            configure(folder, project, db["store_url"])
            server, base = start_server(folder, home)
            watch = Watch(server_pid(server), base)
            seconds = options.full_disk_seconds
            clients = Clients(base, bodies, seconds=seconds, retry_pause=options.retry_pause)
            try:
                db["outage"].cut()
                clients.start()
                clients.join()
                db["outage"].restore()
                restored = time.monotonic()
                drained = wait_for_log(base)
                memory = watch.stop()
                sent = server.terminate()
                ended = server.wait()
                result = check_log(db["verify_url"], clients, home / "spool")
            finally:
                server.stop()
    lines = [line for _, line in server.lines]
    replays = [t for t, line in server.lines if re.search(r"replayed \d+ spooled", line)]
    result.update(
        {
            "setup": f"TABLOOP_HOME on a {TMPFS_SIZE} tmpfs; {db['how']}; 4 clients for "
            f"{seconds:g} s, then the database back, the backlog drained, SIGTERM",
            "memory": memory,
            "drained_s": drained,
            "catch_up_s": replays[-1] - restored if replays else None,
            "signal_to_exit_s": ended - sent,
            "stuck_alarms": sum(ALARM in line for line in lines),
            "stores_again": sum(
                f"{WRITER}the prediction log stores rows again" in line for line in lines
            ),
            "lost_messages": sum(WRITER in line and "prediction(s) lost" in line for line in lines),
            "tracebacks": sum(line.startswith("Traceback") for line in lines),
        }
    )
    return result


def scenario_d(folder: Path, project: dict[str, Any], big: list[bytes], options: Any) -> dict:
    home = folder / "home-d"
    configure(folder, project)
    url = Store.default_url(home)
    server, base = start_server(folder, home)
    watch = Watch(server_pid(server), base)
    seconds = options.overload_seconds
    clients = Clients(base, big, seconds=seconds, clients=8, retry_pause=options.retry_pause)
    try:
        clients.start()
        clients.join()
        memory = watch.stop()
        drained = wait_for_log(base)
        stop = server.stop()
        result = check_log(url, clients, home / "spool")
    finally:
        server.stop()
    result.update(
        {
            "setup": f"8 clients x {clients.rows[0]}-row requests for {seconds:g} s, SQLite log",
            "memory": memory,
            "rows_per_s": len(clients.acked) / seconds,
            "latency": summary([s for _, s in clients.answered]),
            "drained_s": drained,
            "signal_to_exit_s": stop,
        }
    )
    return result


def scenario_kill(
    folder: Path,
    project: dict[str, Any],
    bodies: list[bytes],
    big: list[bytes],
    options: Any,
    durability: str,
) -> dict:
    """Single-row latency, then the overload of d until SIGKILL, in ``durability`` mode."""
    home = folder / f"home-kill-{durability}"
    configure(folder, project, durability=durability)
    url = Store.default_url(home)
    server, base = start_server(folder, home)
    watch = Watch(server_pid(server), base)
    pause = options.retry_pause
    single = Clients(base, bodies, total=options.latency_requests, retry_pause=pause)
    load = Clients(base, big, clients=8, retry_pause=pause)
    try:
        single.start()
        single.join()
        wait_for_log(base)
        load.start()
        deadline = time.monotonic() + options.kill_after
        while time.monotonic() < deadline and load.running:
            time.sleep(0.1)
        backlog_before = backlog(base)
        os.killpg(server_pid(server), signal.SIGKILL)
        server.wait()
        load.join()
        memory = watch.stop()
    finally:
        load.stop()
        server.stop()
    result = check_log(url, load, home / "spool", extra=single.acked)
    result.update(
        {
            "setup": f"{options.latency_requests:,} single-row requests (4 clients), then 8 "
            f"clients x {load.rows[0]}-row requests, SIGKILL after {options.kill_after:g} s",
            "durability": durability,
            "memory": memory,
            "backlog_before_kill": backlog_before,
            "exit_code": server.process.returncode if server.process else None,
            "single_row": summary([s for _, s in single.answered]),
            "under_load": summary([s for _, s in load.answered]),
            "refused_single_row": single.refused_rows,
        }
    )
    result["refused_rows"] += single.refused_rows
    return result


# -- goals --------------------------------------------------------------------------------------
def goal(key: str, r: dict[str, Any]) -> tuple[str, bool]:
    """The issue's goal for scenario ``key`` and whether ``r`` meets it."""
    exact = r["duplicates"] == 0 and r["acknowledged"] > 0
    if key == "d":
        growth = r["memory"]["growth_mb"]
        return f"0 lost, RSS +{RSS_GROWTH_MB} MB at most", (
            exact and r["lost"] == 0 and growth <= RSS_GROWTH_MB
        )
    if key == "e":
        return f"lost <= max_backlog {MAX_BACKLOG:,}", exact and r["lost"] <= MAX_BACKLOG
    return "0 lost, 0 duplicated", exact and r["lost"] == 0


# -- render -------------------------------------------------------------------------------------
def counts(r: dict[str, Any]) -> list[str]:
    refused = ", ".join(f"{code} {n:,}" for code, n in r["refused_codes"].items()) or "none"
    missing, mem = r["without_retry_after"], r["memory"]
    return [
        f"  acknowledged {r['acknowledged']:,}; logged {r['logged']:,} (+{r['left_in_spool']:,} "
        f"left in the spool; {r['logged_not_acknowledged']:,} logged but never acknowledged); "
        f"lost {r['lost']:,}; duplicated {r['duplicates']:,}",
        f"  refused with 503: {r['refused_rows']:,} rows in {r['refused_requests']:,} requests "
        f"({refused}){f', {missing} without Retry-After' if missing else ''}; other client "
        f"errors: {r['client_errors'] or 'none'}",
        f"  server RSS {mem['start_mb']:.0f} MB at the start, peak {mem['peak_mb']:.0f} MB "
        f"(VmHWM), growth {mem['growth_mb']:+.0f} MB; peak log backlog sampled "
        f"{mem['peak_backlog']:,} rows",
    ]


def ms(s: dict[str, float]) -> str:
    return f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, max {s['max_ms']:.0f} ms"


def render(key: str, r: dict[str, Any]) -> str:
    head = f"\n{key}. {SCENARIOS[key]}"
    if "skipped" in r:
        return f"{head}: skipped ({r['skipped']})"
    lines = [head, *counts(r)]
    if key == "a":
        flush = r["shutdown_flush_s"]
        lines += [
            f"  SIGTERM after {r['acknowledged_at_signal']:,} of {r['sent']:,} requests were "
            f"acknowledged; {r['acknowledged_after_signal']} acknowledged after it; logged at "
            f"the signal {r['logged_at_signal']:,}",
            f"  server exit code {r['exit_code']}; SIGTERM to exit {r['signal_to_exit_s']:.2f} s; "
            f"shutdown flush {'n/a' if flush is None else f'{flush * 1e3:.1f} ms'}",
        ]
    elif key == "b":
        during, outside = r["latency"]["during"], r["latency"]["outside"]
        catch_up = "never" if r["catch_up_s"] is None else f"{r['catch_up_s']:.1f} s after"
        lines += [
            f"  {r['outage']}; acknowledged during it {r['acknowledged_during_outage']:,}; "
            f"spooled ({r['spooled_messages']} message(s)), replayed {r['replayed']:,} rows "
            f"{catch_up} the database came back",
            f"  /predict during the outage {ms(during)} ({during['requests']:,}); otherwise "
            f"{ms(outside)}",
        ]
    elif key == "c":
        catch_up = "never" if r["catch_up_s"] is None else f"{r['catch_up_s']:.1f} s after"
        lines += [
            f"  {r['setup']}",
            f"  writer log lines: {r['stuck_alarms']} 'cannot store rows' alarm(s), "
            f"{r['stores_again']} 'stores rows again', {r['lost_messages']} 'rows lost', "
            f"{r['tracebacks']} traceback(s); spool replayed {catch_up} the database came "
            f"back; backlog drained in {r['drained_s']:.1f} s",
        ]
    elif key == "d":
        lines += [
            f"  {r['setup']}: {r['rows_per_s']:,.0f} acknowledged rows/s; request latency "
            f"{ms(r['latency'])}; backlog drained {r['drained_s']:.1f} s after the load",
        ]
    else:
        before = r["backlog_before_kill"]
        lines += [
            f"  {r['setup']}; serve.log.durability {r['durability']}, max_backlog "
            f"{MAX_BACKLOG:,}; backlog just before the kill "
            f"{'n/a' if before is None else f'{before:,}'} rows; exit code {r['exit_code']}",
        ]
    text, ok = goal(key, r)
    lines.append(f"  goal: {text}  ->  {'PASS' if ok else 'MISS'}")
    return "\n".join(lines)


def render_table(result: dict[str, Any]) -> str:
    head = (
        f"  {'scenario':28s} {'acked':>8s} {'logged':>8s} {'lost':>6s} {'dup':>4s} "
        f"{'503 rows':>9s} {'peak RSS':>9s} {'growth':>7s}  goal"
    )
    lines = ["", "Every scenario (rows; RSS in MB; peak = VmHWM of the server process):", head]
    for key, name in SCENARIOS.items():
        r = result["scenarios"].get(key)
        if r is None:
            continue
        label = f"{key}. {name}"
        if "skipped" in r:
            lines.append(f"  {label:28s} skipped: {r['skipped']}")
            continue
        text, ok = goal(key, r)
        mem = r["memory"]
        logged = f"{r['logged']:,}" + (f"+{r['left_in_spool']}" if r["left_in_spool"] else "")
        lines.append(
            f"  {label:28s} {r['acknowledged']:8,} {logged:>8s} {r['lost']:6,} "
            f"{r['duplicates']:4,} {r['refused_rows']:9,} {mem['peak_mb']:9.0f} "
            f"{mem['growth_mb']:+7.0f}  {text:32s} {'PASS' if ok else 'MISS'}"
        )
    kills = {k: result["scenarios"][k] for k in ("e", "f") if k in result["scenarios"]}
    if kills:
        lines += [
            "",
            "Latency of acknowledged /predict requests, async vs sync (SQLite log, the same "
            "server before and during the load of e/f), ms:",
            f"  {'mode':6s} {'load':32s} {'requests':>8s} {'p50':>7s} {'p99':>7s} {'max':>7s}",
        ]
        for r in kills.values():
            for load, s in (
                ("4 clients x 1 row", r["single_row"]),
                ("8 clients x 100 rows, overload", r["under_load"]),
            ):
                lines.append(
                    f"  {r['durability']:6s} {load:32s} {s['requests']:8,} {s['p50_ms']:7.1f} "
                    f"{s['p99_ms']:7.1f} {s['max_ms']:7.0f}"
                )
    return "\n".join(lines)


# -- command line -------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="shorter scenarios (~3 min)")
    parser.add_argument("--scenarios", default="abcdef", help="letters to run (default abcdef)")
    parser.add_argument("--requests", type=int, default=None, help="a and b (default 5000)")
    parser.add_argument(
        "--database",
        choices=["auto", "postgres", "sqlite"],
        default="auto",
        help="b and c's database (auto: PostgreSQL when reachable, else SQLite)",
    )
    parser.add_argument("--outage-seconds", type=float, default=10.0, help="b (default 10)")
    parser.add_argument("--full-disk-seconds", type=float, default=None, help="c (default 20)")
    parser.add_argument("--overload-seconds", type=float, default=None, help="d (default 60)")
    parser.add_argument("--kill-after", type=float, default=None, help="e, f (default 20)")
    parser.add_argument(
        "--latency-requests", type=int, default=None, help="e, f single-row (default 3000)"
    )
    parser.add_argument("--retry-pause", type=float, default=0.05, help="after a 503, seconds")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    options = parser.parse_args(argv)
    quick = options.quick
    options.requests = options.requests or (1000 if quick else 5000)
    options.full_disk_seconds = options.full_disk_seconds or (10.0 if quick else 20.0)
    options.overload_seconds = options.overload_seconds or (15.0 if quick else 60.0)
    options.kill_after = options.kill_after or (8.0 if quick else 20.0)
    options.latency_requests = options.latency_requests or (600 if quick else 3000)
    if options.requests < 10:
        parser.error(f"--requests must be at least 10; got {options.requests}")
    unknown = set(options.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"--scenarios takes letters among {''.join(SCENARIOS)}; got {unknown}")
    if options.database == "auto":
        options.database = "postgres" if postgres_reachable(POSTGRES) else "sqlite"
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    os.environ.setdefault("TABLOOP_PROGRESS", "0")
    start = machine()
    print(
        "Every acknowledged prediction in the log, exactly once, and nothing acknowledged "
        "that the log cannot keep? tabloop serve on 127.0.0.1.\n"
        f"Machine: {start['cores']} cores, load average {start['load_average']} (1, 5, 15 min; "
        "shared: the counts matter, the timings are indicative). Database for b and c: "
        f"{options.database}."
    )
    result: dict[str, Any] = {"machine_start": start, "options": vars(options), "scenarios": {}}
    runs = {"a": scenario_a, "b": scenario_b, "c": scenario_c}
    with tempfile.TemporaryDirectory(prefix="serve_durability_") as tmp:
        folder = Path(tmp)
        project = make_project(folder)
        features = project["df"][project["features"]]
        bodies = [records_body(features.iloc[[i]]) for i in range(1000)]
        big = [records_body(features.iloc[i : i + 100]) for i in range(0, 1000, 100)]
        print(f"Registered {project['uri']} in {project['seconds']:.0f} s.", flush=True)
        for key in options.scenarios:
            print(f"\nScenario {key}: {SCENARIOS[key]} ...", flush=True)
            if key in runs:
                r = runs[key](folder, project, bodies, options)
            elif key == "d":
                r = scenario_d(folder, project, big, options)
            else:
                durability = "async" if key == "e" else "sync"
                r = scenario_kill(folder, project, bodies, big, options, durability)
            result["scenarios"][key] = r
            print(render(key, r), flush=True)
    result["machine_end"] = machine()
    print(render_table(result))
    print(f"\nMachine at the end: load average {result['machine_end']['load_average']}.")
    if options.json:
        Path(options.json).write_text(json.dumps(result, indent=1, default=str))
    missed = [k for k, r in result["scenarios"].items() if "skipped" not in r and not goal(k, r)[1]]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
