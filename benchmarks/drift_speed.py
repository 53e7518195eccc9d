"""Drift speed: tabloop's drift report vs Evidently's ``DataDriftPreset`` on the same frames.

The question a user asks before monitoring with tabloop instead of Evidently: is the daily
drift check fast and light enough to run on every window, and does it flag the right columns?

Data (seeded): a reference and a current frame of N rows each, 15 numeric columns (normal,
lognormal, uniform, gamma, exponential, beta, Student t, Poisson, an integer column with 5
values, ...) and 5 string categoricals with 3, 5, 10, 20 and 50 levels; 2% NaN in
``num_5``, 1% missing in ``cat_3``. Shifted on purpose, materially: ``num_0`` by +0.3 sd,
``num_1`` by a 1.5x scale, ``cat_0`` from shares (.5, .3, .2) to (.3, .3, .4) (JS distance
0.21). Negligibly: ``num_2`` by +0.03 sd, which neither tool should flag.

Measured, each tool in its own fresh process so that peak memory is its own:

- tabloop: (a) ``ReferenceProfile.from_frame`` on the reference, once (the registry does
  it at registration); (b) in another process, load the stored profile and the current
  frame, then ``drift_report`` (median of ``--repeat`` runs after a 1,000-row warm-up).
  Memory of (b): the process's peak RSS (``VmHWM``), the rise of its RSS high-water mark
  during the first call (``/proc/self/clear_refs``), and ``tracemalloc``'s peak in a
  separate call (numpy and Python allocations; Arrow buffers are not traced).
- Evidently 0.7: ``Report([DataDriftPreset()]).run(current, reference)`` once, with its
  defaults, in its own virtual environment (Evidently needs pandas < 3), created on first
  use at ``benchmarks/.evidently-venv`` unless ``--evidently-python`` is given. Memory: the
  same peak RSS and high-water rise.

Both read the frames from the same parquet files. Prints seconds, memory, flagged columns
and the ratios, then the goals of the drift issue as PASS/MISS lines: at the largest size
tabloop's report is >= 50x faster than Evidently's and <= 3 s (at 1M rows), the memory it
adds is <= 1.5x the current frame's ``memory_usage(deep=True)``, and it flags exactly the
materially shifted columns. The machine is shared: trust the ratios over the seconds.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
EVIDENTLY_VENV = HERE / ".evidently-venv"
EVIDENTLY_REQUIREMENTS = ["evidently>=0.7,<0.8", "pandas<3", "pyarrow"]
SHIFTED = ["num_0", "num_1", "cat_0"]
NEGLIGIBLE = ["num_2"]
CAT_LEVELS = (3, 5, 10, 20, 50)
#: The issue's goals.
SPEEDUP, MAX_SECONDS_1M, MEMORY_FACTOR = 50, 3.0, 1.5


# -- data ---------------------------------------------------------------------------------------
def make_frame(n: int, seed: int, *, shifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = 1.0 if shifted else 0.0
    columns: dict[str, Any] = {
        "num_0": rng.normal(0, 1, n) + 0.3 * s,
        "num_1": rng.normal(10, 2 * (1 + 0.5 * s), n),
        "num_2": rng.normal(5, 1, n) + 0.03 * s,
        "num_3": rng.lognormal(0, 1, n),
        "num_4": rng.uniform(0, 100, n),
        "num_5": rng.gamma(2.0, 3.0, n),
        "num_6": rng.poisson(4, n).astype("float64"),
        "num_7": rng.integers(1, 6, n).astype("float64"),  # 5 values
        "num_8": rng.exponential(20, n).round(1),
        "num_9": rng.beta(2, 5, n),
        "num_10": rng.standard_t(5, n),
        "num_11": rng.lognormal(3, 0.5, n).round(2),
        "num_12": rng.poisson(30, n).astype("float64"),
        "num_13": rng.normal(50, 10, n).round(0),
        "num_14": rng.uniform(-1, 1, n) ** 3,
    }
    columns["num_5"][rng.random(n) < 0.02] = np.nan
    for i, levels in enumerate(CAT_LEVELS):
        names = np.array([f"c{i}_{j:02d}" for j in range(levels)])
        if i == 0:
            p = np.array([0.3, 0.3, 0.4] if shifted else [0.5, 0.3, 0.2])
        else:
            p = 1 / np.arange(1, levels + 1)  # Zipf-like
            p = p / p.sum()
        values = names[rng.choice(levels, n, p=p)].astype(object)
        if i == 3:
            values[rng.random(n) < 0.01] = None
        columns[f"cat_{i}"] = values
    return pd.DataFrame(columns)


def kinds_of(df: pd.DataFrame) -> dict[str, str]:
    return {c: "numeric" if c.startswith("num") else "categorical" for c in df.columns}


# -- memory helpers (also used in the worker processes) ------------------------------------------
def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0


def reset_high_water() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss(before_reset: int = 0) -> int:
    """This process's peak RSS: VmHWM, not ``ru_maxrss``, which a child inherits from its
    parent across fork and exec (so it would report the benchmark's own frames)."""
    return max(_status("VmHWM"), before_reset)


# -- the tabloop worker (runs in a fresh process) -------------------------------------------------
def tabloop_worker(step: str, folder: Path, repeat: int) -> dict[str, Any]:
    from tabloop.data import ReferenceProfile
    from tabloop.monitor._drift import drift_report

    out: dict[str, Any] = {}
    if step == "profile":
        reference = pd.read_parquet(folder / "reference.parquet")
        start = time.perf_counter()
        profile = ReferenceProfile.from_frame(reference, kinds=kinds_of(reference))
        out["seconds"] = time.perf_counter() - start
        path = profile.save(folder / "reference_profile.json")
        out["profile_bytes"] = path.stat().st_size
        out["peak_rss"] = peak_rss()
        return out
    start = time.perf_counter()
    profile = ReferenceProfile.load(folder / "reference_profile.json")
    out["load_profile_seconds"] = time.perf_counter() - start
    current = pd.read_parquet(folder / "current.parquet")
    out["input_bytes"] = int(current.memory_usage(deep=True).sum())
    drift_report(profile, current.head(1000))  # warm-up: lazy imports
    gc.collect()
    out["rss_loaded"] = _status("VmRSS")
    peak_before = _status("VmHWM")
    reset = reset_high_water()
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        report = drift_report(profile, current)
        times.append(time.perf_counter() - start)
        if reset and i == 0:
            out["rss_rise"] = _status("VmHWM") - out["rss_loaded"]
        del report
    out["seconds_all"] = times
    out["seconds"] = float(np.median(times))
    out["peak_rss"] = peak_rss(peak_before)
    import tracemalloc

    tracemalloc.start()
    report = drift_report(profile, current)
    out["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out["flagged"] = report.drifted_columns
    out["effects"] = {c.column: round(c.effect, 4) for c in report.columns}
    return out


# -- Evidently (its own venv) ---------------------------------------------------------------------
EVIDENTLY_RUNNER = """
import gc, json, sys, time
from pathlib import Path

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0

folder = Path(sys.argv[1])
start = time.perf_counter()
import evidently
from evidently import Report
from evidently.presets import DataDriftPreset
import pandas as pd
import_seconds = time.perf_counter() - start
reference = pd.read_parquet(folder / "reference.parquet")
current = pd.read_parquet(folder / "current.parquet")
gc.collect()
loaded = status("VmRSS")
peak_before = status("VmHWM")
try:
    Path("/proc/self/clear_refs").write_text("5")
    reset = True
except OSError:
    reset = False
start = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(current, reference)
seconds = time.perf_counter() - start
rise = status("VmHWM") - loaded if reset else None
flagged, values = [], {}
for metric in snapshot.dict()["metrics"]:
    config = metric.get("config", {})
    if not config.get("type", "").endswith("ValueDrift"):
        continue
    method, value = config.get("method", ""), metric["value"]
    p_value = "p_value" in method
    values[config["column"]] = [method, value]
    if (value < config["threshold"]) if p_value else (value >= config["threshold"]):
        flagged.append(config["column"])
print(json.dumps({
    "version": evidently.__version__,
    "pandas": pd.__version__,
    "import_seconds": import_seconds,
    "seconds": seconds,
    "rss_loaded": loaded,
    "rss_rise": rise,
    "peak_rss": max(status("VmHWM"), peak_before),
    "flagged": flagged,
    "methods": values,
}))
"""


def evidently_python(given: str | None) -> str:
    """The interpreter that has Evidently 0.7: ``--evidently-python``, else our own venv."""
    if given:
        return given
    python = EVIDENTLY_VENV / "bin" / "python"
    check = [str(python), "-c", "import evidently, pyarrow"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(python)
    base = shutil.which("python3") or sys.executable
    print(f"Creating {EVIDENTLY_VENV} with {', '.join(EVIDENTLY_REQUIREMENTS)} ...", flush=True)
    subprocess.run([base, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", *EVIDENTLY_REQUIREMENTS]
    subprocess.run(pip, check=True)
    return str(python)


def run_json(command: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} ... failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- one size -------------------------------------------------------------------------------------
def measure(n: int, options: argparse.Namespace, python: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="drift_speed_") as tmp:
        folder = Path(tmp)
        reference = make_frame(n, seed=0, shifted=False)
        current = make_frame(n, seed=1, shifted=True)
        reference.to_parquet(folder / "reference.parquet", index=False)
        current.to_parquet(folder / "current.parquet", index=False)
        del reference, current
        me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
        result: dict[str, Any] = {"rows": n}
        print(f"{n:,} rows: tabloop profile ...", flush=True)
        result["profile"] = run_json([*me, "profile", str(folder)], options.timeout)
        print(f"{n:,} rows: tabloop drift_report x{options.repeat} ...", flush=True)
        drift = [*me, "drift", str(folder), "--repeat", str(options.repeat)]
        result["tabloop"] = run_json(drift, options.timeout)
        if python:
            print(f"{n:,} rows: Evidently DataDriftPreset (once) ...", flush=True)
            runner = folder / "evidently_runner.py"
            runner.write_text(EVIDENTLY_RUNNER)
            result["evidently"] = run_json([python, str(runner), str(folder)], options.timeout)
    return result


def goals(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last = results[-1]
    tab = last["tabloop"]
    out = [
        {
            "goal": f"flags exactly {', '.join(SHIFTED)} (rows {r['rows']:,})",
            "value": ", ".join(r["tabloop"]["flagged"]) or "none",
            "ok": r["tabloop"]["flagged"] == SHIFTED,
        }
        for r in results
    ]
    rise = max(tab.get("rss_rise", 0), tab["tracemalloc_peak"])
    out.append(
        {
            "goal": f"memory added <= {MEMORY_FACTOR}x the current frame ({last['rows']:,} rows)",
            "value": f"{rise / tab['input_bytes']:.2f}x",
            "ok": rise <= MEMORY_FACTOR * tab["input_bytes"],
        }
    )
    if last["rows"] >= 1_000_000:
        out.append(
            {
                "goal": f"drift_report <= {MAX_SECONDS_1M:g} s at {last['rows']:,} rows",
                "value": f"{tab['seconds']:.2f} s",
                "ok": tab["seconds"] <= MAX_SECONDS_1M,
            }
        )
    if "evidently" in last:
        ratio = last["evidently"]["seconds"] / tab["seconds"]
        out.append(
            {
                "goal": f">= {SPEEDUP}x faster than Evidently ({last['rows']:,} rows)",
                "value": f"{ratio:.0f}x",
                "ok": ratio >= SPEEDUP,
            }
        )
    return out


# -- render ---------------------------------------------------------------------------------------
def _mb(value: float | None) -> str:
    return "     n/a" if value is None else f"{value / 1e6:8.0f}"


def render(results: list[dict[str, Any]]) -> str:
    lines = [
        "",
        "Seconds and memory (MB). peak RSS: whole process (VmHWM); rise: RSS high-water",
        "rise during the call; traced: tracemalloc peak (numpy/Python only).",
        f"  {'rows':>9s}  {'step':34s} {'seconds':>8s} {'peak RSS':>8s} {'rise':>8s}"
        f" {'traced':>8s}  flagged",
    ]
    for r in results:
        prof, tab, ev = r["profile"], r["tabloop"], r.get("evidently")
        rows = f"{r['rows']:,}"
        lines.append(
            f"  {rows:>9s}  {'tabloop ReferenceProfile (once)':34s} {prof['seconds']:8.2f} "
            f"{_mb(prof['peak_rss'])} {'':8s} {'':8s}  "
            f"profile JSON {prof['profile_bytes'] / 1e6:.2f} MB"
        )
        lines.append(
            f"  {'':9s}  {'tabloop drift_report':34s} {tab['seconds']:8.2f} "
            f"{_mb(tab['peak_rss'])} {_mb(tab.get('rss_rise'))} {_mb(tab['tracemalloc_peak'])}"
            f"  {', '.join(tab['flagged']) or 'none'}"
        )
        if ev:
            lines.append(
                f"  {'':9s}  {'Evidently DataDriftPreset run':34s} {ev['seconds']:8.2f} "
                f"{_mb(ev['peak_rss'])} {_mb(ev.get('rss_rise'))} {'':8s}"
                f"  {', '.join(ev['flagged']) or 'none'}"
            )
        note = (
            f"  {'':9s}  current frame memory_usage(deep=True) {tab['input_bytes'] / 1e6:.0f} MB;"
            f" profile load {tab['load_profile_seconds']:.2f} s"
        )
        if ev:
            note += (
                f"; Evidently / tabloop: {ev['seconds'] / tab['seconds']:.0f}x time, "
                f"{ev['peak_rss'] / tab['peak_rss']:.1f}x peak RSS"
            )
        lines.append(note)
    lines += ["", "Goals of the drift issue:"]
    for goal in goals(results):
        verdict = "PASS" if goal["ok"] else "MISS"
        lines.append(f"  {verdict}  {goal['goal']:58s} {goal['value']}")
    ev = results[-1].get("evidently")
    if ev:
        lines.append(f"\nEvidently {ev['version']} (pandas {ev['pandas']}) methods per column:")
        lines.append("  " + ", ".join(f"{c}: {m[0]}={m[1]:.3g}" for c, m in ev["methods"].items()))
    load = [round(x, 2) for x in os.getloadavg()]
    lines.append(
        f"\nMachine: {os.cpu_count()} cores, load average {load} (1, 5, 15 min). Shared "
        "machine: trust the ratios over the absolute times."
    )
    return "\n".join(lines)


# -- command line ---------------------------------------------------------------------------------
def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        factor = 1_000_000 if part.endswith("m") else 1_000 if part.endswith("k") else 1
        sizes.append(int(float(part.rstrip("mk")) * factor))
    return sorted(sizes)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="100k,1M", help="rows per frame (default 100k,1M)")
    parser.add_argument("--repeat", type=int, default=3, help="drift_report runs (median)")
    parser.add_argument("--evidently-python", default=None, help="a Python with Evidently 0.7")
    parser.add_argument("--no-evidently", action="store_true", help="time tabloop only")
    parser.add_argument("--timeout", type=float, default=1800, help="per process, seconds")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    parser.add_argument("--worker", nargs=2, metavar=("STEP", "DIR"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    try:
        options.sizes = parse_sizes(options.sizes)
    except ValueError:
        parser.error(f"--sizes must be numbers like 100k,1M; got {options.sizes!r}")
    if options.repeat < 1:
        parser.error(f"--repeat must be at least 1; got {options.repeat}")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    if options.worker:
        step, folder = options.worker
        print(json.dumps(tabloop_worker(step, Path(folder), options.repeat)))
        return
    os.environ.setdefault("TABLOOP_PROGRESS", "0")
    python = None if options.no_evidently else evidently_python(options.evidently_python)
    print(
        f"tabloop drift_report vs Evidently DataDriftPreset, 15 numeric + 5 categorical "
        f"columns, sizes {', '.join(f'{n:,}' for n in options.sizes)}.\nMachine: "
        f"{os.cpu_count()} cores, load average {[round(x, 2) for x in os.getloadavg()]}."
    )
    results = [measure(n, options, python) for n in options.sizes]
    print(render(results))
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
