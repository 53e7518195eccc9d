"""`tabloop train` and `tabloop retrain` never report a model that learned nothing as success:
one line saying so, the reports still written, no alias, exit 1; a model the time budget
skipped is a warning; a budget that fits no model but the dummy is one error line that names
the smallest budget that would fit one (exit 2, nothing registered)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tabloop.config import load_config
from tabloop.exceptions import ModelNotFoundError
from tabloop.registry import list_versions
from tests.cli.test_cli import assert_one_line_error, one_message, run, unwrap
from tests.cli.test_monitor_cli import write_project as write_stops_project
from tests.stops import log_production

HEADLINE = "No model beat the dummy baseline: "


def write_project(folder: Path, data: pd.DataFrame, target: str, **train: Any) -> Path:
    data.to_csv(folder / "cases.csv", index=False)
    project = {
        "name": "cases",
        "data": {"train": "cases.csv", "target": target},
        "train": {"learning_curve": False, **train},
        "evaluate": {"bootstrap": 100, "importance": False},
        "registry": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"},
    }
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(project))
    return folder


def versions(folder: Path) -> dict[int, list[str]]:
    return {v["version"]: v["aliases"] for v in list_versions(load_config(folder / "tabloop.yaml"))}


def test_train_on_a_noise_target_exits_1_in_one_line_and_makes_no_champion(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    cases = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.choice(["x", "y", "z"], n),
            "y": rng.random(n) < 0.3,  # drawn independently of a, b and c
        }
    )
    folder = write_project(tmp_path, cases, "y", models=["linear"])
    result = run("train", cwd=folder)

    assert result.returncode == 1, result.stderr
    lines = [one_message(result.stderr)]  # one message, wrapped at spaces to the terminal
    assert "Traceback" not in result.stderr
    assert lines[0].startswith(HEADLINE + "linear scored roc_auc")
    assert "not above 0" in lines[0]
    assert "registered as models:/cases/1 without the champion or challenger alias" in lines[0]
    assert "Registered" not in result.stdout
    # the reports are written and carry the verdict; the version exists without any alias
    report = json.loads((folder / "reports" / "evaluation.json").read_text())
    assert report["baseline_check"]["beats_dummy"] is False
    assert any(
        d["kind"] == "baseline" and d["severity"] == "bad" and d["message"].startswith(HEADLINE)
        for d in report["diagnostics"]
    )
    assert HEADLINE in (folder / "reports" / "evaluation.html").read_text()
    assert versions(folder) == {1: []}


def test_a_budget_that_fits_no_model_but_the_dummy_names_the_smallest_and_registers_nothing(
    tmp_path, datasets
):
    titanic = pd.read_csv(datasets / "titanic.csv")
    # a forest of 3,000 trees: its first fold alone outlasts a 3 s budget; the dummy does not
    folder = write_project(
        tmp_path,
        titanic,
        "survived",
        models=["random_forest"],
        params={"random_forest": {"n_estimators": 3000}},
    )
    result = run("train", "--time-budget", "3", cwd=folder)

    assert_one_line_error(
        result,
        "Within --time-budget 3 s no model ",
        "finished cross-validation (",
        "the smallest budget that fits one is ",
        "Nothing was registered.",
    )
    # on a loaded machine even the dummy may outlast 3 s: then the bound is a lower one
    said = unwrap(result.stderr)
    if "no model but the dummy finished" in said:
        assert "(random_forest: about " in said
        needed = int(said.split("fits one is about ")[1].split(" s")[0])
        assert needed > 3 and needed % 5 == 0
    else:
        assert "fits one is more than " in said
    assert not (folder / "reports").exists()
    # no store at all, or a store without the model: either way nothing to list
    registered = r"nothing was registered for project 'cases'|No registered model 'cases'"
    with pytest.raises(ModelNotFoundError, match=registered):
        versions(folder)


@pytest.mark.slow
def test_retrain_never_promotes_a_challenger_that_does_not_beat_the_dummy(tmp_path, stops_model):
    from tabloop.examples import traffic_stops

    # the challenger can only be the dummy: it must not take an alias, even when asked
    folder = write_stops_project(
        tmp_path,
        stops_model,
        train={"models": ["dummy"], "folds": 3, "learning_curve": False},
        retrain={"filter": "searched == True", "metric": "f1"},
    )
    production = traffic_stops(6000, production=True)
    log_production(folder, stops_model, production)
    result = run("retrain", "--promote-if-better", cwd=folder)

    assert result.returncode == 1, result.stderr
    lines = [one_message(result.stderr)]  # one message, wrapped at spaces to the terminal
    assert "Traceback" not in result.stderr
    assert lines[0].startswith(
        "The challenger does not beat the dummy baseline: train.models names only the dummy; "
        "models:/stops/2 is registered without an alias and not promoted"
    )
    report = json.loads((folder / "reports" / "retrain.json").read_text())
    assert report["decision"]["beats_dummy"] is False
    assert report["decision"]["promoted"] is False
    assert report["decision"]["reason"].startswith(
        "the challenger does not beat the dummy baseline"
    )
    assert versions(folder) == {2: [], 1: ["champion"]}
