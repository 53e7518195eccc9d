"""Scale-out: batch scoring in one process, on Dask ``local:1`` / ``local:2``, with MLflow's
pyfunc and with ``mlflow.pyfunc.spark_udf`` on Spark ``local[2]``, on the same files.

The question a team asks when its nightly file grows past one machine's comfort: how many
rows per second, how much memory in the largest process, and are the predictions the same?

Setup: the project and registered models of ``batch_scoring.py`` (the situation-1 demo
project: (a) the linear + CatBoost ensemble with KNN imputation, (b) LightGBM alone).
Data: N new patients as a folder of Parquet files of 1M rows (row groups of 250k rows),
generated 1M rows at a time (``treatment_outcomes(seed=1+i)``), ``patient_id`` renumbered
so every row has its own id.

Measured, each in its own process tree (wall time from process start, so imports, worker
start-up and model loading count; memory sampled every 50 ms):

- tabloop, one process: ``tabloop predict DIR -o OUT`` (OUT a folder of Parquet parts);
- tabloop on Dask: the same with ``--cluster local:1`` and ``--cluster local:2`` (worker
  processes of one thread; each reads its own pieces);
- MLflow pyfunc: ``pd.read_parquet(DIR)`` (the whole frame, as its users do),
  ``.predict``, ``to_parquet``; run with its address space capped at ``--mlflow-cap-gb``
  so that at sizes that do not fit it fails with MemoryError instead of the machine;
- Spark: ``spark.read.parquet(DIR)``, ``mlflow.pyfunc.spark_udf(..., env_manager="local")``
  over the model's input columns, ``write.parquet`` — Spark ``local[2]`` (pyspark from PyPI,
  Java 17 on the machine).

Prints rows/s, peak summed RSS and the peak RSS of the largest single process, the
machine's load average before and after each run, whether the outputs equal one-process
tabloop's (compared by ``patient_id``), and the issue's goals as PASS/MISS: ``local:2`` >=
1.7x ``local:1``; every tabloop process <= 1.5 GB at the largest size; the predictions
identical to one-process scoring.

``--monitor`` measures monitoring instead, on the traffic-stops project of
``monitor_scale.py`` (a logistic regression; its ``monitor`` section asks for everything:
drift, multivariate drift, 1,000-replicate intervals, segments, fairness, CBPE, daily
chunks). Production: ``monitor_scale.setup``'s 2M scored stops, copied into a folder of
2M-row Parquet files up to the largest size (each copy dated after the previous one, ids
renumbered). Measured: ``pd.read_parquet`` of the folder (the floor any engine pays);
``tabloop monitor --data FOLDER`` in one process and with ``--cluster local:2``; and
Evidently 0.7's ``DataDriftPreset`` (drift only, its own venv as in ``drift_speed.py``) of
the first 1M and 2M rows against the training stops, capped like the pyfunc. Goals: 2M rows
in one process >= 5x faster than the 66 s before the scale-out issue; the largest size
with ``local:2`` within 20x pandas' read time, every process <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from batch_scoring import _env, compare, describe, make_project, run  # noqa: E402

FILE_ROWS, ROW_GROUP = 1_000_000, 250_000
#: The issue's goals.
SPEEDUP_LOCAL2, MAX_PROCESS_MB = 1.7, 1536.0

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

SPARK_SCRIPT = textwrap.dedent(
    """
    import sys
    import mlflow.pyfunc
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import struct

    uri, source, out, result_type = sys.argv[1:]
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    frame = spark.read.parquet(source)
    udf = mlflow.pyfunc.spark_udf(spark, uri, result_type=result_type, env_manager="local")
    scored = frame.withColumn("scored", udf(struct(*frame.columns)))
    scored.select("patient_id", "scored.*").write.mode("overwrite").parquet(out)
    spark.stop()
    """
)


MONITOR_BEFORE_S, READ_FACTOR = 66.0, 20.0
READ_SCRIPT = "import sys, pandas as pd; print(len(pd.read_parquet(sys.argv[1])))"


def monitor_main(args: argparse.Namespace) -> None:
    """The ``--monitor`` runs (see the module docstring)."""
    import monitor_scale
    from drift_speed import EVIDENTLY_RUNNER, evidently_python

    root = args.workdir or Path(tempfile.mkdtemp(prefix="tabloop-monitor-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    if not (root / "production.parquet").exists():
        monitor_scale.setup(root, 2_000_000)
    env = {**os.environ, "TABLOOP_PROGRESS": "0"}
    results: list[dict[str, Any]] = []
    for rows in args.rows:
        folder = root / f"production_{rows}"
        if not folder.exists():
            _copies(root / "production.parquet", folder, rows)
        runs: list[tuple[str, list[str], dict[str, Any]]] = [
            ("pandas read", [sys.executable, "-c", READ_SCRIPT, str(folder)], {}),
        ]
        monitor = [sys.executable, "-m", "tabloop", "monitor", "--data", str(folder)]
        for label in args.runs:
            if label in ("one process", "local:1", "local:2"):
                extra = [] if label == "one process" else ["--cluster", label]
                out = ["--out", str(root / f"reports_{rows}_{label.replace(' ', '_')}")]
                runs.append((f"tabloop {label}", [*monitor, *out, *extra], {}))
        if rows <= 2_000_000 and "evidently" in args.runs:
            python = evidently_python(None)
            data = root / f"evidently_{rows}"
            data.mkdir(exist_ok=True)
            _evidently_frames(root, folder, data)
            (data / "runner.py").write_text(EVIDENTLY_RUNNER)
            cap = {"preexec_fn": _capped(args.mlflow_cap_gb)}
            runs.append(("Evidently", [python, str(data / "runner.py"), str(data)], cap))
        for label, cmd, extra in runs:
            line = {"rows": rows, "run": label}
            # exit 1 is a failed monitor requirement: the report was written
            line.update(run(cmd, cwd=root, env=env, check=False, **extra))
            if line.get("error", "").startswith("exit 1"):
                line.pop("error")
            results.append(line)
            _print(line)
    _monitor_goals(results)


def _copies(source: Path, folder: Path, rows: int) -> None:
    """``rows`` production rows as copies of ``source``, each dated after the last."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(source)
    span = pc.max(table["created_at"]).as_py() - pc.min(table["created_at"]).as_py()
    folder.mkdir(parents=True)
    for i, start in enumerate(range(0, rows, table.num_rows)):
        part = table.slice(0, min(table.num_rows, rows - start))
        shifted = pc.add(part["created_at"], pa.scalar((span + pd.Timedelta("15s")) * i))
        part = part.set_column(part.schema.get_field_index("created_at"), "created_at", shifted)
        ids = pa.array(np.arange(start, start + part.num_rows).astype(str))
        part = part.set_column(part.schema.get_field_index("stop_id"), "stop_id", ids)
        pq.write_table(part, folder / f"part-{i:04d}.parquet", row_group_size=200_000)


def _evidently_frames(root: Path, folder: Path, data: Path) -> None:
    """Evidently's inputs: the training stops as reference, the window as current, on
    the columns both have (model inputs and context)."""
    reference = pd.read_csv(root / "data" / "stops.csv")
    current = pd.read_parquet(folder)
    shared = [c for c in reference.columns if c in current.columns and c != "stop_id"]
    reference[shared].to_parquet(data / "reference.parquet", index=False)
    current[shared].to_parquet(data / "current.parquet", index=False)


def _monitor_goals(results: list[dict[str, Any]]) -> None:
    print("\ngoals of the scale-out issue (monitoring):")
    by = {(r["rows"], r["run"]): r for r in results if "error" not in r}
    one = by.get((2_000_000, "tabloop one process"))
    if one:
        ratio = MONITOR_BEFORE_S / one["seconds"]
        verdict = "PASS" if ratio >= 5 else "MISS"
        print(
            f"  2,000,000 rows in one process: {one['seconds']:.1f} s, {ratio:.1f}x 66 s: {verdict}"
        )
    largest = max(r["rows"] for r in results)
    two, read = by.get((largest, "tabloop local:2")), by.get((largest, "pandas read"))
    if two and read:
        ratio = two["seconds"] / read["seconds"]
        verdict = "PASS" if ratio <= READ_FACTOR else "MISS"
        print(
            f"  {largest:,} rows, local:2: {ratio:.1f}x pandas' read <= {READ_FACTOR:g}x: {verdict}"
        )
        verdict = "PASS" if two["process_mb"] <= MAX_PROCESS_MB else "MISS"
        print(
            f"  largest process {two['process_mb']:,.0f} MB <= {MAX_PROCESS_MB:,.0f} MB: {verdict}"
        )


def make_data(folder: Path, rows: int) -> None:
    """``rows`` new patients as Parquet files of :data:`FILE_ROWS` rows."""
    from tabloop.examples import treatment_outcomes

    folder.mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        frame = treatment_outcomes(n=n, seed=1 + i).drop(columns="unsuccessful_outcome")
        frame["patient_id"] = np.arange(start, start + n)
        frame.to_parquet(folder / f"part-{i:04d}.parquet", index=False, row_group_size=ROW_GROUP)


def _result_type(root: Path, uri: str, data: Path) -> str:
    """The Spark struct of the model's output columns (prediction and probabilities)."""
    import mlflow.pyfunc

    os.environ.update(_env(root))
    sample = pd.read_parquet(next(data.iterdir())).head(5)
    out = mlflow.pyfunc.load_model(uri).predict(sample)
    kinds = {"b": "boolean", "i": "long", "u": "long", "f": "double"}
    columns = [c for c in out.columns if c == "prediction" or c.startswith("probability")]
    return ", ".join(f"{c} {kinds.get(out[c].dtype.kind, 'string')}" for c in columns)


def _capped(gigabytes: float) -> Any:
    limit = int(gigabytes * 1024**3)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return cap


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000, 20_000_000])
    parser.add_argument("--model", choices=["champion", "lightgbm"], default="lightgbm")
    parser.add_argument("--workdir", type=Path, help="keep the project here (default: temp)")
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["one process", "local:1", "local:2", "mlflow", "spark"],
        help="which of: 'one process' local:1 local:2 mlflow spark",
    )
    parser.add_argument("--mlflow-cap-gb", type=float, default=16.0)
    parser.add_argument("--monitor", action="store_true", help="measure monitoring instead")
    args = parser.parse_args(argv)
    if args.monitor:
        if args.runs == parser.get_default("runs"):
            args.runs = ["one process", "local:2", "evidently"]
        return monitor_main(args)

    with tempfile.TemporaryDirectory(prefix="tabloop-scale-") as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
        uri = make_project(root)[args.model]
        print(f"model {args.model} {uri}: {describe(root, uri)}")
        results: list[dict[str, Any]] = []
        for rows in args.rows:
            data = root / f"new_{rows}"
            if not data.exists():
                make_data(data, rows)
            outputs: dict[str, Path] = {}
            for label in args.runs:
                out = root / f"out_{rows}_{label.replace(' ', '_').replace(':', '')}"
                shutil.rmtree(out, ignore_errors=True)
                if out.with_suffix(".parquet").exists():
                    out.with_suffix(".parquet").unlink()
                cmd, extra = _command(label, uri, data, out, root, args.mlflow_cap_gb)
                line = {"rows": rows, "run": label}
                line.update(run(cmd, cwd=root, env=_env(root), check=False, **extra))
                if "error" not in line:
                    outputs[label] = out if label != "mlflow" else out.with_suffix(".parquet")
                    if label != "one process" and "one process" in outputs:
                        line["same"] = compare(
                            outputs["one process"], outputs[label], by="patient_id"
                        )
                results.append(line)
                _print(line)
            for out in outputs.values():
                shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink()
        _goals(results)


def _command(
    label: str, uri: str, data: Path, out: Path, root: Path, cap_gb: float
) -> tuple[list[str], dict[str, Any]]:
    tabloop = [sys.executable, "-m", "tabloop", "predict", str(data), "-o", str(out)]
    if label == "one process":
        return [*tabloop, "--model", uri], {}
    if label.startswith("local:"):
        return [*tabloop, "--model", uri, "--cluster", label], {}
    if label == "mlflow":
        target = str(out.with_suffix(".parquet"))
        return [sys.executable, "-c", MLFLOW_SCRIPT, uri, str(data), target], {
            "preexec_fn": _capped(cap_gb)
        }
    if label == "spark":
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        result_type = _result_type(root, uri, data)
        return [sys.executable, "-c", SPARK_SCRIPT, uri, str(data), str(out), result_type], {}
    raise SystemExit(f"unknown run {label!r}")


def _print(line: dict[str, Any]) -> None:
    rows = line["rows"]
    head = f"{line['run']:>11} {rows:>11,} rows |"
    load = f"(load {line['load'][0]:.2f}→{line['load'][1]:.2f})"
    if "error" in line:
        print(
            f"{head} FAILED after {line['seconds']:.0f} s, peak {line['rss_mb']:,.0f} MB: "
            f"{line['error'][:200]} {load}",
            flush=True,
        )
        return
    print(
        f"{head} {line['seconds']:7.1f} s {rows / line['seconds']:>9,.0f} rows/s | peak "
        f"{line['rss_mb']:6,.0f} MB in all, {line['process_mb']:6,.0f} MB largest process "
        f"{load} | {line.get('same', 'reference')}",
        flush=True,
    )


def _goals(results: list[dict[str, Any]]) -> None:
    print("\ngoals of the scale-out issue:")
    by = {(r["rows"], r["run"]): r for r in results if "error" not in r}
    for rows in sorted({r["rows"] for r in results}):
        one, two = by.get((rows, "local:1")), by.get((rows, "local:2"))
        if one and two:
            ratio = one["seconds"] / two["seconds"]
            verdict = "PASS" if ratio >= SPEEDUP_LOCAL2 else "MISS"
            print(f"  {rows:,} rows: local:2 {ratio:.2f}x local:1 >= {SPEEDUP_LOCAL2}: {verdict}")
    largest = max(r["rows"] for r in results)
    tabloop = [r for r in results if r["rows"] == largest and r["run"] not in ("mlflow", "spark")]
    if tabloop:
        worst = max(r["process_mb"] for r in tabloop if "error" not in r)
        verdict = "PASS" if worst <= MAX_PROCESS_MB else "MISS"
        print(
            f"  {largest:,} rows: largest tabloop process {worst:,.0f} MB <= "
            f"{MAX_PROCESS_MB:,.0f} MB: {verdict}"
        )
    same = [r.get("same") for r in results if r["run"].startswith("local:") and "same" in r]
    if same:
        verdict = "PASS" if all(s == "identical" for s in same) else "MISS"
        print(f"  Dask predictions identical to one process: {verdict} ({', '.join(same)})")


if __name__ == "__main__":
    main()
