"""The registry changes only when the command line is asked to: ``tabloop train
--no-register`` leaves every version and alias as it was, and ``tabloop retrain`` without
``--promote-if-better`` never moves ``champion``, even for a challenger proven better."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.cli.test_monitor_cli import write_project
from tests.stops import log_production


@pytest.fixture
def production():
    from tabloop.examples import traffic_stops

    return traffic_stops(6000, production=True)


def registry_state(folder: Path) -> dict[str, list[str]]:
    """Every version of the project's registered model with its aliases, via MLflow."""
    import mlflow

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    # both URIs explicit: training in this process may have set a global registry URI
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    state = {str(v.version): [] for v in client.search_model_versions("name='stops'")}
    for alias, version in client.get_registered_model("stops").aliases.items():
        state[str(version)].append(alias)
    return {version: sorted(aliases) for version, aliases in state.items()}


def test_train_no_register_leaves_every_version_and_alias_unchanged(tmp_path, stops_model):
    folder = write_project(tmp_path, stops_model)
    before = registry_state(folder)
    assert before == {"1": ["champion"]}
    done = run("train", "--no-register", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert (folder / "reports" / "evaluation.json").exists()  # it did train
    assert registry_state(folder) == before


@pytest.mark.slow
def test_retrain_without_promote_if_better_never_moves_the_champion(
    tmp_path, stops_model, production
):
    # the setup in which `retrain --promote-if-better` promotes (tests/cli/test_monitor_cli.py)
    folder = write_project(
        tmp_path, stops_model, retrain={"filter": "searched == True", "metric": "f1"}
    )
    log_production(folder, stops_model, production)
    done = run("retrain", cwd=folder)
    assert done.returncode == 0, done.stderr
    report = json.loads((folder / "reports" / "retrain.json").read_text())
    assert report["decision"]["better"] is True  # it would have been promoted if asked
    assert report["decision"]["promoted"] is False
    state = registry_state(folder)
    assert report["challenger"] == "models:/stops/2"
    assert "champion" in state["1"] and "champion" not in state["2"]
    assert state["2"] == ["challenger"]
