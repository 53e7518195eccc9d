"""What an MLflow user sees of a registered tabloop model: a named, tagged run with its
data as dataset inputs, a signature and input example that never make MLflow's pyfunc
refuse what tabloop accepts, a version with a description and tags, requirements of
that model alone, and an experiment that opens on MLflow's classic ML view."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from tabloop import __version__
from tabloop.config import load_config
from tabloop.exceptions import SchemaError
from tabloop.registry import quiet_mlflow
from tabloop.registry._datasets import digest
from tabloop.workflows import train_and_register
from tests.registry.test_requirements import pinned


@pytest.fixture(scope="module")
def registered(tmp_path_factory, load):
    """A LightGBM-only model of titanic whose ``age`` misses values in training."""
    folder = tmp_path_factory.mktemp("metadata")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    df = load("titanic")
    df.loc[df.index[::9], "age"] = np.nan
    df.to_csv(folder / "titanic.csv", index=False)
    project = {
        "name": "titanic",
        "data": {"train": "titanic.csv", "target": "survived"},
        "train": {"models": ["lightgbm"], "folds": 3, "learning_curve": False},
        "evaluate": {"bootstrap": 100, "importance": False},
        "registry": {"tracking_uri": uri},
    }
    (folder / "tabloop.yaml").write_text(yaml.safe_dump(project))
    config = load_config(folder / "tabloop.yaml")
    run = train_and_register(config, out_dir=folder / "reports")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    return {"run": run, "df": df, "client": client, "folder": folder, "uri": uri}


def test_the_run_is_named_and_tagged_with_tabloop_s_version_and_kind(registered):
    run = registered["client"].get_run(registered["run"].version.run_id)
    assert run.info.run_name == "train titanic"
    tags = run.data.tags
    assert tags["tabloop.kind"] == "train"
    assert tags["tabloop.version"] == __version__
    assert tags["tabloop.project"] == "titanic"


def test_the_training_and_test_splits_are_dataset_inputs_with_source_and_digest(registered):
    result = registered["run"].result
    run = registered["client"].get_run(registered["run"].version.run_id)
    inputs = {d.tags[0].value: d.dataset for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"training", "testing"}
    # a hash of every row (MLflow's own digest reads each value in Python: slow at scale)
    assert inputs["training"].digest == digest(result.train)
    assert inputs["training"].digest != digest(result.train.iloc[:-1])
    assert json.loads(inputs["training"].source) == {
        "uri": str(registered["folder"] / "titanic.csv")
    }
    profile = json.loads(inputs["testing"].profile)
    assert profile == {"num_rows": len(result.test), "num_elements": result.test.size}
    columns = [c["name"] for c in json.loads(inputs["training"].schema)["mlflow_colspec"]]
    assert columns == list(result.train.columns)


def test_the_experiment_opens_on_mlflow_s_classic_ml_view(registered):
    experiment = registered["client"].get_experiment_by_name("titanic")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_the_model_has_a_typed_signature_and_an_input_example_of_training_rows(registered):
    model = registered["run"].result.model
    info = mlflow.models.get_model_info("models:/titanic/1")
    inputs = {c.name: (c.type.name, c.required) for c in info.signature.inputs.inputs}
    assert inputs == {
        "gender": ("string", True),
        "age": ("double", False),  # missing values in training: optional
        "class": ("string", True),
        "embarked": ("string", True),
        "fare": ("double", True),
        "sibsp": ("long", True),
        "parch": ("long", True),
    }
    assert list(inputs) == model.inputs
    outputs = {c.name: c.type.name for c in info.signature.outputs.inputs}
    assert outputs == {"prediction": "long", "probability": "double"}
    example = pd.DataFrame(**json.loads(Path(_local(info, "input_example.json")).read_text()))
    train = registered["run"].result.train[model.inputs].head(5).reset_index(drop=True)
    assert list(example.columns) == model.inputs  # no target
    pd.testing.assert_frame_equal(example, train, check_dtype=False)


def _local(info, name: str) -> str:
    folder = mlflow.artifacts.download_artifacts(info.model_uri)
    return str(Path(folder) / name)


def test_mlflow_pyfunc_accepts_what_tabloop_accepts(registered, tmp_path):
    pyfunc = mlflow.pyfunc.load_model("models:/titanic/1")
    fitted = registered["run"].result.model
    rows = registered["df"].drop(columns="survived").head(20).reset_index(drop=True)
    rows.loc[[1, 4], "age"] = np.nan  # missing values in an optional column
    rows["passenger"] = range(20)  # a column the model does not read
    expected = fitted.predict_frame(rows)
    got = pyfunc.predict(rows)
    np.testing.assert_allclose(got["probability"], expected["probability"])
    assert (got["prediction"].to_numpy() == expected["prediction"].to_numpy()).all()
    # ints for the long columns, floats with NaN for double ones: as the frame came
    assert rows["sibsp"].dtype == np.int64 and rows["age"].dtype == np.float64
    # JSON as MLflow's scoring server reads it: whole numbers for double columns
    records = rows.drop(columns="passenger").head(3).astype(object)
    records["age"] = [30, 41, 2]
    records["fare"] = [7, 80, 15]
    body, out = tmp_path / "body.json", tmp_path / "out.json"
    body.write_text(json.dumps({"dataframe_records": records.to_dict(orient="records")}))
    with quiet_mlflow():
        mlflow.models.predict(
            "models:/titanic/1", input_path=str(body), content_type="json", env_manager="local",
            output_path=str(out),
        )  # fmt: skip
    served = pd.DataFrame(json.loads(out.read_text())["predictions"])
    parsed = records.astype({"age": float, "fare": float, "sibsp": int, "parch": int})
    np.testing.assert_allclose(
        served["probability"], fitted.predict_frame(parsed)["probability"], rtol=1e-9
    )


def test_mlflow_pyfunc_refuses_a_fraction_in_a_whole_number_column_tabloop_takes(registered):
    """The README's one honest gap: sibsp trained as whole numbers is ``long`` in the
    signature, so MLflow's enforcement refuses 41.5 (and a missing value) there, which
    tabloop's own predict answers."""
    from mlflow.exceptions import MlflowException

    pyfunc = mlflow.pyfunc.load_model("models:/titanic/1")
    rows = registered["df"].drop(columns="survived").head(3).reset_index(drop=True)
    rows["sibsp"] = [41.5, 1.0, 0.0]
    assert len(registered["run"].result.model.predict_frame(rows)) == 3
    with pytest.raises(MlflowException, match="sibsp"):
        pyfunc.predict(rows)


def test_a_missing_column_reaches_tabloop_s_validator_through_pyfunc(registered):
    pyfunc = mlflow.pyfunc.load_model("models:/titanic/1")
    rows = registered["df"].drop(columns=["survived", "age"]).head(3)
    with pytest.raises(SchemaError, match="Column 'age' .*missing"):
        pyfunc.predict(rows)


def test_requirements_list_what_this_lightgbm_model_needs_and_no_other_library(registered):
    info = mlflow.models.get_model_info("models:/titanic/1")
    lines = Path(_local(info, "requirements.txt")).read_text().split()
    expected = pinned("lightgbm", "mlflow", "numpy", "pandas", "scikit-learn", "tabloop")
    assert lines == expected  # no catboost, xgboost or imbalanced-learn


def test_the_version_has_a_description_and_tags(registered):
    run = registered["run"]
    roc = run.evaluation.metrics["roc_auc"]
    found = registered["client"].get_model_version("titanic", "1")
    rows = len(run.result.train)
    assert found.description == (
        f"binary model of titanic (lightgbm) by tabloop train, test roc_auc "
        f"{roc['value']:.4f} [{roc['ci_low']:.4f}, {roc['ci_high']:.4f}]; {rows:,} training "
        f"rows, data {run.result.data_hash[:12]}."
    )
    assert found.tags == {
        "project": "titanic",
        "task": "binary",
        "metric": "roc_auc",
        "test_roc_auc": f"{roc['value']:.6g}",
        "training_rows": str(rows),
        "kind": "train",
        "tabloop_version": __version__,
    }


def test_an_example_at_odds_with_the_signature_is_left_out_with_the_reason(stops_model):
    """The signature and example are checked against each other before logging (not by
    matching the words of MLflow's error), so a column type the mapping did not foresee
    logs the model without them rather than failing the registration."""
    from tabloop.registry._signature import described

    result = stops_model["result"]
    fields, reason = described(result.model, result.train)
    assert reason is None and set(fields) == {"signature", "input_example"}

    column = next(c.name for c in result.model.schema if c.kind == "numeric")
    train = result.train.copy()
    train[column] = train[column].map(lambda v: f"{v} units").astype(object)  # text, typed double
    fields, reason = described(result.model, train)
    assert fields == {}
    assert reason is not None and f"column {column}" in reason
