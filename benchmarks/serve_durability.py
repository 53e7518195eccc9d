"""Durability of the prediction log: is every acknowledged prediction logged exactly once?

``tabloop serve`` answers ``/predict`` before the rows reach the database (see the note in
``tabloop/store/_writer.py``). This script checks the promise on a real server, the same
kind of project as ``serve_latency.py`` (a LightGBM model on 12 features, registered in a
temporary MLflow store; the setup is imported from that script):

1. SIGTERM mid-run. Four clients send single-row ``/predict`` requests (5,000 in all by
   default) and record the ``prediction_id`` of every HTTP 200. Once half of them are
   acknowledged the script sends SIGTERM while the clients keep sending; they stop at their
   first connection error. Then it opens the log (SQLite, tabloop's default) with
   ``Store(url).predictions(period="all")`` and counts acknowledged ids that are missing and
   ids logged twice (both must be 0). The shutdown flush is timed from the server's own
   lines: "Waiting for application shutdown." to "Application shutdown complete."
2. Database outage (``--database-outage``, on by default). The same clients send every
   request while the log's database goes away for 10 s after a third of them: with
   PostgreSQL (``TABLOOP_TEST_POSTGRES``, default ``postgresql+psycopg://postgres@127.0.0.1:
   5432/test``, a fresh schema created and dropped here) the server reaches the database
   through a TCP proxy in this script, which drops every connection and refuses new ones for
   the outage; without PostgreSQL, another connection holds the SQLite log's write lock
   (``BEGIN EXCLUSIVE``) instead, so inserts fail after SQLite's busy timeout. The writer
   must spool to disk, replay once the database is back, and log every acknowledged row
   once; the script also reports the request latency during the outage and the catch-up time.

Timings are wall-clock on a shared machine; the counts are what matters. ``--quick`` sends
1,000 requests per phase.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from serve_latency import (
    JSON_HEADERS,
    free_port,
    machine,
    make_project,
    records_body,
    tabloop_server,
    wait_for_log,
    write_config,
)

from tabloop.store import Store

POSTGRES = os.environ.get(
    "TABLOOP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# -- clients ------------------------------------------------------------------------------------
class Clients:
    """Threads sending single-row ``/predict`` requests until ``total`` are sent.

    A client stops at its first connection error (the server is gone). ``acked`` holds
    ``(start, seconds, prediction_id)`` of every HTTP 200, in ``time.monotonic()`` time.
    """

    def __init__(self, base: str, bodies: list[bytes], total: int, clients: int = 4) -> None:
        self.base, self.bodies, self.total = base, bodies, total
        self.acked: list[tuple[float, float, str]] = []
        self.errors: collections.Counter[str] = collections.Counter()
        self._next = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(clients)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

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

    def _work(self) -> None:
        with httpx.Client(base_url=self.base, timeout=60, headers=JSON_HEADERS) as client:
            while True:
                with self._lock:
                    i, self._next = self._next, self._next + 1
                if i >= self.total:
                    return
                start = time.monotonic()
                try:
                    response = client.post("/predict", content=self.bodies[i % len(self.bodies)])
                except httpx.TransportError as exc:
                    with self._lock:
                        self.errors[type(exc).__name__] += 1
                    return
                seconds = time.monotonic() - start
                with self._lock:
                    if response.status_code == 200:
                        ids = [p["prediction_id"] for p in response.json()["predictions"]]
                        self.acked.extend((start, seconds, pid) for pid in ids)
                    else:
                        self.errors[f"HTTP {response.status_code}"] += 1


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


# -- compute ------------------------------------------------------------------------------------
def check_log(url: str, acked: list[tuple[float, float, str]], spool: Path) -> dict[str, Any]:
    """Acknowledged ids missing from the log, ids logged twice, and what is left in the spool."""
    store = Store(url)
    try:
        ids = store.predictions(period="all")["prediction_id"]
    finally:
        store.close()
    acknowledged = {pid for _, _, pid in acked}
    logged = set(ids)
    left = sum(
        sum(1 for line in path.read_text().splitlines() if line.strip())
        for path in (spool.glob("spool-*.jsonl") if spool.is_dir() else [])
    )
    return {
        "acknowledged": len(acked),
        "logged": len(ids),
        "missing": len(acknowledged - logged),
        "duplicates": int(ids.duplicated().sum()) + (len(acked) - len(acknowledged)),
        "logged_not_acknowledged": len(logged - acknowledged),
        "left_in_spool": left,
    }


def logged_count(url: str) -> int:
    store = Store(url)
    try:
        return sum(period["predictions"] for period in store.periods())
    finally:
        store.close()


def line_time(lines: list[tuple[float, str]], text: str) -> float | None:
    return next((t for t, line in lines if text in line), None)


def latency(acked: list[tuple[float, float, str]], start: float, end: float) -> dict:
    """p50/p99 in ms of requests started inside [start, end) and of the others."""
    inside = [s for t, s, _ in acked if start <= t < end]
    outside = [s for t, s, _ in acked if not start <= t < end]

    def summary(values: list[float]) -> dict[str, float]:
        if not values:
            return {"requests": 0, "p50_ms": float("nan"), "p99_ms": float("nan")}
        p50, p99 = np.percentile(np.asarray(values) * 1e3, [50, 99])
        return {"requests": len(values), "p50_ms": float(p50), "p99_ms": float(p99)}

    return {"during": summary(inside), "outside": summary(outside)}


def sigterm_phase(folder: Path, project: dict[str, Any], bodies: list[bytes], total: int) -> dict:
    home = folder / "home-sigterm"
    write_config(folder, project["tracking_uri"])  # the default log: SQLite under home
    url = Store.default_url(home)
    port = free_port()
    server = tabloop_server(folder, port, home)
    server.start(f"http://127.0.0.1:{port}/health/ready")
    clients = Clients(f"http://127.0.0.1:{port}", bodies, total)
    start = time.monotonic()
    clients.start()
    try:
        clients.wait_for(total // 2)
        before = logged_count(url)
        at_signal = len(clients.acked)
        sent = server.terminate()
    finally:
        clients.join()
        ended = server.wait()
    waiting = line_time(server.lines, "Waiting for application shutdown")
    complete = line_time(server.lines, "Application shutdown complete")
    result = check_log(url, clients.acked, home / "spool")
    result.update(
        {
            "sent": total,
            "client_seconds": time.monotonic() - start,
            "acknowledged_at_signal": at_signal,
            "acknowledged_after_signal": sum(1 for t, s, _ in clients.acked if t + s > sent),
            "logged_at_signal": before,
            "client_errors": dict(clients.errors),
            "exit_code": server.process.returncode if server.process else None,
            "signal_to_exit_s": ended - sent,
            "shutdown_flush_s": complete - waiting if waiting and complete else None,
        }
    )
    return result


def outage_phase(
    folder: Path, project: dict[str, Any], bodies: list[bytes], total: int, options: Any
) -> dict:
    import sqlalchemy as sa

    home = folder / "home-outage"
    schema = f"tabloop_bench_{uuid.uuid4().hex[:12]}"
    admin = None
    if options.database_outage == "postgres":
        admin = sa.create_engine(POSTGRES)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        direct = sa.make_url(POSTGRES).update_query_dict({"options": f"-csearch_path={schema}"})
        outage: Any = DatabaseProxy(direct.host or "127.0.0.1", direct.port or 5432)
        outage.start()
        verify_url = direct.render_as_string(hide_password=False)
        store_url = direct.set(host="127.0.0.1", port=outage.port)
        store_url = store_url.render_as_string(hide_password=False)
        how = (
            f"PostgreSQL schema {schema} behind a TCP proxy that drops every connection and "
            f"refuses new ones for {options.outage_seconds:g} s"
        )
    else:
        path = folder / "outage-log.db"
        verify_url = store_url = f"sqlite:///{path}"
        outage = SqliteLock(path)
        how = (
            f"SQLite log write-locked by another connection (BEGIN EXCLUSIVE) for "
            f"{options.outage_seconds:g} s"
        )
    write_config(folder, project["tracking_uri"], store_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = tabloop_server(folder, port, home)
    try:
        server.start(f"{base}/health/ready")
        clients = Clients(base, bodies, total)
        start = time.monotonic()
        clients.start()
        try:
            clients.wait_for(total // 3)
            cut = time.monotonic()
            outage.cut()
            peak = 0
            while time.monotonic() - cut < options.outage_seconds:
                try:
                    backlog = httpx.get(f"{base}/health/ready", timeout=5).json()["log_backlog"]
                    peak = max(peak, int(backlog))
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
                time.sleep(0.25)
            outage.restore()
            restored = time.monotonic()
        finally:
            clients.join()
        sent_all = time.monotonic()
        wait_for_log(base)
        stop = server.stop()
        result = check_log(verify_url, clients.acked, home / "spool")
    finally:
        server.stop()
        if isinstance(outage, DatabaseProxy):
            outage.close()
        else:
            outage.restore()  # a no-op unless an error came during the outage
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    output = "\n".join(line for _, line in server.lines)
    replays = [t for t, line in server.lines if re.search(r"replayed \d+ spooled", line)]
    result.update(
        {
            "outage": how,
            "sent": total,
            "client_seconds": sent_all - start,
            "client_errors": dict(clients.errors),
            "acknowledged_during_outage": sum(
                1 for t, _, _ in clients.acked if cut <= t < restored
            ),
            "peak_backlog": peak,
            "spooled_messages": output.count("spooling predictions"),
            "replayed": sum(int(n) for n in re.findall(r"replayed (\d+) spooled", output)),
            "catch_up_s": replays[-1] - restored if replays else None,
            "signal_to_exit_s": stop,
            "latency": latency(clients.acked, cut, restored),
        }
    )
    return result


# -- render -------------------------------------------------------------------------------------
def verdict(result: dict[str, Any]) -> list[str]:
    ok = result["missing"] == 0 and result["duplicates"] == 0
    return [
        f"  acknowledged {result['acknowledged']:,}; logged {result['logged']:,} "
        f"({result['logged_not_acknowledged']} logged but never acknowledged: answers the "
        "clients did not receive)",
        f"  missing {result['missing']} (must be 0); duplicates {result['duplicates']} "
        f"(must be 0); left in the spool {result['left_in_spool']}  ->  "
        + ("PASS" if ok else "FAIL"),
    ]


def render_sigterm(r: dict[str, Any]) -> str:
    flush = r["shutdown_flush_s"]
    after = r["logged"] - r["logged_at_signal"]
    return "\n".join(
        [
            "",
            f"1. SIGTERM after {r['acknowledged_at_signal']:,} of {r['sent']:,} requests were "
            "acknowledged (SQLite log)",
            *verdict(r),
            f"  acknowledged after the signal: {r['acknowledged_after_signal']}; rows logged at "
            f"the signal {r['logged_at_signal']:,}, after it {after:,}",
            f"  client errors: {r['client_errors'] or 'none'}; server exit code {r['exit_code']}",
            f"  SIGTERM to exit {r['signal_to_exit_s']:.2f} s; shutdown flush (lifespan "
            f"shutdown) {'n/a' if flush is None else f'{flush * 1e3:.1f} ms'}",
        ]
    )


def render_outage(r: dict[str, Any]) -> str:
    during, outside = r["latency"]["during"], r["latency"]["outside"]
    catch_up = "(never)" if r["catch_up_s"] is None else f"{r['catch_up_s']:.1f} s"
    return "\n".join(
        [
            "",
            f"2. Database outage: {r['outage']}",
            *verdict(r),
            f"  acknowledged during the outage: {r['acknowledged_during_outage']:,}; peak log "
            f"backlog {r['peak_backlog']:,} rows; writer spooled ({r['spooled_messages']} "
            f"time(s)) and replayed {r['replayed']:,} rows",
            f"  spool replayed {catch_up} after the database came back; client errors: "
            f"{r['client_errors'] or 'none'}",
            f"  /predict latency during the outage p50 {during['p50_ms']:.1f} ms, p99 "
            f"{during['p99_ms']:.1f} ms ({during['requests']:,} requests); otherwise p50 "
            f"{outside['p50_ms']:.1f} ms, p99 {outside['p99_ms']:.1f} ms",
        ]
    )


# -- command line -------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=None, help="per phase (default 5000)")
    parser.add_argument("--quick", action="store_true", help="1,000 requests per phase")
    parser.add_argument(
        "--database-outage",
        choices=["auto", "postgres", "sqlite", "off"],
        default="auto",
        help="phase 2's database (auto: PostgreSQL when reachable, else SQLite)",
    )
    parser.add_argument("--outage-seconds", type=float, default=10.0, help="default 10")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    options = parser.parse_args(argv)
    options.requests = options.requests or (1000 if options.quick else 5000)
    if options.requests < 10:
        parser.error(f"--requests must be at least 10; got {options.requests}")
    if options.database_outage == "auto":
        options.database_outage = "postgres" if postgres_reachable(POSTGRES) else "sqlite"
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    os.environ.setdefault("TABLOOP_PROGRESS", "0")
    start = machine()
    print(
        "Every acknowledged prediction in the log, exactly once? tabloop serve on 127.0.0.1, "
        f"4 clients, {options.requests:,} single-row requests per phase.\n"
        f"Machine: {start['cores']} cores, load average {start['load_average']} (shared: the "
        "counts matter, the timings are indicative)."
    )
    result: dict[str, Any] = {"machine_start": start, "options": vars(options)}
    with tempfile.TemporaryDirectory(prefix="serve_durability_") as tmp:
        folder = Path(tmp)
        project = make_project(folder)
        features = project["df"][project["features"]].head(1000)
        bodies = [records_body(features.iloc[[i]]) for i in range(len(features))]
        print(f"Registered {project['uri']}; phase 1: SIGTERM mid-run ...", flush=True)
        result["sigterm"] = sigterm_phase(folder, project, bodies, options.requests)
        print(render_sigterm(result["sigterm"]), flush=True)
        if options.database_outage != "off":
            print("\nPhase 2: database outage mid-run ...", flush=True)
            result["outage"] = outage_phase(folder, project, bodies, options.requests, options)
            print(render_outage(result["outage"]))
    result["machine_end"] = machine()
    print(f"\nMachine at the end: load average {result['machine_end']['load_average']}.")
    if options.json:
        Path(options.json).write_text(json.dumps(result, indent=1, default=str))
    phases = [result[k] for k in ("sigterm", "outage") if k in result]
    return 0 if all(p["missing"] == 0 and p["duplicates"] == 0 for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
