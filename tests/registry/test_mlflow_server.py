"""A project's store as MLflow users open it: a real ``mlflow server`` process on the
project's ``.tabloop/mlflow.db``, read through MLflow's REST API (the calls its UI makes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tabloop import __version__
from tests.projects import trained_titanic
from tests.servers import mlflow_server


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, load) -> Path:
    """A project trained by `tabloop train` (LightGBM only) in its default store."""
    folder = tmp_path_factory.mktemp("served") / "titanic"
    return trained_titanic(folder, load("titanic"), model="lightgbm", bootstrap=100)


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 against the project's store, until it answers."""
    home = project / ".tabloop"
    served = mlflow_server(
        home / "mlflow.db", home / "mlartifacts", log=project.parent / "mlflow-server.log"
    )
    try:
        yield served.url
    finally:
        served.stop()


def get(server: str, path: str, **params: str) -> dict:
    response = requests.get(f"{server}/api/2.0/mlflow/{path}", params=params, timeout=60)
    assert response.ok, response.text
    return response.json()


@pytest.mark.slow
def test_the_experiment_opens_on_the_classic_ml_view(server):
    experiment = get(server, "experiments/get-by-name", experiment_name="titanic")["experiment"]
    tags = {t["key"]: t["value"] for t in experiment["tags"]}
    assert tags["mlflow.experimentKind"] == "custom_model_development"


@pytest.mark.slow
def test_the_run_is_named_tagged_and_has_its_data_as_dataset_inputs(server, project):
    experiment = get(server, "experiments/get-by-name", experiment_name="titanic")["experiment"]
    response = requests.post(
        f"{server}/api/2.0/mlflow/runs/search",
        json={"experiment_ids": [experiment["experiment_id"]]},
        timeout=60,
    )
    assert response.ok, response.text
    (found,) = response.json()["runs"]
    assert found["info"]["run_name"] == "train titanic"
    tags = {t["key"]: t["value"] for t in found["data"]["tags"]}
    assert (tags["tabloop.kind"], tags["tabloop.version"]) == ("train", __version__)
    inputs = {
        d["dataset"]["name"]: (d["tags"][0]["value"], json.loads(d["dataset"]["source"]))
        for d in found["inputs"]["dataset_inputs"]
    }
    source = {"uri": str(project / "titanic.csv")}
    assert inputs == {
        "titanic training": ("training", source),
        "titanic testing": ("testing", source),
    }
    metrics = {m["key"] for m in found["data"]["metrics"]}
    assert {"test_roc_auc", "test_roc_auc_ci_low", "test_roc_auc_ci_high"} <= metrics


@pytest.mark.slow
def test_the_registered_model_has_its_alias_and_the_version_a_description_and_tags(server):
    model = get(server, "registered-models/get", name="titanic")["registered_model"]
    assert model["aliases"] == [{"alias": "champion", "version": "1"}]
    version = get(server, "model-versions/get", name="titanic", version="1")["model_version"]
    assert version["description"].startswith("binary model of titanic (lightgbm) by tabloop")
    tags = {t["key"]: t["value"] for t in version["tags"]}
    assert {k: tags[k] for k in ("project", "task", "metric", "kind")} == {
        "project": "titanic",
        "task": "binary",
        "metric": "roc_auc",
        "kind": "train",
    }
    assert int(tags["training_rows"]) > 0


@pytest.mark.slow
def test_the_version_s_signature_example_and_requirements_as_the_ui_reads_them(server):
    def artifact(path: str) -> str:
        response = requests.get(
            f"{server}/model-versions/get-artifact",
            params={"name": "titanic", "version": "1", "path": path},
            timeout=60,
        )
        assert response.ok, response.text
        return response.text

    mlmodel = yaml.safe_load(artifact("MLmodel"))
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert [(c["name"], c["type"]) for c in inputs] == [
        ("gender", "string"),
        ("age", "double"),
        ("class", "string"),
        ("embarked", "string"),
        ("fare", "double"),
        ("sibsp", "long"),
        ("parch", "long"),
    ]
    outputs = json.loads(mlmodel["signature"]["outputs"])
    assert [c["name"] for c in outputs] == ["prediction", "probability"]
    example = json.loads(artifact(mlmodel["saved_input_example_info"]["artifact_path"]))
    assert example["columns"] == [c["name"] for c in inputs] and len(example["data"]) == 5
    requirements = artifact("requirements.txt").split()
    names = {line.split("==")[0] for line in requirements}
    assert names == {"lightgbm", "mlflow", "numpy", "pandas", "scikit-learn", "tabloop"}
