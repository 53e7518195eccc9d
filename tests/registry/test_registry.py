"""The registry round trip: MLflow runs, versions, aliases, and predict in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tabloop.config import config_from_dict
from tabloop.exceptions import (
    EmptyDataError,
    ModelNotFoundError,
    RegistryError,
    SchemaError,
)
from tabloop.registry import list_versions, predict, predict_file, promote, rollback
from tabloop.workflows import train_and_register
from tests.servers import free_port, mlflow_server


def _config(tracking_uri: str, **prepare) -> object:
    return config_from_dict(
        {
            "name": "titanic",
            "data": {"train": "(memory)", "target": "survived"},
            "prepare": prepare,
            "train": {"models": ["linear", "lightgbm"], "folds": 3, "learning_curve": False},
            "evaluate": {"bootstrap": 200, "importance": False},
            "registry": {"tracking_uri": tracking_uri},
        }
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory, load):
    """Two trainings registered in a fresh SQLite MLflow store."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = _config(uri, unseen_categories="error")
    df = load("titanic")
    runs = [train_and_register(config, df=df, out_dir=folder / f"r{i}") for i in range(2)]
    return {"uri": uri, "config": config, "runs": runs, "df": df, "folder": folder}


def test_first_version_is_champion_and_second_challenger(store):
    v1, v2 = (run.version for run in store["runs"])
    assert (v1.version, v1.aliases) == (1, ("champion",))
    assert (v2.version, v2.aliases) == (2, ("challenger",))


def test_run_holds_params_metrics_with_cis_and_the_reports(store):
    run = store["runs"][0]
    mlflow.set_tracking_uri(store["uri"])
    logged = mlflow.get_run(run.version.run_id)
    roc = run.evaluation.metrics["roc_auc"]
    assert logged.data.metrics["test_roc_auc"] == pytest.approx(roc["value"])
    assert logged.data.metrics["test_roc_auc_ci_low"] == pytest.approx(roc["ci_low"])
    assert logged.data.params["data_hash"] == run.result.data_hash
    client = mlflow.MlflowClient()
    names = {a.path for a in client.list_artifacts(run.version.run_id, "reports")}
    assert names == {"reports/evaluation.html", "reports/evaluation.json"}


def test_package_carries_schema_reference_sample_and_threshold(store):
    run = store["runs"][0]
    path = mlflow.artifacts.download_artifacts(
        f"{run.version.uri}", dst_path=str(store["folder"] / "pkg")
    )
    artifacts = Path(path) / "artifacts"
    meta = json.loads((artifacts / "meta.json").read_text())
    assert meta["threshold"] == run.result.model.threshold
    assert meta["metrics"]["roc_auc"]["value"] == pytest.approx(
        run.evaluation.metrics["roc_auc"]["value"]
    )
    schema = json.loads((artifacts / "schema.json").read_text())
    assert [c["name"] for c in schema["columns"]] == run.result.model.inputs
    reference = pd.read_parquet(artifacts / "reference.parquet")
    assert len(reference) == len(run.result.train)
    assert set(reference.columns) == {*run.result.model.inputs, "survived"}


def test_models_lists_versions_with_aliases_and_test_metrics(store):
    rows = list_versions(store["config"])
    assert [(r["version"], r["aliases"]) for r in rows] == [(2, ["challenger"]), (1, ["champion"])]
    expected = store["runs"][1].evaluation.metrics["f1"]["value"]
    assert rows[0]["metrics"]["f1"]["value"] == pytest.approx(expected)
    assert rows[0]["metrics"]["f1"]["ci_low"] < rows[0]["metrics"]["f1"]["value"]


def test_promote_and_rollback_move_the_champion(store):
    config = store["config"]
    assert promote(2, config).aliases == ("champion",)
    assert rollback(config).version == 1
    aliases = {r["version"]: r["aliases"] for r in list_versions(config)}
    assert aliases == {1: ["champion"], 2: ["challenger"]}
    with pytest.raises(RegistryError, match="no earlier champion"):
        rollback(config)
    with pytest.raises(ModelNotFoundError, match=r"no version 7; versions: \[1, 2\]"):
        promote(7, config)


def test_predict_in_a_fresh_process_matches_the_trained_model(store, tmp_path):
    new = store["df"].drop(columns="survived").sample(50, random_state=1)
    new.to_csv(tmp_path / "new.csv", index=False)
    script = (
        "import pandas as pd, tabloop\n"
        f"df = pd.read_csv({str(tmp_path / 'new.csv')!r})\n"
        f"out = tabloop.predict(df, model='models:/titanic@champion')\n"
        f"out.to_csv({str(tmp_path / 'out.csv')!r}, index=False)\n"
    )
    env = {**os.environ, "TABLOOP_TRACKING_URI": store["uri"]}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    expected = store["runs"][0].result.model.predict_frame(new)
    np.testing.assert_allclose(out["probability"], expected["probability"], rtol=1e-9)
    assert (out["prediction"].to_numpy() == expected["prediction"].to_numpy()).all()
    assert set(out["model_version"]) == {"models:/titanic/1"}


def test_predict_validates_its_input_first(store):
    df = store["df"].drop(columns="survived").head(5)
    config = store["config"]
    with pytest.raises(SchemaError, match="Column 'age' .*missing"):
        predict(df.drop(columns="age"), config=config)
    with pytest.raises(SchemaError, match="'age'.*'forty'"):
        predict(df.astype({"age": object}).assign(age=["forty", 1, 2, 3, 4]), config=config)
    with pytest.raises(SchemaError, match="'class'.*'4th'"):
        predict(df.assign(**{"class": "4th"}), config=config)
    with pytest.raises(EmptyDataError, match="no rows"):
        predict(df.head(0), config=config)


def test_unknown_alias_is_named(store):
    with pytest.raises(ModelNotFoundError, match="'titanic'@'staging'"):
        predict(store["df"].head(2), model="models:/titanic@staging", config=store["config"])


def test_predict_file_writes_csv_and_parquet_in_chunks(store, tmp_path):
    new = store["df"].drop(columns="survived")
    new.to_csv(tmp_path / "in.csv", index=False)
    expected = predict(new, config=store["config"])
    for suffix in ("csv", "parquet"):
        done = predict_file(
            tmp_path / "in.csv", tmp_path / f"out.{suffix}", config=store["config"], chunk_rows=500
        )
        assert done["rows"] == len(new)
        out = pd.read_csv(done["out"]) if suffix == "csv" else pd.read_parquet(done["out"])
        np.testing.assert_allclose(out["probability"], expected["probability"])
    assert not list(tmp_path.glob("*.partial"))


def test_predict_file_with_a_bad_chunk_leaves_no_output(store, tmp_path):
    new = store["df"].drop(columns="survived").astype({"age": object})
    new.loc[new.index[1800], "age"] = "forty"
    new.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(SchemaError, match="forty"):
        predict_file(
            tmp_path / "in.csv", tmp_path / "out.csv", config=store["config"], chunk_rows=500
        )
    assert not (tmp_path / "out.csv").exists()
    assert not list(tmp_path.glob("*.partial"))


def test_an_mlflow_server_that_does_not_answer_fails_fast_with_its_url(load):
    url = f"http://127.0.0.1:{free_port()}"
    from tabloop.registry import register
    from tabloop.train import train

    config = _config(url)
    result = train(load("titanic"), config=config)
    with pytest.raises(RegistryError, match=f"MLflow tracking server at {url} does not answer"):
        register(result, config=config)


@pytest.mark.slow
def test_registers_on_a_real_mlflow_server(tmp_path, load):
    server = mlflow_server(
        tmp_path / "server.db", tmp_path / "artifacts", log=tmp_path / "mlflow-server.log"
    )
    try:
        config = _config(server.url)
        run = train_and_register(config, df=load("titanic"), out_dir=tmp_path / "reports")
        assert run.version.aliases == ("champion",)
        scored = predict(load("titanic").head(3), config=config)
        assert scored["model_version"].tolist() == ["models:/titanic/1"] * 3
    finally:
        server.stop()


def test_same_version_uri_in_two_registries_loads_two_models(store, tmp_path, load):
    """``models:/titanic/1`` of another store is another model, even in the same process."""
    from tabloop.registry import load_model
    from tabloop.registry._registry import register
    from tabloop.train import train

    other_uri = f"sqlite:///{tmp_path / 'other.db'}"
    raw = _config(other_uri).model_dump()
    raw["train"] = {**raw["train"], "models": ["dummy"], "ensemble": False}
    other = config_from_dict(raw)
    register(train(load("titanic"), config=other), config=other)
    first, _ = load_model("models:/titanic/1", config=store["config"])
    second, _ = load_model("models:/titanic/1", config=other)
    again, _ = load_model("models:/titanic/1", config=store["config"])
    assert [m.name for m in second.members] == ["dummy"]
    assert "dummy" not in [m.name for m in first.members]
    assert again is first


def test_the_python_api_refuses_a_missing_store_and_creates_nothing(tmp_path):
    """list_versions, promote and rollback look a store up: a missing SQLite file is a
    ModelNotFoundError naming it, and no empty store appears (the CLI adds nothing)."""
    config = config_from_dict(
        {
            "name": "titanic",
            "data": {"train": "titanic.csv", "target": "survived"},
            "registry": {"tracking_uri": f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}"},
        }
    )
    for call in (
        lambda: list_versions(config),
        lambda: promote(1, config),
        lambda: rollback(config),
    ):
        with pytest.raises(ModelNotFoundError) as raised:
            call()
        assert str(raised.value) == (
            f"No MLflow store at {tmp_path / 'none' / 'mlflow.db'}: nothing was registered for "
            "project 'titanic' yet (`tabloop train` registers its model). Nothing was created."
        )
    assert list(tmp_path.iterdir()) == []
