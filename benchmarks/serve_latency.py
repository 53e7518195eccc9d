"""Serving speed: ``tabloop serve`` vs ``mlflow models serve``, the same registered model.

The question a user asks before putting ``tabloop serve`` where ``mlflow models serve`` was:
is it at least as fast, with its routing, schema checks and prediction log switched on?

Setup, all in a temporary folder: a synthetic 12-feature binary table (10,000 rows; 4 integer,
4 float and 4 string columns, like the MLflow baseline measured for the serving issue), a
LightGBM-only tabloop project trained and registered in its own MLflow SQLite store (the
version becomes ``champion``), then two servers on 127.0.0.1, each one process as a user
starts it: ``tabloop serve`` (prediction log on, its default: SQLite under the project) and
``mlflow models serve -m models:/churn@champion --env-manager local`` (which serves the
tabloop pyfunc, whose ``predict`` returns a frame). Before timing, both must return the same
probability for the same rows.

Measured, client and servers on the same machine:

- single row: 2,000 sequential requests per target on one keep-alive ``httpx.Client`` after
  50 warm-ups, in 4 interleaved rounds so that a change in the machine's load hits every
  target alike: p50, p90, p99, mean. Targets: MLflow ``/invocations`` with
  ``{"dataframe_split": ...}``, tabloop ``/invocations`` with the same bodies (like for like)
  and tabloop ``/predict`` with ``{"records": [...]}``.
- throughput: 8 workers sharing one ``httpx.AsyncClient`` for 20 s per target: req/s, p50,
  p99, errors.
- batch: one 10,000-row JSON request, median of 5; tabloop's log is drained between
  repetitions, so each is timed on a quiet server (its log is written after the answer).

Prints the ratios and the goals of the serving issue as PASS/MISS lines. The machine is
shared (its core count and load average are printed at start and end): trust the ratios
over the absolute times. ``--quick`` is a smoke run (300 requests, 5 s, 3 batches).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

NAME = "churn"
TARGET = "churned"
ROWS = 10_000
JSON_HEADERS = {"content-type": "application/json"}
BIN = Path(sys.executable).parent  # the venv's bin: mlflow, and uvicorn for --env-manager local
#: The issue's goals: tabloop's 1-row p50 at most MLflow's / 8; p99 at most 10 ms;
#: throughput at least 4x MLflow's.
P50_FACTOR, P99_MS, THROUGHPUT_FACTOR = 8, 10.0, 4


# -- the project --------------------------------------------------------------------------------
def churn_frame(n: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """12 features (4 int, 4 float, 4 string) and a binary target from a logistic model."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "tenure_months": rng.integers(1, 73, n),
            "logins_30d": rng.poisson(12, n),
            "support_tickets": rng.poisson(1.0, n),
            "age": rng.integers(18, 80, n),
            "monthly_spend": rng.gamma(2.0, 30.0, n).round(2),
            "discount_rate": rng.uniform(0, 0.3, n).round(3),
            "session_minutes": rng.exponential(20, n).round(1),
            "days_since_login": rng.exponential(7, n).round(1),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "channel": rng.choice(["web", "app", "store", "phone"], n),
            "payment": rng.choice(["card", "invoice", "paypal", "bank"], n),
        }
    )
    logit = (
        0.5
        - 0.04 * df["tenure_months"]
        - 0.05 * df["logins_30d"]
        + 0.35 * df["support_tickets"]
        + 0.08 * df["days_since_login"]
        + 2.0 * df["discount_rate"]
        + df["plan"].map({"basic": 0.4, "plus": 0.0, "pro": -0.5})
        + df["payment"].map({"card": 0.0, "invoice": 0.3, "paypal": 0.1, "bank": -0.2})
    )
    df[TARGET] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def write_config(folder: Path, tracking_uri: str, store_url: str | None = None) -> Path:
    """The project file: LightGBM only, no ensemble, no learning curve, a small bootstrap."""
    import yaml

    project: dict[str, Any] = {
        "name": NAME,
        "data": {"train": f"{NAME}.csv", "target": TARGET},
        "train": {
            "models": ["lightgbm"],
            "folds": 3,
            "ensemble": False,
            "learning_curve": False,
        },
        "evaluate": {"bootstrap": 50, "importance": False},
        "registry": {"tracking_uri": tracking_uri},
    }
    if store_url:
        project["serve"] = {"store_url": store_url}
    path = folder / "tabloop.yaml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


def make_project(folder: Path, rows: int = ROWS) -> dict[str, Any]:
    """Write the data and project file, train, and register the model (it becomes champion)."""
    from tabloop.config import load_config
    from tabloop.registry import register
    from tabloop.train import train

    df = churn_frame(rows)
    df.to_csv(folder / f"{NAME}.csv", index=False)
    tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = load_config(write_config(folder, tracking_uri))
    start = time.perf_counter()
    version = register(train(df, config=config), config=config)
    return {
        "df": df,
        "features": [c for c in df.columns if c != TARGET],
        "tracking_uri": tracking_uri,
        "uri": f"models:/{NAME}@champion",
        "version": version.version,
        "seconds": time.perf_counter() - start,
    }


# -- servers ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server process in its own session; its output lines are kept with their times."""

    def __init__(self, name: str, command: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.name, self.command, self.cwd, self.env = name, command, cwd, env
        self.lines: list[tuple[float, str]] = []  # (time.monotonic(), line)
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self, ready_url: str, timeout: float = 180) -> float:
        """Start and wait until ``ready_url`` answers 200; return the seconds it took."""
        start = time.monotonic()
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: SIGTERM reaches every child
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready in {timeout:.0f} s:\n{self.output()}")

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def terminate(self) -> float:
        """Send SIGTERM to the server's process group; return the time it was sent."""
        assert self.process is not None
        sent = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        return sent

    def wait(self, timeout: float = 90) -> float:
        """Wait for the process to exit (SIGKILL after ``timeout``); return when it did."""
        assert self.process is not None
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        ended = time.monotonic()
        if self._reader is not None:
            self._reader.join(5)
        return ended

    def stop(self) -> float:
        """SIGTERM, wait; return the seconds from the signal to the exit."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        sent = self.terminate()
        return self.wait() - sent

    def output(self, last: int = 40) -> str:
        return "\n".join(line for _, line in self.lines[-last:])


def tabloop_server(folder: Path, port: int, home: Path) -> Server:
    env = {**os.environ, "TABLOOP_PROGRESS": "0", "TABLOOP_HOME": str(home)}
    command = [sys.executable, "-m", "tabloop", "serve", "--port", str(port)]
    return Server("tabloop serve", command, cwd=folder, env=env)


def mlflow_server(folder: Path, port: int, project: dict[str, Any]) -> Server:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": project["tracking_uri"],
    }
    command = [
        str(BIN / "mlflow"), "models", "serve", "-m", project["uri"], "--env-manager", "local",
        "-h", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    return Server("mlflow models serve", command, cwd=folder, env=env)


def wait_for_log(base: str, timeout: float = 120) -> float:
    """Wait until tabloop's log writer has nothing left to write; return the seconds."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if httpx.get(f"{base}/health/ready", timeout=10).json().get("log_backlog") == 0:
                return time.monotonic() - start
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"tabloop's log backlog did not drain in {timeout:.0f} s")


# -- request bodies -----------------------------------------------------------------------------
def split_body(rows: pd.DataFrame) -> bytes:
    """MLflow's ``dataframe_split`` JSON for ``rows``."""
    data = rows.to_dict(orient="split", index=False)
    return json.dumps(
        {"dataframe_split": {"columns": data["columns"], "data": data["data"]}}
    ).encode()


def records_body(rows: pd.DataFrame) -> bytes:
    """tabloop's ``{"records": [...]}`` JSON for ``rows``."""
    return json.dumps({"records": rows.to_dict(orient="records")}).encode()


def probability(answer: dict[str, Any]) -> float:
    """The positive-class probability of the first row, from either server's answer."""
    return float(answer["predictions"][0]["probability"])


# -- clients ------------------------------------------------------------------------------------
Target = tuple[str, str, list[bytes]]  # (label, url, bodies)


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    if not len(ms):
        return {"p50_ms": float("nan"), "p90_ms": float("nan"), "p99_ms": float("nan")}
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99)}


def sequential(targets: list[Target], *, count: int, warmup: int, rounds: int = 4) -> dict:
    """``count`` single-row requests per target, one keep-alive client each, interleaved."""
    clients = {label: httpx.Client(timeout=60, headers=JSON_HEADERS) for label, _, _ in targets}
    times: dict[str, list[float]] = {label: [] for label, _, _ in targets}
    errors = dict.fromkeys(times, 0)
    sent = dict.fromkeys(times, 0)
    try:
        for label, url, bodies in targets:
            for i in range(warmup):
                clients[label].post(url, content=bodies[i % len(bodies)]).raise_for_status()
        for r in range(rounds):
            share = count // rounds + (1 if r < count % rounds else 0)
            for label, url, bodies in targets:
                client = clients[label]
                for _ in range(share):
                    body = bodies[sent[label] % len(bodies)]
                    sent[label] += 1
                    start = time.perf_counter()
                    response = client.post(url, content=body)
                    elapsed = time.perf_counter() - start
                    if response.status_code == 200:
                        times[label].append(elapsed)
                    else:
                        errors[label] += 1
    finally:
        for client in clients.values():
            client.close()
    return {
        label: {
            **percentiles(times[label]),
            "mean_ms": float(np.mean(times[label]) * 1e3) if times[label] else float("nan"),
            "requests": len(times[label]),
            "errors": errors[label],
        }
        for label in times
    }


async def _hammer(url: str, bodies: list[bytes], seconds: float, workers: int) -> dict:
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    times: list[float] = []
    errors = 0
    async with httpx.AsyncClient(timeout=60, limits=limits, headers=JSON_HEADERS) as client:
        deadline = time.perf_counter() + seconds

        async def worker(k: int) -> None:
            nonlocal errors
            i = k
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    response = await client.post(url, content=bodies[i % len(bodies)])
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    times.append(time.perf_counter() - start)
                else:
                    errors += 1
                i += workers

        start = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(workers)))
        elapsed = time.perf_counter() - start
    return {
        "requests_per_s": len(times) / elapsed,
        **percentiles(times),
        "requests": len(times),
        "errors": errors,
        "seconds": elapsed,
    }


def throughput(url: str, bodies: list[bytes], *, seconds: float, workers: int = 8) -> dict:
    """Single-row requests from ``workers`` concurrent workers for ``seconds``."""
    return asyncio.run(_hammer(url, bodies, seconds, workers))


def batch(url: str, body: bytes, *, rows: int, repeat: int, between: Callable | None) -> dict:
    """One ``rows``-row request ``repeat`` times; ``between`` runs (untimed) after each."""
    times = []
    with httpx.Client(timeout=300, headers=JSON_HEADERS) as client:
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.post(url, content=body)
            times.append(time.perf_counter() - start)
            response.raise_for_status()
            answered = len(response.json()["predictions"])
            if answered != rows:
                raise RuntimeError(f"{url} answered {answered} rows for {rows}")
            if between is not None:
                between()
    return {
        "median_ms": float(np.median(times) * 1e3),
        "min_ms": float(min(times) * 1e3),
        "max_ms": float(max(times) * 1e3),
        "rows_per_s": rows / float(np.median(times)),
    }


# -- compute ------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def agreement(mlflow: str, tabloop: str, rows: pd.DataFrame) -> dict[str, Any]:
    """Each server's probability for the same rows; raises if they differ."""
    found: dict[str, list[float]] = {
        "mlflow": [],
        "tabloop /predict": [],
        "tabloop /invocations": [],
    }
    with httpx.Client(timeout=60, headers=JSON_HEADERS) as client:
        for i in range(len(rows)):
            row = rows.iloc[[i]]
            for label, url, body in (
                ("mlflow", f"{mlflow}/invocations", split_body(row)),
                ("tabloop /predict", f"{tabloop}/predict", records_body(row)),
                ("tabloop /invocations", f"{tabloop}/invocations", split_body(row)),
            ):
                response = client.post(url, content=body)
                if response.status_code != 200:
                    raise RuntimeError(f"{label} answered {response.status_code}: {response.text}")
                found[label].append(probability(response.json()))
    reference = np.asarray(found["mlflow"])
    gap = max(float(np.abs(np.asarray(v) - reference).max()) for v in found.values())
    if gap > 1e-6:
        raise RuntimeError(f"The servers disagree (largest gap {gap:.2e}): {found}")
    return {"rows": len(rows), "first_row": {k: v[0] for k, v in found.items()}, "max_gap": gap}


def run(options: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"machine_start": machine(), "options": vars(options)}
    with tempfile.TemporaryDirectory(prefix="serve_latency_") as tmp:
        folder = Path(tmp)
        project = make_project(folder)
        print(
            f"Trained and registered {project['uri']} (version {project['version']}) in "
            f"{project['seconds']:.1f} s: LightGBM, {len(project['features'])} features."
        )
        ports = {"mlflow": free_port(), "tabloop": free_port()}
        base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        servers = {
            "mlflow": mlflow_server(folder, ports["mlflow"], project),
            "tabloop": tabloop_server(folder, ports["tabloop"], folder / ".tabloop"),
        }
        try:
            started = {
                "mlflow": servers["mlflow"].start(f"{base['mlflow']}/ping"),
                "tabloop": servers["tabloop"].start(f"{base['tabloop']}/health/ready"),
            }
            result["startup_s"] = started
            print(
                f"Ready in {started['mlflow']:.1f} s (MLflow), {started['tabloop']:.1f} s (tabloop)"
            )
            features = project["df"][project["features"]]
            result["agreement"] = agreement(base["mlflow"], base["tabloop"], features.head(5))
            print(render_agreement(result["agreement"]), flush=True)
            result.update(measure(options, base, features))
            result["log_drained_s"] = wait_for_log(base["tabloop"])
        finally:
            result["stop_s"] = {name: server.stop() for name, server in servers.items()}
    result["machine_end"] = machine()
    result["goals"] = goals(result)
    return result


def measure(options: argparse.Namespace, base: dict[str, str], features: pd.DataFrame) -> dict:
    pool = features.head(1000)
    split = [split_body(pool.iloc[[i]]) for i in range(len(pool))]
    records = [records_body(pool.iloc[[i]]) for i in range(len(pool))]
    targets: list[Target] = [
        ("mlflow", f"{base['mlflow']}/invocations", split),
        ("tabloop /invocations", f"{base['tabloop']}/invocations", split),
        ("tabloop /predict", f"{base['tabloop']}/predict", records),
    ]
    out: dict[str, Any] = {}
    print(f"\nSingle row: {options.requests:,} sequential requests per target ...", flush=True)
    out["sequential"] = sequential(targets, count=options.requests, warmup=options.warmup)
    wait_for_log(base["tabloop"])
    print(f"Throughput: 8 concurrent clients, {options.seconds:g} s per target ...", flush=True)
    out["throughput"] = {}
    for label, url, bodies in targets:
        out["throughput"][label] = throughput(url, bodies, seconds=options.seconds)
        if label.startswith("tabloop"):
            wait_for_log(base["tabloop"])
    print(f"Batch: {len(features):,} rows as JSON, {options.batches} times per target ...")
    drain = lambda: wait_for_log(base["tabloop"])  # noqa: E731
    big = {"split": split_body(features), "records": records_body(features)}
    out["batch"] = {}
    for (label, url, _), body in zip(targets, ("split", "split", "records"), strict=True):
        between = None if label == "mlflow" else drain
        out["batch"][label] = batch(
            url, big[body], rows=len(features), repeat=options.batches, between=between
        )
    return out


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals, one line per tabloop endpoint."""
    if "sequential" not in result:
        return []
    seq, thr = result["sequential"], result["throughput"]
    p50_limit = seq["mlflow"]["p50_ms"] / P50_FACTOR
    thr_limit = thr["mlflow"]["requests_per_s"] * THROUGHPUT_FACTOR
    out = []
    for label in ("tabloop /invocations", "tabloop /predict"):
        endpoint = label.split()[1]
        out += [
            {
                "goal": f"1-row p50 <= MLflow's / {P50_FACTOR} = {p50_limit:.2f} ms",
                "endpoint": endpoint,
                "value": f"{seq[label]['p50_ms']:.2f} ms",
                "ok": seq[label]["p50_ms"] <= p50_limit,
            },
            {
                "goal": f"1-row p99 <= {P99_MS:g} ms",
                "endpoint": endpoint,
                "value": f"{seq[label]['p99_ms']:.2f} ms",
                "ok": seq[label]["p99_ms"] <= P99_MS,
            },
            {
                "goal": f"throughput >= {THROUGHPUT_FACTOR}x MLflow's = {thr_limit:.0f} req/s",
                "endpoint": endpoint,
                "value": f"{thr[label]['requests_per_s']:.0f} req/s",
                "ok": thr[label]["requests_per_s"] >= thr_limit,
            },
        ]
    return out


# -- render -------------------------------------------------------------------------------------
def render_agreement(found: dict[str, Any]) -> str:
    values = ", ".join(f"{label} {value:.12f}" for label, value in found["first_row"].items())
    return (
        f"Same row, same probability: {values} (largest gap over {found['rows']} rows: "
        f"{found['max_gap']:.1e})."
    )


def _times(mlflow: float, tabloop: float) -> str:
    return f"{mlflow / tabloop:6.1f}x" if tabloop > 0 else "   n/a"


def render(result: dict[str, Any], options: argparse.Namespace) -> str:
    seq, thr, bat = result["sequential"], result["throughput"], result["batch"]
    labels = list(seq)
    lines = [
        "",
        f"Single row, {options.requests:,} sequential requests per target (keep-alive), ms",
        f"  {'target':24s} {'p50':>7s} {'p90':>7s} {'p99':>7s} {'mean':>7s} {'errors':>6s}"
        f"  {'MLflow p50 / this':>17s}",
    ]
    for label in labels:
        s = seq[label]
        ratio = _times(seq["mlflow"]["p50_ms"], s["p50_ms"])
        lines.append(
            f"  {label:24s} {s['p50_ms']:7.2f} {s['p90_ms']:7.2f} {s['p99_ms']:7.2f} "
            f"{s['mean_ms']:7.2f} {s['errors']:6d}  {ratio:>17s}"
        )
    lines += [
        "",
        f"Throughput, 8 concurrent clients for {options.seconds:g} s",
        f"  {'target':24s} {'req/s':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'errors':>6s}"
        f"  {'this / MLflow':>17s}",
    ]
    for label in labels:
        t = thr[label]
        lines.append(
            f"  {label:24s} {t['requests_per_s']:7.1f} {t['p50_ms']:7.1f} {t['p99_ms']:7.1f} "
            f"{t['errors']:6d}  {_times(t['requests_per_s'], thr['mlflow']['requests_per_s']):>17s}"
        )
    lines += [
        "",
        f"Batch of {ROWS:,} rows as JSON, {options.batches} requests per target",
        f"  {'target':24s} {'median ms':>9s} {'min':>7s} {'max':>7s} {'rows/s':>8s}"
        f"  {'MLflow / this':>15s}",
    ]
    for label in labels:
        b = bat[label]
        lines.append(
            f"  {label:24s} {b['median_ms']:9.0f} {b['min_ms']:7.0f} {b['max_ms']:7.0f} "
            f"{b['rows_per_s']:8.0f}  {_times(bat['mlflow']['median_ms'], b['median_ms']):>15s}"
        )
    lines += ["", "Goals of the serving issue (tabloop with its prediction log on):"]
    for goal in result["goals"]:
        verdict = "PASS" if goal["ok"] else "MISS"
        lines.append(f"  {verdict}  {goal['goal']:42s} {goal['endpoint']:13s} {goal['value']}")
    end = result["machine_end"]
    lines += [
        "",
        f"Machine at the end: {end['cores']} cores, load average {end['load_average']} "
        "(1, 5, 15 min). Shared machine: trust the ratios over the absolute times.",
    ]
    return "\n".join(lines)


# -- command line -------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="300 requests, 5 s, 3 batches")
    parser.add_argument("--requests", type=int, default=None, help="sequential (default 2000)")
    parser.add_argument("--seconds", type=float, default=None, help="throughput (default 20)")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    options = parser.parse_args(argv)
    quick = options.quick
    options.requests = options.requests or (300 if quick else 2000)
    options.seconds = options.seconds or (5.0 if quick else 20.0)
    options.warmup = 20 if quick else 50
    options.batches = 3 if quick else 5
    if options.requests < 4:
        parser.error(f"--requests must be at least 4; got {options.requests}")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    os.environ.setdefault("TABLOOP_PROGRESS", "0")
    start = machine()
    print(
        f"tabloop serve vs mlflow models serve, one registered LightGBM model, 127.0.0.1.\n"
        f"Machine: {start['cores']} cores, load average {start['load_average']} (1, 5, 15 min); "
        "shared with other jobs, so trust the ratios over the absolute times."
    )
    result = run(options)
    print(render(result, options))
    if options.json:
        Path(options.json).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())
