"""One ``tabloop train``: train, evaluate on the test split, write reports, register.

A workflow above the stages it chains (STYLE.md habit 16): train -> evaluate -> registry.

The CLI and the demo call this; each step stays callable on its own
(:func:`tabloop.train`, :func:`tabloop.evaluate`, :func:`tabloop.registry.register`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from tabloop.config import ProjectConfig
    from tabloop.evaluate import Evaluation
    from tabloop.registry import RegisteredVersion
    from tabloop.train import TrainResult


#: Share of the time budget ``--compare-imputation`` keeps for the comparison.
COMPARE_SHARE = 0.4


@dataclass
class TrainRun:
    result: TrainResult
    evaluation: Evaluation
    reports: dict[str, Path]
    version: RegisteredVersion | None


def train_and_register(
    config: ProjectConfig,
    *,
    df: pd.DataFrame | None = None,
    time_budget: float | None = None,
    out_dir: str | Path | None = None,
    register: bool = True,
    compare_imputation: bool = False,
    cluster: str | None = None,
) -> TrainRun:
    """Train with ``config``, write ``evaluation.html/json`` into ``out_dir`` (default
    ``<project>/reports``) and register the model unless ``register`` is False.

    ``cluster`` (``--cluster``) trains on that Dask cluster (``train.engine: dask``); with
    ``train.engine: dask`` and no ``cluster``, ``scale.cluster`` or ``TABLOOP_CLUSTER``
    names it. Training and evaluation share one connection (one ``local:N`` cluster).

    With ``compare_imputation`` and a time budget, training gets ``1 - COMPARE_SHARE`` of
    it and the comparison what training left.

    A model that does not beat the dummy baseline is still evaluated, reported and
    registered, without an alias (see ``run.result.beats_dummy``)."""
    from contextlib import ExitStack

    from tabloop.evaluate import evaluate
    from tabloop.scale import cluster_address, open_runner
    from tabloop.train import train

    if cluster is not None:
        config = config.on_cluster()
    with ExitStack() as stack:
        runner = None
        if config.train.engine == "dask":
            address = cluster_address(cluster, config.scale.cluster)
            runner = stack.enter_context(open_runner(address))
        budget = time_budget or config.train.time_budget
        if compare_imputation and budget:  # training leaves the comparison its share
            time_budget = budget * (1 - COMPARE_SHARE)
        started = time.monotonic()
        result = train(df, config=config, time_budget=time_budget, runner=runner)
        if compare_imputation:
            from tabloop.train import compare_imputation as compare

            left = None if not budget else max(0.0, budget - (time.monotonic() - started))
            result.imputation_comparison = compare(result, seconds=left)
        evaluation = evaluate(result, runner=runner)
    reports = evaluation.save(out_dir or config.resolve("reports"))
    version = None
    if register:
        from tabloop.registry import register as register_model

        version = register_model(
            result, evaluation.to_dict(), reports=list(reports.values()), config=config
        )
    return TrainRun(result, evaluation, reports, version)


def summary_lines(run: TrainRun) -> list[str]:
    """What the terminal shows after training: the sample, models, test metrics,
    requirements (the lines of :func:`summary_sections`, in order)."""
    return [line for lines in summary_sections(run).values() for line in lines]


def summary_sections(run: TrainRun) -> dict[str, list[str]]:
    """The terminal summary by section, in display order: ``sample``, ``models``,
    ``dropped``, ``text``, ``ensemble``, ``threshold``, ``metrics`` (one line per test
    metric), ``clusters``, ``diagnostics``, ``requirements``; a section may be empty."""
    from tabloop.train import sampling_line

    ev: Any = run.evaluation
    out: dict[str, list[str]] = {name: [] for name in SECTIONS}
    source, sampling = run.result.source, run.result.sampling
    if source is not None and sampling:  # the table was read in pieces
        fitted = (
            f"cluster {source.address}: {', '.join(ev.ensemble)} fitted on "
            f"{sampling['refit_size']:,} of {source.train_rows:,} training rows; "
            if source.address
            else ""
        )
        out["sample"].append(f"{fitted}test metrics on all {ev.n_test:,} test rows, read in pieces")
    sampled = sampling and sampling_line(sampling)
    if sampled:
        out["sample"].append(sampled)
    if ev.cv:  # clustering has no cross-validation: no empty "models" line
        scores = ", ".join(f"{r['model']} {abs(r['mean']):.4f}±{r['std']:.4f}" for r in ev.cv)
        out["models"].append(f"models (cross-validated {run.result.metric}): {scores}")
    out["dropped"] = dropped_lines(run.result.dropped)
    out["text"] = text_lines(run.result)
    out["ensemble"] = ["ensemble: " + ", ".join(f"{k} {w:.0%}" for k, w in ev.ensemble.items())]
    if ev.threshold:
        out["threshold"].append(
            f"threshold: {ev.threshold['threshold']:.4f} ({ev.threshold['objective']})"
        )
        if ev.threshold.get("test"):
            out["threshold"] += _cost_lines(ev.threshold["test"], out_of_fold=ev.threshold["value"])
    shown = [k for k, v in ev.metrics.items() if isinstance(v, dict) and "value" in v][:9]
    for name in shown:
        m, base = ev.metrics[name], (ev.baseline.get(name) or {}).get("value")
        ci = "" if m["ci_low"] is None else f" [{m['ci_low']:.4f}, {m['ci_high']:.4f}]"
        value = "–" if m["value"] is None else f"{m['value']:.4f}"
        baseline = "" if base is None else f"  (dummy {base:.4f})"
        if m.get("reason"):  # a metric hidden for a reason (MAPE on a target with zeros)
            baseline = f"  ({m['reason']})"
        out["metrics"].append(f"  {name:<18} {value}{ci}{baseline}")
    structure = (ev.charts.get("segments") or {}).get("structure")
    if structure:  # clustering: how much structure the silhouettes show, a clause a line
        first, *rest = structure["message"].split("; ")
        out["clusters"] = [f"clusters: {first}", *(f"  {clause}" for clause in rest)]
    out["diagnostics"] = _diagnostic_lines(ev.charts, run.result.learning_curve_skipped)
    out["requirements"] = [
        f"requirement {r['expression']}: {'passed' if r['passed'] else 'FAILED'}"
        for r in ev.requirements
    ]
    return out


#: The sections of :func:`summary_sections`, in display order.
SECTIONS = (
    "sample",
    "models",
    "dropped",
    "text",
    "ensemble",
    "threshold",
    "metrics",
    "clusters",
    "diagnostics",
    "requirements",
)


def _diagnostic_lines(charts: dict[str, Any], curve_skipped: str | None) -> list[str]:
    """The learning curve's verdict (or why it was skipped) and the imputation
    recommendation, within 80 columns."""
    import textwrap

    from tabloop.report import TERMINAL_WIDTH

    lines = []
    verdict = (charts.get("learning_curve") or {}).get("verdict")
    if verdict:
        lines.append(verdict["headline"])
    elif curve_skipped:
        lines += textwrap.wrap(curve_skipped, TERMINAL_WIDTH, subsequent_indent="  ")
    compared = charts.get("imputation_comparison")
    if compared:
        lines += textwrap.wrap(compared["message"], TERMINAL_WIDTH, subsequent_indent="  ")
    return lines


#: Reasons that repeat the user's own decision in tabloop.yaml: not news on the terminal.
_USER_DROPS = ("listed in features.drop", "not in features.include")


def dropped_lines(dropped: dict[str, str]) -> list[str]:
    """One line per column an automatic step dropped (id-like, constant, text, leakage,
    correlation) with its reason, then how to keep one; the columns the user dropped or left
    out of ``features.include`` are not repeated. The full reasons are in evaluation.json."""
    lines, keepable = [], False
    for column, reason in dropped.items():
        if reason.startswith(_USER_DROPS):
            continue
        # whole: the terminal wraps it at spaces (a cut line could cut the column's name)
        lines.append(f"dropped {column!r}: {reason.split('; ')[0]}")
        # free text is kept by prepare.text (its reason says so), never by features.include
        keepable = keepable or not reason.startswith("free text")
    if keepable:
        lines.append("  (to keep a column, list it in features.include or prepare.keep)")
    return lines


def text_lines(result: TrainResult) -> list[str]:
    """One line per free-text column the models read, and how (``prepare.text``); a text
    column left out is among :func:`dropped_lines`."""
    widths: dict[str, int] = {}
    for member in result.model.members:
        for pipe in member.pipelines:
            step = getattr(pipe, "named_steps", {}).get("text")
            for column, names in getattr(step, "outputs_", {}).items():
                widths[column] = max(widths.get(column, 0), len(names))
    return [
        f"text {column!r}: read as {n} TF-IDF + SVD numbers (prepare.text)"
        if n
        else f"text {column!r}: no word in any training row; not used"
        for column, n in widths.items()
    ]


def _cost_lines(test: dict[str, Any], *, out_of_fold: float) -> list[str]:
    """A cost threshold on the test split beside the trivial policies, within 80 columns."""

    def num(value: float) -> str:
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.1f}"

    def fmt(entry: dict[str, Any]) -> str:
        if entry["ci_low"] is None:
            return num(entry["value"])
        return f"{num(entry['value'])} [{num(entry['ci_low'])}, {num(entry['ci_high'])}]"

    saving = test["saving"]
    return [
        f"  test cost per row {fmt(test['threshold'])} (out-of-fold {num(out_of_fold)})",
        f"  all positive {fmt(test['all_positive'])}",
        f"  all negative {fmt(test['all_negative'])}",
        f"  saving vs {saving['against'].replace('_', ' ')} {fmt(saving)} per row, "
        f"{test['n_test']:,} test rows",
    ]


def warning_lines(run: TrainRun) -> list[str]:
    """The run's warnings for the terminal, except the dummy verdict (see
    :func:`failure_line`)."""
    check = run.result.baseline_check
    return [f"warning: {w}" for w in run.result.warnings if check is None or w != check.message]


def failure_line(run: TrainRun) -> str | None:
    """One line when the model does not beat the dummy: why, and what became of it."""
    check = run.result.baseline_check
    if check is None or check.beats_dummy:
        return None
    if run.version is None:
        fate = "not registered"
    else:
        fate = f"registered as {run.version.uri} without the champion or challenger alias"
    return f"{check.headline}: {check.reason}; {fate}; reports in {run.reports['html'].parent}"
