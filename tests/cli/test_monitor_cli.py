"""`tabloop monitor` and `tabloop retrain` as a user runs them in a project folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import stops as tests_stops
from tests.cli.test_cli import assert_one_line_error, run
from tests.stops import fill_log, log_production, stops_project


def write_project(folder: Path, stops_model: dict[str, Any], **sections: Any) -> Path:
    source = Path(stops_model["uri"].removeprefix("sqlite:///"))
    shutil.copy(source, folder / "mlflow.db")  # its own registry: retrain moves aliases
    (folder / "data").mkdir()
    stops_model["df"].to_csv(folder / "data" / "stops.csv", index=False)
    sections = {"evaluate": {"bootstrap": 100, "importance": False}, **sections}
    project = stops_project(f"sqlite:///{folder / 'mlflow.db'}", folder, **sections)
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(project))
    return folder


@pytest.fixture
def production():
    from tabloop.examples import traffic_stops

    return traffic_stops(6000, production=True)


def test_monitor_exits_1_on_a_failed_requirement_after_writing_the_reports(
    tmp_path, stops_model, production
):
    folder = write_project(
        tmp_path, stops_model, monitor={"requirements": ["recall >= 0.99"], "bootstrap": 100}
    )
    log_production(folder, stops_model, production)
    failed = run("monitor", "--chunk", "1000", cwd=folder)
    assert failed.returncode == 1, failed.stderr
    assert "recall >= 0.99" in failed.stdout and "fail" in failed.stdout
    report = json.loads((folder / "reports" / "monitor.json").read_text())
    assert report["passed"] is False and len(report["chunks"]) == 6
    assert (folder / "reports" / "monitor.html").stat().st_size > 0

    passed = run("monitor", "--out", "other", "--since", "2025-01-01", cwd=folder)
    assert passed.returncode == 1
    assert (folder / "other" / "monitor.json").exists()


def test_monitor_bad_input_is_one_line_and_exit_2(tmp_path, stops_model, production):
    folder = write_project(tmp_path, stops_model)
    fill_log(f"sqlite:///{folder / 'log.db'}", stops_model["result"].model, production.head(50))
    assert_one_line_error(run("monitor", "--since", "someday", cwd=folder), "'someday'")
    assert_one_line_error(run("monitor", "--chunk", "1 fortnight", cwd=folder), "'1 fortnight'")
    assert_one_line_error(run("monitor", "--until", "2020-01-01", cwd=folder), "no production rows")
    every = run("monitor", "--every", "often", cwd=folder)
    assert every.returncode == 2 and "--every 'often'" in every.stderr
    assert_one_line_error(run("monitor", "--data", "missing.csv", cwd=folder), "missing.csv")
    # rows without the model's predictions: the file is named, its rows are not printed
    production.head(50).drop(columns=["contraband"]).to_csv(folder / "new.csv", index=False)
    unscored = run("monitor", "--data", "new.csv", cwd=folder)
    assert_one_line_error(unscored, "new.csv: no column 'prediction'")
    assert len(unscored.stderr.splitlines()) <= 3


@pytest.mark.slow
def test_retrain_registers_a_challenger_and_promotes_it_when_better(
    tmp_path, stops_model, production
):
    folder = write_project(
        tmp_path,
        stops_model,
        retrain={"filter": "searched == True", "metric": "f1"},
    )
    log_production(folder, stops_model, production)
    result = run("retrain", "--promote-if-better", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "Retraining data:" in result.stdout and "is now the champion" in result.stdout
    models = run("models", "--json", cwd=folder)
    assert models.returncode == 0
    aliases = {v["version"]: v["aliases"] for v in json.loads(models.stdout)["versions"]}
    assert "champion" in aliases[2] and "champion" not in aliases[1]
    report = json.loads((folder / "reports" / "retrain.json").read_text())
    assert report["decision"]["promoted"] is True
    assert report["challenger"] == "models:/stops/2"


def test_monitor_variant_monitors_the_model_that_variant_serves(tmp_path, stops_model, production):
    from tabloop.config import config_from_dict
    from tabloop.registry import register

    serve = {
        "variants": {"A": "models:/stops@champion", "B": "models:/stops@challenger"},
        "context": list(tests_stops.CONTEXT),
        "store_url": f"sqlite:///{tmp_path / 'log.db'}",
    }
    folder = write_project(tmp_path, stops_model, serve=serve)
    config = config_from_dict(yaml.safe_load((folder / "tabloop.yaml").read_text()))
    version = register(stops_model["result"], stops_model["evaluation"], config=config)
    assert (version.version, version.aliases) == (2, ("challenger",))
    url, model = serve["store_url"], stops_model["result"].model
    fill_log(url, model, production.head(200), variant="A", version="1")
    fill_log(url, model, production.iloc[200:500], variant="B", version="2")
    done = run("monitor", "--variant", "B", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "Monitored 300 rows" in done.stdout
    report = json.loads((folder / "reports" / "monitor.json").read_text())
    assert report["model"]["version"] == "2" and report["window"]["rows"] == 300
    assert_one_line_error(run("monitor", "--variant", "C", cwd=folder), "'A', 'B'")

    # B served version 2 only: --model naming version 1 disagrees with --variant B, and the
    # refusal says so (it spoke of a newly promoted champion, which B's rows have nothing of)
    mixed = run("monitor", "--variant", "B", "--model", "models:/stops/1", cwd=folder)
    assert_one_line_error(
        mixed,
        "--variant 'B' serves models:/stops@challenger (version 2), not models:/stops/1",
        "(version 2: 300 rows)",
        "Drop --model to monitor what B serves",
    )
    assert "champion" not in mixed.stderr
    # once B has rows of version 1 (served before its alias moved), they are monitored and
    # the report says which model B serves now
    fill_log(url, model, production.iloc[500:600], variant="B", version="1")
    older = run("monitor", "--variant", "B", "--model", "models:/stops/1", cwd=folder)
    assert older.returncode == 0, older.stderr
    assert "Monitored 100 rows" in older.stdout
    note = (
        "--variant 'B' serves models:/stops@challenger (version 2) now; this report monitors "
        "models:/stops/1 on the rows B served with it."
    )
    assert f"note: {note}" in older.stdout
    report = json.loads((folder / "reports" / "monitor.json").read_text())
    assert note in report["notes"] and report["window"]["rows"] == 100
