"""Every verb of the command line read in a terminal 80 columns wide (``COLUMNS=80``).

One real project (the traffic-stops model of ``tests.stops``, its own MLflow store, a real
SQLite prediction log filled as the service fills it) goes through every verb that
``tabloop --help`` lists, and through every ``--help``; each output is held to what a
reader at 80 columns needs:

- no line longer than 80 characters, except a line that is one unbreakable word (a long
  path or URL), which must then appear whole;
- no word split across lines: the output with its wrapping undone (every run of
  whitespace read as one space) contains the phrases the command is expected to say;
- no ``…``: no name, alias or header is cut.

``tabloop demo`` is the one verb whose run is checked elsewhere: its run takes minutes,
and ``tests/cli/test_cli.py::test_demo_runs_the_loop_and_says_where_to_look`` reads it
at 80 columns by the same rules; here its ``--help`` is.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.cli.test_cli import HUNG_AFTER_S, run, unwrap
from tests.cli.test_monitor_cli import write_project
from tests.servers import tabloop_serve
from tests.stops import log_production

#: trains twice (train, retrain), serves, and runs ~40 commands: minutes on a loaded
#: machine; the timeout only guards against a hung process (as test_cli's demo test)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(HUNG_AFTER_S + 60)]

WIDTH = 80
#: Verbs run by this module; ``demo`` runs in test_cli.py (see the module docstring).
RUN_ELSEWHERE = {"demo"}


def run80(*args: Any, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(*args, cwd=cwd, columns=WIDTH)


def assert_reads_at_80(text: str, *phrases: str) -> None:
    """``text`` fits 80 columns, splits no word, cuts nothing, and says every phrase."""
    for line in text.splitlines():
        if len(line.rstrip()) > WIDTH:
            assert " " not in line.strip(), f"a line of {len(line)} characters:\n{line}"
    assert "…" not in text, text
    said = unwrap(text)
    for phrase in phrases:
        assert unwrap(phrase) in said, f"{phrase!r} not in:\n{text}"


def panel_text(text: str) -> str:
    """Typer's help with the borders of its panels blanked, so a sentence that wraps inside
    a panel reads as one."""
    return re.sub(r"[│╭╮╰╯─]", " ", text)


def verbs(cwd: Path) -> list[list[str]]:
    """Every command of ``tabloop --help`` (``store`` as its subcommands)."""
    listed = run80("--help", cwd=cwd).stdout
    names = re.findall(r"^│ (\w+) ", listed, flags=re.MULTILINE)
    out = []
    for name in names:
        if name == "store":
            sub = run80("store", "--help", cwd=cwd).stdout
            out += [["store", s] for s in re.findall(r"^│ (\w+) ", sub, flags=re.MULTILINE)]
        else:
            out.append([name])
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, stops_model) -> dict[str, Any]:
    """Every verb run once, in the order a team would run them, keyed by its words."""
    from tabloop.examples import traffic_stops

    folder = write_project(tmp_path_factory.mktemp("terminal80"), stops_model)
    production = traffic_stops(1500, production=True)
    production.to_csv(folder / "production.csv", index=False)
    out: dict[str, Any] = {"folder": folder}

    def go(key: str, *args: Any) -> None:
        out[key] = run80(*args, cwd=folder)

    go("help", "--help")
    for words in verbs(folder):
        go(" ".join(words) + " --help", *words, "--help")
    go("store status (missing)", "store", "status")
    go("init", "init", "--data", "data/stops.csv", "--target", "found", "--dir", "fresh")
    go("profile", "profile", "--out", "reports/profile")
    go("schema", "schema")
    go("validate", "validate", "production.csv")
    bad = pd.read_csv(folder / "data" / "stops.csv", nrows=20)
    bad = bad.rename(columns={"department": "department_of_the_officer_who_made_the_stop"})
    bad.to_csv(folder / "bad.csv", index=False)
    go("validate (bad)", "validate", "bad.csv")
    go("train", "train")
    go("models", "models")
    go("models --metrics all", "models", "--metrics", "all")
    go("promote", "promote", "2")
    go("rollback", "rollback")
    go("predict", "predict", "production.csv", "-o", "scored.csv")
    log_production(folder, stops_model, production)
    go("store status", "store", "status")
    go("store upgrade", "store", "upgrade")
    go("store export", "store", "export", "export")
    go("log", "log", "--period", "all", "--limit", "5")
    go("monitor", "monitor", "--chunk", "500")
    go("retrain", "retrain")
    go("error", "promote", "99")  # after retrain registered version 3

    try:
        server = tabloop_serve(folder, env={"COLUMNS": str(WIDTH)})
    except AssertionError as failed:  # its output, for the serve test to judge
        out["serve"], out["port"] = str(failed), None
    else:
        out["serve"] = server.stop(signal.SIGINT)
        out["port"] = server.port
    return out


def test_every_verb_of_the_help_is_run_here(runs):
    listed = {" ".join(words) for words in verbs(runs["folder"])}
    run_here = {key for key in runs if isinstance(runs[key], subprocess.CompletedProcess)}
    run_here |= {"serve"}
    assert len(listed) >= 17
    for verb in listed - RUN_ELSEWHERE:
        assert verb in run_here or any(key.startswith(verb + " ") for key in run_here), verb
        assert f"{verb} --help" in runs


def test_every_help_reads_at_80_columns(runs):
    helps = {key: r for key, r in runs.items() if key.endswith("--help") or key == "help"}
    assert len(helps) >= 18
    for key, result in helps.items():
        assert result.returncode == 0, (key, result.stderr)
        assert_reads_at_80(result.stdout, "Usage: ", "tabloop")
    assert_reads_at_80(
        panel_text(runs["train --help"].stdout),
        "With --cluster (or train.engine: dask) the workers read data.train, the models "
        "are cross-validated on a sample, and LightGBM/XGBoost is fitted on every "
        "training row across the workers.",
    )
    assert_reads_at_80(
        panel_text(runs["help"].stdout),
        "Append predictions to DATA and write OUT, in chunks (bounded memory), in this "
        "process or on a Dask cluster.",
    )


def test_data_verbs_read_at_80_columns(runs):
    folder = runs["folder"]
    init, profile, schema = runs["init"], runs["profile"], runs["schema"]
    assert init.returncode == 0, init.stderr
    assert_reads_at_80(init.stdout, "Wrote fresh/tabloop.yaml (project 'stops', task binary)")
    assert profile.returncode == 0, profile.stderr
    html = folder / "reports" / "profile" / "profile.html"
    assert_reads_at_80(profile.stdout, "3,000 rows", "Report: reports/profile/profile.html")
    assert html.exists()
    assert schema.returncode == 0, schema.stderr
    names = pd.read_csv(folder / "data" / "stops.csv", nrows=1).columns
    assert_reads_at_80(schema.stdout, "Schema (3,000 rows)")
    # every name whole at a line's start (a table row, or its own line in the block layout
    # that names as long as 'search_authorization' need at 80 columns)
    lines = schema.stdout.splitlines()[1:]
    shown = {line.split()[0] for line in lines if line[:1].strip() and line[0] != "─"}
    assert set(names) <= shown, shown
    validate = runs["validate"]
    assert validate.returncode in (0, 1), validate.stderr
    assert_reads_at_80(validate.stdout + validate.stderr)
    bad = runs["validate (bad)"]
    assert bad.returncode == 1, bad.stderr
    assert_reads_at_80(
        bad.stdout,
        "• error (missing_column): Column 'department'",
        "• error (extra_column): Column 'department_of_the_officer_who_made_the_stop' is "
        "not in the schema.",
    )


def test_train_and_the_registry_verbs_read_at_80_columns(runs):
    train = runs["train"]
    assert train.returncode == 0, train.stderr
    assert_reads_at_80(
        train.stdout, "models (cross-validated roc_auc): dummy", "Registered models:/stops/2"
    )
    assert_reads_at_80(train.stderr)
    for key in ("models", "models --metrics all"):
        result = runs[key]
        assert result.returncode == 0, result.stderr
        assert_reads_at_80(result.stdout, "version", "aliases", "champion", "challenger")
    assert_reads_at_80(runs["models"].stdout, "test roc_auc [95% CI]", "created (UTC)")
    every = runs["models --metrics all"].stdout
    for metric in ("roc_auc", "precision", "recall", "f1", "accuracy"):
        assert re.search(rf"^\s+(\d+\s+\S+\s+)?{metric}\s+0\.\d{{4}} \[", every, re.M), metric
    assert_reads_at_80(runs["promote"].stdout, "models:/stops/2 is now the champion.")
    assert_reads_at_80(runs["rollback"].stdout, "models:/stops/1 is the champion again.")
    predict = runs["predict"]
    assert predict.returncode == 0, predict.stderr
    assert_reads_at_80(predict.stdout, "1,500 rows predicted with models:/stops/1")
    error = runs["error"]
    assert error.returncode == 2
    assert_reads_at_80(error.stderr, "Model 'stops' has no version 99; versions: [1, 2, 3]")


def test_log_verbs_read_at_80_columns(runs):
    folder = runs["folder"]
    missing = runs["store status (missing)"]
    assert missing.returncode == 0, missing.stderr
    assert_reads_at_80(missing.stdout, f"sqlite:///{folder / 'log.db'}: no log yet — missing")
    status = runs["store status"]
    assert status.returncode == 0, status.stderr
    assert_reads_at_80(status.stdout, "— up to date")
    assert_reads_at_80(runs["store upgrade"].stdout, "is already at revision")
    export = runs["store export"]
    assert export.returncode == 0, export.stderr
    assert_reads_at_80(export.stdout, "Exported 1,500 predictions", "columns to export")
    log = runs["log"]
    assert log.returncode == 0, log.stderr
    assert_reads_at_80(log.stdout, "All periods: 1,500 predictions", "time (UTC)", "outcome")


def test_monitor_retrain_and_serve_read_at_80_columns(runs):
    folder = runs["folder"]
    monitor, retrain = runs["monitor"], runs["retrain"]
    assert monitor.returncode in (0, 1), monitor.stderr
    assert_reads_at_80(monitor.stdout, f"Report: {folder / 'reports' / 'monitor.html'}")
    assert_reads_at_80(monitor.stderr)
    assert retrain.returncode in (0, 1), retrain.stderr
    assert_reads_at_80(retrain.stdout, f"Report: {folder / 'reports' / 'retrain.html'}")
    assert_reads_at_80(retrain.stderr)
    banner = "\n".join(
        line for line in runs["serve"].splitlines() if not line.startswith(("INFO:", "20"))
    )
    assert_reads_at_80(
        banner, "Serving champion = models:/stops/1", f"http://127.0.0.1:{runs['port']}"
    )
