"""Batch scoring: ``tabloop predict`` vs MLflow's pyfunc on the same registered model.

The question a team asks before scoring a nightly file with tabloop: how many rows per
second, in how much memory, compared with loading the same registered model with MLflow's
pyfunc as its users do, and are the predictions the same?

Setup, in a temporary project (offline): the situation-1 demo project (``tabloop demo``'s
``treatment_outcomes`` data, 10,000 rows, and its shipped ``tabloop.yaml``: KNN imputation,
derived features, 5-fold CV and a greedy ensemble), trained with ``tabloop train`` twice:
(a) the demo's champion, restricted to ``[linear, catboost]`` so the model is the linear +
CatBoost ensemble with KNN imputation whatever the greedy choice among three would be, and
(b) LightGBM alone (the demo's challenger). Both are registered in a SQLite MLflow store.

Data: N new patients (``treatment_outcomes(n=N, seed=1)`` without the outcome; about 45%
of rows have a missing value to impute) as Parquet.

Measured, each in its own process (wall time from process start, so imports and model
loading count; peak memory is the largest summed RSS of the process and its children,
sampled every 50 ms):

- tabloop: ``tabloop predict DATA -o OUT.parquet --model models:/NAME/VERSION`` (chunked
  reading, output written);
- MLflow: ``mlflow.pyfunc.load_model("models:/NAME/VERSION")``, ``pd.read_parquet`` of the
  whole file, ``.predict(frame)``, output written with ``to_parquet``.

MLflow's pyfunc wraps tabloop's own ``TabloopModel.predict_frame``, so speed-ups of the
shared code (the KNN imputation, shared preparation) help both; the ratio measures what the
batch path adds (bounded chunks, parallel chunks on large inputs). Prints rows/s, peak RSS,
the ratios, the machine's load average before and after each run, whether both outputs
agree, and the issue's goals as PASS/MISS: demo champion >= 20x MLflow's rows/s, LightGBM
alone >= 10x, tabloop's peak memory <= 1 GB at every size.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

NAME = "treatment"
#: The issue's goals.
CHAMPION_SPEEDUP, LIGHTGBM_SPEEDUP, MAX_RSS_MB = 20.0, 10.0, 1024.0

MLFLOW_SCRIPT = textwrap.dedent(
    """
    import sys
    import mlflow.pyfunc
    import pandas as pd

    uri, source, out = sys.argv[1:]
    model = mlflow.pyfunc.load_model(uri)
    frame = pd.read_parquet(source)
    model.predict(frame).to_parquet(out, index=False)
    """
)


# -- project ------------------------------------------------------------------------------------
def make_project(root: Path) -> dict[str, str]:
    """Write the demo project in ``root``, train both models, return their version URIs
    (kept in ``root/models.json``: a second run in the same ``--workdir`` reuses them)."""
    import json

    from tabloop.examples import scenario_config, treatment_outcomes

    if (root / "models.json").exists():
        return dict(json.loads((root / "models.json").read_text()))

    (root / "data").mkdir(parents=True, exist_ok=True)
    treatment_outcomes(n=10_000).to_csv(root / "data" / "treatment_outcomes.csv", index=False)
    text = scenario_config("treatment")
    models = re.compile(r"^  models: \[.*\]", re.MULTILINE)
    assert models.search(text), "the shipped config's train.models line moved"
    (root / "tabloop.yaml").write_text(models.sub("  models: [linear, catboost]", text))
    (root / "lightgbm.yaml").write_text(models.sub("  models: [lightgbm]", text))
    uris = {}
    for label, config in (("champion", "tabloop.yaml"), ("lightgbm", "lightgbm.yaml")):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tabloop", "train", "-c", config],
            cwd=root,
            env=_env(root),
            capture_output=True,
            text=True,
        )
        if done.returncode not in (0, 1):  # 1: a requirement failed; the model is registered
            sys.exit(f"training {label} failed:\n{done.stderr[-3000:]}")
        uris[label] = _latest_version(root)
        print(f"trained {label}: {uris[label]} in {time.perf_counter() - started:.0f} s")
    (root / "models.json").write_text(json.dumps(uris))
    return uris


def describe(root: Path, uri: str) -> str:
    """The registered model's members and their imputation, as one line."""
    code = (
        "import mlflow.pyfunc, sys\n"
        "m = mlflow.pyfunc.load_model(sys.argv[1]).unwrap_python_model().model\n"
        "print(', '.join(f'{x.name} {x.weight:.2f} (imputation '\n"
        "    f\"{x.pipelines[0].named_steps['preprocess'].strategy_})\" for x in m.members))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, uri], env=_env(root), capture_output=True, text=True
    )
    return done.stdout.strip() or done.stderr.strip()[-500:]


def _latest_version(root: Path) -> str:
    import mlflow

    client = mlflow.MlflowClient(_tracking(root))
    versions = client.search_model_versions(f"name='{NAME}'")
    return f"models:/{NAME}/{max(int(v.version) for v in versions)}"


def _tracking(root: Path) -> str:
    return f"sqlite:///{root / 'mlflow.db'}"


def _env(root: Path) -> dict[str, str]:
    uri = _tracking(root)
    return {
        **os.environ,
        "TABLOOP_TRACKING_URI": uri,
        "MLFLOW_TRACKING_URI": uri,
        "TABLOOP_PROGRESS": "0",
    }


def make_data(path: Path, rows: int) -> None:
    from tabloop.examples import treatment_outcomes

    treatment_outcomes(n=rows, seed=1).drop(columns="unsuccessful_outcome").to_parquet(
        path, index=False
    )


# -- measurement --------------------------------------------------------------------------------
def run(
    cmd: list[str], *, cwd: Path, env: dict[str, str], check: bool = True, **popen: Any
) -> dict[str, Any]:
    """Run ``cmd``; its wall time, the peak summed RSS of it and its descendants
    (``rss_mb``) and the peak RSS of any one of them (``process_mb``). With ``check``
    False a failure is returned as ``error`` (its last stderr line) instead of exiting."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        **popen,
    )  # fmt: skip
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total, largest = _tree_rss(proc.pid)
            peak[0], peak[1] = max(peak[0], total), max(peak[1], largest)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    result = {
        "seconds": seconds,
        "rss_mb": peak[0] / 1024,
        "process_mb": peak[1] / 1024,
        "load": (load, os.getloadavg()[0]),
    }
    if proc.returncode != 0:
        if check:
            sys.exit(f"{' '.join(cmd)} failed:\n{stderr[-3000:]}")
        lines = [x for x in stderr.strip().splitlines() if x.strip()]
        result["error"] = lines[-1] if lines else f"exit {proc.returncode}"
    return result


def _tree_rss(pid: int) -> tuple[int, int]:
    """Summed VmRSS (KB) of ``pid`` and its descendants, and the largest one's."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    total, largest, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    largest = max(largest, int(line.split()[1]))
        except OSError:
            pass
    return total, largest


def compare(a: Path, b: Path, *, by: str | None = None) -> str:
    """Whether ``b`` predicts what ``a`` does, row by row (in file order, or matched on the
    id column ``by`` when the row order may differ, as in Spark's output)."""
    columns = ["prediction", "probability", *([by] if by else [])]
    left, right = (pd.read_parquet(path, columns=columns) for path in (a, b))
    if by:
        left, right = left.sort_values(by), right.sort_values(by)
    if len(left) != len(right):
        return f"DIFFERENT row counts {len(left)} vs {len(right)}"
    diff = float(np.max(np.abs(left["probability"].to_numpy() - right["probability"].to_numpy())))
    labels = int((left["prediction"].to_numpy() != right["prediction"].to_numpy()).sum())
    if diff == 0 and labels == 0:
        return "identical"
    return f"max |probability diff| {diff:.2e}, {labels} labels differ"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000])
    parser.add_argument("--workdir", type=Path, help="keep the project here (default: temp)")
    parser.add_argument("--no-mlflow", action="store_true", help="time tabloop only")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="tabloop-batch-") as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
        uris = make_project(root)
        for label, uri in uris.items():
            print(f"  {label} {uri}: {describe(root, uri)}")
        results = []
        for rows in args.rows:
            data = root / f"new_{rows}.parquet"
            make_data(data, rows)
            for label, uri in uris.items():
                out_t, out_m = root / f"tabloop_{label}.parquet", root / f"mlflow_{label}.parquet"
                tab = run(
                    [sys.executable, "-m", "tabloop", "predict", str(data), "-o", str(out_t),
                     "--model", uri],
                    cwd=root, env=_env(root),
                )  # fmt: skip
                line = {"rows": rows, "model": label, "tabloop": tab}
                if not args.no_mlflow:
                    line["mlflow"] = run(
                        [sys.executable, "-c", MLFLOW_SCRIPT, uri, str(data), str(out_m)],
                        cwd=root,
                        env=_env(root),
                    )
                    line["same"] = compare(out_t, out_m)
                results.append(line)
                _print(line)
            data.unlink()
        _goals(results)


def _print(line: dict[str, Any]) -> None:
    rows, tab = line["rows"], line["tabloop"]
    text = (
        f"{line['model']:>9} {rows:>10,} rows | tabloop {tab['seconds']:7.1f} s "
        f"{rows / tab['seconds']:>9,.0f} rows/s {tab['rss_mb']:6,.0f} MB "
        f"(load {tab['load'][0]:.2f}→{tab['load'][1]:.2f})"
    )
    if "mlflow" in line:
        ml = line["mlflow"]
        text += (
            f" | MLflow pyfunc {ml['seconds']:7.1f} s {rows / ml['seconds']:>9,.0f} rows/s "
            f"{ml['rss_mb']:6,.0f} MB (load {ml['load'][0]:.2f}→{ml['load'][1]:.2f})"
            f" | {ml['seconds'] / tab['seconds']:.1f}x faster, "
            f"{ml['rss_mb'] / tab['rss_mb']:.1f}x less memory | outputs {line['same']}"
        )
    print(text, flush=True)


def _goals(results: list[dict[str, Any]]) -> None:
    print("\ngoals of the batch-scoring issue:")
    for label, goal in (("champion", CHAMPION_SPEEDUP), ("lightgbm", LIGHTGBM_SPEEDUP)):
        for line in results:
            if line["model"] == label and "mlflow" in line:
                ratio = line["mlflow"]["seconds"] / line["tabloop"]["seconds"]
                verdict = "PASS" if ratio >= goal else "MISS"
                print(f"  {label} at {line['rows']:,} rows: {ratio:.1f}x >= {goal:.0f}x: {verdict}")
    worst = max(line["tabloop"]["rss_mb"] for line in results)
    verdict = "PASS" if worst <= MAX_RSS_MB else "MISS"
    print(f"  tabloop peak memory {worst:,.0f} MB <= {MAX_RSS_MB:,.0f} MB: {verdict}")


if __name__ == "__main__":
    main()
