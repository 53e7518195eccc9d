"""README: ``tabloop predict`` scores a file in chunks, and "a bad row stops the run with its
column and value and leaves no partial file" -- also when the bad row sits in a later chunk,
after earlier chunks were already written."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.cli.test_cli import assert_one_line_error, run
from tests.cli.test_monitor_cli import write_project

CHUNK_ROWS = 50_000  # tabloop predict's chunk (tabloop.registry); the bad row is in chunk 3


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_bad_row_in_a_later_chunk_leaves_no_output_and_no_partial_file(
    tmp_path, stops_model, suffix
):
    folder = write_project(tmp_path, stops_model)
    stops = stops_model["df"]
    repeats = -(-(2 * CHUNK_ROWS + 10_000) // len(stops))
    big = pd.concat([stops] * repeats, ignore_index=True).astype({"vehicle_age": object})
    bad_row = 2 * CHUNK_ROWS + 5_000
    big.loc[bad_row, "vehicle_age"] = "ancient"
    big.drop(columns=["found"]).to_csv(folder / "big.csv", index=False)

    out = folder / f"scored{suffix}"
    result = run("predict", "big.csv", "-o", out.name, cwd=folder)
    assert_one_line_error(result, "'vehicle_age'", "'ancient'")
    assert not out.exists()
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("scored")) == []


def test_outputs_and_inputs_that_cannot_work_are_refused_before_the_model_loads(tmp_path):
    """README: a non-empty output folder, a glob that matches nothing and an output URL are
    refused (exit 2) before the model loads: the model named here does not exist."""
    pd.DataFrame({"x": [1, 2]}).to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.parquet").write_bytes(b"x")
    model = ("--model", "models:/nothing/99")
    result = run("predict", "in.csv", "-o", "full", *model, cwd=tmp_path)
    assert_one_line_error(result, "Output 'full' is a folder that is not empty")
    result = run("predict", "new/*.parquet", "-o", "out", *model, cwd=tmp_path)
    assert_one_line_error(result, "No CSV or Parquet file matches 'new/*.parquet'")
    result = run("predict", "in.csv", "-o", "s3://bucket/out", *model, cwd=tmp_path)
    assert_one_line_error(result, "is a URL")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "in.csv"]


def test_a_model_looked_up_outside_its_project_names_the_store_and_creates_none(
    tmp_path, stops_model
):
    """`tabloop predict --model` in a folder with no project searched ./.tabloop/mlflow.db,
    created it empty, and said only 'Registered Model with name=stops not found'. The
    error names the store searched and how to point at the project, and leaves nothing;
    -c and TABLOOP_TRACKING_URI then find the model; a version the store lacks is named
    with the versions it has."""
    (tmp_path / "project").mkdir()
    project = write_project(tmp_path / "project", stops_model)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stops_model["df"].drop(columns=["found"]).head(20).to_csv(elsewhere / "new.csv", index=False)
    model = ("--model", "models:/stops/1")

    lost = run("predict", "new.csv", "-o", "s.csv", *model, cwd=elsewhere)
    assert_one_line_error(
        lost,
        f"No MLflow store at {elsewhere.resolve() / '.tabloop' / 'mlflow.db'}",
        "the default store of the current folder, which holds no tabloop.yaml",
        "-c PATH/tabloop.yaml",
        "TABLOOP_TRACKING_URI",
    )
    assert sorted(p.name for p in elsewhere.iterdir()) == ["new.csv"]

    found = run(
        "predict", "new.csv", "-o", "s.csv", *model, "-c", project / "tabloop.yaml", cwd=elsewhere
    )
    assert found.returncode == 0, found.stderr
    assert len(pd.read_csv(elsewhere / "s.csv")) == 20

    env = {"TABLOOP_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}
    by_env = run("predict", "new.csv", "-o", "t.csv", *model, cwd=elsewhere, env=env)
    assert by_env.returncode == 0, by_env.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == ["new.csv", "s.csv", "t.csv"]

    absent = run(
        "predict",
        "new.csv",
        "-o",
        "u.csv",
        "--model",
        "models:/stops/7",
        "-c",
        project / "tabloop.yaml",
        cwd=elsewhere,
    )
    assert_one_line_error(
        absent,
        f"Model models:/stops/7 is not in the MLflow store sqlite:///{project / 'mlflow.db'} "
        f"(registry.tracking_uri of {project / 'tabloop.yaml'})",
        "'stops' has versions 1 ",
    )
