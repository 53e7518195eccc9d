"""Monitor at scale: ``tabloop monitor --data FILE`` on 2M production rows, in one process.

The question: how long does a window of two million production rows take to monitor, and
how much memory, now that the monitor is map -> merge -> statistics and reads the file in
partitions of ~200k rows?

``--setup DIR`` makes a project in DIR: the traffic-stops example (binary: was contraband
found?), a logistic regression trained on 3,000 stops (3 folds, a few seconds), registered
as the champion with its reference summary; and ``production.parquet``, N production stops
(``traffic_stops(N, production=True)``: a shifted population) scored by the model, dated
one per 15 s, with outcomes for the searched ones. The ``monitor`` section asks for
everything: drift of every input and context column, multivariate drift, realised
performance with 1,000 bootstrap replicates, per-segment figures, fairness by race within
department with the officers' decision as the baseline, CBPE, daily chunks.

``--run DIR [--label L]`` runs ``tabloop monitor --data DIR/production.parquet`` in a fresh
process under ``/usr/bin/time -v`` and prints the wall time and peak RSS (and writes the
report to DIR/reports-L); ``--source SRC`` runs another checkout's ``src`` (the code before
the change, from ``git archive HEAD~N src | tar -x -C DIR``), and ``--before SRC`` runs that
and then this checkout, for a before/after in one run. ``--profile`` runs it
under cProfile instead and prints the top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONTEXT = ["department", "race", "ethnicity", "sex", "searched", "search_authorization"]


def setup(folder: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd
    import yaml

    from tabloop.config import load_config
    from tabloop.evaluate import evaluate
    from tabloop.examples import traffic_stops
    from tabloop.registry import register
    from tabloop.train import train

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    train_df = traffic_stops(3000, seed=0)
    train_df = train_df.assign(found=train_df["contraband"].fillna(False).astype(bool))
    train_df.to_csv(folder / "data" / "stops.csv", index=False)
    raw = {
        "name": "stops",
        "data": {"train": "data/stops.csv", "target": "found", "id": "stop_id", "time": "date"},
        "features": {"drop": ["date", *CONTEXT, "contraband"]},
        "train": {"models": ["linear"], "folds": 3, "learning_curve": False, "ensemble": False},
        "evaluate": {"bootstrap": 200, "importance": False},
        "registry": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"},
        "serve": {"context": CONTEXT, "store_url": f"sqlite:///{folder / 'log.db'}"},
        "monitor": {
            "bootstrap": 1000,
            "chunk": "1d",
            "segment": "search_authorization",
            "requirements": ["precision >= 0.3", "fairness.max_gap <= 0.2"],
            "fairness": {
                "protected": ["race"],
                "segment": "department",
                "min_group_size": 30,
                "human_decision": "searched",
            },
        },
    }
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(folder / "tabloop.yaml")
    started = time.perf_counter()
    result = train(train_df, config=config)
    register(result, evaluate(result).to_dict(), config=config)
    print(f"trained and registered in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    production = traffic_stops(rows, seed=1, production=True)
    scored = result.model.predict_frame(production, validate=False)
    scored["outcome"] = production["contraband"].to_numpy()
    start = pd.Timestamp("2026-01-01", tz="UTC")
    scored["created_at"] = start + pd.to_timedelta(np.arange(len(scored)) * 15, unit="s")
    scored = scored.drop(columns=["contraband", "found", "date"], errors="ignore")
    scored.to_parquet(folder / "production.parquet", row_group_size=200_000)
    print(
        f"{len(scored):,} production rows scored and written in "
        f"{time.perf_counter() - started:.1f} s: {list(scored.columns)}"
    )


def run(folder: Path, label: str, profile: bool, source: Path | None) -> None:
    tabloop = ROOT / ".venv" / "bin" / "tabloop"
    out = folder / f"reports-{label}"
    command = [str(tabloop), "monitor", "--data", "production.parquet", "--out", str(out)]
    if profile:
        stats = folder / f"profile-{label}.pstats"
        command = [sys.executable, "-m", "cProfile", "-o", str(stats), *command]
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, "TERM": "dumb", **({"PYTHONPATH": str(source)} if source else {})},
    )
    seconds = time.perf_counter() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    times = re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", done.stderr)
    print(done.stdout[-3000:])
    print(
        f"[{label}] exit {done.returncode}, wall {seconds:.1f} s, CPU (user + system) "
        f"{sum(map(float, times)):.1f} s, peak RSS {int(peak[1]) / 1024:.0f} MB"
        if peak
        else done.stderr[-3000:]
    )
    if profile:
        import pstats

        pstats.Stats(str(stats)).sort_stats("cumulative").print_stats(45)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--run", action="store_true")
    parser.add_argument("--label", default="run")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--source", type=Path, help="run another checkout's src (e.g. the code before the change)"
    )
    parser.add_argument(
        "--before", type=Path, help="run SRC (the code before), then this checkout, in one run"
    )
    args = parser.parse_args()
    if args.setup:
        setup(args.folder.resolve(), args.rows)
    if args.before:  # one run: the code before the change, then this checkout's
        run(args.folder.resolve(), "before", False, args.before)
        run(args.folder.resolve(), "after", False, None)
    elif args.run or args.profile:
        run(args.folder.resolve(), args.label, args.profile, args.source)


if __name__ == "__main__":
    main()
