"""The verbs that close the loop: monitor (once or on a schedule) and retrain."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tabloop.cli._app import app
from tabloop.cli._commands import ClusterOption, ConfigOption
from tabloop.cli._output import console

if TYPE_CHECKING:
    from tabloop.config import ProjectConfig
    from tabloop.monitor import MonitorReport
    from tabloop.retrain import RetrainResult

_EVERY = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@app.command()
def monitor(
    config: ConfigOption = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            metavar="DATA",
            help="CSV/Parquet file, folder or glob of production rows instead of the log.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="models:/NAME@alias (default: --variant's model, else champion)."
        ),
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Window start (ISO).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Window end (ISO).")] = None,
    chunk: Annotated[
        str | None, typer.Option("--chunk", help="'1d', '1w', '12h' or a row count.")
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant", help="Only rows of this A/B variant, monitoring the model it serves."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the reports.")] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="Repeat every '30m', '1h', '1d' until Ctrl-C.")
    ] = None,
    cluster: ClusterOption = None,
    pushgateway: Annotated[
        str | None,
        typer.Option(
            "--pushgateway",
            metavar="URL",
            help="Push the verdicts to this Prometheus Pushgateway (job tabloop_monitor).",
        ),
    ] = None,
    textfile: Annotated[
        Path | None,
        typer.Option(
            "--textfile",
            metavar="PATH",
            help="Write the verdicts to PATH (*.prom) for node_exporter's textfile collector.",
            callback=_prom_suffix,
        ),
    ] = None,
) -> None:
    """Drift, production and estimated performance, fairness and requirements.

    Writes monitor.html and monitor.json; exits 1 when a requirement fails (after writing
    them and sending the alert to monitor.alert_webhook, if configured). With --pushgateway
    or --textfile the verdicts also go to Prometheus; a push that fails is one line on
    stderr and exit 2, after the reports are written (with --every, the runs go on).
    """
    from tabloop.config import load_config
    from tabloop.monitor import monitor as run_monitor

    project = load_config(config)
    if variant is not None and model is None and data is None:
        model = variant_model(project, variant)
    interval = _parse_every(every) if every else None
    alerted: set[str] = set()
    while True:
        report = run_monitor(
            project,
            data=data,
            model=model,
            since=since,
            until=until,
            chunk=chunk,
            variant=variant,
            cluster=cluster,
            already_alerted=alerted,
        )
        # a lasting failure is alerted once; one that clears and comes back is alerted again
        alerted = {r["expression"] for r in report.requirements if r["status"] == "fail"}
        paths = report.save(out or project.resolve("reports"))
        _print_monitor(report)
        console.print(f"Report: [bold]{paths['html']}[/]\nJSON:   [bold]{paths['json']}[/]")
        _log_to_mlflow(report, project, list(paths.values()), variant)
        if pushgateway is not None or textfile is not None:
            _push(report, pushgateway, textfile, variant, repeating=interval is not None)
        if interval is None:
            break
        console.print(f"Next run in {every.strip()} (Ctrl-C stops).")  # type: ignore[union-attr]
        time.sleep(interval)
    if not report.passed:
        raise typer.Exit(1)


@app.command()
def retrain(
    config: ConfigOption = None,
    promote_if_better: Annotated[
        bool,
        typer.Option("--promote-if-better", help="Make the challenger champion if proven better."),
    ] = False,
    time_budget: Annotated[
        float | None, typer.Option("--time-budget", help="Seconds for training.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the reports.")] = None,
) -> None:
    """Train a challenger on original plus labelled production rows; compare with the
    champion on the newest held-out rows; register it (and promote it when asked and
    better).

    Exits 1 (after writing the reports) when the challenger does not beat the dummy
    baseline in cross-validation: it is registered without an alias and never promoted,
    and the last line on stderr says why. A model the time budget skipped is a warning.
    """
    from tabloop.cli._output import err_console as stderr
    from tabloop.config import load_config
    from tabloop.retrain import retrain as run_retrain

    project = load_config(config)
    result = run_retrain(
        project, promote_if_better=promote_if_better, out_dir=out, time_budget=time_budget
    )
    _print_retrain(result)
    folder = out or project.resolve("reports")
    console.print(f"Report: [bold]{Path(folder) / 'retrain.html'}[/]")
    check = result.data["challenger_evaluation"].get("baseline_check") or {}
    for warning in result.data.get("warnings", []):
        if warning != check.get("message"):
            stderr.print(f"warning: {warning}", markup=False, style="yellow")
    if not result.beats_dummy:
        stderr.print(
            f"The challenger does not beat the dummy baseline: {check.get('reason')}; "
            f"{result.data['challenger']} is registered without an alias and not promoted; "
            f"reports in {folder}",
            markup=False,
            style="bold red",
        )
        raise typer.Exit(1)


def _log_to_mlflow(
    report: MonitorReport, project: ProjectConfig, reports: list[Path], variant: str | None
) -> None:
    """The verdicts as MLflow metrics too; a store that cannot take them (a server down, a
    locked SQLite file) is one warning: the monitor's reports, exit code and --every stand."""
    from tabloop.cli._output import err_console
    from tabloop.exceptions import TabloopError
    from tabloop.registry import log_monitor

    try:
        log_monitor(report.to_dict(), project, reports=reports, variant=variant)
    except TabloopError as exc:
        err_console.print(
            f"warning: the verdicts were not logged to MLflow: {exc}", markup=False, style="yellow"
        )


def variant_model(project: ProjectConfig, variant: str) -> str:
    """The model URI ``variant`` serves, from ``serve.variants`` (default: the champion
    alone, as ``champion``); a variant the config does not name is a ConfigError."""
    from tabloop.exceptions import ConfigError

    variants = project.served_variants
    if variant not in variants:
        raise ConfigError(
            f"--variant {variant!r} is not a variant of serve.variants; the variants are "
            f"{', '.join(map(repr, variants))}. Give one of them, or the model with --model."
        )
    return variants[variant]


def _prom_suffix(value: Path | None) -> Path | None:
    """Refuse a --textfile node_exporter would never read, before the monitor runs."""
    from tabloop.exceptions import MonitorError

    if value is not None and value.suffix != ".prom":
        raise MonitorError(
            f"--textfile {str(value)!r} must end in .prom: node_exporter's textfile collector "
            "reads only *.prom files."
        )
    return value


def _push(
    report: MonitorReport,
    pushgateway: str | None,
    textfile: Path | None,
    variant: str | None,
    *,
    repeating: bool,
) -> None:
    """Push the verdicts; a failure stops a single run (exit 2) and is a line on stderr
    between repeated runs."""
    from tabloop.cli._output import err_console
    from tabloop.exceptions import MonitorError
    from tabloop.monitor import push_verdicts

    try:
        lines = push_verdicts(report, pushgateway=pushgateway, textfile=textfile, variant=variant)
    except MonitorError as exc:
        if not repeating:
            raise
        err_console.print(f"error: {exc}", markup=False, style="red")
        return
    for line in lines:
        console.print(line, markup=False)


def _parse_every(text: str) -> float:
    match = _EVERY.match(text)
    if not match or int(match[1]) < 1:
        raise typer.BadParameter(f"--every {text!r}: use a span like '30m', '1h' or '1d'.")
    return int(match[1]) * _SECONDS[match[2]]


def _print_monitor(report: MonitorReport) -> None:
    data = report.to_dict()
    window = data["window"]
    console.print(
        f"Monitored {window['rows']:,} rows ({window['labelled']:,} labelled) of "
        f"{data['model']['uri']}.",
        markup=False,
    )
    drift = data["drift"]
    drifted = ", ".join(drift["drifted_columns"]) or "none"
    console.print(f"Drifted columns: {drifted}", markup=False)
    multi = drift.get("multivariate") or {}
    if multi.get("auc") is not None:
        console.print(f"Multivariate drift: classifier ROC-AUC {multi['auc']:.3f}", markup=False)
    for row in data["performance"].get("comparison", [])[:6]:
        if row["production"] is None:
            continue
        test = "–" if row["test"] is None else f"{row['test']:.3f}"
        console.print(
            f"  {row['metric']:<18} test {test}  production {row['production']:.3f}", markup=False
        )
    fairness = data.get("fairness")
    if fairness:
        console.print(f"Fairness verdict: {fairness['model']['verdict']}", markup=False)
    for r in data["requirements"]:
        value = "n/a" if r.get("value") is None else f"{r['value']:.4g}"
        console.print(f"  {r['expression']}: {value} → {r['status']}", markup=False)
    for note in data["notes"]:
        console.print(f"note: {note}", markup=False)
    alert = data.get("alert")
    if alert:
        console.print(_alert_line(alert, passed=report.passed), markup=False)
    console.print("PASSED" if report.passed else "FAILED: a requirement does not hold")


def _alert_line(alert: dict[str, Any], *, passed: bool) -> str:
    """What became of the webhook POST. When every requirement holds, the POST (sent on
    every run in Alertmanager's format) resolves alerts rather than announcing a failure."""
    state = alert.get("skipped") or f"not delivered: {alert['error']}"
    state = "sent" if alert["sent"] else state
    if passed:
        return f"Resolved notice to {alert['url']}: {state} (every requirement holds)"
    return f"Alert to {alert['url']}: {state}"


def _print_retrain(result: RetrainResult) -> None:
    data = result.data
    counts = data["data"]
    console.print(
        f"Retraining data: {counts.get('train', 0):,} rows ({counts.get('original_kept', 0):,} "
        f"original kept of {counts.get('original', 0):,}, "
        f"{counts.get('production_train', 0):,} production); held out "
        f"{counts.get('holdout', 0):,} ({counts.get('compared_on')}).",
        markup=False,
    )
    diff = data["comparison"]["difference"]
    console.print(
        f"{diff['metric']}: champion {diff['value_a']:.4f}, challenger {diff['value_b']:.4f}",
        markup=False,
    )
    console.print(f"Challenger {data['challenger']}: {data['decision']['reason']}", markup=False)
